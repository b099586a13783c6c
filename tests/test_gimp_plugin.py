"""The GIMP 3 plug-in ("Colorize with ColorNet"), installed with ``colornet gimp install`` and run in a real,
headless GIMP 3 on the bundled sample photos.

GIMP 3 comes from ``tools/gimp3/provision.sh`` (the system's package, or a Debian 13 chroot); without it the GIMP
tests are skipped with the reason. Pixels are read back from GIMP's own layers and checked here: against the CLI's
result for the same file (the plug-in must hand colornet exactly the layer's pixels), against scikit-image's Lab
(hints), and against the source itself (selection, untouched source).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

from colornet.cli import main as cli_main
from colornet.gimp import PLUGIN_NAME, plugin_source

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "colornet" / "samples"
PHOTO = SAMPLES / "street_village.jpg"
HINTS = SAMPLES / "street_village_hints.png"
REFERENCE = SAMPLES / "sea_bythewater.jpg"


def _gimp3_tools():
    spec = importlib.util.spec_from_file_location("gimp3_tools", ROOT / "tools" / "gimp3" / "gimp3.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gimp3 = _gimp3_tools()

# Runs first in every GIMP session: load, call the procedure as another plug-in or script would, dump layers.
PRELUDE = r'''
import json
import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, Gio, Gegl

def load(path):
    return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))

def colorize(image, layer, **settings):
    proc = Gimp.get_pdb().lookup_procedure("python-fu-colornet-colorize")
    assert proc is not None, "the plug-in is not registered"
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    for key, value in settings.items():
        cfg.set_property(key.replace("_", "-"), value)
    status = proc.run(cfg).index(0)
    ok = status == Gimp.PDBStatusType.SUCCESS
    return ok, (None if ok else Gimp.get_pdb().get_last_error())

def dump(drawable, path, fmt="R'G'B'A u8"):
    w, h = drawable.get_width(), drawable.get_height()
    data = drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt, Gegl.AbyssPolicy.CLAMP)
    with open(path, "wb") as handle:
        handle.write(data)
    _, x, y = drawable.get_offsets()
    return {"path": path, "width": w, "height": h, "x": x, "y": y, "name": drawable.get_name(), "format": fmt}

def layers(image):
    return [layer.get_name() for layer in image.get_layers()]

def report(path, **info):
    with open(path, "w") as handle:
        json.dump(info, handle)
'''


@pytest.fixture(scope="module")
def gimp():
    found, why = gimp3.locate()
    if found is None:
        pytest.skip(why)
    return found


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    """A throwaway GIMP profile with the plug-in installed the way a user installs it."""
    folder = tmp_path_factory.mktemp("gimp-profile")
    assert cli_main(["gimp", "install", "--profile", str(folder)]) == 0
    return folder


def run_gimp(gimp, profile: Path, work: Path, code: str, env: dict[str, str] | None = None) -> dict:
    """Runs PRELUDE + code in headless GIMP 3; returns what the code passed to ``report(work/report.json)``."""
    result = gimp3.run_batch(gimp, PRELUDE + code, profile, env=env, binds=[work, ROOT], timeout=600)
    assert result.returncode == 0, f"GIMP batch failed ({result.returncode}):\n{result.stderr[-4000:]}"
    return json.loads((work / "report.json").read_text())


def pixels(info: dict) -> np.ndarray:
    """A layer dumped by ``dump`` -> [H, W, C] array."""
    fmt = info["format"]
    dtype = np.uint16 if fmt.endswith("u16") else np.uint8
    channels = len(fmt.split()[0].replace("'", ""))  # "R'G'B'A" -> 4, "Y'" -> 1
    return np.fromfile(info["path"], dtype=dtype).reshape(info["height"], info["width"], channels)


def cli_result(work: Path, source: Path, *extra: str) -> np.ndarray:
    """What ``colornet colorize`` makes of the file, run as a user runs it (a fresh process, like the plug-in's)."""
    out = work / "cli"
    done = subprocess.run([sys.executable, "-m", "colornet", "colorize", str(source), "-o", str(out), "-q", *extra],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (result,) = out.iterdir()
    return np.asarray(Image.open(result).convert("RGB"))


def assert_same_picture(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal but for rare 1-level rounding flips (float sums in another order when the CPU is shared differently)."""
    diff = np.abs(actual.astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, f"max {diff.max()}, {(diff > 0).mean():.3%} differ"


def chroma(rgb: np.ndarray) -> np.ndarray:
    lab = rgb2lab(rgb[..., :3].astype(np.float64) / (65535.0 if rgb.dtype == np.uint16 else 255.0))
    return np.hypot(lab[..., 1], lab[..., 2])


@pytest.fixture
def grey_photo(tmp_path) -> Path:
    path = tmp_path / "village_grey.png"
    Image.open(PHOTO).convert("L").save(path)
    return path


# ------------------------------------------------------------------------------------------- no GIMP needed


def test_install_puts_the_executable_plugin_and_this_environments_colornet(tmp_path, capsys):
    profile = tmp_path / "GIMP" / "3.0"
    assert cli_main(["gimp", "install", "--profile", str(profile)]) == 0
    target = profile / "plug-ins" / PLUGIN_NAME / f"{PLUGIN_NAME}.py"
    assert target.read_bytes() == plugin_source().read_bytes()
    assert os.access(target, os.X_OK) and target.read_text().startswith("#!/usr/bin/env python3")
    argv = json.loads((target.parent / "colornet-command.txt").read_text())
    assert argv[0] == sys.executable
    # the recorded command really is this environment's colornet
    version = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("colornet "), version.stderr
    assert str(target) in capsys.readouterr().out

    assert cli_main(["gimp", "install", "--profile", str(profile), "--command", "/opt/cn/bin/colornet --device cpu"]) == 0
    assert json.loads((target.parent / "colornet-command.txt").read_text()) == ["/opt/cn/bin/colornet", "--device", "cpu"]


def test_uninstall_removes_only_the_plugin(tmp_path, capsys):
    profile = tmp_path / "profile"
    other = profile / "plug-ins" / "someone-elses" / "someone-elses.py"
    other.parent.mkdir(parents=True)
    other.write_text("# not ours\n")
    assert cli_main(["gimp", "install", "--profile", str(profile)]) == 0
    assert cli_main(["gimp", "uninstall", "--profile", str(profile)]) == 0
    assert not (profile / "plug-ins" / PLUGIN_NAME).exists()
    assert other.read_text() == "# not ours\n"
    capsys.readouterr()
    assert cli_main(["gimp", "uninstall", "--profile", str(profile)]) == 0  # twice: nothing to do, says so
    assert "not installed" in capsys.readouterr().out


def test_install_into_a_file_says_what_to_do(tmp_path, capsys):
    not_a_folder = tmp_path / "profile"
    not_a_folder.write_text("x")
    assert cli_main(["gimp", "install", "--profile", str(not_a_folder)]) == 2
    assert "--profile" in capsys.readouterr().err
    assert not_a_folder.read_text() == "x"


def test_plugin_imports_only_gimp_bindings_and_the_standard_library():
    tree = ast.parse(plugin_source().read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "gi" in modules
    assert modules - {"gi"} <= set(sys.stdlib_module_names), modules - {"gi"} - set(sys.stdlib_module_names)


# ----------------------------------------------------------------------------------------------- in GIMP 3


def test_grey_photo_gets_a_coloured_layer_above_and_the_source_is_untouched(gimp, profile, tmp_path, grey_photo):
    info = run_gimp(gimp, profile, tmp_path, f'''
img = load({str(grey_photo)!r})
src = img.get_layers()[0]
ok, error = colorize(img, src, strength=1.3, default_vividness=False, vividness=0.4, working_size=256)
new = img.get_layers()[0]
report({str(tmp_path / "report.json")!r}, ok=ok, error=error, layers=layers(img),
       rgb=img.get_base_type() == Gimp.ImageBaseType.RGB,
       source=dump(src, {str(tmp_path / "src.raw")!r}), result=dump(new, {str(tmp_path / "new.raw")!r}))
''')
    assert info["ok"], info["error"]
    assert info["rgb"], "a greyscale image must be converted to RGB to hold colour"
    assert len(info["layers"]) == 2 and info["layers"][1] == "Background"
    assert info["layers"][0] == "Background colorized (ColorNet, strength 1.3, vividness 0.4)"  # above the source
    assert (info["result"]["x"], info["result"]["y"]) == (info["source"]["x"], info["source"]["y"])
    grey = np.asarray(Image.open(grey_photo))
    source = pixels(info["source"])
    for channel in range(3):
        np.testing.assert_array_equal(source[..., channel], grey)  # the source layer's pixels are unchanged
    result = pixels(info["result"])
    assert (result[..., 3] == 255).all()
    assert chroma(result).mean() > 5.0, "the new layer should be in colour"
    # exactly what the CLI makes of the same file with the same settings: the plug-in passes the layer's pixels and
    # every setting through losslessly
    cli = cli_result(tmp_path, grey_photo, "--strength", "1.3", "--vividness", "0.4", "--working-size", "256")
    assert_same_picture(result[..., :3], cli)


def test_hints_layer_moves_the_colour_at_each_hint_to_the_hint(gimp, profile, tmp_path, grey_photo):
    info = run_gimp(gimp, profile, tmp_path, f'''
img = load({str(grey_photo)!r})
img.convert_rgb()  # Image > Mode > RGB: a greyscale image cannot hold colour dots
src = img.get_layers()[0]
hints = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path({str(HINTS)!r}))
hints.set_name("colour dots")
img.insert_layer(hints, None, 0)
ok, error = colorize(img, src, hints=hints)
with_hints = img.get_layers()[1]   # above the source, below the hints layer
ok2, error2 = colorize(img, src)
without = img.get_layers()[2]
report({str(tmp_path / "report.json")!r}, ok=ok and ok2, error=error or error2, layers=layers(img),
       hinted=dump(with_hints, {str(tmp_path / "hinted.raw")!r}), plain=dump(without, {str(tmp_path / "plain.raw")!r}))
''')
    assert info["ok"], info["error"]
    assert info["layers"][0] == "colour dots" and "hints 'colour dots'" in info["layers"][1]
    hint_rgba = np.asarray(Image.open(HINTS).convert("RGBA"))
    from scipy import ndimage  # scikit-image depends on scipy

    labels, count = ndimage.label(hint_rgba[..., 3] > 0)
    assert count >= 5
    hinted, plain = pixels(info["hinted"])[..., :3], pixels(info["plain"])[..., :3]
    lab_hinted, lab_plain = rgb2lab(hinted / 255.0), rgb2lab(plain / 255.0)
    lab_hint = rgb2lab(hint_rgba[..., :3] / 255.0)
    moved = []
    for index in range(1, count + 1):
        ys, xs = np.nonzero(labels == index)
        y, x = int(round(ys.mean())), int(round(xs.mean()))
        want = lab_hint[y, x, 1:]
        # The photo keeps its lightness: a hint's a*b* that sRGB cannot show at that L (blue on a white sky) is
        # clipped by any colorizer, so only displayable ones are held to 5 units.
        asked = np.array([[[lab_hinted[y, x, 0], *want]]])
        if np.linalg.norm(rgb2lab(lab2rgb(asked)) - asked) > 1.0:
            continue
        got = np.linalg.norm(lab_hinted[y, x, 1:] - want)
        before = np.linalg.norm(lab_plain[y, x, 1:] - want)
        assert got <= 5.0, f"dot {index} at ({x}, {y}): a*b* {lab_hinted[y, x, 1:]} is {got:.1f} from the hint {want}"
        moved.append(before - got)
    assert len(moved) >= 3, f"only {len(moved)} of the {count} hint dots are displayable at the photo's lightness"
    assert min(moved) > 10.0, f"without hints the dots' colours are not far off ({moved}): the test proves nothing"


def test_selection_keeps_every_pixel_outside_it(gimp, profile, tmp_path, grey_photo):
    left, top, width, height = 40, 30, 160, 120
    info = run_gimp(gimp, profile, tmp_path, f'''
img = load({str(grey_photo)!r})
src = img.get_layers()[0]
img.select_rectangle(Gimp.ChannelOps.REPLACE, {left}, {top}, {width}, {height})
ok, error = colorize(img, src)
report({str(tmp_path / "report.json")!r}, ok=ok, error=error, layers=layers(img),
       source=dump(src, {str(tmp_path / "src.raw")!r}), result=dump(img.get_layers()[0], {str(tmp_path / "new.raw")!r}))
''')
    assert info["ok"], info["error"]
    assert info["layers"][0].endswith(", selection)")
    source, result = pixels(info["source"]), pixels(info["result"])
    inside = np.zeros(source.shape[:2], bool)
    inside[top:top + height, left:left + width] = True
    np.testing.assert_array_equal(result[~inside], source[~inside])
    assert chroma(result[inside].reshape(height, width, 4)).mean() > 5.0


def test_reference_image_changes_the_result(gimp, profile, tmp_path, grey_photo):
    info = run_gimp(gimp, profile, tmp_path, f'''
img = load({str(grey_photo)!r})
src = img.get_layers()[0]
reference = load({str(REFERENCE)!r})
ok, error = colorize(img, src, reference=reference)
ok2, error2 = colorize(img, src)
names = layers(img)
report({str(tmp_path / "report.json")!r}, ok=ok and ok2, error=error or error2, layers=names,
       referenced=dump(img.get_layers()[0], {str(tmp_path / "ref.raw")!r}),
       plain=dump(img.get_layers()[1], {str(tmp_path / "plain.raw")!r}))  # each result goes right above the source
''')
    assert info["ok"], info["error"]
    assert "reference '" in info["layers"][0] and "reference" not in info["layers"][1]  # named for what made them
    referenced, plain = pixels(info["referenced"])[..., :3], pixels(info["plain"])[..., :3]
    assert_same_picture(plain, cli_result(tmp_path, grey_photo))  # without it: the plain CLI result
    shift = np.linalg.norm(rgb2lab(referenced / 255.0)[..., 1:] - rgb2lab(plain / 255.0)[..., 1:], axis=-1)
    assert shift.mean() > 2.0, f"the reference moved a*b* by only {shift.mean():.2f} on average"


def test_sixteen_bit_image_keeps_sixteen_bit_precision(gimp, profile, tmp_path):
    grey = np.asarray(Image.open(PHOTO).convert("L"), dtype=np.float64)
    deep = np.round(grey * 257 + np.random.default_rng(0).uniform(-100, 100, grey.shape)).clip(0, 65535)
    path = tmp_path / "village16.png"
    Image.fromarray(deep.astype(np.uint16)).save(path)
    info = run_gimp(gimp, profile, tmp_path, f'''
img = load({str(path)!r})
src = img.get_layers()[0]
ok, error = colorize(img, src)
report({str(tmp_path / "report.json")!r}, ok=ok, error=error, precision=str(img.get_precision()),
       source=dump(src, {str(tmp_path / "src.raw")!r}, "Y' u16"),
       result=dump(img.get_layers()[0], {str(tmp_path / "new.raw")!r}, "R'G'B' u16"))
''')
    assert info["ok"], info["error"]
    assert "U16" in info["precision"], info["precision"]
    np.testing.assert_array_equal(pixels({**info["source"], "format": "Y' u16"})[..., 0], deep.astype(np.uint16))
    result = pixels(info["result"])
    assert chroma(result).mean() > 5.0
    # An 8-bit result widened to 16 bits is all multiples of 257; a 16-bit one only where it clips (0 or 65535,
    # e.g. a white sky) or by chance (1 in 257). Measured: 89 % of the samples are not.
    finer = (result % 257 != 0).mean()
    assert finer > 0.5, f"only {finer:.0%} of the samples use 16-bit precision"


def test_failing_colornet_shows_its_message_as_gimps_error_and_changes_nothing(gimp, profile, tmp_path, grey_photo):
    code = f'''
img = load({str(grey_photo)!r})
ok, error = colorize(img, img.get_layers()[0], weights="no-such-checkpoint")
report({str(tmp_path / "report.json")!r}, ok=ok, error=error, layers=layers(img),
       grey=img.get_base_type() == Gimp.ImageBaseType.GRAY)
'''
    info = run_gimp(gimp, profile, tmp_path, code + f'''
hints = Gimp.Layer.new(img, "dots", img.get_width(), img.get_height(), Gimp.ImageType.GRAYA_IMAGE, 100,
                       Gimp.LayerMode.NORMAL)
img.insert_layer(hints, None, 0)
ok, error = colorize(img, img.get_layers()[1], hints=hints)
report({str(tmp_path / "grey-hints.json")!r}, ok=ok, error=error, layers=layers(img))
''')
    assert not info["ok"]
    assert info["layers"] == ["Background"] and info["grey"]
    assert "no-such-checkpoint" in info["error"] and "not in the manifest" in info["error"], info["error"]
    assert "(temporary folder)" not in info["error"] and "colorizing:" not in info["error"]
    grey_hints = json.loads((tmp_path / "grey-hints.json").read_text())  # colour dots cannot exist in a grey image
    assert not grey_hints["ok"] and "Image > Mode > RGB" in grey_hints["error"], grey_hints["error"]
    assert grey_hints["layers"] == ["dots", "Background"]

    info = run_gimp(gimp, profile, tmp_path, code, env={"COLORNET_COMMAND": str(tmp_path / "no" / "colornet")})
    assert not info["ok"] and info["layers"] == ["Background"]
    assert "colornet gimp install" in info["error"] and "COLORNET_COMMAND" in info["error"], info["error"]
