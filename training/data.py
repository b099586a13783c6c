"""Training photos: scan a class-per-folder tree, split by path hash, decode once into RAM, augment per sample.

* ``data_dir/<class>/*.jpg`` -> labelled (class = folder name, sorted); a flat ``data_dir/*.jpg`` -> unlabelled.
* Unreadable / truncated files and greyscale photos are skipped and counted (``ScanSummary``).
* The split is a pure function of each file's path relative to ``data_dir`` (a hash), so adding photos never moves
  existing ones between train and validation.
* Photos are kept as uint8 with the shorter side at most ``store_side``; an optional ``.npz`` cache (no pickle) lets
  the next start skip JPEG decoding entirely.
* Augmentation (random crop + rescale, horizontal flip, optional ageing of the L input) is a function of a per-sample seed chosen by the sampler from
  (seed, epoch, index): any worker count, and a resume mid-epoch, see exactly the same batches.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler

from colornet.errors import ColorNetError, ImageLoadError, OutOfMemoryError
from colornet.fastlab import luminance, split_lab
from colornet.images import IMAGE_EXTENSIONS, is_image_file, load_image, to_uint8
from colornet.lab import rgb_to_lab
from colornet.model import resize_for_global

from .degrade import apply_degradation, sample_degradation

CACHE_VERSION = 1
TRAINING_MAX_MEGAPIXELS = 75.0  # a training photo is stored at a few hundred px: anything larger is a mistake


@dataclass
class ScanSummary:
    """What was found in ``data_dir``: kept photos per class and why others were skipped."""

    data_dir: str
    labelled: bool
    class_names: list[str]
    found: int = 0
    kept: int = 0
    skipped_unreadable: int = 0
    skipped_greyscale: int = 0
    per_class: dict[str, int] = field(default_factory=dict)
    train: int = 0
    val: int = 0
    unreadable_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def line(self) -> str:
        return (
            f"data: {self.kept} photos kept of {self.found} found in {self.data_dir} "
            f"({len(self.class_names) or 'no'} classes; {self.train} train / {self.val} val); skipped "
            f"{self.skipped_unreadable} unreadable/truncated and {self.skipped_greyscale} greyscale"
        )


class DataError(ColorNetError, ValueError):
    """``data_dir`` cannot be trained on (missing, empty, no colour photo); the message says what to fix."""


def _images_in(folder: Path) -> list[Path]:
    return [f for f in sorted(folder.rglob("*")) if f.is_file() and is_image_file(f) and not f.name.startswith(".")]


def list_photos(data_dir: str | os.PathLike, log=print) -> tuple[list[tuple[str, int]], list[str]]:
    """(relative path, class index) for every image file, and the class names ([] for a flat folder).

    A class folder without any image is left out with a warning (it would be a class nothing teaches); a missing or
    empty ``data_dir`` is a ``DataError``."""
    root = Path(data_dir)
    looked = ", ".join(IMAGE_EXTENSIONS)
    if not root.is_dir():
        state = "does not exist" if not root.exists() else "is not a folder"
        raise DataError(f"data_dir {root} {state}: point --data_dir at a folder of photos "
                        f"(one subfolder per scene class, or a flat folder)")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    per_dir = {d: _images_in(d) for d in subdirs}
    for d in [d for d in subdirs if not per_dir[d]]:
        log(f"warning: class folder {d} holds no images ({looked}): it is left out of the classes")
    subdirs = [d for d in subdirs if per_dir[d]]
    if subdirs:
        class_names = [p.name for p in subdirs]
        files = [(f.relative_to(root).as_posix(), ci) for ci, d in enumerate(subdirs) for f in per_dir[d]]
    else:
        class_names = []
        files = [(f.name, -1) for f in sorted(root.iterdir()) if f.is_file() and is_image_file(f)]
    if not files:
        raise DataError(f"data_dir {root} holds no images (looked for {looked}, in it and in its subfolders)")
    return files, class_names


def split_of(relpath: str, val_fraction: float) -> str:
    """'val' or 'train' from a hash of the relative path alone: stable when photos are added or removed."""
    h = int.from_bytes(hashlib.sha1(relpath.encode("utf-8")).digest()[:8], "big")
    return "val" if (h % 1_000_000) < val_fraction * 1_000_000 else "train"


def _shrink(rgb: np.ndarray, store_side: int) -> np.ndarray:
    """RGB [H,W,3] (uint8, or float in [0, 1]) -> uint8, shorter side at most ``store_side`` (Lanczos)."""
    img = Image.fromarray(to_uint8(rgb), "RGB")
    short = min(img.size)
    if short > store_side:
        scale = store_side / short
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.LANCZOS)
    return np.array(img, dtype=np.uint8)  # writable (torch.from_numpy warns on read-only arrays)


def mean_chroma(rgb_u8: np.ndarray) -> float:
    """Mean Lab chroma sqrt(a^2 + b^2) of a (thumbnail of a) photo: ~0 for greyscale."""
    x = torch.from_numpy(np.ascontiguousarray(rgb_u8[::2, ::2])).permute(2, 0, 1).float() / 255.0
    lab = rgb_to_lab(x)
    return float(lab[1:].pow(2).sum(0).sqrt().mean())


class SkipPhoto(Exception):
    """A photo that cannot be trained on: ``reason`` is 'unreadable' (corrupt/truncated) or 'greyscale'."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def decode_photo(path: Path, store_side: int, grey_chroma: float) -> np.ndarray:
    """Decode one file to uint8 RGB (shorter side <= store_side) or raise ``SkipPhoto``."""
    try:
        # a fixed budget (several workers decode at once): a larger file is an ImageLoadError too
        rgb = load_image(path, keep_uint8=True, max_megapixels=TRAINING_MAX_MEGAPIXELS).rgb
    except (ImageLoadError, OutOfMemoryError, MemoryError) as err:
        raise SkipPhoto("unreadable", str(err) or "not enough memory to decode it") from None
    small = _shrink(rgb, store_side)
    if min(small.shape[:2]) < 8 or mean_chroma(small) < grey_chroma:
        raise SkipPhoto("greyscale", str(path))  # no colour to learn from (or a degenerate sliver)
    return small


