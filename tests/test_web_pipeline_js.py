"""The page's numerics (colornet/web/static/pipeline.js) against the library, run under Node.js.

pipeline.js re-implements, in the browser, what the library does around the network: L from sRGB, the area resize
to the working size, the antialiased resize to the global size, prior mixing, the guided upsampling and Lab -> sRGB.
Here each is fed the same input as the torch code and must agree to float round-off (8-bit output: within 1 level).
Skipped where Node.js is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from colornet import Colorizer, mix_priors
from colornet.constants import PACKAGE_DIR
from colornet.fastlab import luminance
from colornet.model import resize_for_global
from colornet.pipeline import working_shape
from colornet.prior import GlobalPrior
from colornet.web.assets import STATIC

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (apt-get install nodejs)")

SCRIPT = """
import { readFileSync, writeFileSync } from "node:fs";
import { luminance, workingShape, areaResize, globalResize, mixPriors, upsampleCompose } from "%s";
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const rgba = new Uint8ClampedArray(readFileSync(job.rgba));
const abHalf = new Float32Array(readFileSync(job.ab).buffer.slice(0));
const L = luminance(rgba, job.width, job.height);
const [h, w] = workingShape(job.height, job.width, job.working_size);
const lWork = areaResize(L, job.height, job.width, h, w);
const lGlobal = globalResize(L, job.height, job.width, job.global_size);
const mixed = mixPriors(job.priors.map((p) => Float32Array.from(p)), job.weights);
const out = upsampleCompose(L, job.height, job.width, abHalf, job.ab_h, job.ab_w, { strength: job.strength });
const save = (name, arr) => writeFileSync(job.out + name, Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
save("L", L); save("lwork", lWork); save("lglobal", lGlobal); save("mixed", mixed); save("rgb", out);
writeFileSync(job.out + "shape.json", JSON.stringify([h, w]));
"""


@pytest.mark.parametrize("size, working_size", [((301, 197), 128), ((640, 427), 512), ((100, 61), 512)])
def test_pipeline_js_matches_the_library(tmp_path, size, working_size):
    photo = Image.open(PACKAGE_DIR / "samples" / "street_village.jpg").convert("RGBA").resize(size, Image.BICUBIC)
    rgba = np.asarray(photo).copy()
    rgba[..., 3] = 255
    height, width = rgba.shape[:2]
    rgb = torch.from_numpy(rgba[..., :3].copy()).permute(2, 0, 1)[None]
    lightness = luminance(rgb)
    h, w = working_shape(height, width, working_size)
    l_work = F.interpolate(lightness, size=(h, w), mode="area") if (h, w) != (height, width) else lightness
    l_global = resize_for_global(lightness, 128)
    colorizer = Colorizer.from_pretrained(device="cpu", working_size=working_size)
    _, ab_half = colorizer.predict_ab_half(rgb)
    strength = 1.3
    expected = colorizer.compose_ab_half(lightness, ab_half, strength=strength, out_dtype=torch.uint8)
    priors = [torch.randn(1, 8, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    weights = [2.0, 0.0, 1.0]
    mixed = mix_priors([GlobalPrior(p) for p in priors], weights).fusion

    (tmp_path / "rgba").write_bytes(rgba.tobytes())
    (tmp_path / "ab").write_bytes(ab_half.contiguous().numpy().astype(np.float32).tobytes())
    job = {"rgba": str(tmp_path / "rgba"), "ab": str(tmp_path / "ab"), "width": width, "height": height,
           "working_size": working_size, "global_size": 128, "ab_h": ab_half.shape[2], "ab_w": ab_half.shape[3],
           "strength": strength, "priors": [p[0].tolist() for p in priors], "weights": weights,
           "out": str(tmp_path / "out_")}
    (tmp_path / "job.json").write_text(json.dumps(job))
    script = tmp_path / "run.mjs"
    script.write_text(SCRIPT % (STATIC / "pipeline.js").as_uri())
    subprocess.run([NODE, str(script), str(tmp_path / "job.json")], check=True, timeout=120)

    def read(name, dtype=np.float32):
        return np.frombuffer((tmp_path / f"out_{name}").read_bytes(), dtype=dtype)

    assert json.loads((tmp_path / "out_shape.json").read_text()) == [h, w]
    np.testing.assert_allclose(read("L"), lightness.flatten().numpy(), atol=2e-3)
    np.testing.assert_allclose(read("lwork"), l_work.flatten().numpy(), atol=2e-3)
    np.testing.assert_allclose(read("lglobal"), l_global.flatten().numpy(), atol=2e-3)
    np.testing.assert_allclose(read("mixed"), mixed.flatten().numpy(), atol=1e-5)
    ours = read("rgb", np.uint8).reshape(height, width, 4)
    assert (ours[..., 3] == 255).all()
    theirs = expected[0].permute(1, 2, 0).numpy()
    diff = np.abs(ours[..., :3].astype(int) - theirs.astype(int))
    assert diff.max() <= 1, f"8-bit RGB differs by up to {diff.max()} levels ({(diff > 1).sum()} values)"
