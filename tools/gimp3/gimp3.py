"""Runs Python inside a real GIMP 3, headless (batch) or with its window (for screenshots), for the plug-in's tests,
benchmark and README screenshot. Standard library only.

GIMP 3 is either the system's (``gimp-console-3.0`` on PATH, Debian 13+) or the Debian 13 chroot that
``tools/gimp3/provision.sh`` builds on older systems. In the chroot, the host folders the plug-in needs (the test's
temporary files, the repository with its .venv, the Python the .venv was made from) are bind-mounted at the same
paths inside a private mount namespace (``unshare -m``), so the host's ``colornet`` runs there unchanged and every
mount disappears with the process: nothing stays mounted in the chroot.

    python tools/gimp3/gimp3.py where               # how GIMP 3 runs here, or why it does not
    python tools/gimp3/gimp3.py batch PROFILE < code.py
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CHROOT = "/opt/trixie"
CONSOLE = "gimp-console-3.0"
BATCH_ARGS = ["-i", "--batch-interpreter=python-fu-eval", "-b", "-", "--quit"]
# The chroot's own programs: a minimal, predictable environment (the host's may name host-only paths).
CHROOT_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Gimp3:
    """Where GIMP 3 is: ``chroot`` None = the system's own."""

    chroot: Path | None

    def describe(self) -> str:
        return f"GIMP 3 in the chroot {self.chroot}" if self.chroot else "the system's GIMP 3"


def locate() -> tuple[Gimp3 | None, str]:
    """GIMP 3 here, or None and the reason (what to run to get it)."""
    if shutil.which(CONSOLE):
        return Gimp3(None), "system"
    root = Path(os.environ.get("GIMP3_CHROOT", DEFAULT_CHROOT))
    if not (root / "usr/bin" / CONSOLE).exists():
        return None, (f"GIMP 3 not found ({CONSOLE} not on PATH, no chroot at {root}); "
                      "run 'sudo tools/gimp3/provision.sh' (about 3 minutes) to get it")
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return None, f"GIMP 3 is in the chroot {root}, which needs root and unshare to run"
    system = [p for p in python_paths() if p == Path("/") or p.parts[1:2] in (("usr",), ("bin",), ("lib",))]
    if system:
        return None, (f"GIMP 3 is in the chroot {root}, but this Python lives in {system[0]}, which the chroot has "
                      "its own of; use a Python installed elsewhere (pyenv, uv, conda) or the system's GIMP 3")
    return Gimp3(root), "chroot"


def python_paths() -> list[Path]:
    """Host folders this process's Python needs: its install (what a venv points at) and the venv itself."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(paths)


def command(gimp: Gimp3, profile: Path, env: dict[str, str], binds: list[Path], args: list[str],
            program: str = CONSOLE) -> list[str]:
    """The argv that runs ``program args`` of GIMP 3 with ``profile`` and extra ``env``, host ``binds`` visible."""
    env = {"GIMP3_DIRECTORY": str(profile), **env}
    if gimp.chroot is None:
        return ["env", *(f"{k}={v}" for k, v in env.items()), program, *args]
    root = str(gimp.chroot)
    lines = ["set -e", f"mount -t proc proc {shlex.quote(root + '/proc')}"]
    for path in sorted({Path(p).resolve() for p in binds}):
        inner = shlex.quote(root + str(path))
        make = f"mkdir -p {inner}" if path.is_dir() else f"mkdir -p {shlex.quote(str(Path(root + str(path)).parent))} && touch {inner}"
        lines.append(f"{make} && mount --bind {shlex.quote(str(path))} {inner}")
    base = {"HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", "PATH": CHROOT_PATH}
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in {**base, **env}.items())
    lines.append(f"exec chroot {shlex.quote(root)} env -i {assignments} {program} "
                 + " ".join(shlex.quote(a) for a in args))
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", "\n".join(lines)]


def run_batch(gimp: Gimp3, code: str, profile: Path, env: dict[str, str] | None = None,
              binds: list[Path] = (), timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs Python ``code`` in headless GIMP 3 (python-fu-eval). Exit 0 = it ran; 64 = it raised (the traceback is
    on stderr). GIMP's usual headless noise (no display for script-fu, wire EOF) is left in the output."""
    argv = command(gimp, profile, env or {}, [profile, *binds, *python_paths()], BATCH_ARGS)
    return subprocess.run(argv, input=code, text=True, capture_output=True, timeout=timeout)


def main(argv: list[str]) -> int:
    gimp, how = locate()
    if gimp is None:
        print(how, file=sys.stderr)
        return 1
    if argv[:1] == ["where"]:
        print(gimp.describe())
        return 0
    if argv[:1] == ["batch"] and len(argv) == 2:
        profile = Path(argv[1]).resolve()  # its parent folder (inputs, outputs) and the repository are visible
        result = run_batch(gimp, sys.stdin.read(), profile, binds=[profile.parent, Path.cwd()])
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
