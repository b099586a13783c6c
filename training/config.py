"""Training configuration: commented defaults, then a config file, then ``--key=value`` overrides (nanoGPT style).

``python -m training.train [config.py|config.json] [--key=value ...]``. A config file is either a Python file of plain
assignments (``batch_size = 32``, as nanoGPT's ``config/*.py``) or a JSON object; ``base = "other.py"`` in it starts
from another config file's values. Each override must name a known key and parse to the default's type, otherwise
it is an error (a typo must not silently train with the default). The resolved config is printed, written to
``out_dir/config_resolved.json`` and stored in every checkpoint.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colornet.checks import check_vividness, select_device


@dataclass
class TrainConfig:
    # --- I/O ---
    data_dir: str = "data/train"  # one subfolder per scene class, or a flat folder (no labels -> alpha = 0, no head)
    out_dir: str = "runs/colornet"  # ckpt-*/ checkpoints, log.jsonl, mean_colour_table.json, export/
    resume: bool = False  # continue from the newest complete checkpoint in out_dir
    reset_optimizer: bool = False  # with resume: start the optimiser afresh (e.g. to switch adadelta -> adam)
    init_from: str = ""  # optional model.safetensors to start from (fine-tuning); ignored when resuming
    continue_from: str = ""  # a run's model.safetensors with its training state: continued when newer than out_dir's
    preload: bool = True  # decode every photo into RAM once (small sets); False streams from disk (Places365-sized)
    cache_data: bool = True  # decode every photo once into out_dir/data_cache.npz (uint8), reused on the next start
    # --- data ---
    val_fraction: float = 0.05  # share of photos in the validation split, chosen by a hash of the relative path
    store_side: int = 144  # photos are kept in RAM with the shorter side at most this many pixels
    crop_size: int = 112  # training crop side (local path); validation uses a centre crop of val_crop_size
    extra_val_dir: str = ""  # a flat folder of colour photos from other collections, validated beside the split ("other")
    val_crop_size: int = 0  # validation centre-crop side (0 = crop_size); fixed when runs with other crops are compared
    crop_min_scale: float = 0.6  # random rescale: the crop window side is U(min_scale, 1) x the photo's shorter side
    flip: bool = True  # random horizontal flip (the global path sees the same flipped photo)
    degrade: float = 0.0  # probability that a photo's L input is aged like an old print (training/degrade.py); 0 = off
    grey_chroma: float = 3.0  # photos whose mean Lab chroma is below this are greyscale: skipped (nothing to learn)
    table_max_photos: int = 0  # training photos used to fit the mean-colour floor (0 = all preloaded, 3000 streamed)
    num_workers: int = 0  # DataLoader workers; 0 = load in the training process (best on a 2-core CPU)
    # --- model ---
    model: str = "compact"  # compact | paper (colornet.model.CONFIGS)
    width: float = 0.0  # override the architecture's channel multiplier (0 = the preset's)
    global_size: int = 0  # override the global path's input side (0 = the preset's)
    batch_norm: bool = True  # the paper uses batch normalisation
    head: str = "regression"  # regression (paper: ab + MSE) | distribution (ab-bin logits + soft cross-entropy)
    vividness: float = 0.62  # distribution head: the decoding used for validation metrics and stored as the default
    # --- loss ---
    alpha: float = 1.0 / 300.0  # weight of the scene cross-entropy (paper: 1/300); forced to 0 for unlabelled data
    chroma_weight: float = 0.0  # not in the paper: > 0 up-weights saturated pixels in the MSE (against greyish output)
    balance_classes: bool = True  # weight the cross-entropy by inverse class frequency (classes are unbalanced)
    rebalance: float = 0.5  # distribution head: mix of the uniform distribution in the colour-rarity weights (0 = off)
    rebalance_photos: int = 3000  # training photos used to count ab-bin frequencies for the rebalancing weights
    # --- optimisation ---
    optimizer: str = "adadelta"  # adadelta (paper) | adam
    learning_rate: float = 1.0  # AdaDelta's multiplier is 1.0 in the paper; use ~1e-3 for adam
    head_lr_mult: float = 1.0  # learning-rate multiplier of the output layers (colour head, scene logits); > 1 helps
    # a fresh head learn on a trained trunk (fine-tuning)
    min_lr: float = 0.0  # cosine decay ends here (0 with decay_lr=False means constant lr)
    weight_decay: float = 0.0  # L2 penalty on every weight, applied by the optimiser (0 = none, as the paper)
    beta1: float = 0.9  # adam only
    beta2: float = 0.999  # adam only
    rho: float = 0.95  # adadelta only (paper: 0.95)
    grad_clip: float = 0.0  # clip the global gradient norm at this value; 0 = off
    batch_size: int = 32  # per process; the effective batch is batch_size x world size
    max_iters: int = 2000  # total optimiser steps
    cpu_minutes: float = 0.0  # stop this session after this much CPU time in the loop (equal-cost ablations); 0 = off
    warmup_iters: int = 0  # linear warm-up steps
    decay_lr: bool = False  # cosine decay from learning_rate to min_lr over max_iters
    # --- evaluation / checkpoints / logging ---
    eval_interval: int = 0  # validate every this many steps; 0 = once per epoch, at most ~10 times a run
    eval_max_photos: int = 0  # cap on validation photos (0 = the whole split)
    eval_at_start: bool = False  # also validate before the first step (where a fine-tune or a continued run starts)
    ckpt_interval: int = 500  # write a checkpoint every this many steps (and at the end)
    keep_last: int = 3  # keep the newest K checkpoints
    log_interval: int = 10  # training-loss records in log.jsonl every this many steps
    progress: bool = True  # tqdm progress bar on the master process
    export: bool = True  # write out_dir/export/ (model.safetensors, config.json, README.md) at the end
    # --- system ---
    seed: int = 1337  # each rank adds its rank
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | float32 | bfloat16
    threads: int = 0  # torch.set_num_threads; 0 = leave torch's default
    compile: bool = False  # torch.compile the model

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ConfigError(ValueError):
    """A config file or --key=value override is unknown or has the wrong type."""


_FIELD_LINE = re.compile(r"^    (\w+): \w+ = (.+?)(?:  # (.*))?$")


def help_text() -> str:
    """``colornet-train --help``: every key with its default and meaning, read from the commented defaults above."""
    lines = [
        "usage: colornet-train [CONFIG.py|CONFIG.json ...] [--key=value ...] [--help]",
        "",
        "Defaults, then each config file, then each --key=value, left to right (a bool key alone means True).",
        "Unknown keys and values of the wrong type are errors. Keys, with their defaults:",
    ]
    source = inspect.getsource(TrainConfig).splitlines()
    for line in source:
        if line.strip().startswith("# ---"):
            lines.append("\n" + line.strip().strip("# -").strip() + ":")
        elif m := _FIELD_LINE.match(line):
            name, meaning = m.group(1), m.group(3) or ""
            value = getattr(TrainConfig(), name)
            default = value if isinstance(value, str) and value else repr(value)
            lines.append(f"  --{name}={default}".ljust(36) + (f" {meaning}" if meaning else ""))
    return "\n".join(lines)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of ``default`` (ints are accepted for floats, never the other way)."""
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is str:
        if isinstance(value, str):
            return value
    article = "an" if kind.__name__[0] in "aeiou" else "a"
    raise ConfigError(f"{key} must be {article} {kind.__name__} (like its default {default!r}), got {value!r}")


