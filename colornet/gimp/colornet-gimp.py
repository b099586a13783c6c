#!/usr/bin/env python3
"""Colorize with ColorNet: a GIMP 3 plug-in (Filters > ColorNet > Colorize...), PDB procedure
``python-fu-colornet-colorize``.

GIMP's own controls are the artist's controls: the selection is the mask (colour only inside it, soft edges fade),
a layer with colour dots painted on transparency is the hints layer, and another open image is the reference whose
scene (global prior) steers the colours. The result is a new layer above the source, in one undo group; the source
layer is never changed.

Why a separate command: this file runs inside GIMP's Python, which has no torch (and often no numpy), so it imports
only GIMP's bindings and the standard library. It writes the pixels to PNG files in a private temporary folder, runs
the project's ``colornet colorize`` on them and loads the result back as a layer. The command is, in this order:
the COLORNET_COMMAND environment variable, the one line in ``colornet-command.txt`` beside this file (written by
``colornet gimp install``), else ``colornet`` on PATH.
"""

import array
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio, GLib, GObject  # noqa: E402

PROCEDURE = "python-fu-colornet-colorize"
ENV_COMMAND = "COLORNET_COMMAND"
COMMAND_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "colornet-command.txt")
INSTALL_HINT = (
    "install ColorNet (pip install colornet, or pip install -e . in a checkout), then run "
    "'colornet gimp install' from that environment; or write the command's full path into "
    f"{COMMAND_FILE}, or set {ENV_COMMAND}"
)
# Variables GIMP (or an AppImage/Flatpak GIMP) may set for its own Python; they would break another Python.
PYTHON_ENV = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE")
PULSE_SECONDS = 0.1
ENV_TIMINGS = "COLORNET_GIMP_TIMINGS"  # a file to write each step's seconds to (benchmarks/bench_gimp.py)
ERROR_DOMAIN = GLib.quark_from_string("colornet-gimp-error")


class PluginError(Exception):
    """Something the artist can fix; its one-line message is shown as GIMP's error."""


# ------------------------------------------------------------------------------------------------- command


def parse_command(value, origin):
    """A JSON list of arguments (what ``colornet gimp install`` writes: safe for Windows paths and spaces), or a
    command line as typed in a shell."""
    try:
        if value.startswith("["):
            argv = json.loads(value)
            if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
                raise ValueError("not a list of strings")
            return argv
        return shlex.split(value, posix=os.name != "nt")
    except ValueError as err:
        raise PluginError(f"cannot read the colornet command from {origin} ({err}): {INSTALL_HINT}") from None


def colornet_command():
    """The command that runs colornet, as an argv list, and where it came from (for messages)."""
    value = os.environ.get(ENV_COMMAND, "").strip()
    if value:
        return parse_command(value, ENV_COMMAND), ENV_COMMAND
    try:
        with open(COMMAND_FILE, encoding="utf-8") as handle:
            value = handle.readline().strip()
    except OSError:
        value = ""
    if value:
        return parse_command(value, COMMAND_FILE), COMMAND_FILE
    found = shutil.which("colornet")
    if found:
        return [found], "PATH"
    raise PluginError(f"the colornet command was not found ({ENV_COMMAND} unset, no {COMMAND_FILE}, "
                      f"not on PATH): {INSTALL_HINT}")


def child_environment():
    env = {k: v for k, v in os.environ.items() if k not in PYTHON_ENV}
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def colornet_message(output, source_path, names):
    """colornet's own message from its output (the "failed <input>: ..." or "error: ..." line and the lines that
    explain it), with the temporary paths replaced by what the artist knows."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip() and "\r" not in line]  # no progress bars
    start = next((i for i, line in enumerate(lines) if line.startswith(f"failed {source_path}: ")), None)
    if start is not None:
        lines[start] = lines[start][len(f"failed {source_path}: "):]
    else:
        start = next((i for i in reversed(range(len(lines))) if lines[i].startswith("error: ")), None)
        if start is None:
            return lines[-1] if lines else None
        lines[start] = lines[start][len("error: "):]
    message = []
    for line in lines[start:]:
        if message and (" input(s) failed" in line or " image(s) written to " in line):
            break  # colornet's summary lines: nothing the artist needs
        message.append(line)
    text = "\n".join(message)
    for path, name in names.items():
        text = text.replace(path, name)
    return text


def run_colornet(argv, workdir, source_path, names):
    """Runs colornet, pulsing GIMP's progress bar so GIMP stays responsive; PluginError with its message on failure."""
    log_path = os.path.join(workdir, "colornet.log")
    with open(log_path, "wb") as log:  # a file, not a pipe: a chatty child can never block on a full pipe
        try:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=child_environment(), cwd=workdir)
        except FileNotFoundError:
            raise PluginError(f"cannot run {argv[0]!r}: no such command; {INSTALL_HINT}") from None
        except PermissionError:
            raise PluginError(f"cannot run {argv[0]!r}: not executable; {INSTALL_HINT}") from None
        try:
            while True:
                try:
                    status = child.wait(timeout=PULSE_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    Gimp.progress_pulse()
        except BaseException:
            child.kill()
            child.wait()
            raise
    if status != 0:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        message = colornet_message(text, source_path, names)
        raise PluginError(f"colornet failed: {message}" if message else f"colornet exited with status {status}")


# ------------------------------------------------------------------------------------------------ pixels


def write_png(path, width, height, channels, bits, data):
    """Pixels (rows of width*channels samples, native byte order) -> a PNG, uncompressed: these files live for one
    run in a temporary folder, so speed matters more than size."""
    if bits == 16 and sys.byteorder == "little":
        samples = array.array("H")
        samples.frombytes(data)
        samples.byteswap()  # PNG stores 16-bit samples big-endian
        data = samples.tobytes()
    stride = width * channels * bits // 8
    raw = b"".join(b"\0" + data[row * stride:(row + 1) * stride] for row in range(height))
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bits, color_type, 0, 0, 0)))
        handle.write(chunk(b"IDAT", zlib.compress(raw, 0)))
        handle.write(chunk(b"IEND", b""))


