#!/usr/bin/env python3
"""Write the artist-control sample files and the README figure from the bundled sample photo street_village.jpg.

    python tools/make_artist_samples.py

* ``colornet/samples/street_village_hints.png``: RGBA hint layer (transparent except a few painted dots);
* ``colornet/samples/street_village_mask.png``: white over the village (colorize), black over mountain and sky;
* ``colornet/samples/street_village_painted.png``: the photo in black and white with the same dots painted on it,
  as ComfyUI's mask-editor paint brush leaves a picture (the ComfyUI hints example loads it);
* ``docs/hints_example.png``: greyscale input · hints painted on it · automatic result · with hints · with the mask.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from colornet.images import load_image, to_pil
from colornet.pipeline import Colorizer

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "colornet" / "samples"
PHOTO = SAMPLES / "street_village.jpg"
# (x, y, radius, RGB): painted dots on the 341x256 photo
DOTS = [
    (275, 30, 4, (95, 150, 235)),   # sky: blue
    (200, 20, 4, (95, 150, 235)),
    (70, 40, 3, (110, 150, 60)),    # grassy slope: green
    (60, 135, 3, (110, 150, 60)),
    (265, 170, 3, (205, 150, 95)),  # stone tower: warm ochre
    (50, 212, 3, (190, 85, 45)),    # roofs: terracotta
    (200, 235, 3, (190, 85, 45)),
]


def hint_layer(size: tuple[int, int]) -> Image.Image:
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for x, y, r, rgb in DOTS:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*rgb, 255))
    return layer


def village_mask(size: tuple[int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon([(0, 150), (120, 150), (250, 160), (341, 150), (341, 256), (0, 256)], fill=255)
    return mask


def painted_photo(hints: Image.Image) -> Image.Image:
    """The black-and-white photo with the hint dots painted on it (RGB, no alpha)."""
    painted = Image.open(PHOTO).convert("L").convert("RGB")
    painted.paste(hints, (0, 0), hints)
    return painted


def main() -> None:
    photo = load_image(PHOTO)
    size = photo.size
    hints, mask = hint_layer(size), village_mask(size)
    hints.save(SAMPLES / "street_village_hints.png")
    mask.save(SAMPLES / "street_village_mask.png")
    painted_photo(hints).save(SAMPLES / "street_village_painted.png", optimize=True)
    colorizer = Colorizer.from_pretrained(device="cpu")
    grey = Image.open(PHOTO).convert("L").convert("RGB")
    painted = grey.copy()
    painted.paste(hints, (0, 0), hints)
    auto = to_pil(colorizer.colorize_image(grey).rgb)
    hinted = to_pil(colorizer.colorize_image(grey, hints=hints).rgb)
    masked = to_pil(colorizer.colorize_image(grey, hints=hints, mask=mask).rgb)
    tiles = [grey, painted, auto, hinted, masked]
    gap = 6
    sheet = Image.new("RGB", (len(tiles) * size[0] + (len(tiles) - 1) * gap, size[1]), (255, 255, 255))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, (i * (size[0] + gap), 0))
    sheet.save(ROOT / "docs" / "hints_example.png", optimize=True)
    print("wrote", SAMPLES / "street_village_hints.png", SAMPLES / "street_village_mask.png", ROOT / "docs" / "hints_example.png")


if __name__ == "__main__":
    main()
