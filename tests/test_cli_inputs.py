"""Which files ``colornet colorize`` reads: literal names, globs, folders, never its own output folder, FIFOs;
each failure reported once, path first."""

from __future__ import annotations

import os

import pytest
from helpers import lively_model

from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from colornet.model import compact_config
from cli_helpers import random_photo as _photo, run_err as _run_err

# ------------------------------------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path_factory.mktemp("ckpt"))


def test_existing_file_name_is_literal_not_a_glob(tmp_path, weights, capsys):
    literal = _photo(tmp_path / "[a].png", seed=1)
    _photo(tmp_path / "a.png", seed=2)
    out = tmp_path / "out"
    code, _ = _run_err(capsys, "colorize", literal, "-o", out, "--weights", weights, "-q")
    assert code == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == ["[a].png"]


def test_output_folder_inside_the_input_folder_is_never_searched(tmp_path, weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _photo(src / "a.png")
    for _ in range(2):
        code, _ = _run_err(capsys, "colorize", src, "-o", src / "out", "--weights", weights, "-q")
        assert code == EXIT_OK
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*.png")) == ["a.png", "out/a.png"]
    # a recursive glob over the input folder does not pick up the outputs either
    code, _ = _run_err(capsys, "colorize", f"{src}/**/*.png", "-o", src / "out", "--weights", weights, "-q", "--skip-existing")
    assert code == EXIT_OK and not (src / "out" / "out").exists()


def test_each_failure_is_reported_once_with_its_path_once(tmp_path, weights, capsys):
    good = _photo(tmp_path / "good.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    missing = tmp_path / "missing.png"
    code, err = _run_err(capsys, "colorize", good, broken, missing, "-o", tmp_path / "o", "--weights", weights, "-q")
    assert code == EXIT_SOME_FAILED
    assert err.count(str(broken)) == 1 and err.count(str(missing)) == 1
    assert "2 input(s) failed" in err


def test_empty_folder_names_the_folder_and_the_extensions(tmp_path, weights, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    code, err = _run_err(capsys, "colorize", empty, "-o", tmp_path / "o", "--weights", weights)
    assert code == EXIT_USAGE
    assert str(empty) in err and ".png" in err and ".jpg" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_fifo_is_not_a_regular_file(tmp_path, weights, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    good = _photo(tmp_path / "good.png")
    code, err = _run_err(capsys, "colorize", fifo, good, "-o", tmp_path / "o", "--weights", weights, "-q")
    assert code == EXIT_SOME_FAILED and "not a regular file" in err
    assert (tmp_path / "o" / "good.png").is_file()