@dataclass
class PhotoSet:
    """The photos: decoded uint8 arrays in RAM (``images``), or ``images=None`` to decode from ``root`` on demand.

    Also labels (-1 = none), relative paths and split names.
    """

    images: list[np.ndarray] | None
    labels: np.ndarray
    paths: list[str]
    splits: list[str]
    summary: ScanSummary
    root: Path | None = None
    store_side: int = 144
    grey_chroma: float = 3.0

    def indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.splits) if s == split]

    def image(self, i: int) -> np.ndarray:
        """uint8 RGB of photo ``i``; streamed photos may raise ``SkipPhoto``."""
        if self.images is not None:
            return self.images[i]
        return decode_photo(self.root / self.paths[i], self.store_side, self.grey_chroma)


def _cache_key(files: list[tuple[str, int]], root: Path, store_side: int, grey_chroma: float) -> str:
    h = hashlib.sha1(f"v{CACHE_VERSION}|{store_side}|{grey_chroma}".encode())
    for rel, ci in files:
        st = (root / rel).stat()
        h.update(f"{rel}|{ci}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _save_cache(path: Path, key: str, images, labels, paths, summary: ScanSummary) -> None:
    shapes = np.array([im.shape[:2] for im in images], dtype=np.int64).reshape(-1, 2)
    flat = np.concatenate([im.reshape(-1) for im in images]) if images else np.zeros(0, np.uint8)
    meta = json.dumps({"key": key, "paths": paths, "summary": summary.to_dict()})
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, pixels=flat, shapes=shapes, labels=np.asarray(labels, np.int64), meta=np.array(meta))
    os.replace(tmp, path)


