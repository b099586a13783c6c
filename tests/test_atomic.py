"""colornet.atomic: the one atomic-write helper (checkpoints, manifests, CLI images)."""

from pathlib import Path

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


def test_a_temp_file_left_behind_is_never_an_input(tmp_path):
    """SIGKILL mid-write leaves the temp file: with an image suffix (``.p00.png.x1y2.png``) a later run over the
    folder took it as a photo. The temp name ends in a suffix no input search picks up."""
    from colornet.inputs import plan_inputs

    seen = []

    def killed(tmp):
        seen.append(tmp)
        open(tmp, "wb").write(b"\x89PNG half")
        raise SystemExit  # stand-in for the kill: the temp exists at this point
    with pytest.raises(SystemExit):
        atomic_write(tmp_path / "p00.png", killed)
    Path(seen[0]).write_bytes(b"\x89PNG half")  # what SIGKILL would leave (no clean-up runs)
    (tmp_path / "real.png").write_bytes(b"x")
    assert [p.name for p, _ in plan_inputs([str(tmp_path)]).jobs] == ["real.png"]
