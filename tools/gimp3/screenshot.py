"""Screenshots of the plug-in in a real GIMP 3 window under Xvfb, for the README (docs/gimp_dialog.png,
docs/gimp_result.png).

    python tools/gimp3/screenshot.py [OUT_DIR]      # needs: apt-get install xvfb xdotool imagemagick

GIMP opens the greyscale sample photo (converted to RGB, with the sample hints as a layer "colour dots") and a colour
reference photo, then runs Filters > ColorNet > Colorize... interactively: the first picture is the dialog; then OK is
pressed and the second picture is GIMP with the new layer. Every process this starts is stopped by its own id.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import gimp3  # noqa: E402

DISPLAY = ":71"
SAMPLES = ROOT / "colornet" / "samples"

CODE = r'''
import time
import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio
def opened():  # the two photos on GIMP's command line, opened as File > Open opens them
    files = {{i: i.get_file() or i.get_imported_file() for i in Gimp.get_images()}}
    return {{f.get_basename(): i for i, f in files.items() if f is not None}}
while len(opened()) < 2:
    time.sleep(0.5)
reference, img = opened()[{reference_name!r}], opened()[{photo_name!r}]
img.convert_rgb()  # Image > Mode > RGB, so the dots can have colours
src = img.get_layers()[0]
hints = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path({hints!r}))
hints.set_name("colour dots")  # as if painted with the brush on a new transparent layer
img.insert_layer(hints, None, 0)
img.set_selected_layers([src])
Gimp.displays_flush()
proc = Gimp.get_pdb().lookup_procedure("python-fu-colornet-colorize")
cfg = proc.create_config()
cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
cfg.set_property("image", img)
cfg.set_core_object_array("drawables", [src])
cfg.set_property("hints", hints)
cfg.set_property("reference", reference)
proc.run(cfg)
print("LAYERS", [layer.get_name() for layer in img.get_layers()], flush=True)
hints.set_visible(False)  # the artist's next step: hide the dots to see the result
Gimp.displays_flush()
'''


def wait_for_window(name: str, timeout: float, env: dict[str, str]) -> str | None:
    end = time.time() + timeout
    while time.time() < end:
        found = subprocess.run(["xdotool", "search", "--name", name], capture_output=True, text=True, env=env)
        if found.returncode == 0 and found.stdout.split():
            return found.stdout.split()[-1]
        time.sleep(1)
    return None


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else ROOT / "docs").resolve()
    gimp, why = gimp3.locate()
    if gimp is None:
        print(why, file=sys.stderr)
        return 1
    from PIL import Image

    from colornet.gimp.install import install

    env = {**os.environ, "DISPLAY": DISPLAY}
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="gimp-shot-"))
    gui = wm = None
    try:
        time.sleep(2)
        if shutil.which("openbox"):  # title bars and placement, as on a desktop
            wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        profile = work / "profile"
        install(profile)
        (profile / "gimprc").write_text("(show-welcome-dialog no)\n")  # a first start greets; a user's GIMP doesn't
        photo = work / "village_grey.png"
        big = Image.open(SAMPLES / "street_village.jpg").convert("L")
        big.resize((big.width * 2, big.height * 2), Image.LANCZOS).save(photo)
        hints = work / "hints.png"
        dots = Image.open(SAMPLES / "street_village_hints.png")
        dots.resize((dots.width * 2, dots.height * 2), Image.NEAREST).save(hints)
        reference = SAMPLES / "sea_bythewater.jpg"
        code = CODE.format(photo_name=photo.name, hints=str(hints), reference_name=reference.name)
        argv_gui = gimp3.command(gimp, profile, {"DISPLAY": DISPLAY}, [work, ROOT, Path("/tmp/.X11-unix"),
                                 *gimp3.python_paths()],
                                 ["--no-splash", "--batch-interpreter=python-fu-eval", "-b", code,
                                  str(reference), str(photo)],
                                 program="gimp-3.0")
        gui = subprocess.Popen(argv_gui, stdout=open(work / "gimp.log", "w"), stderr=subprocess.STDOUT,
                               start_new_session=True)
        started = time.time()
        dialog = wait_for_window("Colorize with ColorNet", 300, env)
        print(f"GIMP started, opened both photos and showed the dialog in {time.time() - started:.1f} s")
        if dialog is None:
            print("the dialog did not appear; GIMP's log:\n" + (work / "gimp.log").read_text()[-3000:], file=sys.stderr)
            return 1
        for window in subprocess.run(["xdotool", "search", "--name", "GIMP$"], capture_output=True, text=True,
                                     env=env).stdout.split():
            subprocess.run(["xdotool", "windowmove", window, "0", "0", "windowsize", window, "1600", "1000"], env=env)
        welcome = wait_for_window("Welcome to GIMP", 1, env)
        if welcome:
            subprocess.run(["xdotool", "windowclose", welcome], env=env)
        subprocess.run(["xdotool", "windowactivate", "--sync", dialog], env=env)
        time.sleep(3)  # let it draw
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-window", "root", str(out / "gimp_dialog.png")], env=env, check=True)
        pressed = time.time()
        subprocess.run(["xdotool", "windowactivate", "--sync", dialog, "key", "Return"], env=env, check=True)  # OK
        end = time.time() + 300
        while time.time() < end and wait_for_window("Colorize with ColorNet", 1, env):
            time.sleep(1)
        end = time.time() + 300  # colornet runs, then GIMP adds the layer; the script then hides the dots
        while time.time() < end and "colorized (" not in (work / "gimp.log").read_text(errors="replace"):
            time.sleep(0.2)
        print(f"OK pressed -> the colorized layer was there {time.time() - pressed:.1f} s later")
        time.sleep(5)
        subprocess.run(["import", "-window", "root", str(out / "gimp_result.png")], env=env, check=True)
        print(f"wrote {out / 'gimp_dialog.png'} and {out / 'gimp_result.png'}")
        return 0
    finally:
        if gui is not None and gui.poll() is None:
            os.killpg(gui.pid, signal.SIGTERM)  # GIMP and its plug-ins: the session this script started
            try:
                gui.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(gui.pid, signal.SIGKILL)
        if wm is not None:
            wm.terminate()
            wm.wait()
        xvfb.terminate()
        xvfb.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