def _parse_literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string such as --optimizer=adam


BASE_KEY = "base"  # in a config file: another config file (relative to this one) whose values this one changes


def _read_config_file(path: Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The values a config file sets; with ``base = "other.py"`` that file's values first, overlaid by this one's, so
    a recipe derived from another says only what it changes."""
    if not path.is_file():
        raise ConfigError(f"config file {path} {'is a folder' if path.is_dir() else 'does not exist'}")
    if path.resolve() in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path.resolve()))
        raise ConfigError(f"config files name each other as base in a loop: {chain}")
    try:  # a broken file (perhaps met as another's base): its name and line, never a traceback
        text = path.read_text()
        parsed = json.loads(text) if path.suffix == ".json" else ast.parse(text, filename=str(path))
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} cannot be read ({err})") from None
    except (json.JSONDecodeError, SyntaxError) as err:
        raise ConfigError(f"{path}:{err.lineno}: not a valid config file ({err.msg})") from None
    except ValueError as err:  # e.g. a NUL byte in a Python file
        raise ConfigError(f"{path}: not a valid config file ({err})") from None
    if path.suffix == ".json":
        data = parsed
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a JSON object")
    else:
        # A Python file of plain assignments (nanoGPT's configurator); only literal values are allowed.
        data = {}
        for node in parsed.body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue  # docstring
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                raise ConfigError(f"{path}:{node.lineno}: only `name = literal` assignments are allowed in a config file")
            try:
                data[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError as err:
                raise ConfigError(f"{path}:{node.lineno}: value is not a literal ({err})") from err
    if BASE_KEY not in data:
        return data
    base = data.pop(BASE_KEY)
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: {BASE_KEY} must name a config file (a path relative to {path.parent})")
    base_path = path.parent / base
    if not base_path.is_file():  # say which file names it: a chain of bases is otherwise hard to follow
        state = "is a folder" if base_path.is_dir() else "does not exist"
        raise ConfigError(f"{path}: its {BASE_KEY} {base_path} {state} ({BASE_KEY} is a path relative to the file "
                          f"that names it)")
    values = _read_config_file(base_path, (*_seen, path.resolve()))
    apply_overrides(TrainConfig(), values, str(base_path))  # an unknown key: named in its own file
    return {**values, **data}


def apply_overrides(config: TrainConfig, values: dict[str, Any], source: str) -> TrainConfig:
    for key, value in values.items():
        if key not in _FIELDS:
            close = [k for k in _FIELDS if k.startswith(key[:4])]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"unknown config key {key!r} in {source}{hint}")
        try:
            setattr(config, key, _coerce(key, value, getattr(TrainConfig(), key)))
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}") from None  # which file (or argument) holds the wrong value
    return config


def parse_args(argv: list[str]) -> TrainConfig:
    """``[config_file ...] [--key=value ...]``, applied left to right over the defaults."""
    config = TrainConfig()
    for arg in argv:
        if arg.startswith("--"):
            if "=" not in arg:
                key = arg[2:]
                if key in _FIELDS and isinstance(getattr(config, key), bool):
                    apply_overrides(config, {key: True}, arg)  # --resume alone means --resume=True
                    continue
                raise ConfigError(f"{arg}: overrides are written --key=value")
            key, text = arg[2:].split("=", 1)
            if key == BASE_KEY:
                raise ConfigError(f"{arg}: {BASE_KEY} is set inside a config file, not on the command line; give "
                                  f"that file itself as the config file: colornet-train {text} --key=value ...")
            if key not in _FIELDS:
                apply_overrides(config, {key: None}, arg)  # raises the unknown-key error
            default = getattr(TrainConfig(), key)
            value = text if isinstance(default, str) else _parse_literal(text)
            apply_overrides(config, {key: value}, arg)
        else:
            apply_overrides(config, _read_config_file(Path(arg)), arg)
    validate(config)
    return config


def _device_problem(name: str) -> str | None:
    """Why ``device`` cannot be used here (None: it can), by the library's own device rule."""
    if name == "auto":
        return None
    from colornet.errors import InputError
    from colornet.pipeline import select_device

    try:
        select_device(name)
    except InputError as err:
        return str(err)
    return None


def validate(config: TrainConfig) -> None:
    """Refuse, with one line each, values that would crash later (ZeroDivisionError, a torch error deep in a step)
    or quietly train nonsense (a NaN learning rate, a negative loss weight)."""
    for f in dataclasses.fields(TrainConfig):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{f.name} must be a finite number, got {value}")
    at_least = {"max_iters": 1, "ckpt_interval": 1, "log_interval": 1, "eval_interval": 0, "warmup_iters": 0,
                "eval_max_photos": 0, "table_max_photos": 0, "num_workers": 0, "threads": 0, "seed": 0,
                "global_size": 0, "rebalance_photos": 1, "store_side": 8}
    meaning = {"eval_interval": " (0 = once per epoch)", "threads": " (0 = torch's default)",
               "global_size": " (0 = the preset's)", "num_workers": " (0 = load in the training process)",
               "eval_max_photos": " (0 = the whole split)", "table_max_photos": " (0 = the default)"}
    for key, low in at_least.items():
        value = getattr(config, key)
        if value < low:
            raise ConfigError(f"{key} must be at least {low}{meaning.get(key, '')}, got {value}")
    if 0 < config.global_size < 32:
        raise ConfigError(f"global_size must be 0 (the preset's) or at least 32 px, got {config.global_size}")
    if not config.learning_rate > 0:
        raise ConfigError(f"learning_rate must be > 0, got {config.learning_rate}")
    for key in ("alpha", "width", "min_lr", "weight_decay", "grad_clip", "chroma_weight", "grey_chroma", "cpu_minutes"):
        if getattr(config, key) < 0:
            raise ConfigError(f"{key} must be >= 0, got {getattr(config, key)}")
    if 0 < config.width < 0.01:
        raise ConfigError(f"width must be 0 (the preset's) or a channel multiplier of at least 0.01, got {config.width}")
    for key in ("beta1", "beta2"):
        if not 0.0 <= getattr(config, key) < 1.0:
            raise ConfigError(f"{key} must be in [0, 1), got {getattr(config, key)}")
    if not 0.0 < config.rho <= 1.0:
        raise ConfigError(f"rho must be in (0, 1], got {config.rho}")
    problem = _device_problem(config.device)
    if problem:
        raise ConfigError(f"device: {problem}")
    if config.optimizer not in ("adadelta", "adam"):
        raise ConfigError(f"optimizer must be 'adadelta' or 'adam', got {config.optimizer!r}")
    if config.head not in ("regression", "distribution"):
        raise ConfigError(f"head must be 'regression' or 'distribution', got {config.head!r}")
    try:
        check_vividness(config.vividness)  # the library's rules and words
        if config.device != "auto":  # before any data is decoded: --device=cuda on a CPU-only torch is one line
            select_device(config.device)
    except ValueError as err:
        raise ConfigError(f"{err}" if "vividness" in str(err) else f"device: {err}") from None
    if not 0.0 <= config.degrade <= 1.0:
        raise ConfigError("degrade is a probability: it must be in [0, 1]")
    if not 0.0 < config.rebalance <= 1.0 and config.rebalance != 0.0:
        raise ConfigError("rebalance must be in [0, 1] (0 = no rebalancing)")
    if config.model not in ("compact", "paper"):
        raise ConfigError(f"model must be 'compact' or 'paper', got {config.model!r}")
    if not 0.0 <= config.val_fraction < 1.0:
        raise ConfigError("val_fraction must be in [0, 1)")
    if config.crop_size < 16 or config.crop_size % 8:
        raise ConfigError("crop_size must be a multiple of 8 and at least 16 (the network downsamples by 8)")
    if config.val_crop_size and (config.val_crop_size < 16 or config.val_crop_size % 8):
        raise ConfigError("val_crop_size must be 0 (= crop_size) or a multiple of 8 and at least 16")
    if not 0.0 < config.crop_min_scale <= 1.0:
        raise ConfigError("crop_min_scale must be in (0, 1]")
    if config.batch_size < 2:
        raise ConfigError("batch_size must be at least 2 (batch normalisation needs more than one sample)")
    if config.dtype not in ("auto", "float32", "bfloat16"):
        raise ConfigError("dtype must be auto, float32 or bfloat16")
    if not config.head_lr_mult > 0:
        raise ConfigError("head_lr_mult must be > 0")
    if config.keep_last < 1:
        raise ConfigError("keep_last must be at least 1")
    if not config.data_dir.strip():
        raise ConfigError("data_dir is empty: point --data_dir at a folder of photos")


def check_out_dir(out_dir: Path, option: str = "out_dir") -> None:
    """Create ``out_dir`` and prove a file can be written there, or a ``ConfigError`` naming why and the ``option``
    that chose it (before the work: a run must not train for an hour and then fail at its first checkpoint)."""
    import tempfile

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-test."):
            pass
    except OSError as err:
        raise ConfigError(f"{option} {out_dir}: cannot write there ({err.strerror or err}); choose another "
                          f"--{option}") from None
