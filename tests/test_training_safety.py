"""Issue 19 items 8, 11, 12, 13: a training run that cannot crash late, lose progress or export garbage.

Each test failed before the issue: a ZeroDivisionError or a torch error deep in a step, a KeyboardInterrupt traceback
that lost the steps since the last checkpoint, a NaN checkpoint exported with exit status 0, a class trained by no
photo without a word, and a re-save killed between its renames whose only complete copy the next save deleted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import TINY_ARGS, make_photo_folder

from training.checkpoints import latest_checkpoint, list_checkpoints, load_training_checkpoint, save_training_checkpoint
from training.data import load_photos, split_of
from training.train import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("override, words", [
    ("--ckpt_interval=0", "ckpt_interval must be at least 1"),
    ("--log_interval=0", "log_interval must be at least 1"),
    ("--eval_interval=-5", "eval_interval must be at least 0"),
    ("--warmup_iters=-1", "warmup_iters must be at least 0"),
    ("--learning_rate=0", "learning_rate must be > 0"),
    ("--learning_rate=-0.1", "learning_rate must be > 0"),
    ("--learning_rate=1e999", "learning_rate must be a finite number"),
    ("--threads=-2", "threads must be at least 0"),
    ("--num_workers=-1", "num_workers must be at least 0"),
    ("--seed=-1", "seed must be at least 0"),
    ("--global_size=-8", "global_size must be at least 0"),
    ("--max_iters=0", "max_iters must be at least 1"),
    ("--max_iters=-3", "max_iters must be at least 1"),
    ("--alpha=-1", "alpha must be >= 0"),
    ("--width=-1", "width must be >= 0"),
    ("--device=banana", "device:"),
    ("--crop_size=65536", "GiB is free"),  # (4096 at the default batch and width: >= 178 GiB)
    ("--global_size=9000", "GiB is free"),
])
def test_a_bad_config_value_is_one_line_before_any_work(tmp_path, capsys, override, words):
    out = tmp_path / "run"
    code = main([f"--data_dir={tmp_path / 'nothing-here'}", *TINY_ARGS, f"--out_dir={out}", override])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err, err


def test_a_nan_from_a_json_config_is_refused(tmp_path, capsys):
    config = tmp_path / "c.json"
    config.write_text('{"learning_rate": NaN}')
    assert main([str(config), f"--out_dir={tmp_path / 'run'}"]) == 2
    assert "learning_rate must be a finite number" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["under a file", "read-only"])
def test_an_unwritable_out_dir_is_one_line(tmp_path, capsys, photos, where):
    if where == "under a file":
        (tmp_path / "file").write_text("x")
        out = tmp_path / "file" / "run"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        out = tmp_path / "ro" / "run"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--max_iters=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"out_dir {out}: cannot write there" in err


def test_a_diverged_run_stops_keeps_the_finite_checkpoint_and_exports_nothing(photos, tmp_path, capsys):
    out = tmp_path / "run"
    args = [f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--ckpt_interval=1", "--max_iters=40",
            "--export=True"]
    assert main([*args, "--max_iters=1"]) == 0  # one sane step first: ckpt-00000001
    capsys.readouterr()
    code = main([*args, "--resume", "--learning_rate=1e30", "--optimizer=adam", "--reset_optimizer=True"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "diverged" in err and "last finite checkpoint" in err and "Traceback" not in err
    assert not (out / "export" / "model.safetensors").exists() or _all_finite(out / "export" / "model.safetensors")
    saved = list_checkpoints(out)
    assert saved, "the sane checkpoint must be kept"
    for folder in saved:
        assert _all_finite(folder / "model.safetensors"), folder.name
    assert latest_checkpoint(out, log=lambda *a: None) == saved[-1]


def _all_finite(path: Path) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in load_file(str(path)).values() if t.is_floating_point())


# Ctrl-C at a terminal: SIGINT handled as Python's default. Set here because a test suite started as a background
# job inherits SIGINT *ignored*, and training rightly keeps an ignored signal ignored (as under nohup).
INTERRUPTED_RUN = textwrap.dedent("""
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from training.train import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("signum, code, extra", [(signal.SIGINT, 130, []), (signal.SIGTERM, 143, []),
                                                 (signal.SIGINT, 130, ["--num_workers=1"])])
