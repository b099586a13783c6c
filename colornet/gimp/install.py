"""Installing the GIMP 3 plug-in into a profile, and the ``colornet gimp`` subcommand.

GIMP 3 finds a Python plug-in as ``<profile>/plug-ins/<name>/<name>.py`` (folder and file share the name, the file is
executable). Beside it goes ``colornet-command.txt``: the command line of *this* environment's colornet
(``<python> -m colornet``), so GIMP, whose own Python has no torch, runs the right one whatever PATH GIMP starts with.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

from ..errors import UsageError

PLUGIN_NAME = "colornet-gimp"
COMMAND_FILE = "colornet-command.txt"  # read by the plug-in: one line, a JSON list of arguments


def default_profile() -> Path:
    """The GIMP 3 profile folder GIMP itself uses here: $GIMP3_DIRECTORY, else the platform's config folder."""
    override = os.environ.get("GIMP3_DIRECTORY")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "GIMP" / "3.0"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "GIMP" / "3.0"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "GIMP" / "3.0"


def plugin_source() -> Path:
    """The plug-in file shipped in this package."""
    return Path(str(resources.files(__package__) / f"{PLUGIN_NAME}.py"))


def current_command() -> list[str]:
    """This environment's colornet, independent of PATH: the running interpreter with ``-m colornet``."""
    return [sys.executable, "-m", "colornet"]


def install(profile: Path | None = None, command: list[str] | None = None) -> Path:
    """Copies the plug-in into ``profile`` (default: GIMP's), executable, and records ``command``; returns its path.

    Re-running replaces the plug-in and the recorded command (an upgrade)."""
    profile = Path(profile) if profile is not None else default_profile()
    if profile.exists() and not profile.is_dir():
        raise UsageError(f"{profile} is a file, not a GIMP profile folder; give the profile folder with --profile")
    folder = profile / "plug-ins" / PLUGIN_NAME
    target = folder / f"{PLUGIN_NAME}.py"
    line = json.dumps(command or current_command())  # JSON, not shell quoting: Windows paths keep their backslashes
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f".{PLUGIN_NAME}.py.new"  # GIMP never sees a half-copied plug-in
        shutil.copyfile(plugin_source(), staged)
        staged.chmod(0o755)
        os.replace(staged, target)
        (folder / COMMAND_FILE).write_text(line + "\n", encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot install into {folder}: {err.strerror or err}; choose another --profile") from None
    return target


def uninstall(profile: Path | None = None) -> Path | None:
    """Removes the plug-in folder from ``profile``; returns it, or None when it was not installed there.

    Only a folder holding our plug-in file is removed, so a mistyped --profile cannot delete anything else."""
    profile = Path(profile) if profile is not None else default_profile()
    folder = profile / "plug-ins" / PLUGIN_NAME
    if not (folder / f"{PLUGIN_NAME}.py").is_file():
        return None
    try:
        shutil.rmtree(folder)
    except OSError as err:
        raise UsageError(f"cannot remove {folder}: {err.strerror or err}") from None
    return folder


# ----------------------------------------------------------------------------------------------------- CLI


def add_gimp_parser(sub: argparse._SubParsersAction, formatter_class: type | None = None) -> None:
    """``colornet gimp install|uninstall [--profile DIR] [--command CMD]``."""
    kwargs = {"formatter_class": formatter_class} if formatter_class else {}
    gimp = sub.add_parser(
        "gimp", help="install or uninstall the GIMP 3 plug-in (Filters > ColorNet > Colorize...)",
        description="Puts the 'Colorize with ColorNet' plug-in into a GIMP 3 profile and records which colornet it "
                    "runs (this environment's). Restart GIMP afterwards.", **kwargs,
    )
    gimp.add_argument("action", choices=("install", "uninstall"))
    gimp.add_argument("--profile", type=Path, default=None,
                      help=f"GIMP 3 profile folder (default: $GIMP3_DIRECTORY or {default_profile()})")
    gimp.add_argument("--command", default=None,
                      help="the colornet command line GIMP should run (default: this environment's: "
                           f"{shlex.join(current_command())})")
    gimp.set_defaults(func=cmd_gimp)


def cmd_gimp(args: argparse.Namespace) -> int:
    """Install or uninstall; a profile that cannot be used is a ``UsageError`` (``colornet.cli.main`` prints it,
    exit 2)."""
    if args.action == "install":
        command = shlex.split(args.command) if args.command else None
        target = install(args.profile, command)
        argv = json.loads((target.parent / COMMAND_FILE).read_text(encoding="utf-8"))
        print(f"installed {target}")
        print(f"it runs: {shlex.join(argv)}")
        print("restart GIMP 3, then use Filters > ColorNet > Colorize...")
        return 0
    removed = uninstall(args.profile)
    if removed is None:
        print(f"the plug-in is not installed in {args.profile or default_profile()}; nothing to remove")
    else:
        print(f"removed {removed}")
    return 0
