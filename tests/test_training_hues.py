"""Issue 17's training plumbing on tiny photos: hue metrics in the log, samples and CPU-hours carried across a
continue_from restart, a CPU-time budget that stops a run, and the one-GPU recipes run for a few steps on CPU."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from colornet.checkpoint import read_document
from training.checkpoints import list_checkpoints
from training.config import ConfigError, parse_args
from training.train import main
from training_helpers import TINY_ARGS, make_photo_folder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return make_photo_folder(tmp_path_factory.mktemp("hue_photos"), per_class=8)


def _records(run: Path, kind: str) -> list[dict]:
    return [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["type"] == kind]


def test_log_carries_hue_metrics_samples_and_cpu_hours(photos, tmp_path):
    run = tmp_path / "run"
    other = make_photo_folder(tmp_path / "other", per_class=3, flat=True, seed=7)  # "another collection"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={run}", "--max_iters=4", "--eval_interval=2",
                 "--eval_at_start=True", "--optimizer=adam", "--learning_rate=0.003",
                 f"--extra_val_dir={other}"]) == 0
    evals = _records(run, "eval")
    assert [e["iter"] for e in evals] == [0, 2, 4]  # the start, then every 2 steps
    for e in evals:
        assert 0.0 <= e["model"]["green_recall"] <= 1.0 and 0.0 <= e["model"]["hue_js"] <= 0.7
        assert "green_recall" in e["mean_colour_table"] and "warm_share" in e["ground_truth"]
        assert e["other"]["model"]["psnr"] > 0 and "green_recall" in e["other"]["model"]
        assert "top1" not in e["other"]["model"]  # no scene labels there
    assert [e["samples"] for e in evals] == [0, 8, 16]  # batch 4, one process
    assert evals[0]["cpu_hours"] == 0 and 0 < evals[1]["cpu_hours"] < evals[2]["cpu_hours"]
    trains = _records(run, "train")
    assert [t["samples"] for t in trains] == [4, 8, 12, 16]
    from training.report import plot_hue_curves, read_log

    assert plot_hue_curves(read_log(run / "log.jsonl"), tmp_path / "hues.png").stat().st_size > 10_000


def test_continue_from_a_committed_weights_file_goes_on_counting(photos, tmp_path):
    common = [f"--data_dir={photos}", *TINY_ARGS, "--optimizer=adam", "--learning_rate=0.003", "--ckpt_interval=3",
              "--warmup_iters=4"]
    first = tmp_path / "first"
    assert main(common + [f"--out_dir={first}", "--max_iters=3"]) == 0
    committed = tmp_path / "committed" / "model.safetensors"  # what a session commits: the weights file alone
    committed.parent.mkdir()
    shutil.copy(list_checkpoints(first)[-1] / "model.safetensors", committed)
    done = read_document(committed)["training"]
    assert done["iter_num"] == 3 and done["samples_seen"] == 12 and done["cpu_seconds"] > 0

    second = tmp_path / "second"  # a fresh machine: out_dir empty
    assert main(common + [f"--out_dir={second}", "--max_iters=6", "--resume", f"--continue_from={committed}"]) == 0
    start = _records(second, "start")[0]
    assert start["iter"] == 3 and start["resumed_from"] == str(committed)
    trains = _records(second, "train")
    assert [t["iter"] for t in trains] == [4, 5, 6]
    assert [t["samples"] for t in trains] == [16, 20, 24]
    # the fresh optimiser warms up again from the restart: lr x 1/4, 2/4, 3/4 (get_lr's own warm-up is over)
    assert [round(t["lr"] / 0.003, 6) for t in trains] == [0.25, 0.5, 0.75]
    final = read_document(list_checkpoints(second)[-1] / "model.safetensors")["training"]
    assert final["cpu_seconds"] > done["cpu_seconds"] and final["samples_seen"] == 24

    # back on the machine that has a newer local checkpoint (with its optimiser state): that one wins
    assert main(common + [f"--out_dir={second}", "--max_iters=7", "--resume", f"--continue_from={committed}"]) == 0
    assert _records(second, "start")[-1]["resumed_from"].endswith("ckpt-00000006")


def test_continue_from_refuses_files_that_cannot_be_continued(photos, tmp_path, capsys):
    missing = tmp_path / "nope.safetensors"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={tmp_path / 'r'}", f"--continue_from={missing}",
                 "--max_iters=2"]) == 2
    assert "continue_from" in capsys.readouterr().err
    bundled = REPO / "colornet" / "weights" / "colornet-compact-places39" / "model.safetensors"
    if "iter_num" not in read_document(bundled).get("training", {}):
        assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={tmp_path / 'r2'}",
                     f"--continue_from={bundled}", "--max_iters=2"]) == 2


def test_cpu_minutes_budget_stops_the_run_and_checkpoints(photos, tmp_path):
    run = tmp_path / "budget"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={run}", "--max_iters=100000",
                 "--cpu_minutes=0.02", "--ckpt_interval=100000", "--eval_interval=100000"]) == 0
    last = list_checkpoints(run)[-1]
    step = read_document(last / "model.safetensors")["training"]["iter_num"]
    assert 0 < step < 100000
    assert _records(run, "eval")[-1]["iter"] == step  # validated where it stopped
    assert _records(run, "eval")[-1]["cpu_hours"] * 60 >= 0.02


def test_val_crop_size_is_checked():
    with pytest.raises(ConfigError, match="val_crop_size"):
        parse_args(["--val_crop_size=20"])
    assert parse_args(["--val_crop_size=112"]).val_crop_size == 112


@pytest.mark.parametrize("recipe", ["gpu_compact", "gpu_paper"])
def test_one_gpu_recipes_run_a_few_steps_on_cpu(recipe, photos, tmp_path):
    """The GPU recipes as written (architecture, head, loader workers, preload), shrunk only in data and steps."""
    run = tmp_path / recipe
    argv = [str(REPO / "training" / "configs" / f"{recipe}.py"), f"--data_dir={photos}", f"--out_dir={run}",
            "--device=cpu", "--max_iters=2", "--batch_size=2", "--num_workers=2", "--crop_size=32",
            "--val_crop_size=32", "--store_side=64", "--val_fraction=0.2", "--eval_interval=2", "--ckpt_interval=2",
            "--progress=False", "--export=False", "--threads=1"]
    assert main(argv) == 0
    document = read_document(list_checkpoints(run)[-1] / "model.safetensors")
    assert document["architecture"]["name"] == recipe.split("_")[1]
    assert document["architecture"]["head"] == "distribution"
    assert document["training"]["config"]["num_workers"] == 2
    assert "green_recall" in _records(run, "eval")[-1]["model"]


def _wider(config, width):
    import copy

    wide = copy.deepcopy(config)
    wide.width = width
    return wide


def test_widening_keeps_what_the_narrow_network_computes():
    """Net2WiderNet on the shipped weights: the half-width network built from them computes the same colours and
    scene logits (no noise: to float round-off; with the symmetry-breaking noise: within an a*b* unit), and every
    tensor is carried over."""
    import torch

    from colornet.checkpoint import load_checkpoint
    from colornet.model import ColorNet
    from training.widen import widen_state

    bundled = Path(__file__).parents[1] / "colornet" / "weights" / "colornet-compact-vivid104" / "model.safetensors"
    narrow, _ = load_checkpoint(bundled)
    wide = ColorNet(_wider(narrow.config, 0.5)).eval()
    torch.manual_seed(0)
    lightness = torch.nn.functional.interpolate(torch.rand(1, 1, 8, 12), size=(128, 192), mode="bilinear") * 100
    with torch.no_grad():
        ab, logits = narrow(lightness)
        for noise, tolerance in ((0.0, 1e-3), (0.01, 2.0)):  # in a*b* units (of +-110)
            state = widen_state(narrow.state_dict(), wide.state_dict(), narrow.config.global_dim, noise=noise)
            assert set(state) == set(wide.state_dict())
            wide.load_state_dict(state)
            ab_wide, logits_wide = wide(lightness)
            assert (ab_wide - ab).abs().max() < tolerance, (noise, (ab_wide - ab).abs().max())
            assert (logits_wide - logits).abs().max() < tolerance
        assert (ab_wide - ab).abs().max() > 1e-2  # the noise is there: the copies can now grow apart


def test_init_from_a_narrower_checkpoint_widens_it(photos, tmp_path, capsys):
    """A run with --width above the init_from checkpoint's starts from the widened weights, not from scratch."""
    narrow_run = tmp_path / "narrow"
    assert main([*TINY_ARGS, f"--data_dir={photos}", f"--out_dir={narrow_run}", "--max_iters=2"]) == 0
    weights = sorted(narrow_run.glob("ckpt-*"))[-1] / "model.safetensors"
    narrow_width = read_document(weights)["architecture"]["width"]
    capsys.readouterr()
    assert main([*TINY_ARGS, f"--data_dir={photos}", f"--out_dir={tmp_path / 'wide'}", "--max_iters=1",
                 f"--init_from={weights}", f"--width={2 * narrow_width}"]) == 0
    out = capsys.readouterr()
    line = next(l for l in (out.out + out.err).splitlines() if "init_from:" in l)
    assert "widened from width" in line and "fresh" not in line, line


