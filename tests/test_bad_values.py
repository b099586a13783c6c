"""Bad numbers and pixels: NaN, negative, out of range, unknown devices -- refused with one clear error by the
library, and the CLI and the nodes inherit the same rule (``colornet.checks``)."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from helpers import load_pack
from PIL import Image

from colornet import colorize
from colornet.cli import EXIT_USAGE
from colornet.cli import main as cli_main
from colornet.errors import ColorNetError, InputError
from colornet.images import load_image
from colornet.pipeline import Colorizer, select_device
from cli_helpers import random_photo as _photo, run_err as _run_err, one_line as _one_line

# ----------------------------------------------------------------------------------------- fixtures


torch.set_num_threads(1)


@pytest.fixture(scope="module")
def colorizer(net) -> Colorizer:
    return Colorizer(net, torch.device("cpu"), working_size=64)


def _rgb(h=40, w=56, seed=0) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


# -------------------------------------------------------------------------------- non-finite values


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

    with pytest.raises(ColorNetError, match="NaN"):
        load_image(tmp_path / "f.tif")


# ------------------------------------------------------------------------------------- working size


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


# ------------------------------------------------------------------------------------------ devices


def test_unknown_device_is_a_library_error():
    with pytest.raises(InputError, match="Unknown device 'foo'"):
        select_device("foo")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_says_so(weights):
    with pytest.raises(InputError, match="torch sees no CUDA GPU"):
        select_device("cuda")
    with pytest.raises(InputError, match="no CUDA GPU"):
        Colorizer.from_pretrained(weights, device="cuda:1")


# ------------------------------------------------------------------------ the CLI: one line, exit 2


@pytest.mark.parametrize("argv", [["--strength", "-1"], ["--strength", "nan"], ["--png-compression", "12"],
                                  ["--batch-size", "0"], ["--jpeg-quality", "0"], ["--working-size", "-5"]])
def test_bad_numbers_are_one_line_usage_errors(tmp_path, weights, capsys, argv):
    photo = _photo(tmp_path / "a.png")
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, *argv)
    assert code == EXIT_USAGE and argv[0] in _one_line(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_bad_reference_weight_is_a_usage_error(tmp_path, weights, capsys, value):
    photo = _photo(tmp_path / "a.png")
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights,
                     "--reference", photo, "--reference-weight", value)
    assert code == EXIT_USAGE and "--reference-weight" in _one_line(err)


def test_unknown_device_is_a_usage_error(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "--device", "foo")
    assert code == EXIT_USAGE and "unknown device 'foo'" in _one_line(err).lower()


def test_cuda_without_cuda_is_a_usage_error(tmp_path, weights, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    photo = _photo(tmp_path / "a.png")
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "--device", "cuda")
    assert code == EXIT_USAGE and "no CUDA GPU" in _one_line(err)
