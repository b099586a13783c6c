"""colornet-train and colornet-export as a new user meets them: one line for a wrong device before any data is
read, a run folder is enough to export, every option has help, a finished run says so, tiny data sets are not
validated every few steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from training_helpers import TINY_ARGS, make_photo_folder

from training import export
from training.checkpoints import list_checkpoints
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