def test_widening_never_copies_layers_sized_by_something_else(tmp_path):
    """Only width may grow channels: a wider config with twice the scene classes (or another global_dim) must not get
    the classifier's rows duplicated into classes they never were; those layers start fresh and the line says so,
    while the width-scaled trunk is still widened."""
    import torch

    from colornet.checkpoint import save_checkpoint
    from colornet.model import ColorNet, compact_config
    from training.train import init_matching

    torch.manual_seed(0)
    narrow = ColorNet(compact_config(["beach", "forest"]))
    weights = save_checkpoint(narrow, tmp_path / "narrow")
    wide_config = _wider(compact_config(["beach", "forest", "street", "harbour"]), 2 * narrow.config.width)
    wide_config.global_dim = 2 * narrow.config.global_dim
    wide = ColorNet(wide_config)
    fresh_fc2 = wide.classifier.fc2.weight.detach().clone()
    line, fresh = init_matching(wide, str(weights))
    assert "widened from width" in line, line
    assert {"classifier.fc2.weight", "classifier.fc2.bias", "fusion.fuse.0.weight"} <= fresh, line
    assert torch.equal(wide.classifier.fc2.weight, fresh_fc2)  # left as initialised, not copies of 2 classes
    assert "low_level.conv2.0.weight" not in fresh and "mid_level.conv1.0.weight" not in fresh  # trunk widened


