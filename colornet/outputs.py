"""The one output path of ``colornet colorize`` -- still photos, batches and the frames of a sequence alike:
where each result goes (``plan_outputs``), how it is encoded (``OutputOptions``), how it is written (``write_image``:
atomic and fsynced) and whether an existing output can be trusted (``is_complete``, for ``--skip-existing``).

Names. A result keeps its input's name with the output format's suffix, dots included (``clip.0000.png`` ->
``clip.0000.png``, ``photo.v2.jpg`` -> ``photo.v2.png``), and the folder structure below a folder argument. An input
whose folder holds another image with the same stem (``a.jpg`` beside ``a.png``) keeps its own suffix in the name
(``a.jpg.png``, ``a.png.png``), whichever of them a run is given: a name depends only on the input and its folder,
never on which other inputs a run has, so ``--skip-existing`` can never take one input's result for another's.
Two inputs that would still get one name (loose files of the same name from two folders) are refused, not numbered.

Extending (metadata, other formats): ``OutputOptions`` carries the format options; ``ENCODERS`` maps a format to
``encode(pixels, path, options, metadata)``; ``VERIFIERS`` maps a suffix to a completeness check.

Metadata (``colornet.archive``): ``OutputOptions.metadata`` keeps ("keep") or leaves out ("strip") the input's EXIF,
IPTC and XMP; ``output_profile`` writes sRGB or converts back into the input's RGB profile; ``provenance`` is the XMP
record every output of a run gets. ``write_image`` turns them into what the encoder embeds.

8-bit results usually arrive as uint8 already (the colorizer's lean path); float results are quantised once here,
in strips. Then ``colornet.pngwrite`` (PNG: fast, 8 or 16 bit), ``colornet.archive.tiff`` (TIFF: 8 or 16 bit,
deflate) or Pillow (JPEG) encodes them.
"""

from __future__ import annotations

import errno
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from .archive.carry import prepare_output
from .archive.embed import OutputMetadata, jpeg_params, png_chunks
from .archive.tiff import tiff_complete, write_tiff
from .atomic import atomic_write
from .errors import DiskFullError, InputError
from .images import RGBImage, is_image_file, to_uint8
from .pngwrite import write_png

if TYPE_CHECKING:
    from .archive.xmp import Provenance

OUTPUT_FORMATS = ("png", "jpg", "tiff")
METADATA_MODES = ("keep", "strip")
OUTPUT_PROFILES = ("srgb", "input")
BIT_DEPTHS = ("auto", "8", "16")
# zlib level 1: much faster than level 6 for files ~40 % larger (benchmarks/bench_cli.py measures both)
DEFAULT_PNG_COMPRESSION = 1
DEFAULT_JPEG_QUALITY = 95


# ------------------------------------------------------------------------------------------- format options


def check_format(value: str) -> str:
    if value not in OUTPUT_FORMATS:
        raise InputError(f"output format must be one of {', '.join(OUTPUT_FORMATS)}, got {value!r}")
    return value


