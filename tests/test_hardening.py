"""Issue 10 (hardening), the library side: every bad input is one clear error, raised where nodes and CLI inherit it.

Each test failed on the code before the issue (a black frame, a traceback, a 1x1 network run or exit 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import lively_model, load_pack
from PIL import Image

from colornet import colorize
from colornet.checkpoint import save_checkpoint
from colornet.cli import main as cli_main
from colornet.errors import ColorNetError, InputError
from colornet.model import compact_config
from colornet.pipeline import Colorizer, select_device

torch.set_num_threads(1)
CLASSES = ["beach", "forest", "street"]


@pytest.fixture(scope="module")
def net():
    return lively_model(compact_config(CLASSES))


@pytest.fixture(scope="module")
def colorizer(net) -> Colorizer:
    return Colorizer(net, torch.device("cpu"), working_size=64)


@pytest.fixture(scope="module")
def weights(net, tmp_path_factory) -> Path:
    return save_checkpoint(net, tmp_path_factory.mktemp("ckpt"))


def _rgb(h=40, w=56, seed=0) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------- 10.4: non-finite values


def test_one_nan_pixel_is_an_error_not_a_black_frame(colorizer):
    rgb = _rgb()
    rgb[0, 1, 5, 7] = float("nan")
    with pytest.raises(InputError, match="1 NaN or infinite"):
        colorizer.colorize_rgb(rgb)
    with pytest.raises(InputError, match="NaN"):
        colorizer.prior_from_rgb(rgb)  # what SceneClassify reads: it printed 'nan' probabilities
    rgb[0, 1, 5, 7] = float("inf")  # clamping would have hidden an infinity as white
    with pytest.raises(InputError, match="infinite"):
        colorizer.colorize_rgb(rgb)


def test_nodes_inherit_the_nan_check(colorizer):
    pack = load_pack()
    model = pack.nodes._common.ColorNetModel(colorizer, name="t")
    image = _rgb().permute(0, 2, 3, 1).contiguous()
    image[0, 3, 3, 0] = float("nan")
    for node, args in (("ColorNetFuseColorize", (model, image, 1.0, 64)), ("ColorNetLumaExtract", (image,)),
                       ("ColorNetGlobalPrior", (model, image)), ("ColorNetSceneClassify", (model, 3, image))):
        cls = pack.NODE_CLASS_MAPPINGS[node]
        with pytest.raises(ValueError, match="NaN"):
            getattr(cls(), cls.FUNCTION)(*args)


@pytest.mark.parametrize("strength", [float("nan"), float("inf"), -1.0, "strong"])
def test_non_finite_or_negative_strength_is_refused(colorizer, strength):
    with pytest.raises(InputError, match="strength"):
        colorizer.colorize_rgb(_rgb(), strength=strength)


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), -1.0])
def test_non_finite_reference_weight_is_refused(colorizer, weight):
    with pytest.raises(InputError, match="weights must be finite"):
        colorizer.prior_from_references([np.zeros((8, 8, 3), np.float32), np.ones((8, 8, 3), np.float32)], [1, weight])


def test_cli_strength_nan_writes_nothing_and_says_why(tmp_path, weights, capsys):
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / "a.png")
    code = cli_main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(weights),
                     "--strength", "nan"])
    assert code != 0 and not list((tmp_path / "out").rglob("*.png"))
    assert "strength must be a finite number" in capsys.readouterr().err


def test_a_float_image_with_nan_is_a_load_error(tmp_path):
    arr = np.full((6, 6), 0.5, np.float32)
    arr[2, 2] = np.nan
    Image.fromarray(arr, "F").save(tmp_path / "f.tif")
    from colornet.images import load_image

    with pytest.raises(ColorNetError, match="NaN"):
        load_image(tmp_path / "f.tif")


# ------------------------------------------------------------------------------------- 10.8: working size, once


def test_working_size_zero_is_full_size_and_negative_is_refused(net):
    assert Colorizer(net, torch.device("cpu"), working_size=0).working_size is None  # full size
    assert Colorizer(net, torch.device("cpu"), working_size=0).working_size is None
    for bad in (-5, -1, 2.5, True):
        with pytest.raises(InputError, match="working_size"):
            Colorizer(net, torch.device("cpu"), working_size=bad)
        with pytest.raises(InputError, match="working_size"):
            Colorizer(net, torch.device("cpu")).with_working_size(bad)
    with pytest.raises(InputError, match="working_size"):
        colorize(np.zeros((8, 8, 3), np.float32), working_size=-5)


def test_cli_and_node_inherit_the_working_size_rule(colorizer, tmp_path, weights, capsys):
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / "a.png")
    code = cli_main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(weights),
                     "--working-size", "-5"])
    assert code != 0 and not (tmp_path / "out").exists()  # it used to run the network on 1x1 px and exit 0
    assert "working_size must be >= 0" in capsys.readouterr().err
    pack = load_pack()
    cls = pack.NODE_CLASS_MAPPINGS["ColorNetFuseColorize"]
    model = pack.nodes._common.ColorNetModel(colorizer, name="t")
    with pytest.raises(ValueError, match="working_size must be >= 0"):
        cls().colorize(model, _rgb().permute(0, 2, 3, 1), 1.0, -5)


# ---------------------------------------------------------------------------------------------- 10.5: devices


def test_unknown_device_is_a_library_error():
    with pytest.raises(InputError, match="Unknown device 'foo'"):
        select_device("foo")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_says_so(weights):
    with pytest.raises(InputError, match="torch sees no CUDA GPU"):
        select_device("cuda")
    with pytest.raises(InputError, match="no CUDA GPU"):
        Colorizer.from_pretrained(weights, device="cuda:1")


# ------------------------------------------------------------------------------------- 10.3: checkpoint headers


def _tiny_state() -> dict[str, torch.Tensor]:
    from colornet.model import ColorNet, ColorNetConfig

    torch.manual_seed(0)
    config = ColorNetConfig(name="tiny", width=0.0625, global_size=32, global_dim=32)
    return {k: v.contiguous() for k, v in ColorNet(config).state_dict().items()}, config


def _write(path: Path, tensors: dict, metadata_text: str) -> Path:
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata={"colornet_config": metadata_text, "format": "pt"})
    return path


def _document(**arch) -> str:
    import json

    _, config = _tiny_state()
    return json.dumps({"format": "colornet", "architecture": {**config.to_dict(), **arch}})


@pytest.mark.parametrize("width, match", [(8.0, "more than the 400 M"), (2.0, "do not match its architecture")])
def test_a_small_file_claiming_a_huge_network_is_refused_before_any_allocation(tmp_path, width, match):
    """A few-MB file whose header says width 8 used to build ~6.4 GB of parameters before the shape check. Run in a
    child limited to 3 GB of address space, so the old code fails there instead of exhausting this machine."""
    import subprocess
    import sys

    state, _ = _tiny_state()
    path = _write(tmp_path / "liar.safetensors", state, _document(width=width))
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from colornet.checkpoint import load_checkpoint\n"
        "from colornet.errors import CheckpointError\n"
        "try:\n"
        f"    load_checkpoint({str(path)!r})\n"
        "except CheckpointError as err:\n"
        "    print('refused:', err); sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "refused:" in out.stdout and match in out.stdout


def test_parameter_budget_is_checked_before_building(tmp_path, monkeypatch):
    from colornet import checkpoint
    from colornet.errors import CheckpointError

    state, _ = _tiny_state()
    path = _write(tmp_path / "m.safetensors", state, _document())
    checkpoint.load_checkpoint(path)  # fine as it is
    monkeypatch.setattr(checkpoint, "MAX_PARAMETERS", 1000)
    with pytest.raises(CheckpointError, match="more than the 0 M this loader accepts"):
        checkpoint.load_checkpoint(path)


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        ("5", "JSON int, not an object"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),  # deep nesting: a RecursionError before
        (_document(width="wide"), "'width' is 'wide'"),
        (_document(global_size=-3), "'global_size' is -3"),
        (_document(global_dim=2.5), "'global_dim' is 2.5"),
        (_document(class_names="abc"), "'class_names' must be a list"),
        ('{"architecture": 7}', "no 'architecture' object"),
    ],
)
def test_malformed_metadata_is_one_clear_error(tmp_path, text, match):
    from colornet.checkpoint import load_checkpoint
    from colornet.errors import CheckpointError

    state, _ = _tiny_state()
    path = _write(tmp_path / "m.safetensors", state, text)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("damage", ["integer", "nan", "inf"])
def test_integer_or_non_finite_weights_are_refused(tmp_path, damage):
    from colornet.checkpoint import load_checkpoint
    from colornet.errors import CheckpointError

    state, _ = _tiny_state()
    key = "colorization.output.weight"
    if damage == "integer":
        state[key] = state[key].round().to(torch.int32)
    else:
        state[key] = state[key].clone()
        state[key].view(-1)[3] = float(damage)
    path = _write(tmp_path / "m.safetensors", state, _document())
    with pytest.raises(CheckpointError, match="floating point" if damage == "integer" else "NaN or infinite"):
        load_checkpoint(path)


# ------------------------------------------------------------------------------------------------ 10.2: memory


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header says ``width x height`` but which holds no pixel data: only a header check can judge it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def test_the_budget_is_decided_from_the_header_before_decoding(tmp_path):
    from colornet.errors import ImageLoadError
    from colornet.images import load_image

    path = _png_header_only(tmp_path / "huge.png", 16000, 16000)  # 256 MP: under Pillow's own bomb limit
    with pytest.raises(ImageLoadError, match="256 megapixels, above the 75 MP limit"):
        load_image(path, max_megapixels=75)


def test_a_file_over_the_budget_is_one_failed_input_and_the_batch_goes_on(tmp_path, weights, capsys):
    _png_header_only(tmp_path / "a_huge.png", 16000, 16000)
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / "b_small.png")
    code = cli_main(["colorize", str(tmp_path / "a_huge.png"), str(tmp_path / "b_small.png"), "-o",
                     str(tmp_path / "out"), "--weights", str(weights), "-q", "--max-megapixels", "50"])
    assert code == 1 and (tmp_path / "out" / "b_small.png").is_file()
    assert "above the 50 MP limit" in capsys.readouterr().err


def test_running_out_of_memory_is_one_failed_input(tmp_path, weights):
    """A real MemoryError (the child is limited to 2 GB of address space; a 144 MP photo needs more) fails that
    photo only; the next one is still written. Before: a numpy MemoryError traceback ended the run."""
    import subprocess
    import sys

    Image.new("L", (12000, 12000), 128).save(tmp_path / "a_big.png")
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / "b_small.png")
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from colornet.cli import main\n"
        f"sys.exit(main(['colorize', {str(tmp_path / 'a_big.png')!r}, {str(tmp_path / 'b_small.png')!r}, '-o', "
        f"{str(tmp_path / 'out')!r}, '--weights', {str(weights)!r}, '-q', '--max-megapixels', '0']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "not enough memory" in out.stderr and "Traceback" not in out.stderr
    assert (tmp_path / "out" / "b_small.png").is_file() and not (tmp_path / "out" / "a_big.png").exists()


# ------------------------------------------------------------------------------------------- 10.12: API and docs


def test_public_errors_are_exported_from_colornet():
    import colornet

    for name in ("ColorNetError", "InputError", "ImageLoadError", "OutOfMemoryError", "CheckpointError",
                 "CheckpointMismatchError", "WeightsNotFoundError", "ChecksumMismatchError", "ManifestError"):
        assert issubclass(getattr(colornet, name), colornet.ColorNetError) and name in colornet.__all__


def test_colorize_returns_the_kind_and_dtype_it_was_given(weights):
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    out = colorize(u8, weights=str(weights))
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (24, 32, 3)
    rgba = colorize(np.dstack((u8, np.full((24, 32), 200, np.uint8))), weights=str(weights))
    assert rgba.dtype == np.uint8 and rgba.shape == (24, 32, 4) and (rgba[..., 3] == 200).all()
    f32 = colorize(u8.astype(np.float32) / 255, weights=str(weights))
    assert f32.dtype == np.float32 and np.abs(f32 * 255 - out).max() <= 1.0  # the same colours, as floats
    t = colorize(torch.from_numpy(u8), weights=str(weights))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.uint8 and torch.equal(t, torch.from_numpy(out))
    pil = colorize(Image.fromarray(u8), weights=str(weights))
    assert isinstance(pil, Image.Image) and np.array_equal(np.asarray(pil), out)


def test_a_result_saves_with_to_pil_and_save(colorizer, tmp_path):
    src = np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(src).save(tmp_path / "in.png")
    result = colorizer.colorize_image(tmp_path / "in.png")
    result.save(tmp_path / "out.png")
    result.save(tmp_path / "out.jpg", quality=95)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(result.to_pil()))
    assert Image.open(tmp_path / "out.jpg").size == (32, 24)


def test_requirements_txt_matches_pyproject():
    import re
    import tomllib

    root = Path(__file__).resolve().parents[1]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = sorted(d for d in deps if not d.startswith("torch"))  # ComfyUI brings its own torch
    lines = (root / "requirements.txt").read_text().splitlines()
    assert sorted(ln.strip() for ln in lines if ln.strip() and not re.match(r"\s*#", ln)) == wanted


def test_requirements_have_lower_bounds_only():
    """Installing the pack must never move a package the host already has: no upper bound, pin or exclusion that a
    host's other packages could trip over (README "Supported versions"; tools/check_host_env.py tests the bounds)."""
    import re
    import tomllib

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    requirements += [ln.strip() for ln in (root / "requirements.txt").read_text().splitlines()
                     if ln.strip() and not ln.lstrip().startswith("#")]
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+(\[[\w,-]+\])?>=[0-9][0-9.]*", requirement), requirement