def test_prior_adjustment_moves_only_the_head_bias_by_the_log_prior(tmp_path):
    """training.prior_adjust: the adjusted checkpoint differs from the original only in the distribution head's bias,
    by -strength * log p(bin) of the counts (recomputed here with numpy); hue_only's prior sums to 1 in every chroma
    ring; the result loads and colorizes like any checkpoint."""
    import numpy as np
    import torch

    from colornet.checkpoint import load_checkpoint, load_state_dict
    from colornet.pipeline import Colorizer
    from training.prior_adjust import CHROMA_BAND, colour_log_prior, main as adjust_main

    bundled = Path(__file__).parents[1] / "colornet" / "weights" / "colornet-compact-vivid104" / "model.safetensors"
    model, _ = load_checkpoint(bundled)
    centres = model.colorization.ab_centres.double().numpy()
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 1000, len(centres)).astype(float)
    (tmp_path / "counts.json").write_text(json.dumps({"grid": 10, "counts": counts.tolist()}))
    assert adjust_main([str(bundled), "--counts", str(tmp_path / "counts.json"), "--strength", "0.3",
                        "--out", str(tmp_path / "adj")]) == 0
    before, after = load_state_dict(bundled), load_state_dict(tmp_path / "adj" / "model.safetensors")
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == ["colorization.distribution.bias"]
    p = (counts + 1) / (counts.sum() + len(counts))
    d2 = ((centres[:, None] - centres[None]) ** 2).sum(-1)
    smooth = np.exp(-d2 / 50.0) @ p
    expected = -0.3 * np.log(smooth / smooth.sum())
    delta = (after["colorization.distribution.bias"] - before["colorization.distribution.bias"]).double().numpy()
    assert np.allclose(delta, expected, atol=1e-4)
    hue = colour_log_prior(torch.tensor(counts), model.colorization.ab_centres, hue_only=True).double().exp()
    ring = np.floor(np.hypot(centres[:, 0], centres[:, 1]) / CHROMA_BAND).astype(int)
    assert np.allclose(np.bincount(ring, weights=hue.numpy()), 1.0, atol=1e-6)
    out = Colorizer.from_pretrained(str(tmp_path / "adj" / "model.safetensors")).colorize_rgb(torch.rand(1, 3, 32, 32))
    assert torch.isfinite(out).all()
    assert adjust_main([str(bundled), "--counts", str(tmp_path / "counts.json"), "--strength", "2",
                        "--out", str(tmp_path / "bad")]) == 2


