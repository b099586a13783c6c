"""Training checkpoints: atomic (kill -9 mid-save loses nothing already saved), newest K kept, exact round trip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch

from colornet.model import ColorNet, compact_config
from training.checkpoints import (
    latest_checkpoint,
    list_checkpoints,
    load_training_checkpoint,
    save_training_checkpoint,
)

REPO = Path(__file__).resolve().parents[1]


def _tiny():
    torch.manual_seed(0)
    cfg = compact_config(["a", "b"])
    cfg.width, cfg.global_size = 0.125, 32
    model = ColorNet(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(2, 1, 32, 32) * 100)[0].mean().backward()
    opt.step()
    return model, opt


def test_round_trip_and_keep_last(tmp_path):
    model, opt = _tiny()
    for it in (1, 2, 3, 4):
        save_training_checkpoint(tmp_path, it, model, opt, {"best_val_loss": 0.5}, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-00000003", "ckpt-00000004"]
    state, opt_state, doc = load_training_checkpoint(latest_checkpoint(tmp_path))
    assert doc["training"]["iter_num"] == 4 and doc["training"]["best_val_loss"] == 0.5
    for k, v in model.state_dict().items():
        assert torch.equal(state[k], v), k
    fresh = torch.optim.Adam(model.parameters(), lr=1e-3)
    fresh.load_state_dict(opt_state)
    a, b = opt.state_dict(), fresh.state_dict()
    for pid in a["state"]:
        for key in a["state"][pid]:
            assert torch.equal(torch.as_tensor(a["state"][pid][key]), torch.as_tensor(b["state"][pid][key]))
    assert a["param_groups"][0]["betas"] == tuple(b["param_groups"][0]["betas"])
    # saving the same step again (after a resume) replaces it cleanly
    save_training_checkpoint(tmp_path, 4, model, opt, {}, keep_last=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt-00000003", "ckpt-00000004"]


KILLED_SAVER = textwrap.dedent(
    """
    import sys, time, torch
    sys.path.insert(0, {tests!r})
    from test_training_checkpoints import _tiny
    import training.checkpoints as ck
    model, opt = _tiny()
    ck.save_training_checkpoint(sys.argv[1], 1, model, opt, {{}}, keep_last=3)
    real = ck.optimizer_to_safetensors
    def stalled(optimizer, path):
        real(optimizer, path)  # half of the checkpoint is on disk...
        print("MID-SAVE", flush=True)
        time.sleep(60)  # ...and the process is killed here
    ck.optimizer_to_safetensors = stalled
    ck.save_training_checkpoint(sys.argv[1], 2, model, opt, {{}}, keep_last=3)
    """
)


def test_kill_9_during_a_save_loses_nothing_already_saved(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(KILLED_SAVER.format(tests=str(Path(__file__).parent)))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        deadline = time.time() + 60
        line = ""
        while "MID-SAVE" not in line and time.time() < deadline:
            line = proc.stdout.readline()
        assert "MID-SAVE" in line
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the interrupted save left only a hidden temp folder; checkpoint 1 is complete and is what resume picks
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000001"]
    assert any(p.name.startswith(".ckpt-00000002") for p in out.iterdir())
    assert latest_checkpoint(out).name == "ckpt-00000001"
    load_training_checkpoint(out / "ckpt-00000001")
    # the next save cleans the leftover up
    model, opt = _tiny()
    save_training_checkpoint(out, 2, model, opt, {}, keep_last=3)
    assert not any(p.name.endswith(".tmp") for p in out.iterdir())
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000001", "ckpt-00000002"]


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path):
    model, opt = _tiny()
    save_training_checkpoint(tmp_path, 1, model, opt, {})
    newest = save_training_checkpoint(tmp_path, 2, model, opt, {})
    (newest / "model.safetensors").write_bytes(b"\0" * 10)  # e.g. disk corruption after the fact
    assert latest_checkpoint(tmp_path).name == "ckpt-00000001"