def _load_cache(path: Path, key: str):
    """The cached photos, or None when the cache is stale or damaged (a truncated or bit-flipped npz is a
    ``BadZipFile``, neither OSError nor ValueError): the photos are then decoded again, never a traceback."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta["key"] != key:
                return None
            flat, shapes, labels = z["pixels"], z["shapes"], z["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    images, offset = [], 0
    for h, w in shapes:
        n = int(h) * int(w) * 3
        images.append(flat[offset : offset + n].reshape(int(h), int(w), 3))
        offset += n
    return images, labels, meta["paths"], ScanSummary(**meta["summary"])


def warn_classes_without_training_photos(class_names: list[str], labels: np.ndarray, splits: list[str], log) -> None:
    """A class whose every photo landed in validation is a class nothing teaches: say so (its validation photos
    then only measure a guess)."""
    trained = {int(label) for label, split in zip(labels, splits) if split == "train"}
    missing = [name for i, name in enumerate(class_names) if i not in trained]
    if missing:
        log(f"warning: {len(missing)} class(es) have no training photo (all in validation or skipped): "
            f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}; add photos to them or lower val_fraction")


def load_photos(
    data_dir: str | os.PathLike,
    *,
    val_fraction: float,
    store_side: int,
    grey_chroma: float,
    cache_path: str | os.PathLike | None = None,
    log=print,
    progress: bool = False,
    preload: bool = True,
    write_cache: bool = True,
) -> PhotoSet:
    """Scan, decode (or read the cache), skip unreadable/greyscale photos, and split.

    ``preload=False`` only lists the files (for datasets larger than RAM, e.g. Places365): photos are decoded by the
    DataLoader workers, and unreadable/greyscale ones are dropped from their batch and counted in the training log.
    ``write_cache=False`` only reads ``cache_path``: a tool handed another run's cache must never overwrite it.
    """
    root = Path(data_dir)
    files, class_names = list_photos(root, log)
    if not preload:
        summary = ScanSummary(str(root), bool(class_names), class_names, found=len(files), kept=len(files))
        paths = [rel for rel, _ in files]
        labels = np.asarray([ci for _, ci in files], dtype=np.int64)
        splits = [split_of(p, val_fraction) for p in paths]
        summary.train, summary.val = splits.count("train"), splits.count("val")
        counts = Counter(int(x) for x in labels)
        summary.per_class = {name: counts.get(i, 0) for i, name in enumerate(class_names)}
        warn_classes_without_training_photos(class_names, labels, splits, log)
        log(f"data: streaming {len(files)} files from {root} ({len(class_names) or 'no'} classes; {summary.train} "
            f"train / {summary.val} val); unreadable and greyscale photos are skipped as they are met")
        return PhotoSet(None, labels, paths, splits, summary, root, store_side, grey_chroma)
    key = _cache_key(files, root, store_side, grey_chroma)
    cached = _load_cache(Path(cache_path), key) if cache_path and Path(cache_path).is_file() else None
    if cached is not None:
        images, labels, paths, summary = cached
        log(f"data: read {len(images)} decoded photos from cache {cache_path}")
    else:
        summary = ScanSummary(str(root), bool(class_names), class_names, found=len(files))
        images, labels, paths = [], [], []
        iterator = files
        if progress:
            from tqdm import tqdm

            iterator = tqdm(files, desc="decoding photos", unit="img", dynamic_ncols=True)
        for rel, ci in iterator:
            try:
                small = decode_photo(root / rel, store_side, grey_chroma)
            except SkipPhoto as skip:
                if skip.reason == "unreadable":
                    summary.skipped_unreadable += 1
                    if len(summary.unreadable_examples) < 5:
                        summary.unreadable_examples.append(f"{rel}: {skip.detail}")
                else:
                    summary.skipped_greyscale += 1
                continue
            images.append(small)
            labels.append(ci)
            paths.append(rel)
        summary.kept = len(images)
        if cache_path and write_cache:
            Path(cache_path).parent.mkdir(parents=True, exist_ok=True)
            _save_cache(Path(cache_path), key, images, labels, paths, summary)
    labels = np.asarray(labels, dtype=np.int64)
    splits = [split_of(p, val_fraction) for p in paths]
    summary.train = splits.count("train")
    summary.val = splits.count("val")
    counts = Counter(int(x) for x in labels)
    summary.per_class = {name: counts.get(i, 0) for i, name in enumerate(summary.class_names)}
    log(summary.line())
    for example in summary.unreadable_examples:
        log(f"  skipped: {example}")
    warn_classes_without_training_photos(summary.class_names, labels, splits, log)
    if summary.kept == 0:
        raise DataError(f"none of the {summary.found} image files in {root} is a readable colour photo "
                        f"(unreadable or greyscale: see the lines above)")
    return PhotoSet(images, labels, paths, splits, summary, root, store_side, grey_chroma)


# --- augmentation -------------------------------------------------------------------------------------------


def _to_chw(rgb_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(rgb_u8)).permute(2, 0, 1).float().div_(255.0)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[3,H,W] -> [3,h,w], antialiased bilinear (shrinking) / bilinear (growing)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0].clamp_(0, 1)


def random_crop(rgb_u8: np.ndarray, crop: int, min_scale: float, flip: bool, rng: np.random.Generator):
    """Random square window (side U(min_scale,1) x shorter side) resized to ``crop``; optional flip.

    Returns (crop [3,crop,crop], whole photo [3,H,W] flipped the same way) as floats in [0, 1].
    """
    h, w = rgb_u8.shape[:2]
    short = min(h, w)
    side = max(1, int(round(short * rng.uniform(min_scale, 1.0))))
    top = int(rng.integers(0, h - side + 1))
    left = int(rng.integers(0, w - side + 1))
    do_flip = flip and rng.random() < 0.5
    whole = _to_chw(rgb_u8)
    if do_flip:
        whole = whole.flip(-1)
        left = w - side - left  # the same window, mirrored
    window = whole[:, top : top + side, left : left + side]
    return _resize(window, (crop, crop)), whole


def center_crop(rgb_u8: np.ndarray, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation view: shorter side resized to ``crop``, centre square. Returns (crop, whole photo)."""
    whole = _to_chw(rgb_u8)
    h, w = whole.shape[-2:]
    scale = crop / min(h, w)
    nh, nw = max(crop, round(h * scale)), max(crop, round(w * scale))
    resized = _resize(whole, (nh, nw))
    top, left = (nh - crop) // 2, (nw - crop) // 2
    return resized[:, top : top + crop, left : left + crop], whole


