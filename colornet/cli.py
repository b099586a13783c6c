"""``colornet`` command line: colorize photos, classify scenes, manage weights.

Design rules: inputs are never overwritten, each output is written atomically (temp file + rename) with the user's
umask, one unreadable photo is reported (once, path first) and skipped without losing the others, a full disk stops
the run and keeps what was written, Ctrl-C stops cleanly, and the exit status tells scripts whether everything worked
(0), some inputs failed (1), usage was wrong (2) or the run was interrupted (130). Every user mistake ends in one
line on stderr, never a traceback.

``colorize`` is a pipeline (``colornet.batchrun``): the next files are decoded and the previous results encoded while
the network runs. Under ``torchrun`` each process takes its share of the sorted inputs (``colornet.distributed``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .cli_sequence import add_sequence_options, add_video_parser
from .defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
from .errors import ColorNetError
from .images import DEFAULT_MAX_MEGAPIXELS
from .inputs import expand_inputs, plan_inputs
from .onnx.cli import add_export_parser
from .web.cli import add_web_parser
from .outputs import BIT_DEPTHS, DEFAULT_JPEG_QUALITY, DEFAULT_PNG_COMPRESSION, OUTPUT_FORMATS

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "build_parser", "expand_inputs", "main"]


class UsageError(Exception):
    """A mistake in the command line or environment: one line, exit status 2."""


# --------------------------------------------------------------------------------------------- argument types


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def library_check(check, convert=float):
    """An argparse type that validates with the library's own rule (``pipeline.check_*``), so the CLI and the API
    accept and refuse the same values with the same message."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if convert is int else ''}number") from None
        try:
            check(value)
        except ValueError as err:  # InputError
            raise argparse.ArgumentTypeError(str(err)) from None
        return value

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


def non_negative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; use 0 or more")
    return value


def positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive; a weight must be > 0 (leave a reference out instead)")
    return value


def int_range(low: int, high: int | None = None):
    """An argparse type: an integer in [low, high] (no upper bound when ``high`` is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{value} is out of range; use {bound}")
        return value

    parse.__name__ = "integer"
    return parse


def device_arg(text: str) -> str:
    """``auto`` or a torch device that exists here: catches ``--device foo`` and ``cuda`` without CUDA early."""
    if text == "auto":
        return text
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(
                f"{text}: CUDA is not available here (a CPU-only torch build, or no GPU visible); use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text}: MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps", "xpu"):
        raise argparse.ArgumentTypeError(f"device {text!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return text


def _check_environment() -> None:
    """Settings read from the environment that the library would otherwise trip over with a traceback."""
    from .constants import ENV_MODELS_DIR

    value = os.environ.get(ENV_MODELS_DIR, "").strip()
    if value.startswith("~"):
        try:
            Path(value).expanduser()
        except RuntimeError:
            user = value.split("/", 1)[0]
            raise UsageError(
                f"{ENV_MODELS_DIR}={value!r}: cannot expand {user!r} (no such user); set it to an absolute folder"
            ) from None


# ------------------------------------------------------------------------------------------------- colorize


def _prepare_output_folder(out_dir: Path) -> None:
    """Fail early, before the model loads, when results could not be written at all."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".colornet-write-test."):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise UsageError(f"-o {out_dir}: cannot write to this folder ({reason}); choose another -o") from None


def _target(out_dir: Path, rel: Path, suffix: str) -> Path:
    return out_dir / rel.with_name(rel.name + suffix)  # keeps dots in names: photo.v2.jpg -> photo.v2.png


def _torch_threads(value: int | None = None) -> int:
    import torch

    if value is not None:
        torch.set_num_threads(value)
    return torch.get_num_threads()