def export_pixels(drawable, path, x, y, width, height, bits, alpha=None, abyss=Gegl.AbyssPolicy.NONE):
    """The rectangle (x, y, width, height) of a drawable, in its own coordinates, -> an sRGB PNG of 8 or 16 bits."""
    if alpha is None:
        alpha = drawable.has_alpha()
    fmt = ("R'G'B'A" if alpha else "R'G'B'") + (" u16" if bits == 16 else " u8")
    rect = Gegl.Rectangle.new(x, y, width, height)
    data = drawable.get_buffer().get(rect, 1.0, fmt, abyss)
    write_png(path, width, height, 4 if alpha else 3, bits, data)


def export_selection(image, path, x, y, width, height):
    """The selection over the layer's rectangle (image coordinates) -> a grey PNG: white = colorize, black = keep.

    Read as linear "Y": selection values are coverage, not light, so no gamma curve may touch them."""
    rect = Gegl.Rectangle.new(x, y, width, height)
    data = image.get_selection().get_buffer().get(rect, 1.0, "Y u8", Gegl.AbyssPolicy.NONE)
    write_png(path, width, height, 1, 8, data)


def export_reference(reference, path):
    """Another open image, as it looks (all visible layers flattened), -> an 8-bit sRGB PNG."""
    copy = reference.duplicate()
    try:
        if copy.get_base_type() != Gimp.ImageBaseType.RGB:
            copy.convert_rgb()
        layer = copy.flatten()
        export_pixels(layer, path, 0, 0, layer.get_width(), layer.get_height(), 8, alpha=False)
    finally:
        copy.delete()


def high_precision(image):
    """True for 16-bit, half and float images: their result is read back at 16 bits (the CLI's deepest PNG)."""
    return image.get_precision() not in (Gimp.Precision.U8_LINEAR, Gimp.Precision.U8_NON_LINEAR,
                                         Gimp.Precision.U8_PERCEPTUAL)


# ---------------------------------------------------------------------------------------------------- run


def result_name(source, config, hints, reference, masked):
    parts = [(config.get_property("weights") or "").strip() or "ColorNet",
             f"strength {config.get_property('strength'):g}"]
    if not config.get_property("default-vividness"):
        parts.append(f"vividness {config.get_property('vividness'):g}")
    if hints is not None:
        parts.append(f"hints '{hints.get_name()}'")
    if reference is not None:
        parts.append(f"reference '{image_name(reference)}'")
    if masked:
        parts.append("selection")
    return f"{source.get_name()} colorized ({', '.join(parts)})"


