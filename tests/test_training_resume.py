"""Resuming a training run: damaged checkpoints fall back to the previous one; settings the checkpoint cannot
continue under are one line saying what to do."""

from __future__ import annotations

import json
from pathlib import Path

from training_helpers import TINY_ARGS

from training.checkpoints import OPTIMIZER_NAME, latest_checkpoint, list_checkpoints
from training.train import main

# ------------------------------------------------------------------------------------------- resume


def _run_training(photos: Path, out: Path, *extra: str) -> int:
    return main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--ckpt_interval=2", *extra])


def test_a_truncated_optimizer_state_falls_back_to_the_previous_checkpoint(photos, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run_training(photos, out, "--max_iters=4") == 0
    first, newest = list_checkpoints(out)
    data = (newest / OPTIMIZER_NAME).read_bytes()
    (newest / OPTIMIZER_NAME).write_bytes(data[: len(data) // 2])  # e.g. the disk filled up during a copy
    assert latest_checkpoint(out, log=lambda *a: None) == first
    assert _run_training(photos, out, "--max_iters=6", "--resume") == 0
    assert "skipping damaged checkpoint ckpt-00000004" in capsys.readouterr().out
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["resumed_from"] for r in log if r["type"] == "start"][-1].endswith("ckpt-00000002")


def test_resuming_with_another_optimizer_is_an_error_unless_reset(photos, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run_training(photos, out, "--max_iters=2", "--optimizer=adadelta") == 0
    assert _run_training(photos, out, "--max_iters=4", "--resume", "--optimizer=adam", "--learning_rate=0.001") == 2
    err = capsys.readouterr().err
    assert "trained with adadelta" in err and "--reset_optimizer=True" in err and len(err.strip().splitlines()) == 1
    assert _run_training(photos, out, "--max_iters=4", "--resume", "--optimizer=adam", "--learning_rate=0.001",
                "--reset_optimizer=True") == 0
    assert [p.name for p in list_checkpoints(out)][-1] == "ckpt-00000004"


def test_resuming_with_another_architecture_is_an_error(photos, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run_training(photos, out, "--max_iters=2") == 0
    assert _run_training(photos, out, "--max_iters=4", "--resume", "--width=0.25") == 2
    err = capsys.readouterr().err
    assert "another architecture" in err and "new --out_dir" in err and len(err.strip().splitlines()) == 1