def test_polish_recipe_decays_to_its_floor_by_its_last_step():
    """hues_polish.py turns long-run weights into a candidate by a cosine decay: full rate after the warm-up, the
    floor at the end (what the bundled default had, and the constant-rate long run lacks)."""
    from training.train import get_lr

    config = parse_args([str(REPO / "training" / "configs" / "hues_polish.py")])
    assert config.decay_lr and config.min_lr < config.learning_rate / 10
    assert get_lr(config.warmup_iters, config) == pytest.approx(config.learning_rate, rel=1e-3)
    assert get_lr(config.max_iters, config) == pytest.approx(config.min_lr)
    lrs = [get_lr(i, config) for i in range(config.warmup_iters, config.max_iters + 1)]
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))


def test_hourly_means_average_each_cpu_hour_with_its_standard_error():
    """``colornet-train-report``'s answer to "still rising or flat?": the evaluations of each CPU-hour, averaged."""
    from training.report import hourly_means

    def record(it, hours, psnr, green, other_green=None):
        r = {"type": "eval", "iter": it, "cpu_hours": hours,
             "model": {"psnr": psnr, "colorfulness": 30.0, "green_recall": green, "hue_js": 0.04}}
        if other_green is not None:
            r["other"] = {"model": {"psnr": 21.0, "colorfulness": 29.0, "green_recall": other_green, "hue_js": 0.06}}
        return r

    records = [record(0, 0.0, 23.0, 0.50, 0.20), record(10, 0.5, 24.0, 0.60, 0.30), {"type": "train", "iter": 11},
               record(20, 1.2, 22.0, 0.40, 0.40), record(20, 1.2, 22.0, 0.40, 0.40)]  # a re-logged eval counts once
    table = hourly_means(records).splitlines()
    assert table[0].startswith("| CPU-hour | evaluations | PSNR |") and "other green" in table[0]
    first, second = table[2].split(" | "), table[3].split(" | ")
    assert first[:3] == ["| 0-1", "2", "23.50 ± 0.50"] and "0.550 ± 0.050" in first and "0.250 ± 0.050" in first
    assert second[:3] == ["| 1-2", "1", "22.00"] and "0.400" in second  # one evaluation: no error to give


def test_weight_averaging_means_the_weights_and_measures_batchnorm_afresh(photos, tmp_path, capsys):
    """training.average: every weight of the result is the mean of the checkpoints' (read back from their files
    with safetensors and averaged in numpy); every BatchNorm's running mean is the mean, over the same batches, of
    what that layer sees in training mode (captured by hooks); checkpoints of other architectures are refused."""
    import numpy as np
    import torch
    from safetensors.numpy import load_file

    from colornet.checkpoint import load_checkpoint
    from training.average import main as average_main, training_batches

    run = tmp_path / "run"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={run}", "--max_iters=4", "--ckpt_interval=2",
                 "--keep_last=2", "--optimizer=adam", "--learning_rate=0.01"]) == 0
    ckpts = [str(c) for c in list_checkpoints(run)]
    assert len(ckpts) == 2
    out = tmp_path / "swa"
    assert average_main([*ckpts, f"--data_dir={photos}", "--out", str(out), "--batches", "3", "--batch_size", "4",
                         "--seed", "5"]) == 0
    files = [load_file(str(Path(c) / "model.safetensors")) for c in ckpts]
    averaged = load_file(str(out / "model.safetensors"))
    weights = [k for k in averaged if k.endswith(".weight") or k.endswith(".bias")]
    assert weights and any(not np.array_equal(files[0][k], files[1][k]) for k in weights)
    for k in weights:
        assert np.allclose(averaged[k], (files[0][k].astype(np.float64) + files[1][k]) / 2, atol=1e-6), k

    model, document = load_checkpoint(out / "model.safetensors")
    seen: dict[str, list[torch.Tensor]] = {}
    norms = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    for name, module in norms.items():
        module.register_forward_hook(lambda m, inp, _o, name=name: seen.setdefault(name, []).append(
            inp[0].transpose(0, 1).reshape(inp[0].shape[1], -1).mean(1)))
    model.train()
    with torch.no_grad():
        for lightness, global_l in training_batches(model, document, str(photos), None, 3, 4, 5):
            model.predict_head_half(lightness, model.encode_global(global_l))
    assert set(seen) == set(norms)
    for name in norms:
        expected = torch.stack(seen[name]).mean(0).numpy()
        assert np.allclose(averaged[f"{name}.running_mean"], expected, atol=1e-4), name

    other = tmp_path / "wide"
    assert main([f"--data_dir={photos}", *TINY_ARGS, "--width=0.25", f"--out_dir={other}", "--max_iters=1"]) == 0
    assert average_main([ckpts[0], str(list_checkpoints(other)[-1]), f"--data_dir={photos}",
                         "--out", str(tmp_path / "bad")]) == 2
    assert "another architecture" in (err := capsys.readouterr().err) and "(width differ)" in err
    twice = [ckpts[0], str(Path(ckpts[0]) / "model.safetensors")]  # one checkpoint, named two ways
    assert average_main([*twice, f"--data_dir={photos}", "--out", str(tmp_path / "twice")]) == 2
    assert "given twice" in capsys.readouterr().err


