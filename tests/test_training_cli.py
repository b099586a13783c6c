"""colornet-train and colornet-export as a new user meets them: one line for a wrong device before any data is
read, a run folder is enough to export, every option has help, a finished run says so, tiny data sets are not
validated every few steps."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from training_helpers import TINY_ARGS, make_photo_folder

from training import export
from training.checkpoints import list_checkpoints
from training.config import TrainConfig
from training.data import load_photos
from training.train import main


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_photo_folder(tmp_path_factory.mktemp("photos"), per_class=5)


def _train(data: Path, out: Path, *extra: str) -> int:
    return main([f"--data_dir={data}", *TINY_ARGS, f"--out_dir={out}", *extra])


def test_cuda_on_a_cpu_only_torch_is_one_line_before_the_data_is_read(data, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert _train(data, tmp_path / "run", "--max_iters=2", "--device=cuda") == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "cuda" in lines[0] and "cpu" in lines[0] and "Traceback" not in captured.err
    assert "photos" not in captured.out and not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert _train(data, out, "--max_iters=4", "--ckpt_interval=2") == 0
    return out


def test_export_of_a_run_folder_takes_its_newest_checkpoint(run, tmp_path, capsys):
    """colornet-export RUN_DIR (a run folder instead of a checkpoint folder) was a raw traceback."""
    assert export.main([str(run), "--out", str(tmp_path / "export")]) == 0
    card = json.loads((tmp_path / "export" / "config.json").read_text())
    assert card["training"]["iter_num"] == 4
    assert list_checkpoints(run)[-1].name in capsys.readouterr().err


def test_export_of_a_folder_without_checkpoints_says_which_folder_to_give(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert export.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "ckpt-" in err and "Traceback" not in err


def test_every_export_option_has_help(capsys):
    with pytest.raises(SystemExit):
        export.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--out OUT folder to write" in text and "--title TITLE title" in text


def test_resuming_a_finished_run_says_it_is_done_and_how_to_go_on(run, capsys):
    """--resume of a finished run re-exported silently."""
    data_dir = json.loads((run / "config_resolved.json").read_text())["data_dir"]
    capsys.readouterr()
    assert main([f"--data_dir={data_dir}", *TINY_ARGS, f"--out_dir={run}", "--max_iters=4", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "finished" in out and "--max_iters=" in out


def test_a_tiny_data_set_is_not_validated_every_epoch(data, tmp_path):
    """12 training photos in batches of 4 make 3-step epochs: 30 steps gave 10 validation tables, 300 gave 100."""
    out = tmp_path / "run"
    assert _train(data, out, "--max_iters=40", "--ckpt_interval=40") == 0
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    evals = [r["iter"] for r in log if r["type"] == "eval"]
    assert 2 <= len(evals) <= 11, evals


# ---------------------------------------------------------------------- help, data folders, configs


REPO = Path(__file__).resolve().parents[1]


def test_help_lists_every_key_with_its_default_and_meaning(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for field in dataclasses.fields(TrainConfig):
        default = getattr(TrainConfig(), field.name)
        shown = default if isinstance(default, str) and default else repr(default)
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(f"--{field.name}=")), None)
        assert line is not None, f"--{field.name} missing from --help"
        assert line.strip().startswith(f"--{field.name}={shown}") and len(line.split(None, 1)) == 2, line


@pytest.mark.parametrize("kind", ["missing", "empty", "a file"])
def test_missing_or_empty_data_dir_is_one_line(tmp_path, capsys, kind):
    data = tmp_path / "photos"
    if kind == "empty":
        data.mkdir()
    elif kind == "a file":
        data.write_text("not a folder")
    assert main([f"--data_dir={data}", *TINY_ARGS, f"--out_dir={tmp_path / 'run'}", "--max_iters=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(data) in err and "Traceback" not in err
    assert ("holds no images (looked for .png" in err) if kind == "empty" else ("--data_dir" in err)


def test_an_empty_class_folder_is_a_warning_not_a_silent_class(tmp_path):
    data = make_photo_folder(tmp_path / "d", per_class=3)
    (data / "aardvark").mkdir()  # sorts first: as a silent class it would shift every label
    lines: list[str] = []
    photos = load_photos(data, val_fraction=0.2, store_side=48, grey_chroma=3.0, log=lines.append)
    assert photos.summary.class_names == ["blue", "green", "red"]
    assert any(ln.startswith("warning: class folder") and "aardvark" in ln for ln in lines)


def test_no_config_hard_codes_a_machine_path():
    for config in sorted((REPO / "training" / "configs").glob("*.py")):
        tree = ast.parse(config.read_text())
        values = {n.targets[0].id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)}
        assert "data_dir" not in values, f"{config.name} names a data_dir: pass --data_dir on the command line"
        for key, value in values.items():
            if isinstance(value, str) and ("/" in value or "\\\\" in value):
                assert not value.startswith(("/", "~", "..")) and ":" not in value, f"{config.name}: {key}={value!r}"


def test_training_stops_on_sighup_too_but_not_under_nohup():
    """SIGTERM and SIGHUP stop a run like Ctrl-C (checkpoint, 143/129); a SIGHUP the parent ignores (nohup) stays
    ignored, so closing the terminal of a nohup run does not stop it."""
    import os
    import signal

    from training.stopping import EXIT_SIGNAL, stop_on_signals

    assert EXIT_SIGNAL[signal.SIGHUP] == 129 and EXIT_SIGNAL[signal.SIGTERM] == 143
    old = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with stop_on_signals() as request:
            os.kill(os.getpid(), signal.SIGHUP)
        assert request.signum == signal.SIGHUP
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with stop_on_signals() as request:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)
        assert request.signum is None
    finally:
        signal.signal(signal.SIGHUP, old)
