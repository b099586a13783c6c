"""Which files a ``colornet colorize`` run reads (``colornet.outputs`` decides where each result goes).

Rules (each one a past bug): an argument naming an existing path is used literally, never as a glob pattern
(``[a].jpg`` is that file, not ``a.jpg``); folders are searched recursively for image files; the output folder is
never searched (re-running ``colornet colorize in -o in/out`` must not colorize its own outputs); a FIFO or device is
reported as "not a regular file" instead of blocking or failing in the decoder; a folder without images is reported
with the extensions looked for. The result is sorted and numbered the same way in every process, so ``torchrun``
workers can each take a deterministic share (``colornet.distributed``).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .images import IMAGE_EXTENSIONS, is_image_file

_GLOB_CHARS = frozenset("*?[")


@dataclass
class InputPlan:
    """``jobs``: (input path, its path relative to the folder argument it was found in -- or just its name for a
    file argument -- without the suffix), sorted by input path; ``colornet.outputs.plan_outputs`` names the outputs.
    ``problems``: (argument or path, message) for arguments that yielded nothing usable."""

    jobs: list[tuple[Path, Path]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and (path == folder or folder in path.parents)


def _folder_images(folder: Path, exclude: Path | None) -> list[Path]:
    root = folder.resolve()
    skip = exclude if exclude is not None and not _inside(root, exclude) else None  # -o beneath the folder
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if skip is not None:
            dirnames[:] = [d for d in dirnames if not _inside((here / d).resolve(), skip)]
        dirnames.sort()
        for name in sorted(filenames):
            path = here / name
            if is_image_file(path) and path.is_file():
                found.append(path)
    return found


def plan_inputs(patterns: Sequence[str], exclude: str | os.PathLike | None = None) -> InputPlan:
    """Expand file, folder and glob arguments; ``exclude`` (the output folder) is never searched."""
    out = Path(exclude).resolve() if exclude is not None else None
    plan = InputPlan()
    found: dict[Path, Path] = {}
    for pattern in patterns:
        literal = Path(pattern)
        if os.path.lexists(pattern) or not (_GLOB_CHARS & set(pattern)):
            matches, from_glob = [literal], False
        else:
            matches = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]
            matches = [m for m in matches if not _inside(m.resolve(), out)]
            from_glob = True
            if not matches:
                plan.problems.append((pattern, "no files match this pattern"))
        for match in matches:
            if match.is_dir():
                images = _folder_images(match, out)
                if not images and not from_glob:
                    exts = ", ".join(IMAGE_EXTENSIONS)
                    plan.problems.append(
                        (str(match), f"no images in this folder or its subfolders (looked for {exts})")
                    )
                for path in images:
                    found.setdefault(path.resolve(), path.relative_to(match).with_suffix(""))
            elif match.is_file():
                found.setdefault(match.resolve(), Path(match.stem))
            elif os.path.lexists(match):
                plan.problems.append((str(match), "not a regular file (a FIFO, device or broken link?)"))
            elif not from_glob:
                plan.problems.append((str(match), "no such file or folder"))
    plan.jobs = sorted(found.items(), key=lambda job: str(job[0]))
    return plan


def check_output_argument(text: str) -> str:
    """The one rule for ``-o``: not empty (``-o ''`` silently meant the current folder); ``-o .`` says that."""
    if not str(text).strip():
        raise InputError("-o is empty; name the output folder or file (-o . for the current folder)")
    return text


_DIGITS = re.compile(r"(\d+)")


def natural_key(path: str | os.PathLike) -> tuple:
    """Sort key that orders numbered names as people do: f2 before f10 (``sorted`` by text puts f10 first)."""
    text = str(path)
    parts = tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in _DIGITS.split(text))
    return parts, text  # the text itself breaks ties (f01 / f1, F1 / f1) the same way every time


def natural_order(jobs: Sequence[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """(input, output) pairs by the natural order of the input paths (frames of a clip: f0, f1, f2, ..., f10)."""
    return sorted(jobs, key=lambda job: natural_key(job[0]))