def test_a_config_file_can_start_from_another(tmp_path):
    """``base = "other.py"``: the other file's values first, this one's over them, command-line overrides last; a
    base that is missing, not a string, or that loops back is a ConfigError naming the files."""
    (tmp_path / "a.py").write_text('batch_size = 8\nlearning_rate = 0.01\nmax_iters = 50\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text('"""derived"""\nbase = "../a.py"\nlearning_rate = 0.002\n')
    config = parse_args([str(tmp_path / "sub" / "b.py"), "--max_iters=7"])
    assert (config.batch_size, config.learning_rate, config.max_iters) == (8, 0.002, 7)
    (tmp_path / "c.py").write_text('base = "d.py"\n')
    (tmp_path / "d.py").write_text('base = "c.py"\n')
    with pytest.raises(ConfigError, match="loop"):
        parse_args([str(tmp_path / "c.py")])
    (tmp_path / "e.py").write_text('base = "nowhere.py"\n')
    with pytest.raises(ConfigError, match="nowhere.py does not exist"):
        parse_args([str(tmp_path / "e.py")])
    (tmp_path / "g.py").write_text('batch_size = "big"\n')
    (tmp_path / "h.py").write_text('base = "g.py"\n')
    with pytest.raises(ConfigError, match=r"g\.py: batch_size must be an int"):
        parse_args([str(tmp_path / "h.py")])
    (tmp_path / "f.py").write_text('base = 3\n')
    with pytest.raises(ConfigError, match="must name a config file"):
        parse_args([str(tmp_path / "f.py")])
    polish = parse_args([str(REPO / "training" / "configs" / "hues_polish.py")])
    long_run = parse_args([str(REPO / "training" / "configs" / "hues_long.py")])
    assert (polish.crop_size, polish.rebalance, polish.degrade) == (long_run.crop_size, long_run.rebalance,
                                                                    long_run.degrade)
    assert polish.decay_lr and not long_run.decay_lr


def test_weight_averaging_refuses_in_one_line_and_never_writes_over_its_inputs(photos, tmp_path, capsys):
    """training.average on hostile input: a batch of one (BatchNorm cannot train on it), photos with no training
    split, an --out that is one of the averaged checkpoints (it would be replaced by the average) are each one line
    and status 2, not a traceback; the run's cache is only read; a network without BatchNorm needs no photos."""
    from training.average import main as average_main
    from training.data import split_of

    run = tmp_path / "run"
    assert main([f"--data_dir={photos}", *TINY_ARGS, f"--out_dir={run}", "--max_iters=2", "--ckpt_interval=1",
                 "--keep_last=2"]) == 0
    ckpts = [str(c) for c in list_checkpoints(run)]
    common = [*ckpts, f"--data_dir={photos}", "--batches", "2", "--batch_size", "4"]

    with pytest.raises(SystemExit) as exit_info:
        average_main([*ckpts, f"--data_dir={photos}", "--batch_size", "1", "--out", str(tmp_path / "a")])
    assert exit_info.value.code == 2 and "--batch_size: must be at least 2" in capsys.readouterr().err

    valonly = tmp_path / "valonly"  # photos whose names all fall in the validation split (val_fraction 0.2)
    valonly.mkdir()
    names = [f"v{i}.jpg" for i in range(100) if split_of(f"v{i}.jpg", 0.2) == "val"][:2]
    for name, source in zip(names, sorted(photos.rglob("*.jpg"))):
        shutil.copy(source, valonly / name)
    assert average_main([*ckpts, f"--data_dir={valonly}", "--out", str(tmp_path / "b")]) == 2
    assert "no photo in the training split" in capsys.readouterr().err

    before = (Path(ckpts[-1]) / "model.safetensors").read_bytes()
    with pytest.raises(SystemExit):
        average_main([*common, "--out", ckpts[-1]])
    assert "one of the checkpoints averaged" in capsys.readouterr().err
    assert (Path(ckpts[-1]) / "model.safetensors").read_bytes() == before

    blocker = tmp_path / "a_file"  # --out below a file: no folder can be made there, even as root
    blocker.write_text("x")
    assert average_main([*common, "--out", str(blocker / "out")]) == 2
    assert f"out {blocker / 'out'}: cannot write there" in capsys.readouterr().err

    cache = tmp_path / "not_a_cache.npz"
    cache.write_bytes(b"PK\x03\x04 truncated")
    assert average_main([*common, "--cache", str(cache), "--out", str(tmp_path / "c")]) == 0
    assert cache.read_bytes() == b"PK\x03\x04 truncated"

    plain = tmp_path / "plain"
    assert main([f"--data_dir={photos}", *TINY_ARGS, "--batch_norm=False", f"--out_dir={plain}", "--max_iters=1"]) == 0
    capsys.readouterr()
    assert average_main([str(list_checkpoints(plain)[-1]), f"--data_dir={tmp_path / 'nowhere'}",
                         "--out", str(tmp_path / "d")]) == 0
    assert "no BatchNorm layers to measure" in capsys.readouterr().out


def test_config_bases_that_cannot_be_used_name_the_file_at_fault(tmp_path, monkeypatch):
    """A base that is broken JSON or Python, a folder, missing, or holds an unknown key: one ConfigError naming the
    file at fault (not the one that names it as base, not a traceback); ``--base=`` on the command line says where
    base belongs; a base is found relative to its file whatever the working folder."""
    (tmp_path / "sub").mkdir()
    cases = {"broken.json": ('{"base": "a.py"', "broken.json:1: not a valid config file"),
             "broken.py": ("x = = 1\n", "broken.py:1: not a valid config file"),
             "unknown.py": ("bogus_key = 1\n", "unknown config key 'bogus_key' in " + str(tmp_path / "unknown.py"))}
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        (tmp_path / "derived.py").write_text(f'base = "{name}"\nmax_iters = 3\n')
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_args([str(tmp_path / "derived.py")])
    (tmp_path / "derived.py").write_text('base = "sub"\n')
    with pytest.raises(ConfigError, match=r"derived.py: its base .*sub is a folder"):
        parse_args([str(tmp_path / "derived.py")])
    (tmp_path / "derived.py").write_text('base = "gone.py"\n')
    with pytest.raises(ConfigError, match=r"derived.py: its base .*gone.py does not exist"):
        parse_args([str(tmp_path / "derived.py")])
    with pytest.raises(ConfigError, match="base is set inside a config file, not on the command line"):
        parse_args(["--base=derived.py", "--max_iters=3"])

    (tmp_path / "a.py").write_text("batch_size = 8\n")
    (tmp_path / "sub" / "b.py").write_text('base = "../a.py"\nmax_iters = 9\n')
    monkeypatch.chdir(tmp_path / "sub")
    here = parse_args(["b.py"])
    monkeypatch.chdir(tmp_path.parent)
    there = parse_args([f"{tmp_path.name}/sub/b.py"])
    assert (here.batch_size, here.max_iters) == (there.batch_size, there.max_iters) == (8, 9)


def test_compare_confirms_on_the_validation_photos_its_first_sample_left_out(photos, tmp_path):
    """training.compare --rest_of N: exactly the validation photos that --max_photos N did not take, none twice; the
    comparison runs on them through the product pipeline."""
    from training.compare import main as compare_main, validation_sample

    indices = list(range(100, 1223))  # 1,123 photos, as the real split
    first, rest = validation_sample(indices, 400), validation_sample(indices, 400, rest_of=400)
    assert len(first) == 400 and len(set(first)) == 400
    assert not set(first) & set(rest) and sorted(first + rest) == indices
    assert validation_sample(indices, 0) == indices and validation_sample(indices[:5], 400) == indices[:5]

    bundled = REPO / "colornet" / "weights" / "colornet-compact-vivid104" / "model.safetensors"
    outs = {}
    for name, flag in (("first", "--max_photos=2"), ("rest", "--rest_of=2")):
        assert compare_main([f"default={bundled}", f"--data_dir={photos}", flag, "--val_fraction=0.5", "--knob",
                             "0.75", "--threads", "1", "--out", str(tmp_path / name)]) == 0
        outs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    from training.data import load_photos

    n_val = len(load_photos(photos, val_fraction=0.5, store_side=144, grey_chroma=3.0, log=lambda *a: None)
                .indices("val"))
    assert (outs["first"]["photos"], outs["rest"]["photos"]) == (2, n_val - 2)
    assert outs["first"]["results"] != outs["rest"]["results"]
