"""Training data: class folders / flat folder, skipped files with counts, every image mode, a stable split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from training_helpers import make_photo_folder
from training.data import (
    ColorizationDataset,
    SeededDistributedSampler,
    class_weights,
    list_photos,
    load_photos,
    split_of,
)

KW = dict(val_fraction=0.25, store_side=48, grey_chroma=3.0, log=lambda *a: None)


def test_class_folders_give_sorted_labels(tmp_path):
    make_photo_folder(tmp_path, per_class=3)
    files, names = list_photos(tmp_path)
    assert names == ["blue", "green", "red"]
    assert len(files) == 9 and {ci for _, ci in files} == {0, 1, 2}


def test_flat_folder_means_no_labels(tmp_path):
    make_photo_folder(tmp_path, per_class=3, flat=True)
    photos = load_photos(tmp_path, **KW)
    assert photos.summary.class_names == [] and not photos.summary.labelled
    assert (photos.labels == -1).all()


def test_unreadable_truncated_and_greyscale_are_skipped_with_counts(tmp_path):
    make_photo_folder(tmp_path, per_class=3, classes=("red",))
    good = (tmp_path / "red" / "red_000.jpg").read_bytes()
    (tmp_path / "red" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (tmp_path / "red" / "garbage.png").write_bytes(b"not an image at all")
    grey = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))
    Image.fromarray(grey, "L").save(tmp_path / "red" / "grey_L.png")
    Image.fromarray(np.dstack([grey] * 3)).save(tmp_path / "red" / "grey_rgb.jpg")  # RGB file, grey content
    lines = []
    photos = load_photos(tmp_path, **dict(KW, log=lines.append))
    s = photos.summary
    assert (s.found, s.kept, s.skipped_unreadable, s.skipped_greyscale) == (7, 3, 2, 2)
    assert "skipped 2 unreadable/truncated and 2 greyscale" in s.line() and s.line() in lines  # and it was logged


def test_every_mode_and_size_is_handled(tmp_path):
    rng = np.random.default_rng(0)
    rgb = (rng.uniform(0, 1, (70, 30, 3)) * np.array([1.0, 0.3, 0.2]) * 255).astype(np.uint8)
    folder = tmp_path / "c"
    folder.mkdir()
    Image.fromarray(rgb).convert("RGBA").save(folder / "rgba.png")
    Image.fromarray(rgb).convert("P").save(folder / "palette.png")
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(rgb).resize((300, 17)).save(folder / "wide.png")  # odd sizes, thinner than the crop
    Image.fromarray(rgb).resize((9, 9)).save(folder / "tiny.bmp")
    photos = load_photos(tmp_path, **KW)
    assert photos.summary.kept == 5
    assert all(im.dtype == np.uint8 and im.ndim == 3 and min(im.shape[:2]) <= 48 for im in photos.images)
    ds = ColorizationDataset(photos, list(range(5)), crop=32, global_size=32, train=True)
    for i in range(5):
        l, ab, g, y = ds[(i, 123)]
        assert l.shape == (1, 32, 32) and ab.shape == (2, 32, 32) and g.shape == (1, 32, 32)
        assert 0 <= float(l.min()) and float(l.max()) <= 100


def test_split_is_a_function_of_the_path_only(tmp_path):
    make_photo_folder(tmp_path, per_class=10)
    before = dict(zip(load_photos(tmp_path, **KW).paths, load_photos(tmp_path, **KW).splits))
    make_photo_folder(tmp_path, per_class=20, seed=5)  # adds red_010.. (and rewrites the first 10 files)
    after_photos = load_photos(tmp_path, **KW)
    after = dict(zip(after_photos.paths, after_photos.splits))
    assert all(after[p] == s for p, s in before.items())  # nothing reshuffled
    assert 0 < list(after.values()).count("val") < len(after)
    assert split_of("a/b.jpg", 0.25) == split_of("a/b.jpg", 0.25)


def test_cache_round_trip(tmp_path):
    make_photo_folder(tmp_path / "d", per_class=3)
    cache = tmp_path / "cache.npz"
    first = load_photos(tmp_path / "d", cache_path=cache, **KW)
    lines = []
    second = load_photos(tmp_path / "d", cache_path=cache, **dict(KW, log=lines.append))
    assert "cache" in lines[0]
    assert first.paths == second.paths and all((a == b).all() for a, b in zip(first.images, second.images))


def test_a_damaged_cache_is_decoded_again_not_a_traceback(tmp_path):
    """A truncated or bit-flipped data_cache.npz (a zip: BadZipFile, not OSError) means decode again; and with
    write_cache=False a cache that was handed in is read, never replaced."""
    make_photo_folder(tmp_path / "d", per_class=3)
    cache = tmp_path / "cache.npz"
    first = load_photos(tmp_path / "d", cache_path=cache, **KW)
    whole = cache.read_bytes()
    damaged = [whole[: len(whole) // 2], whole[:100] + bytes([whole[100] ^ 0xFF]) + whole[101:]]
    for data in damaged:
        cache.write_bytes(data)
        lines = []
        again = load_photos(tmp_path / "d", cache_path=cache, **dict(KW, log=lines.append, write_cache=False))
        assert not any("from cache" in line for line in lines) and again.paths == first.paths
        assert cache.read_bytes() == data  # read-only: left as it was
    load_photos(tmp_path / "d", cache_path=cache, **KW)
    assert cache.read_bytes() != damaged[-1]  # a training run rewrites its own cache


def test_augmentation_is_a_function_of_the_seed_and_global_sees_whole_photo(tmp_path):
    make_photo_folder(tmp_path, per_class=3)
    photos = load_photos(tmp_path, **KW)
    ds = ColorizationDataset(photos, list(range(len(photos.images))), crop=32, global_size=32, train=True, min_scale=0.5)
    a, b = ds[(0, 7)], ds[(0, 7)]
    assert all(torch.equal(x, y) for x, y in zip(a[:3], b[:3]))  # the same seed: the same sample
    assert any(not torch.equal(a.lightness, ds[(0, seed)].lightness) for seed in range(8, 12))  # another: another crop
    # the global path sees the whole photo, never the crop: exactly the validation view's, or its mirror image when
    # the sample was flipped -- and over a few seeds both happen
    g = ColorizationDataset(photos, [0], crop=32, global_size=32, train=False)[0].global_l
    seen = set()
    for seed in range(16):
        global_l = ds[(0, seed)].global_l
        flipped = torch.allclose(global_l, g.flip(-1), atol=1e-5)
        assert flipped or torch.allclose(global_l, g, atol=1e-5), seed
        seen.add(flipped)
    assert seen == {True, False}
    unflipped = ColorizationDataset(photos, [0], crop=32, global_size=32, train=True, min_scale=0.5, flip=False)
    assert all(torch.allclose(unflipped[(0, seed)].global_l, g, atol=1e-5) for seed in range(4))


def test_sampler_resumes_mid_epoch_and_splits_ranks():
    data = list(range(20))
    full = list(SeededDistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3))
    s = SeededDistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    s.set_start(8)
    assert list(s) == full[8:]
    r0 = [i for i, _ in SeededDistributedSampler(data, num_replicas=2, rank=0, shuffle=True, seed=3)]
    r1 = [i for i, _ in SeededDistributedSampler(data, num_replicas=2, rank=1, shuffle=True, seed=3)]
    assert not set(r0) & set(r1) and len(r0) == len(r1) == 10


def test_class_weights_balance_unequal_classes():
    w = class_weights(np.array([0] * 30 + [1] * 10 + [2] * 20), 4)
    assert w[3] == 0 and torch.isclose(w[:3].mean(), torch.tensor(1.0))
    assert float(w[0] * 30) == pytest.approx(float(w[1] * 10)) == pytest.approx(float(w[2] * 20))
