"""One argument layer: every setting is checked once, while parsing, by the library's own rule (``colornet.checks``,
``colornet.outputs``), with the same words in the CLI, the nodes and the training config; exit codes live in one
place; ``--help`` shows real defaults, once; and the weights CLI's rough edges."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import lively_model
from PIL import Image

from colornet import constants
from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, build_parser, main
from colornet.model import compact_config
from colornet.pipeline import Colorizer
from cli_helpers import random_photo as _photo, run_err as _run_err, one_line as _one_line

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path_factory.mktemp("ckpt"))


@pytest.fixture()
def photo(tmp_path) -> Path:
    path = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32), dtype=np.uint8)).save(path)
    return path


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _message(check, value) -> str:
    with pytest.raises(ValueError) as err:
        check(value)
    return str(err.value)


def _check(name: str):
    """A rule of ``colornet.checks``, looked up when the test runs."""
    import colornet.checks

    return getattr(colornet.checks, name)


# ----------------------------------------------------------------------------------- one rule, one message


def test_device_xpu_is_a_usage_error_like_any_unsupported_device(capsys, photo, tmp_path, weights):
    """--device xpu passed the parser and failed later with exit 1; --device foo was a usage error (2)."""
    for device in ("xpu", "foo"):
        code, _, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "--device", device)
        assert code == EXIT_USAGE and "Traceback" not in err and device in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option,value,check", [
    ("--working-size", "-5", "check_working_size"),
    ("--strength", "nan", "check_strength"),
    ("--strength", "-1", "check_strength"),
    ("--vividness", "2", None),
    ("--temporal-smoothing", "1.5", "check_smoothing"),
    ("--prior-mode", "sideways", "check_prior_mode"),
])
def test_video_and_colorize_refuse_the_same_values_with_the_library_words(capsys, tmp_path, option, value, check):
    """video parsed --working-size/--strength/--vividness with other types than colorize (NaN strength went through)."""
    messages = []
    for argv in (["colorize", tmp_path / "x.png", "-o", tmp_path / "o", "--sequence"],
                 ["video", tmp_path / "x.mp4", "-o", tmp_path / "o.mp4"]):
        code, _, err = _run(capsys, *argv, option, value)
        assert code == EXIT_USAGE, (argv[0], err)
        messages.append(err.split(f"argument {option}: ", 1)[1].split(" (see")[0])
    assert messages[0] == messages[1]
    if check is not None:
        converted = int(value) if option == "--working-size" else value if option == "--prior-mode" else float(value)
        assert messages[0] == _message(_check(check), converted)


@pytest.mark.parametrize("kwargs,check,value", [
    ({"prior_mode": "per_scene"}, "check_prior_mode", "per_scene"),
    ({"temporal_smoothing": 2.0}, "check_smoothing", 2.0),
])
def test_the_node_says_what_the_library_says(kwargs, check, value):
    """Nodes re-checked prior_mode and smoothing with their own messages."""
    import torch
    from test_nodes import common, run


    model = common.ColorNetModel(Colorizer(model=lively_model(compact_config(["a", "b"])), device=torch.device("cpu")),
                                 name="test")
    with pytest.raises(common.ColorNetInputError) as err:
        run("ColorNetFuseColorize", model, torch.rand(2, 16, 16, 3), 1.0, 64, **kwargs)
    assert str(err.value) == _message(_check(check), value)


def test_training_config_refuses_vividness_with_the_library_words():
    from training.config import ConfigError, parse_args

    with pytest.raises(ConfigError) as err:
        parse_args(["--vividness=1.5", "--data_dir=/nonexistent"])
    assert str(err.value) == _message(_check("check_vividness"), 1.5)


def test_exit_codes_are_defined_once():
    import colornet.cli as cli
    import colornet.cli_sequence as cli_sequence
    import colornet.exits as exits

    for module in (cli, cli_sequence):
        text = Path(module.__file__).read_text()
        assert not re.search(r"^EXIT_\w+\s*(,|=)", text, re.M), module.__name__
    assert cli.EXIT_USAGE is exits.EXIT_USAGE and cli.EXIT_INTERRUPTED == 130


# ----------------------------------------------------------- sequence-only options, vividness, help


def test_prior_mode_without_sequence_is_refused(capsys, photo, tmp_path, weights):
    """--prior-mode without --sequence was silently ignored."""
    for option, value in (("--prior-mode", "whole_batch"), ("--temporal-smoothing", "0.5"), ("--cut-threshold", "0.4")):
        code, _, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, option, value)
        assert code == EXIT_USAGE and option in err and "--sequence" in err
    assert not (tmp_path / "o").exists()


def test_vividness_on_a_regression_checkpoint_names_it_before_any_progress(capsys, photo, tmp_path, weights):
    """The mistake was reported after the progress bar started, naming the config ('compact')."""
    code, _, err = _run(capsys, "colorize", photo, "-o", tmp_path / "o", "--weights", weights, "--vividness", "0.5")
    assert code == EXIT_USAGE and str(weights) in err and "regression head" in err
    assert "colorizing" not in err and "'compact'" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_help_shows_the_default_checkpoints_own_vividness_and_each_default_once(capsys):
    from colornet.weights import load_model

    model, _ = load_model(None, device="cpu")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("colorize", "video"):
        text = sub.choices[name].format_help()
        flat = " ".join(text.split())
        assert f"the checkpoint's own: {model.default_vividness:g} for the default checkpoint" in flat, name
        doubled = re.findall(r"\(default: ([^)]*)\)\s*\(default: \1\)", flat)
        assert not doubled, (name, doubled)
        for option in ("--prior-mode", "--temporal-smoothing", "--cut-threshold", "--crf" if name == "video" else
                       "--strength"):
            block = flat.split(option, 2)[-1].split(" --", 1)[0]
            assert block.count("default:") <= 1, (name, option, block)


# ------------------------------------------------------------------------ version, video containers


def test_version_answers_without_importing_torch():
    code = ("import sys; from colornet.cli import main; status = main(['--version']); "
            "print(status, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip().splitlines()[-1] == "0 False"


def test_video_to_a_gif_is_one_line_that_names_the_containers(capsys, tmp_path, weights):
    clip = tmp_path / "in.mp4"
    clip.write_bytes(b"")
    code, _, err = _run(capsys, "video", clip, "-o", tmp_path / "x.gif", "--weights", weights)
    assert code == EXIT_USAGE and ".gif" in err and ".mp4" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


# --------------------------------------------------------------------------------- colornet weights


def test_weights_download_of_a_bundled_checkpoint_exits_0(capsys):
    from colornet.manifest import load_manifest

    manifest = load_manifest()
    entry = manifest.get(None)
    assert not entry.published and entry.bundled_path.is_file()  # the situation a new user is in
    code, out, err = _run(capsys, "weights", "download")
    assert code == EXIT_OK and "bundled" in out and str(entry.bundled_path) in out and not err


def test_weights_list_does_not_show_an_unpublished_repo_as_published(capsys):
    from colornet.manifest import load_manifest

    manifest = load_manifest()
    code, out, _ = _run(capsys, "weights", "list")
    assert code == EXIT_OK
    for entry in manifest.models.values():
        line = next(line for line in out.splitlines() if entry.name in line)
        if not entry.published:
            assert not re.search(rf"\s{re.escape(entry.repo_id)}(\s|@|$)", line) and "not on the Hub" in line, line


def test_weights_list_help_describes_list_only(capsys):
    with pytest.raises(SystemExit):
        main(["weights", "list", "--help"])
    out = capsys.readouterr().out
    assert "download" not in out and "verify" not in out and "where copies" in out


# --------------------------------------------------------- version, help, environment, weights list


def test_version(capsys):
    from colornet import __version__

    assert main(["--version"]) == 0 and __version__ in capsys.readouterr().out


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["colorize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in [("--working-size", "512"), ("--jpeg-quality", "95"), ("--png-compression", "1"),
                            ("--strength", "1.0"), ("--batch-size", "1")]:
        assert f"(default: {default})" in text.split(option, 2)[-1].split("--", 1)[0] or \
            f"(default: {default})" in text, option


def test_models_dir_with_unknown_user_is_a_usage_error(tmp_path, weights, capsys, monkeypatch):
    monkeypatch.setenv("COLORNET_MODELS_DIR", "~nouser_colornet_test/x")
    code, err = _run_err(capsys, "weights", "list")
    assert code == EXIT_USAGE and "COLORNET_MODELS_DIR" in _one_line(err)
    photo = _photo(tmp_path / "a.png")
    code, err = _run_err(capsys, "colorize", photo, "-o", tmp_path / "o", "-q")
    assert code == EXIT_USAGE and "no such user" in _one_line(err)


def test_weights_list_with_a_malformed_manifest_is_one_line(tmp_path, capsys, monkeypatch):
    manifest = json.loads(constants.PACKAGE_MANIFEST.read_text())
    name = manifest["default"]
    manifest["models"][name].update(repo_id="not a repo id!!", revision="a" * 40, bundled=False)
    bad = tmp_path / "weights_manifest.json"
    bad.write_text(json.dumps(manifest))
    monkeypatch.setattr(constants, "COLORNET_MANIFEST", bad)
    code, err = _run_err(capsys, "weights", "list")
    assert code == EXIT_SOME_FAILED and _one_line(err).startswith("error:")
    bad.write_text("{not json")
    code, err = _run_err(capsys, "weights", "list")
    assert code == EXIT_SOME_FAILED and _one_line(err).startswith("error:")