def _cpu_workers(device: str, jobs: int) -> int:
    """Forward passes to run side by side: on a CPU with several files, two with half the threads each.

    Measured on 2 cores (512^2): one pass with 2 threads costs 87 ms of CPU, one with 1 thread 65 ms, so two
    single-threaded passes in parallel finish more images per second. Under torchrun (OMP_NUM_THREADS=1 per
    process) there is one thread per process already, and the passes stay sequential.
    """
    import torch

    from .pipeline import select_device

    threads = torch.get_num_threads()
    if jobs < 2 or threads < 2 or select_device(device).type != "cpu":
        return 1
    torch.set_num_threads(threads // 2)
    return 2


def cmd_colorize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .batchrun import Job, Outcome, run_jobs
    from .distributed import device_for_share, share_from_env
    from .outputs import OutputOptions, save_result
    from .pipeline import Colorizer

    if args.reference_weight and len(args.reference_weight) != len(args.reference or []):
        raise UsageError(
            f"{len(args.reference_weight)} --reference-weight for {len(args.reference or [])} --reference: "
            "give one weight per reference (or none for equal weights)"
        )
    try:  # loaded once, before any work: a bad hints/mask file is a usage error, not one failure per photo
        hints, mask = _load_controls(args)
    except ColorNetError as err:
        raise UsageError(str(err)) from None
    try:
        share = share_from_env()
    except ValueError as err:
        raise UsageError(str(err)) from None
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"-o {out_dir}: this is an existing file; -o names the output folder")
    plan = plan_inputs(args.inputs, exclude=out_dir)
    for where, why in plan.problems:
        print(f"skipped {where}: {why}", file=sys.stderr)
    if not plan.jobs:
        print("error: no input images found", file=sys.stderr)
        return EXIT_USAGE
    if args.sequence:
        if args.hints or args.mask:
            raise UsageError("--hints/--mask work photo by photo; leave them out with --sequence")
        if share.world_size > 1:
            raise UsageError("--sequence colorizes one clip in one process; run it without torchrun")
        from .cli_sequence import cmd_colorize_sequence

        return cmd_colorize_sequence(args, plan.jobs)
    _prepare_output_folder(out_dir)
    options = OutputOptions(args.format, args.png_compression, args.jpeg_quality, args.bit_depth)
    input_paths = {p for p, _ in plan.jobs}
    failed = len(plan.problems)
    skipped = 0
    jobs: list[Job] = []
    for source, rel in share.take(plan.jobs):
        target = _target(out_dir, rel, options.suffix())
        if target.resolve() in input_paths:
            print(f"skipped {source}: its output {target} would overwrite an input; choose another -o", file=sys.stderr)
            failed += 1
        elif args.skip_existing and target.exists():
            skipped += 1
        else:
            jobs.append(Job(source, target))

    tag = f"[{share.rank}/{share.world_size}] " if share.world_size > 1 else ""
    bar = tqdm(total=len(jobs), desc=f"{tag}colorizing", unit="img", disable=args.quiet or not jobs,
               position=share.local_rank if share.world_size > 1 else None)  # one line per process of a node
    written = 0

    def report(outcome: Outcome) -> None:
        nonlocal written, failed
        if outcome.error is None:
            written += 1
        else:
            failed += 1
            bar.write(f"{tag}failed {outcome.job.source}: {outcome.error}", file=sys.stderr)
        bar.update(1)

    device = device_for_share(args.device, share)
    max_megapixels = args.max_megapixels or None
    threads = _torch_threads()
    workers = _cpu_workers(device, len(jobs))  # may lower torch's thread count until the run ends

    def load() -> Colorizer:
        from .model import VividnessError

        colorizer = Colorizer.from_pretrained(
            args.weights, device=device, working_size=args.working_size, max_megapixels=max_megapixels
        )
        try:
            colorizer.model.temperature(args.vividness)  # a usage error (wrong head, out of range) before any work
        except VividnessError as err:
            raise UsageError(f"--vividness: {err}") from None
        return colorizer

    def prior(colorizer: Colorizer):
        if not args.reference:
            return None
        return colorizer.prior_from_references(args.reference, args.reference_weight or None)

    def save(result, target: Path) -> None:
        save_result(result, target, options)

    try:
        disk_full = run_jobs(
            jobs, load, save, report, prior=prior, batch_size=args.batch_size, workers=workers,
            max_megapixels=max_megapixels, lean=options.bit_depth != "16",
            settings={"strength": args.strength, "vividness": args.vividness, "hints": hints, "mask": mask},
        ) if jobs else None
    except KeyboardInterrupt:
        print(f"\n{tag}interrupted: {written} image(s) written to {out_dir}; re-run with --skip-existing to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        bar.close()
        _torch_threads(threads)  # as it was (``main`` may be called in-process, e.g. by tests)
    summary = f"{tag}{written} image(s) written to {out_dir}"
    if skipped:
        summary += f", {skipped} already there (--skip-existing)"
    print(summary)
    if disk_full is not None:  # already reported as that file's failure; say why the run stopped, once
        print(f"{tag}stopped early because the disk is full; free some space, then re-run with --skip-existing",
              file=sys.stderr)
        return EXIT_SOME_FAILED
    if failed:
        print(f"{tag}{failed} input(s) failed (see the messages above)", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def _load_controls(args: argparse.Namespace) -> tuple[object | None, object | None]:
    """``--hints`` (RGBA picture) and ``--mask`` (white = colorize) loaded through the library, or None."""
    from .hints import hint_layer_from_image
    from .masking import mask_from_image

    hints = hint_layer_from_image(args.hints) if args.hints else None
    mask = mask_from_image(args.mask) if args.mask else None
    return hints, mask


# ------------------------------------------------------------------------------------------- other commands


def cmd_classify(args: argparse.Namespace) -> int:
    import torch

    from .images import to_rgb_image
    from .pipeline import Colorizer
    from .prior import top_classes

    plan = plan_inputs(args.inputs)
    status = EXIT_OK
    for where, why in plan.problems:
        print(f"skipped {where}: {why}", file=sys.stderr)
        status = EXIT_SOME_FAILED
    if not plan.jobs:
        print("error: no input images found", file=sys.stderr)
        return EXIT_USAGE
    colorizer = Colorizer.from_pretrained(args.weights, device=args.device)
    if not colorizer.class_names:
        print("error: this checkpoint has no scene classifier (trained without class labels)", file=sys.stderr)
        return EXIT_USAGE
    for path, _ in plan.jobs:
        try:
            rgb = torch.from_numpy(to_rgb_image(path).rgb).permute(2, 0, 1)[None]
            ranking = top_classes(colorizer.prior_from_rgb(rgb), args.top)[0]
        except ColorNetError as err:
            text = str(err)
            text = text[len(f"{path}: ") :] if text.startswith(f"{path}: ") else text
            print(f"skipped {path}: {text}", file=sys.stderr)
            status = EXIT_SOME_FAILED
            continue
        print(path)
        for name, prob in ranking:
            print(f"  {name:<28} {prob:6.1%}")
    return status


def cmd_weights(args: argparse.Namespace) -> int:
    from . import weights

    if args.action == "list":
        for entry in weights.list_weights():
            print(entry)
        return EXIT_OK
    if args.action == "download":
        path = weights.download_weights(args.name)
        print(path)
        return EXIT_OK
    report = weights.verify_weights(args.name)
    print(report)
    return EXIT_OK if report else EXIT_SOME_FAILED


# --------------------------------------------------------------------------------------------------- parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" after each option's help, except where there is no value to show (None, flags)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return action.help or ""
        return super()._get_help_string(action) or ""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not the whole usage block) and ``main`` returns status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    from .pipeline import check_strength, check_working_size
    fmt = _HelpFormatter
    parser = _Parser(
        prog="colornet", description="Automatic photo colorization (Iizuka et al. 2016).", formatter_class=fmt
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--weights", default=None, help="manifest name or path to a .safetensors file (default: the bundled checkpoint)")
        p.add_argument("--device", type=device_arg, default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1")

    col = sub.add_parser(
        "colorize", help="colorize images, folders or globs", formatter_class=fmt,
        description="Colorize images. Under torchrun each process takes its share of the sorted inputs.",
    )
    col.add_argument("inputs", nargs="+", help="image files, folders (searched recursively) or glob patterns")
    col.add_argument("-o", "--output", required=True, help="output folder (created; inputs are never overwritten)")
    col.add_argument("--reference", action="append", help="use this photo's global prior (repeat to mix several)")
    col.add_argument("--reference-weight", action="append", type=positive_float,
                     help="weight (> 0) of each --reference, in order; default: equal")
    col.add_argument("--working-size", type=library_check(check_working_size, int), default=DEFAULT_WORKING_SIZE,
                     help="longer side the network sees; 0 = full size")
    col.add_argument("--strength", type=library_check(check_strength), default=DEFAULT_STRENGTH,
                     help="chroma scale: 0 grey, 1 as predicted, >1 stronger")
    col.add_argument("--hints", default=None, metavar="H.png",
                     help="RGBA picture of colour hints (any size, same aspect): opaque pixels ask for their colour")
    col.add_argument("--mask", default=None, metavar="M.png",
                     help="black-and-white picture: white = colorize, black = keep the input pixel unchanged")
    col.add_argument("--vividness", type=_finite_float, default=None,
                     help="colour-distribution checkpoints (the default): 0 = the safest, muted colours, 1 = the "
                          "boldest; default: the checkpoint's own default vividness")
    col.add_argument("--format", choices=OUTPUT_FORMATS, default="png", help="output format (png keeps alpha)")
    col.add_argument("--png-compression", type=int_range(0, 9), default=DEFAULT_PNG_COMPRESSION,
                     help="zlib level 0-9: 1 is ~4x faster than 6 on a 4K photo for files ~10-30%% larger")
    col.add_argument("--jpeg-quality", type=int_range(1, 100), default=DEFAULT_JPEG_QUALITY,
                     help="JPEG quality 1-100 (with --format jpg)")
    col.add_argument("--bit-depth", choices=BIT_DEPTHS, default="auto",
                     help="PNG bits per channel: auto = 16 for inputs with more than 8 bits, else 8")
    col.add_argument("--max-megapixels", type=non_negative_float, default=DEFAULT_MAX_MEGAPIXELS,
                     help="skip (as a failed input) files larger than this, judged from their header before decoding, "
                          "so memory stays bounded; 0 = no limit (default: %(default)g)")
    col.add_argument("--batch-size", type=int_range(1), default=1,
                     help="same-size images per forward pass (helps on GPUs)")
    col.add_argument("--skip-existing", action="store_true",
                     help="leave outputs that already exist (continue an interrupted or crashed run)")
    col.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    col.add_argument("--sequence", action="store_true",
                     help="the inputs, in name order, are the frames of one clip: one look per shot, no flicker")
    add_sequence_options(col, default_mode="per_shot")
    model_options(col)
    col.set_defaults(func=cmd_colorize)
    add_video_parser(sub, model_options)
    add_export_parser(sub)
    add_web_parser(sub)

    cls = sub.add_parser("classify", help="print the top scene classes of images", formatter_class=fmt)
    cls.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    cls.add_argument("--top", type=int_range(1), default=5, help="how many classes to print")
    model_options(cls)
    cls.set_defaults(func=cmd_classify)

    wts = sub.add_parser("weights", help="list, download or verify named checkpoints", formatter_class=fmt)
    wts.add_argument("action", choices=("list", "download", "verify"))
    wts.add_argument("name", nargs="?", default=None, help="manifest name (default: the default checkpoint)")
    wts.set_defaults(func=cmd_weights)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        _check_environment()
        return args.func(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ColorNetError, ValueError) as err:  # raised on purpose by the library: the message says what to do
        print(f"error: {err}", file=sys.stderr)
        return EXIT_SOME_FAILED
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