def check_png_compression(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value <= 9:
        raise InputError(f"PNG compression must be a whole number from 0 (fastest) to 9 (smallest), got {value!r}")
    return int(value)


def check_jpeg_quality(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 1 <= value <= 100:
        raise InputError(f"JPEG quality must be a whole number from 1 to 100, got {value!r}")
    return int(value)


def check_metadata(value: str) -> str:
    if value not in METADATA_MODES:
        raise InputError(f"metadata must be one of {', '.join(METADATA_MODES)}, got {value!r}")
    return value


def check_output_profile(value: str) -> str:
    if value not in OUTPUT_PROFILES:
        raise InputError(f"output profile must be one of {', '.join(OUTPUT_PROFILES)}, got {value!r}")
    return value


def check_bit_depth(value: str | int) -> str:
    if str(value) not in BIT_DEPTHS:
        raise InputError(f"bit depth must be one of {', '.join(BIT_DEPTHS)}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class OutputOptions:
    """How results are encoded; validated when made. ``bit_depth``: "auto" = 16-bit PNG/TIFF when the input had more
    than 8 bits (JPEG is always 8). ``metadata``, ``output_profile``, ``provenance``: see the module docstring
    (``provenance`` None: no XMP record -- the CLI and ``colornet.ray`` always set one)."""

    format: str = "png"
    png_compression: int = DEFAULT_PNG_COMPRESSION
    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    bit_depth: str = "auto"
    metadata: str = "keep"
    output_profile: str = "srgb"
    provenance: "Provenance | None" = None

    def __post_init__(self) -> None:
        check_format(self.format)
        check_png_compression(self.png_compression)
        check_jpeg_quality(self.jpeg_quality)
        object.__setattr__(self, "bit_depth", check_bit_depth(self.bit_depth))
        check_metadata(self.metadata)
        check_output_profile(self.output_profile)

    @property
    def suffix(self) -> str:
        return "." + self.format

    @property
    def keeps_uint8(self) -> bool:
        """True when no output can need more than 8 bits, so 8-bit inputs may stay uint8 all the way through."""
        return self.bit_depth != "16"


# ---------------------------------------------------------------------------------------------------- names


@dataclass
class OutputPlan:
    """``targets``: (input, output path) per input that gets written. ``shared``: (stem, inputs) for inputs that
    share a stem in one folder and so keep their suffix in the name. ``refused``: (input, why) for inputs with no
    safe output name (it would overwrite an input, or another input's output)."""

    targets: list[tuple[Path, Path]] = field(default_factory=list)
    shared: list[tuple[str, list[Path]]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)

    def describe_shared(self, options: OutputOptions) -> list[str]:
        """One line per stem shared in a folder: which names its inputs were written under."""
        lines = []
        for stem, sources in self.shared:
            names = ", ".join(s.name + options.suffix for s in sources)
            lines.append(f"{sources[0].parent / stem}.*: images with one stem keep their suffix in the output name "
                         f"({names})")
        return lines


class _Siblings:
    """Stems of the image files in each folder, counted once per folder."""

    def __init__(self) -> None:
        self._stems: dict[Path, dict[str, int]] = {}

    def shares_stem(self, source: Path) -> bool:
        folder = source.parent
        if folder not in self._stems:
            counts: dict[str, int] = {}
            try:
                names = os.listdir(folder)
            except OSError:
                names = [source.name]
            for name in names:
                if is_image_file(name):
                    stem = Path(name).stem
                    counts[stem] = counts.get(stem, 0) + 1
            self._stems[folder] = counts
        return self._stems[folder].get(source.stem, 0) > 1


def output_path(out_dir: Path, rel: Path, options: OutputOptions) -> Path:
    """``out_dir / rel`` with the format's suffix appended (dots in ``rel`` are part of the name, never a suffix)."""
    return out_dir / rel.with_name(rel.name + options.suffix)


def plan_outputs(inputs: Sequence[tuple[Path, Path]], out_dir: str | os.PathLike, options: OutputOptions) -> OutputPlan:
    """Name the output of each (input, relative stem) pair -- see the module docstring for the rules."""
    out_dir = Path(out_dir)
    siblings = _Siblings()
    plan = OutputPlan()
    groups: dict[tuple[Path, str], list[Path]] = {}
    proposed: list[tuple[Path, Path]] = []
    for source, rel in inputs:
        if siblings.shares_stem(source):
            groups.setdefault((source.parent, source.stem), []).append(source)
            rel = rel.with_name(rel.name + source.suffix)  # a.jpg -> a.jpg.png: says which input it came from
        proposed.append((source, output_path(out_dir, rel, options)))
    plan.shared = [(stem, sorted(sources)) for (_, stem), sources in groups.items()]
    input_paths = {source.resolve() for source, _ in inputs}
    owner: dict[Path, Path] = {}
    for source, target in sorted(proposed, key=lambda item: str(item[0])):
        key = target.resolve()
        if key in input_paths:
            plan.refused.append((source, f"its output {target} would overwrite an input; choose another -o"))
        elif key in owner:
            plan.refused.append((source, f"its output {target} is also the output of {owner[key]} (loose files with "
                                         "one name from two folders): give their common folder instead, so outputs "
                                         "keep the folder structure, or colorize it into another -o"))
        else:
            owner[key] = source
            plan.targets.append((source, target))
    return plan


# ---------------------------------------------------------------------------------------------------- write


def quantize(result: RGBImage, bits: int) -> np.ndarray:
    """``[H, W, 3 or 4]`` uint8/uint16 pixels of a result (alpha appended when present), rounded to nearest.

    8 bits: ``images.to_uint8`` (a uint8 result, the lean path, is only made contiguous). 16 bits: in strips of a
    few hundred rows with torch (the float result is usually a channels-first view; strips stay in cache).
    """
    if bits == 8:
        rgb = to_uint8(result.rgb)
        return rgb if result.alpha is None else np.dstack((rgb, to_uint8(result.alpha)))
    h, w = result.rgb.shape[:2]
    out = torch.empty((h, w, 3 if result.alpha is None else 4), dtype=torch.int32)  # no uint16 arithmetic in torch
    rgb = torch.from_numpy(result.as_float())
    alpha = torch.from_numpy(result.alpha) if result.alpha is not None else None
    rows = max(1, (1 << 18) // max(w, 1))
    for top in range(0, h, rows):
        part = slice(top, top + rows)
        out[part, :, :3] = rgb[part].mul(65535.0).add_(0.5).clamp_(0.0, 65535.0)
        if alpha is not None:
            out[part, :, 3] = alpha[part].mul(65535.0).add_(0.5).clamp_(0.0, 65535.0)
    return out.numpy().astype(np.uint16)


def output_bits(result: RGBImage, options: OutputOptions) -> int:
    if options.format == "jpg" or options.bit_depth == "8":
        return 8
    if options.bit_depth == "16":
        return 16
    return 16 if result.bit_depth > 8 else 8


def _encode_png(pixels: np.ndarray, path: str, options: OutputOptions, meta: OutputMetadata) -> None:
    with open(path, "wb") as fh:
        write_png(fh, pixels, compression=options.png_compression, chunks=png_chunks(meta))


def _encode_jpeg(pixels: np.ndarray, path: str, options: OutputOptions, meta: OutputMetadata) -> None:
    # JPEG has no alpha channel; the format is named because the temp file's suffix is not .jpg
    Image.fromarray(np.ascontiguousarray(pixels[..., :3]), "RGB").save(
        path, format="JPEG", quality=options.jpeg_quality, **jpeg_params(meta)
    )


def _encode_tiff(pixels: np.ndarray, path: str, options: OutputOptions, meta: OutputMetadata) -> None:
    with open(path, "wb") as fh:  # deflate at the PNG level: the same speed/size trade-off
        write_tiff(fh, pixels, level=max(1, options.png_compression), icc=meta.icc, xmp=meta.xmp, iptc=meta.iptc,
                   exif=meta.exif)


Encoder = Callable[[np.ndarray, str, OutputOptions, OutputMetadata], None]
ENCODERS: dict[str, Encoder] = {"png": _encode_png, "jpg": _encode_jpeg, "tiff": _encode_tiff}


def write_image(result: RGBImage, target: str | os.PathLike, options: OutputOptions) -> int:
    """Write one result: pixels in the output profile, with the metadata ``options`` asks for
    (``colornet.archive.carry``), encoded per ``options``, to a temp file, fsynced, renamed into place -- so a file
    under ``target`` is always complete. Returns the file's size. A full disk raises ``DiskFullError`` (the temp
    file is removed)."""
    target = Path(target)
    result, meta = prepare_output(result, options)
    pixels = quantize(result, output_bits(result, options))
    encode = ENCODERS[options.format]
    try:
        atomic_write(target, lambda tmp: encode(pixels, tmp, options, meta), fsync=True)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"disk full while writing {target} ({os.strerror(err.errno)})") from err
        raise
    return target.stat().st_size


# ----------------------------------------------------------------------------------------------- trust


def _png_complete(path: Path) -> bool:
    """Every chunk present with a correct CRC, IHDR first, IEND last: what a truncated or zero-filled file is not."""
    with open(path, "rb") as fh:
        if fh.read(8) != b"\x89PNG\r\n\x1a\n":
            return False
        first = True
        while True:
            head = fh.read(8)
            if len(head) < 8:
                return False
            length, kind = struct.unpack(">I4s", head)
            if first and kind != b"IHDR":
                return False
            first = False
            crc = zlib.crc32(kind)
            left = length
            while left:
                piece = fh.read(min(left, 1 << 20))
                if not piece:
                    return False
                crc = zlib.crc32(piece, crc)
                left -= len(piece)
            stored = fh.read(4)
            if len(stored) < 4 or struct.unpack(">I", stored)[0] != crc & 0xFFFFFFFF:
                return False
            if kind == b"IEND":
                return True


def _jpeg_complete(path: Path) -> bool:
    """Starts with SOI, ends with EOI, and Pillow can read its header."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\xff\xd8":
            return False
        fh.seek(0, os.SEEK_END)
        if fh.tell() < 4:
            return False
        fh.seek(-2, os.SEEK_END)
        if fh.read(2) != b"\xff\xd9":
            return False
    try:
        with Image.open(path) as img:
            img.size  # noqa: B018 -- the header parses
    except (OSError, SyntaxError, ValueError):
        return False
    return True


VERIFIERS: dict[str, Callable[[Path], bool]] = {
    ".png": _png_complete, ".jpg": _jpeg_complete, ".jpeg": _jpeg_complete, ".tiff": tiff_complete, ".tif": tiff_complete,
}


def is_complete(path: str | os.PathLike) -> bool:
    """True when ``path`` is a whole output file (``--skip-existing`` trusts only these): a zero-byte, truncated or
    corrupted file -- left by another tool, a copy, or a version of colornet that did not fsync -- is redone."""
    path = Path(path)
    verify = VERIFIERS.get(path.suffix.lower())
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        if verify is not None:
            return verify(path)
        with Image.open(path) as img:
            img.load()
        return True
    except (OSError, SyntaxError, ValueError):
        return False
