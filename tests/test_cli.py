"""The ``colornet`` command, run in-process through its ``main`` and once as a real console script."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from colornet.inputs import plan_inputs
from colornet.outputs import OutputOptions, plan_outputs
from colornet.model import compact_config
from helpers import lively_model

CLASSES = ["beach", "forest", "street", "room", "sky", "field"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return save_checkpoint(lively_model(compact_config(CLASSES)), tmp_path_factory.mktemp("ckpt"))


def _photo(path: Path, size=(40, 30), mode="RGB") -> Path:
    rng = np.random.default_rng(len(str(path)))
    arr = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    Image.fromarray(arr, "RGBA").convert(mode).save(path)
    return path


def test_colorize_folder_skips_bad_file_and_keeps_others(tmp_path, weights, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    _photo(src / "a.jpg")
    _photo(src / "sub" / "b.png", mode="RGBA")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    out = tmp_path / "out"
    code = main(["colorize", str(src), "-o", str(out), "--weights", str(weights), "-q"])
    assert code == EXIT_SOME_FAILED
    assert (out / "a.png").is_file() and (out / "sub" / "b.png").is_file()
    assert Image.open(out / "sub" / "b.png").mode == "RGBA"  # alpha kept
    assert not (out / "broken.png").exists()
    assert "broken.png" in capsys.readouterr().err
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*"))  # no half-written temp files left


def test_never_overwrites_inputs(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    before = photo.read_bytes()
    code = main(["colorize", str(photo), "-o", str(tmp_path), "--weights", str(weights), "-q"])
    assert code == EXIT_SOME_FAILED
    assert photo.read_bytes() == before
    assert "overwrite an input" in capsys.readouterr().err


def test_glob_and_references_with_weights(tmp_path, weights):
    for name in ("x1.png", "x2.png", "y.png"):
        _photo(tmp_path / name)
    ref1, ref2 = _photo(tmp_path / "r1.jpg", (64, 64)), _photo(tmp_path / "r2.jpg", (20, 50))
    out = tmp_path / "out"
    code = main(
        ["colorize", str(tmp_path / "x*.png"), "-o", str(out), "--weights", str(weights), "-q", "--format", "jpg",
         "--reference", str(ref1), "--reference-weight", "0.7", "--reference", str(ref2), "--reference-weight", "0.3"]
    )
    assert code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["x1.jpg", "x2.jpg"]


def test_reference_weight_count_must_match(tmp_path, weights, capsys):
    _photo(tmp_path / "a.png")
    code = main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--weights", str(weights),
                 "--reference", str(tmp_path / "a.png"), "--reference-weight", "1", "--reference-weight", "2"])
    assert code == EXIT_USAGE and "one weight per reference" in capsys.readouterr().err


def test_no_inputs_is_a_usage_error(tmp_path, weights, capsys):
    """A glob that matches nothing is no input at all (usage error), not an input that failed."""
    assert main(["colorize", str(tmp_path / "*.png"), "-o", str(tmp_path / "o"), "--weights", str(weights)]) == EXIT_USAGE
    assert "no input images" in capsys.readouterr().err


def test_same_name_from_two_folders_is_refused_not_numbered(tmp_path):
    """Loose files of one name from two folders cannot both be x.png; numbering one (x_1.png) made names depend on
    which files a run had, so the second is refused with what to do instead."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    p1, p2 = _photo(tmp_path / "a" / "x.png"), _photo(tmp_path / "b" / "x.png")
    plan = plan_outputs(plan_inputs([str(p1), str(p2)]).jobs, tmp_path / "o", OutputOptions())
    assert plan.targets == [(p1, tmp_path / "o" / "x.png")]
    assert [s for s, _ in plan.refused] == [p2] and "common folder" in plan.refused[0][1]


def test_classify_prints_top5(tmp_path, weights, capsys):
    photo = _photo(tmp_path / "a.png")
    assert main(["classify", str(photo), "--weights", str(weights)]) == EXIT_OK
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert len(lines) == 5
    probs = [float(line.split()[-1].rstrip("%")) for line in lines]
    assert probs == sorted(probs, reverse=True) and all(line.split()[0] in CLASSES for line in lines)


def test_console_script_runs(tmp_path, weights):
    exe = shutil.which("colornet", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("console script not installed (package not pip-installed)")
    photo = _photo(tmp_path / "a.png")
    res = subprocess.run([exe, "colorize", str(photo), "-o", str(tmp_path / "o"), "--weights", str(weights)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "a.png").is_file()