def colorize(image, source, config):
    """Everything the procedure does, raising PluginError with a message the artist can act on."""
    if not isinstance(source, Gimp.Layer) or isinstance(source, Gimp.LayerMask):
        raise PluginError("select the layer to colorize (a layer, not a mask or channel)")
    hints = config.get_property("hints")
    reference = config.get_property("reference")
    if hints is not None:
        if hints.get_image().get_id() != image.get_id():
            raise PluginError(f"the hints layer '{hints.get_name()}' belongs to another image; "
                              "paint the hints on a layer of this image")
        if hints.get_id() == source.get_id():
            raise PluginError("the hints layer is the layer being colorized; paint the colour dots on a new "
                              "transparent layer above it and choose that one as the hints layer")
        if image.get_base_type() != Gimp.ImageBaseType.RGB:
            raise PluginError("this image is greyscale, so its hints layer cannot hold colours: convert it first "
                              "(Image > Mode > RGB), paint the colour dots, then colorize")
        if not hints.has_alpha():
            raise PluginError(f"the hints layer '{hints.get_name()}' has no transparency: add an alpha channel "
                              "(Layer > Transparency > Add Alpha Channel), clear it and paint colour dots on it")
    _, left, top = source.get_offsets()
    width, height = source.get_width(), source.get_height()
    masked = not Gimp.Selection.is_empty(image)
    if masked:
        ok, *_ = source.mask_intersect()
        if not ok:
            raise PluginError(f"the selection does not touch the layer '{source.get_name()}': select part of it, "
                              "or Select > None to colorize all of it")
    bits = 16 if high_precision(image) else 8
    command, _origin = colornet_command()

    workdir = tempfile.mkdtemp(prefix="colornet-gimp-")  # mode 0700: private to this user
    try:
        Gimp.progress_init("Colorizing with ColorNet...")
        clock = [time.perf_counter()]
        source_path = os.path.join(workdir, "layer.png")
        out_dir = os.path.join(workdir, "out")
        names = {source_path: f"layer '{source.get_name()}'"}
        export_pixels(source, source_path, 0, 0, width, height, bits)
        argv = command + ["colorize", source_path, "-o", out_dir, "-q", "--png-compression", "0",
                          "--bit-depth", str(bits), "--strength", repr(float(config.get_property("strength"))),
                          "--working-size", str(config.get_property("working-size"))]
        weights = (config.get_property("weights") or "").strip()
        if weights:
            argv += ["--weights", weights]
        if not config.get_property("default-vividness"):
            argv += ["--vividness", repr(float(config.get_property("vividness")))]
        if masked:
            mask_path = os.path.join(workdir, "selection.png")
            export_selection(image, mask_path, left, top, width, height)
            names[mask_path] = "the selection"
            argv += ["--mask", mask_path]
        if hints is not None:
            hints_path = os.path.join(workdir, "hints.png")
            _, hx, hy = hints.get_offsets()
            export_pixels(hints, hints_path, left - hx, top - hy, width, height, 8, alpha=True)
            names[hints_path] = f"the hints layer '{hints.get_name()}'"
            argv += ["--hints", hints_path]
        if reference is not None:
            reference_path = os.path.join(workdir, "reference.png")
            export_reference(reference, reference_path)
            names[reference_path] = f"the reference image '{image_name(reference)}'"
            argv += ["--reference", reference_path]
        names[workdir] = "(temporary folder)"
        clock.append(time.perf_counter())
        run_colornet(argv, workdir, source_path, names)
        clock.append(time.perf_counter())
        results = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
        if len(results) != 1:
            raise PluginError(f"colornet wrote {len(results)} files instead of one; is {command[0]!r} ColorNet?")
        Gimp.progress_set_text("ColorNet: adding the layer")
        image.undo_group_start()
        try:
            if image.get_base_type() != Gimp.ImageBaseType.RGB:
                image.convert_rgb()  # greyscale or indexed: colour needs an RGB image (the pixels keep their values)
            layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image,
                                         Gio.File.new_for_path(os.path.join(out_dir, results[0])))
            layer.set_name(result_name(source, config, hints, reference, masked))
            image.insert_layer(layer, source.get_parent(), image.get_item_position(source))  # right above it
            layer.set_offsets(left, top)
        finally:
            image.undo_group_end()
        clock.append(time.perf_counter())
        if os.environ.get(ENV_TIMINGS):
            with open(os.environ[ENV_TIMINGS], "a", encoding="utf-8") as handle:
                steps = ("export", "colornet", "load")
                handle.write(json.dumps({k: b - a for k, a, b in zip(steps, clock, clock[1:])}) + "\n")
    finally:
        Gimp.progress_end()
        shutil.rmtree(workdir, ignore_errors=True)
    return layer


def layers_of(image):
    """Every layer of an image, those inside layer groups too, top to bottom."""
    found = []

    def walk(layers):
        for layer in layers:
            found.append(layer)
            if layer.is_group():
                walk(layer.get_children())

    walk(image.get_layers())
    return found


def image_name(image):
    """What GIMP's title bar calls an image: its file's name (or the file it was imported from)."""
    for getter in ("get_file", "get_imported_file", "get_exported_file"):
        file = getattr(image, getter, lambda: None)()
        if file is not None and file.get_basename():
            return file.get_basename()
    return image.get_name()


def image_label(image):
    return f"{image_name(image)}-{image.get_id()}"