class Sample(NamedTuple):
    """One training item: L crop ``[1,c,c]``, ab crop ``[2,c,c]``, the whole photo's L at the global size
    ``[1,g,g]``, and the class label (-1 = none)."""

    lightness: torch.Tensor
    ab: torch.Tensor
    global_l: torch.Tensor
    label: int


class Skipped(NamedTuple):
    """In place of a ``Sample``: a streamed photo that turned out unreadable or greyscale (``reason``)."""

    reason: str


class ColorizationDataset(Dataset):
    """Items are ``Sample``s for keys (index, aug_seed) -- or ``Skipped`` for a streamed photo that cannot be used.

    With ``train=False`` the key may be a plain index: a deterministic centre crop, no flip.
    """

    def __init__(self, photos: PhotoSet, indices: list[int], *, crop: int, global_size: int, train: bool,
                 min_scale: float = 0.6, flip: bool = True, degrade: float = 0.0):
        self.photos, self.indices = photos, list(indices)
        self.crop, self.global_size, self.train = crop, global_size, train
        self.min_scale, self.flip, self.degrade = min_scale, flip, degrade

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key) -> Sample | Skipped:
        index, seed = key if isinstance(key, tuple) else (key, 0)
        try:
            rgb_u8 = self.photos.image(self.indices[index])
        except SkipPhoto as skip:
            return Skipped(skip.reason)
        rng = np.random.default_rng(seed)
        if self.train:
            crop, whole = random_crop(rgb_u8, self.crop, self.min_scale, self.flip, rng)
        else:
            crop, whole = center_crop(rgb_u8, self.crop)
        lightness, ab = (t[0] for t in split_lab(crop[None]))
        # the global path sees the whole photo's L squashed to g x g in one antialiased resize: exactly what
        # ColorNet.encode_global does with a photo's full-resolution L at inference
        global_l = resize_for_global(luminance(whole[None]), self.global_size)[0]
        if self.train and self.degrade and rng.random() < self.degrade:
            ageing = sample_degradation(rng)  # the same ageing on both views of the photo; the target stays clean
            lightness, global_l = apply_degradation(lightness, ageing), apply_degradation(global_l, ageing)
        return Sample(lightness, ab, global_l, int(self.photos.labels[self.indices[index]]))


def collate_skipping(batch):
    """default_collate over the usable items; returns (L, ab, global L, labels, {reason: count of skipped})."""
    from torch.utils.data import default_collate

    items = [b for b in batch if isinstance(b, Sample)]
    skipped = Counter(b.reason for b in batch if isinstance(b, Skipped))
    if not items:
        return None, None, None, None, dict(skipped)
    l, ab, g, y = default_collate(items)
    return l, ab, g, y, dict(skipped)


class SeededDistributedSampler(DistributedSampler):
    """DistributedSampler that yields (index, augmentation seed) and can start part-way into an epoch.

    Seeds come from (seed, epoch, index), so a run resumed at step k of an epoch sees the same samples, with the same
    crops and flips, as one that never stopped. Works without a process group (num_replicas=1, rank=0).
    """

    def __init__(self, dataset, *, num_replicas: int, rank: int, shuffle: bool, seed: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self.start = 0

    def set_start(self, start: int) -> None:
        self.start = start

    def __iter__(self):
        order = list(super().__iter__())
        for index in order[self.start :]:
            seed = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0]
            yield (index, int(seed))

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


def class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, normalised to mean 1 over the classes present (for the cross-entropy)."""
    counts = np.bincount(labels[labels >= 0], minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    present = counts > 0
    weights = weights / weights[present].mean() if present.any() else weights
    return torch.tensor(weights, dtype=torch.float32)


def steps_per_epoch(n_train: int, batch_size: int, world_size: int) -> int:
    return max(1, (n_train // world_size) // batch_size)
