"""Issue 14: the pipelined CLI writes what the library computes, batches safely, resumes, and shards under torchrun."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, main
from colornet.distributed import Share, share_from_env
from colornet.model import compact_config
from colornet.pipeline import Colorizer
from helpers import lively_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Seven photos in three sizes, interleaved, one greyscale and one with alpha."""
    src = tmp_path_factory.mktemp("in")
    sizes = [(40, 30), (40, 30), (24, 36), (40, 30), (24, 36), (33, 21), (33, 21)]
    for i, (w, h) in enumerate(sizes):
        rng = np.random.default_rng(i)
        arr = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        mode = "L" if i == 3 else ("RGBA" if i == 5 else "RGB")
        Image.fromarray(arr, "RGBA").convert(mode).save(src / f"p{i}.png")
    return src


def _reference(weights, photos) -> dict[str, np.ndarray]:
    """What the library itself gives for each photo, one at a time (the pre-pipeline CLI's computation)."""
    colorizer = Colorizer.from_pretrained(weights, device="cpu")
    return {p.name: np.asarray(colorizer.colorize_image(p).to_pil()) for p in sorted(photos.glob("*.png"))}


def _outputs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


@pytest.mark.parametrize("batch", ["1", "3"])
def test_pipeline_output_equals_the_library(tmp_path, weights, photos, batch):
    out = tmp_path / "out"
    assert main(["colorize", str(photos), "-o", str(out), "--weights", str(weights), "-q", "--batch-size", batch]) == 0
    got, want = _outputs(out), _reference(weights, photos)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].shape == want[name].shape, name
        # batched convolutions may round differently in the last float bit: at most one 8-bit level
        assert np.abs(got[name].astype(int) - want[name].astype(int)).max() <= 1, name


def test_skip_existing_continues_an_interrupted_run(tmp_path, weights, photos):
    out = tmp_path / "out"
    argv = ["colorize", str(photos), "-o", str(out), "--weights", str(weights), "-q"]
    assert main(argv) == EXIT_OK
    first = _outputs(out)
    (out / "p2.png").unlink()  # never written before the "crash"
    Image.new("RGB", (8, 8), "red").save(out / "p4.png")  # a complete output is not touched
    kept = (out / "p4.png").read_bytes()
    (out / "p3.png").write_bytes(b"not an image")  # an incomplete one is redone
    assert main([*argv, "--skip-existing"]) == EXIT_OK
    assert (out / "p4.png").read_bytes() == kept
    np.testing.assert_array_equal(np.asarray(Image.open(out / "p2.png")), first["p2.png"])
    np.testing.assert_array_equal(np.asarray(Image.open(out / "p3.png")), first["p3.png"])


def test_shares_are_disjoint_cover_everything_and_are_balanced():
    items = list(range(23))
    for world in (1, 2, 3, 5):
        shares = [Share(rank, world).take(items) for rank in range(world)]
        assert sorted(x for s in shares for x in s) == items
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_share_from_env_rejects_inconsistent_ranks(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK"):
        share_from_env()
    monkeypatch.setenv("RANK", "1")
    assert share_from_env() == Share(1, 2, 0)


def test_two_processes_under_torchrun_write_each_input_once(tmp_path, weights, photos):
    single = tmp_path / "single"
    assert main(["colorize", str(photos), "-o", str(single), "--weights", str(weights), "-q"]) == EXIT_OK
    multi = tmp_path / "multi"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "colornet",
           "colorize", str(photos), "-o", str(multi), "--weights", str(weights), "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    counts = {int(r): int(n) for r, n in re.findall(r"\[(\d)/2\] (\d+) image\(s\) written", res.stdout)}
    assert counts.keys() == {0, 1} and counts[0] + counts[1] == 7 and min(counts.values()) >= 3
    got, want = _outputs(multi), _outputs(single)
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    assert not [p for p in multi.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_ctrl_c_keeps_finished_outputs_and_leaves_no_temp_files(tmp_path, weights, photos, monkeypatch):
    real, calls = Colorizer.colorize_rgb, []

    def interrupted(self, *args, **kw):  # Ctrl-C arrives while the network runs on the third photo
        calls.append(1)
        if len(calls) == 4:  # the warm-up pass, two photos, then the third
            raise KeyboardInterrupt
        return real(self, *args, **kw)

    monkeypatch.setattr(Colorizer, "colorize_rgb", interrupted)
    out = tmp_path / "out"
    assert main(["colorize", str(photos), "-o", str(out), "--weights", str(weights), "-q"]) == 130
    written = sorted(p.name for p in out.iterdir())
    assert 1 <= len(written) < 7  # what was finished is kept, the run stopped early
    for name in written:  # nothing partial, no temp files
        assert re.fullmatch(r"p\d\.png", name)
        Image.open(out / name).load()