def test_ctrl_c_or_sigterm_checkpoints_the_last_step_and_exits_cleanly(photos, tmp_path, signum, code, extra):
    out = tmp_path / "run"
    args = [f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--ckpt_interval=100000", "--max_iters=100000",
            *extra]
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED_RUN, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)),
                            start_new_session=True)
    send = (lambda: os.killpg(proc.pid, signum)) if extra else (lambda: proc.send_signal(signum))  # Ctrl-C: the group
    try:
        log = out / "log.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until a few steps have been taken (none is checkpointed yet)
            if log.is_file() and sum('"type": "train"' in x for x in log.read_text().splitlines()) >= 3:
                break
            time.sleep(0.1)
        send()
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "--resume" in err, err
    saved = list_checkpoints(out)
    assert len(saved) == 1
    step = int(saved[0].name.split("-")[1])
    last_logged = max(json.loads(x)["iter"] for x in log.read_text().splitlines() if '"type": "train"' in x)
    assert step >= last_logged >= 3  # nothing since the last log line is lost
    load_training_checkpoint(saved[0])


def test_a_class_whose_only_photo_is_in_validation_is_warned_about(tmp_path):
    data = make_photo_folder(tmp_path / "d", per_class=3, classes=("red", "green"))
    name = next(f"only_{i}.jpg" for i in range(1000) if split_of(f"lonely/only_{i}.jpg", 0.2) == "val")
    (data / "lonely").mkdir()
    (data / "lonely" / name).write_bytes((data / "red" / "red_000.jpg").read_bytes())
    for preload in (True, False):
        lines: list[str] = []
        load_photos(data, val_fraction=0.2, store_side=48, grey_chroma=3.0, log=lines.append, preload=preload)
        assert any(ln.startswith("warning:") and "no training photo" in ln and "lonely" in ln for ln in lines), lines


KILLED_RESAVE = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {tests!r})
    from test_training_checkpoints import _tiny
    import training.checkpoints as ck
    model, opt = _tiny()
    ck.save_training_checkpoint(sys.argv[1], 2, model, opt, {{}}, keep_last=3)
    real = os.rename
    def stalled(src, dst):
        real(src, dst)
        if os.path.basename(str(src)) == "ckpt-00000002":  # the old copy moved aside, the new one not yet in place
            print("BETWEEN-RENAMES", flush=True)
            time.sleep(60)
    os.rename = stalled
    ck.save_training_checkpoint(sys.argv[1], 2, model, opt, {{}}, keep_last=3)
""")


def test_a_resave_killed_between_its_renames_keeps_the_only_complete_copy(tmp_path):
    script = tmp_path / "resaver.py"
    script.write_text(KILLED_RESAVE.format(tests=str(Path(__file__).parent)))
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        line, deadline = "", time.time() + 60
        while "BETWEEN-RENAMES" not in line and time.time() < deadline:
            line = proc.stdout.readline()
        assert "BETWEEN-RENAMES" in line
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not (out / "ckpt-00000002").exists()  # the kill left step 2 only as the moved-aside copy
    found = latest_checkpoint(out, log=lambda *a: None)
    assert found is not None
    load_training_checkpoint(found)  # resume can use it
    from test_training_checkpoints import _tiny

    model, opt = _tiny()
    save_training_checkpoint(out, 3, model, opt, {}, keep_last=3)  # the next save must not sweep it away
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000002", "ckpt-00000003"]
    load_training_checkpoint(out / "ckpt-00000002")