def show_dialog(procedure, config, image, source):
    """The settings dialog; True when the artist pressed OK (the choices are then in ``config``)."""
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    from gi.repository import GimpUi, Gtk

    GimpUi.init("colornet-gimp")
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "Colorize with ColorNet")
    dialog.fill_frame("vividness-frame", "default-vividness", True, "vividness")
    dialog.fill(["strength", "vividness-frame", "working-size", "weights"])
    # GIMP 3.0's dialog has no widget for an image argument, and its layer chooser browses every image's layers:
    # two drop-downs instead, with this image's other layers and the other open images.
    layers = [layer for layer in layers_of(image) if layer.get_id() != source.get_id()]
    images = [other for other in Gimp.get_images() if other.get_id() != image.get_id()]
    grid = Gtk.Grid(row_spacing=6, column_spacing=12, margin_top=6)

    def drop_down(row, label, items, current, describe):
        caption = Gtk.Label.new_with_mnemonic(label)
        caption.set_xalign(0.0)
        combo = Gtk.ComboBoxText(hexpand=True)
        combo.append_text("(none)")
        for item in items:
            combo.append_text(describe(item))
        ids = [item.get_id() for item in items]
        combo.set_active(ids.index(current.get_id()) + 1 if current is not None and current.get_id() in ids else 0)
        caption.set_mnemonic_widget(combo)
        grid.attach(caption, 0, row, 1, 1)
        grid.attach(combo, 1, row, 1, 1)
        return combo

    hints = drop_down(0, "_Hints layer", layers, config.get_property("hints"), lambda layer: layer.get_name())
    reference = drop_down(1, "_Reference image", images, config.get_property("reference"), image_label)
    dialog.get_content_area().pack_start(grid, False, False, 0)
    grid.show_all()
    try:
        if not dialog.run():
            return False
        config.set_property("hints", layers[hints.get_active() - 1] if hints.get_active() > 0 else None)
        config.set_property("reference", images[reference.get_active() - 1] if reference.get_active() > 0 else None)
        return True
    finally:
        dialog.destroy()


def failure(procedure, message, status=Gimp.PDBStatusType.EXECUTION_ERROR):
    return procedure.new_return_values(status, GLib.Error.new_literal(ERROR_DOMAIN, message, 0))


def run(procedure, run_mode, image, drawables, config, data):
    if len(drawables) != 1:
        return failure(procedure, "ColorNet: select exactly one layer to colorize", Gimp.PDBStatusType.CALLING_ERROR)
    if run_mode == Gimp.RunMode.INTERACTIVE and not show_dialog(procedure, config, image, drawables[0]):
        return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, None)
    try:
        colorize(image, drawables[0], config)
    except PluginError as err:
        return failure(procedure, f"ColorNet: {err}")
    except Exception as err:  # a bug here must end in GIMP's error message, not a dead plug-in
        return failure(procedure, f"ColorNet plug-in error: {type(err).__name__}: {err} (please report it)")
    if run_mode == Gimp.RunMode.INTERACTIVE:
        Gimp.displays_flush()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, None)


class ColorNetPlugIn(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROCEDURE]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        rw = GObject.ParamFlags.READWRITE
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("_Colorize...")
        procedure.add_menu_path("<Image>/Filters/ColorNet")
        procedure.set_documentation(
            "Colorize a layer with ColorNet",
            "Adds a colorized copy of the layer above it (one undo step; the layer itself is not changed). "
            "The selection limits where colour goes; a hints layer (colour dots painted on transparency) asks for "
            "colours at those places; a reference image lends its colours. Greyscale images become RGB. Runs the "
            "colornet command (COLORNET_COMMAND, colornet-command.txt beside the plug-in, else PATH).",
            name)
        procedure.set_attribution("ColorNet", "ColorNet contributors, MIT licence", "2026")
        procedure.add_double_argument("strength", "_Strength", "Colour strength: 0 grey, 1 as predicted, more "
                                      "is stronger", 0.0, 3.0, 1.0, rw)
        procedure.add_boolean_argument("default-vividness", "Checkpoint's default _vividness",
                                       "Use the vividness the checkpoint was tuned for", True, rw)
        procedure.add_double_argument("vividness", "V_ividness", "How bold each pixel's colour is within what the "
                                      "network finds plausible there: 0 = muted, 1 = boldest; hues unchanged "
                                      "(colour-distribution checkpoints)", 0.0, 1.0, 0.4, rw)
        procedure.add_int_argument("working-size", "_Working size", "Longer side in pixels the network sees; "
                                   "0 = the layer's full size (slower)", 0, 16384, 512, rw)
        procedure.add_string_argument("weights", "W_eights", "Checkpoint: a manifest name or a .safetensors file; "
                                      "empty = the default", "", rw)
        procedure.add_layer_argument("hints", "_Hints layer", "A transparent layer of this image with colour dots "
                                     "painted on it (optional)", True, rw)
        procedure.add_image_argument("reference", "_Reference image", "Another open image whose colours steer "
                                     "the result (optional)", True, rw)
        return procedure


Gimp.main(ColorNetPlugIn.__gtype__, sys.argv)
