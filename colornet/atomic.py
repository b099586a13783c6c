"""The one way colornet writes a file: a temp file in the same folder, then a rename, with the user's umask.

A crash, Ctrl-C or a full disk mid-write therefore never leaves a half-written checkpoint, manifest or image under
the real name: readers see the old file or the new one, never a mix. SIGTERM and SIGHUP are stopped like Ctrl-C
(``colornet.exits``), so the temp file is removed then too; only SIGKILL or a power cut can leave one, and its
suffix keeps it out of every later input search. ``tempfile.mkstemp`` creates files 0600
whatever the umask; the final file gets the mode a plain ``open()`` would have given it (0644 under umask 022), so
outputs and exported checkpoints are readable as users expect.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (``/proc``), else set-and-restore."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it; restore at once
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The permission bits ``open(path, "w")`` would give a new file: 0666 minus the umask."""
    return 0o666 & ~current_umask()


TEMP_SUFFIX = ".colornet-tmp"  # not an image or video suffix: a file left by SIGKILL is never taken as an input


def atomic_write(path: str | os.PathLike, write: Callable[[str], object], *, fsync: bool = True) -> Path:
    """Call ``write(temp_path)`` then rename the temp file onto ``path`` (its folder is created). The temp file is
    hidden and ends in ``TEMP_SUFFIX``, so no input search (``colornet colorize DIR``) ever picks it up; writers must
    therefore be told the format rather than guess it from the name. ``fsync``: flush the bytes to disk before the
    rename, so a file under the real name is complete even after a power cut (what lets ``--skip-existing`` trust
    it). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, new_file_mode())  # after writing: some writers (safetensors) replace the file they are given
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
