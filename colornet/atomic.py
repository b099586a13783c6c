"""The one way colornet writes a file: a temp file in the same folder, then a rename.

A crash, Ctrl-C or a full disk mid-write therefore never leaves a half-written checkpoint, manifest or image under
the real name: readers see the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], object], *, fsync: bool = True) -> Path:
    """Call ``write(temp_path)`` then rename the temp file onto ``path`` (its folder is created). The temp file keeps
    ``path``'s suffix, so writers that pick a format from the name (Pillow) see the real one. ``fsync``: flush the
    bytes to disk before the rename (checkpoints, manifests; a batch of images may skip it). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
