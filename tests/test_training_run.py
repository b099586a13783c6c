"""End-to-end training on tiny photos: exact resume, flat folders, DDP with 2 processes, export and report."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from colornet.checkpoint import load_checkpoint, load_state_dict
from training_helpers import TINY_ARGS, make_photo_folder
from training.checkpoints import list_checkpoints
from training.train import main

REPO = Path(__file__).resolve().parents[1]


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_state_dict(folder / "model.safetensors")


def _same(a: dict, b: dict, atol: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=1e-5), k


@pytest.mark.parametrize("optimizer", ["adadelta", "adam"])
def test_resume_continues_exactly(photos, tmp_path, optimizer):
    common = [f"--data_dir={photos}", *TINY_ARGS, f"--optimizer={optimizer}", "--ckpt_interval=3",
              "--learning_rate=" + ("1.0" if optimizer == "adadelta" else "0.003"), "--eval_interval=2"]
    k = 3  # 19 training photos / batch 4 = 4 steps per epoch: the resume lands mid-epoch and crosses an epoch
    assert main(common + [f"--out_dir={tmp_path / 'straight'}", f"--max_iters={2 * k}"]) == 0
    assert main(common + [f"--out_dir={tmp_path / 'split'}", f"--max_iters={k}"]) == 0
    assert main(common + [f"--out_dir={tmp_path / 'split'}", f"--max_iters={2 * k}", "--resume"]) == 0
    straight = list_checkpoints(tmp_path / "straight")[-1]
    split = list_checkpoints(tmp_path / "split")[-1]
    assert straight.name == split.name == f"ckpt-{2 * k:08d}"
    _same(_weights(straight), _weights(split))
    log = [json.loads(x) for x in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert [r["resumed_from"] is not None for r in log if r["type"] == "start"] == [False, True]


def test_flat_folder_trains_without_head_and_exports(tmp_path):
    flat = make_photo_folder(tmp_path / "flat", per_class=6, flat=True)
    out = tmp_path / "run"
    assert main([f"--data_dir={flat}", *TINY_ARGS, f"--out_dir={out}", "--max_iters=3", "--export=True"]) == 0
    model, doc = load_checkpoint(out / "export" / "model.safetensors")
    assert model.classifier is None and doc["architecture"]["class_names"] == []
    assert not any(k.startswith("classifier.") for k in _weights(out / "export"))
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert all(r["ce"] == 0.0 for r in log if r["type"] == "train")
    evals = [r for r in log if r["type"] == "eval"]
    assert evals and "top1" not in evals[-1]["model"]


def test_export_folder_and_model_card(photos, tmp_path):
    out = tmp_path / "run"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--max_iters=4", "--export=True"]) == 0
    export = out / "export"
    assert sorted(p.name for p in export.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((export / "config.json").read_text())
    assert config["architecture"]["class_names"] == ["blue", "green", "red"]
    assert config["training"]["data"]["kept"] == 24 and config["training"]["data"]["val"] > 0
    for key in ("psnr", "ab_mse", "colorfulness", "top1", "top5"):
        assert key in config["training"]["metrics"]
    assert {"greyscale", "mean_colour_table"} <= set(config["training"]["floors"])
    card = (export / "README.md").read_text()
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    for key in ("license", "library_name", "tags", "pipeline_tag", "metrics"):
        assert meta.get(key), key
    assert meta["library_name"] == "colornet" and "colorization" in meta["tags"]
    assert "greyscale floor" in card and "mean-colour" in card
    load_checkpoint(export / "model.safetensors")  # strict load


def test_report_writes_curves_and_grid(photos, tmp_path):
    from training.report import main as report_main

    out = tmp_path / "run"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--max_iters=4", "--eval_interval=2"]) == 0
    assert report_main([str(out), "--n=3", "--side=48"]) == 0
    for name in ("curves.png", "grid.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_unknown_or_mistyped_override_is_an_error(tmp_path, capsys):
    assert main(["--data_dir=x", "--batchsize=4"]) == 2
    assert "unknown config key" in capsys.readouterr().err
    assert main(["--data_dir=x", "--batch_size=four"]) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Run under torchrun: train, then every rank writes the weights it ended with (only rank 0 writes anything else).
RANK_DUMP = """
import sys
from colornet.checkpoint import save_checkpoint
from training.config import parse_args
from training.train import train

config = parse_args(sys.argv[1:])
result = train(config)
save_checkpoint(result.model, f"{config.out_dir}/rank{result.rank}")
"""


def test_two_process_ddp_on_cpu_ends_with_identical_weights(photos, tmp_path):
    out = tmp_path / "ddp"
    script = tmp_path / "train_and_dump.py"
    script.write_text(RANK_DUMP)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(script),
           f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={out}", "--max_iters=4", "--ckpt_interval=2",
           "--batch_size=3", "--device=cpu"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = _weights(out / "rank0"), _weights(out / "rank1")
    _same(r0, r1, atol=0.0)
    # only rank 0 wrote checkpoints and logs (one start record, not two)
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-00000002", "ckpt-00000004"]
    starts = [x for x in (out / "log.jsonl").read_text().splitlines() if '"start"' in x]
    assert len(starts) == 1 and json.loads(starts[0])["data"]["train"] >= 6
    # and training moved the weights away from the initialisation
    first = _weights(out / "ckpt-00000002")
    assert any(not torch.equal(first[k], r0[k]) for k in r0 if r0[k].is_floating_point())


def test_streamed_mode_skips_and_counts_bad_photos(tmp_path):
    data = make_photo_folder(tmp_path / "d", per_class=6)
    good = (data / "red" / "red_000.jpg").read_bytes()
    for i in range(4):
        (data / "red" / f"broken_{i}.jpg").write_bytes(good[: len(good) // 4])
    out = tmp_path / "run"
    args = [f"--data_dir={data}", *TINY_ARGS, f"--out_dir={out}", "--max_iters=6", "--preload=False",
            "--val_fraction=0.1"]
    assert main(args) == 0
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    train = [r for r in log if r["type"] == "train"]
    assert train[-1]["iter"] == 6
    assert any(r.get("skipped_streamed", {}).get("unreadable", 0) > 0 for r in train)


def test_dataloader_workers_see_the_same_batches(photos, tmp_path):
    common = [f"--data_dir={photos}", *TINY_ARGS, "--max_iters=3", "--ckpt_interval=3", "--eval_interval=100"]
    assert main(common + [f"--out_dir={tmp_path / 'w0'}", "--num_workers=0"]) == 0
    assert main(common + [f"--out_dir={tmp_path / 'w2'}", "--num_workers=2"]) == 0
    _same(_weights(list_checkpoints(tmp_path / "w0")[-1]), _weights(list_checkpoints(tmp_path / "w2")[-1]))
