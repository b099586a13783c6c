"""colornet.atomic: the one atomic-write helper (checkpoints, manifests, CLI images)."""

import pytest

from colornet.atomic import atomic_write


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out" / "model.safetensors"
    atomic_write(target, lambda tmp: open(tmp, "wb").write(b"old"))
    assert target.read_bytes() == b"old"

    def broken(tmp):
        open(tmp, "wb").write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old" and sorted(p.name for p in target.parent.iterdir()) == ["model.safetensors"]


def test_the_temp_file_keeps_the_suffix_so_pillow_picks_the_format(tmp_path):
    seen = []
    atomic_write(tmp_path / "a.jpg", lambda tmp: (seen.append(tmp), open(tmp, "wb").close()), fsync=False)
    assert seen[0].endswith(".jpg") and (tmp_path / "a.jpg").exists()
