"""From a colorized result to what its file gets: pixels in the output profile, EXIF/IPTC/XMP/ICC, provenance.

``--metadata keep`` (the default) carries the input's EXIF (made true for the result), IPTC and XMP and adds the
provenance; ``strip`` writes only the provenance packet and the pixels' profile -- every output says what made it.
``--output-profile srgb`` (default) writes sRGB with its profile; ``input`` converts the result back into the
input's RGB profile and embeds that profile (a grey or LUT-based input profile cannot hold a colour result: sRGB).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ..images import RGBImage
from .embed import OutputMetadata
from .icc import ProfileError, from_srgb, parse_profile, srgb_profile_bytes
from .metadata import ImageMetadata, exif_for_output
from .xmp import Provenance, build_xmp

__all__ = ["file_sha256", "prepare_output", "run_provenance"]


class _Options(Protocol):
    """What ``prepare_output`` reads of ``colornet.outputs.OutputOptions`` (validated there)."""

    metadata: str
    output_profile: str
    provenance: Provenance | None


def file_sha256(path: str | os.PathLike) -> str | None:
    """Hex sha256 of a file, or None if it cannot be read (an in-memory image has no file)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def prepare_output(result: RGBImage, options: _Options) -> tuple[RGBImage, OutputMetadata]:
    """The result with its pixels in the output profile, and the metadata its file gets."""
    meta = result.metadata or ImageMetadata()
    icc = srgb_profile_bytes()
    if options.output_profile == "input" and meta.icc and meta.colour == "converted":
        try:
            profile = parse_profile(meta.icc)
            if profile.space == "RGB":
                result = replace(result, rgb=from_srgb(result.as_float(), profile))
                icc = meta.icc
        except ProfileError:
            pass  # only matrix/TRC RGB profiles can take the result back; it stays sRGB with the sRGB profile
    keep = options.metadata == "keep"
    xmp = meta.xmp if keep else None
    if options.provenance is not None:
        provenance = options.provenance
        if result.source and Path(result.source).is_file():
            provenance = replace(provenance, source_sha256=file_sha256(result.source))
        xmp = build_xmp(provenance, xmp)
    width, height = result.size
    return result, OutputMetadata(
        exif=exif_for_output(meta.exif, width, height, srgb=icc == srgb_profile_bytes()) if keep else None,
        icc=icc,
        xmp=xmp,
        iptc=meta.iptc if keep else None,
    )


def run_provenance(
    colorizer: object,
    *,
    strength: float,
    vividness: float | None = None,
    references: tuple[str | os.PathLike, ...] = (),
    reference_weights: tuple[float, ...] = (),
    hints: str | os.PathLike | None = None,
    mask: str | os.PathLike | None = None,
) -> Provenance:
    """The provenance of one run: software, the colorizer's checkpoint, the settings as they took effect (the
    checkpoint's default vividness when none was given), and the sha256 of every file that steered the colours."""
    from .. import __version__

    checkpoint = getattr(colorizer, "checkpoint", None) or {}
    model = getattr(colorizer, "model", None)
    effective = None
    if model is not None and getattr(model, "has_distribution_head", False):
        effective = round(model.resolve_vividness(vividness), 6)
    settings: dict[str, object] = {
        "vividness": effective,
        "strength": float(strength),
        "working_size": getattr(colorizer, "working_size", None) or "full",
        "reference_weights": ", ".join(f"{w:g}" for w in reference_weights) or None,
        "hints_sha256": file_sha256(hints) if hints else None,
        "mask_sha256": file_sha256(mask) if mask else None,
    }
    return Provenance(
        software="ColorNet",
        version=__version__,
        checkpoint=checkpoint.get("name"),
        checkpoint_sha256=checkpoint.get("sha256"),
        settings=settings,
        references=tuple(file_sha256(r) or "unreadable" for r in references),
    )
