"""Shared by the CLI behaviour tests: a random photo file, and ``colornet`` run in-process with its stderr."""

from __future__ import annotations

import numpy as np
from PIL import Image

from colornet.cli import main


def random_photo(path, size=(40, 30), seed=0):
    """A random RGB photo of ``size`` (w, h) saved at ``path``; returns the path."""
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def run_err(capsys, *argv):
    """(exit status, stderr) of ``colornet argv``; a usage error from argparse counts as its exit status."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def one_line(err: str) -> str:
    """The one non-empty line of ``err`` (asserts there is exactly one)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]
