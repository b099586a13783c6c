"""``colornet`` command line: colorize photos, clips and videos, classify scenes, manage weights.

Design rules: inputs are never overwritten; every output goes through ``colornet.outputs`` (one naming rule, atomic
fsynced writes, ``--skip-existing`` trusts only complete files); one unreadable photo is reported (once, path first)
and skipped without losing the others; a full disk stops the run and keeps what was written; Ctrl-C, SIGTERM and
SIGHUP stop cleanly; the exit status (``colornet.exits``) tells scripts whether everything worked (0), some inputs
failed (1), usage was wrong (2) or the run was stopped by a signal (128 + N). Every argument is checked once, while
parsing, by the library's own rule (``colornet.checks``, ``colornet.outputs``): a mistake is one line on stderr and
status 2, before any model loads.

``colorize`` is a pipeline (``colornet.batchrun``): the next files are decoded and the previous results encoded while
the network runs. Under ``torchrun`` each process takes its share of the sorted inputs (``colornet.distributed``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
from .errors import ColorNetError, UsageError
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, interrupted_status, stop_on_signals
from .gimp.install import add_gimp_parser
from .onnx.cli import add_export_parser
from .web.cli import add_web_parser

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "UsageError", "build_parser", "main"]

DEFAULT_PRIOR_MODE = "per_shot"


# --------------------------------------------------------------------------------------------- argument types


def library_check(check: Callable, convert: Callable = float, *, keep_text: bool = False) -> Callable[[str], object]:
    """An argparse type that validates with the library's own rule (``colornet.checks``, ``colornet.outputs``), so
    the CLI and the API accept and refuse the same values with the same message. ``keep_text``: the argument stays
    the text given (the check only vets it, e.g. a device name)."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if convert is int else ''}number") from None
        try:
            checked = check(value)
        except ValueError as err:  # InputError and its kind
            raise argparse.ArgumentTypeError(str(err)) from None
        return text if keep_text else checked

    parse.__name__ = getattr(check, "__name__", "value").removeprefix("check_")
    return parse


def _device(text: str) -> str:
    """``auto`` (no torch import, so --help and usage errors stay instant), or a device this machine has."""
    if text == "auto":
        return text
    from .checks import select_device

    try:
        select_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _text(text: str) -> str:
    return text


def _megapixels(text: str) -> float | str:
    return text if text == "auto" else float(text)


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
    from .atomic import TEMP_SUFFIX

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".colornet-write-test.", suffix=TEMP_SUFFIX):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise UsageError(f"-o {out_dir}: cannot write to this folder ({reason}); choose another -o") from None


def _torch_threads(value: int | None = None) -> int:
    import torch

    if value is not None:
        torch.set_num_threads(value)
    return torch.get_num_threads()


def _cpu_workers(device: str, jobs: int) -> int:
    """Forward passes to run side by side: on a CPU with several files, two with half the threads each (two
    single-threaded passes finish more images per second than one two-threaded one; benchmarks/bench_cli.py).
    Under torchrun (OMP_NUM_THREADS=1 per process) there is one thread per process already, and the passes stay
    sequential."""
    import torch

    from .checks import select_device

    threads = torch.get_num_threads()
    if jobs < 2 or threads < 2 or select_device(device).type != "cpu":
        return 1
    torch.set_num_threads(threads // 2)
    return 2


def load_colorizer(args: argparse.Namespace, device: str | None = None, max_megapixels: float | str | None = "auto"):
    """The Colorizer for ``--weights``, with ``--vividness`` checked against its head: a usage error before any
    work or progress bar, naming the checkpoint."""
    from .errors import VividnessError
    from .pipeline import Colorizer

    colorizer = Colorizer.from_pretrained(args.weights, device=device or args.device, working_size=args.working_size,
                                          max_megapixels=max_megapixels)
    try:
        colorizer.model.resolve_vividness(args.vividness)
    except VividnessError:
        name = args.weights or "the default checkpoint"
        raise UsageError(f"--vividness: {name} has the paper's regression head, which has no vividness; leave "
                         "--vividness out (use --strength for more or less colour) or pick a colour-distribution "
                         "checkpoint such as the default") from None
    return colorizer


def _check_sequence_only_options(args: argparse.Namespace) -> None:
    """--prior-mode and its friends only mean something for the frames of a clip: refuse them without --sequence."""
    given = [flag for flag, value in (("--prior-mode", args.prior_mode), ("--temporal-smoothing",
                                      args.temporal_smoothing), ("--cut-threshold", args.cut_threshold))
             if value is not None]
    if given and not args.sequence:
        one = len(given) == 1
        raise UsageError(f"{', '.join(given)} only appl{'ies' if one else 'y'} to the frames of one clip: add "
                         f"--sequence, or leave {'it' if one else 'them'} out")
    from .sequence import CUT_THRESHOLD
    from .temporal import DEFAULT_SMOOTHING

    args.prior_mode = args.prior_mode or DEFAULT_PRIOR_MODE
    args.temporal_smoothing = DEFAULT_SMOOTHING if args.temporal_smoothing is None else args.temporal_smoothing
    args.cut_threshold = CUT_THRESHOLD if args.cut_threshold is None else args.cut_threshold


def _check_references(args: argparse.Namespace) -> None:
    if args.reference_weight and len(args.reference_weight) != len(args.reference or []):
        raise UsageError(
            f"{len(args.reference_weight)} --reference-weight for {len(args.reference or [])} --reference: "
            "give one weight per reference (or none for equal weights)"
        )


def output_options(args: argparse.Namespace):
    from .outputs import OutputOptions

    return OutputOptions(args.format, args.png_compression, args.jpeg_quality, args.bit_depth,
                         metadata=getattr(args, "metadata", "keep"),
                         output_profile=getattr(args, "output_profile", "srgb"))


def with_provenance(args: argparse.Namespace, colorizer, options):
    """``options`` with this run's provenance (checkpoint, settings, the sha256 of every file that steered the
    colours): the XMP record every output gets (``colornet.archive``)."""
    import dataclasses

    from .archive.carry import run_provenance

    provenance = run_provenance(
        colorizer, strength=args.strength, vividness=args.vividness,
        references=tuple(getattr(args, "reference", None) or ()),
        reference_weights=tuple(getattr(args, "reference_weight", None) or ()),
        hints=getattr(args, "hints", None), mask=getattr(args, "mask", None),
    )
    return dataclasses.replace(options, provenance=provenance)


def _open_report(path: str):
    """The run report (``--report``), opened for appending; a path that cannot be written is a usage error."""
    import datetime

    from .archive.report import RunReport

    run = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    try:
        return RunReport(path, run=run)
    except OSError as err:
        raise UsageError(f"--report {path}: cannot write it ({err.strerror or err}); choose another path") from None


def cmd_colorize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .batchrun import Job, Outcome, run_jobs
    from .distributed import device_for_share, share_from_env
    from .inputs import plan_inputs
    from .archive.report import ReportRecord, completed_outputs, job_record
    from .outputs import is_complete, plan_outputs, write_image

    _check_sequence_only_options(args)
    _check_references(args)
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
    options = output_options(args)
    outputs = plan_outputs(plan.jobs, out_dir, options)
    if args.sequence:
        if args.hints or args.mask:
            raise UsageError("--hints/--mask work photo by photo; leave them out with --sequence")
        if share.world_size > 1:
            raise UsageError("--sequence colorizes one clip in one process; run it without torchrun")
        from .cli_sequence import cmd_colorize_sequence

        return cmd_colorize_sequence(args, outputs, options)
    for source, why in outputs.refused:
        print(f"skipped {source}: {why}", file=sys.stderr)
    _prepare_output_folder(out_dir)
    failed = len(plan.problems) + len(outputs.refused)
    skipped = redone = 0
    run_report = _open_report(args.report) if args.report else None
    trusted = completed_outputs(args.report) if args.report and args.skip_existing else set()  # read before adding
    jobs: list[Job] = []
    for source, target in share.take(outputs.targets):
        if args.skip_existing and target.exists():
            if target.resolve() in trusted or is_complete(target):  # the report says written, or it is whole
                skipped += 1
                if run_report is not None:
                    run_report.add(ReportRecord(str(source), str(target), "skipped",
                                                output_bytes=target.stat().st_size))
                continue
            redone += 1
            print(f"redoing {source}: its output {target} is incomplete (empty or truncated)", file=sys.stderr)
        jobs.append(Job(source, target))

    tag = f"[{share.rank}/{share.world_size}] " if share.world_size > 1 else ""
    device = device_for_share(args.device, share)
    max_megapixels = args.max_megapixels
    colorizer = load_colorizer(args, device, max_megapixels) if jobs else None
    if colorizer is not None:
        options = with_provenance(args, colorizer, options)
    sha = options.provenance.checkpoint_sha256 if options.provenance else None
    written_sizes: dict[Path, tuple[tuple[int, int], int]] = {}  # until its outcome is reported (writer thread)

    def save(result, target: Path) -> None:
        written_sizes[target] = (result.size, write_image(result, target, options))

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
        if run_report is not None:
            job = outcome.job
            run_report.add(job_record(job.source, job.target, outcome.error, outcome.seconds,
                                      written_sizes.pop(job.target, None), sha))
        bar.update(1)

    threads = _torch_threads()
    workers = _cpu_workers(device, len(jobs))  # may lower torch's thread count until the run ends

    def prior(colorizer):
        if not args.reference:
            return None
        return colorizer.prior_from_references(args.reference, args.reference_weight or None)

    try:
        disk_full = run_jobs(
            jobs, colorizer, save, report, prior=prior,
            batch_size=args.batch_size, workers=workers, max_megapixels=max_megapixels, lean=options.keeps_uint8,
            settings={"strength": args.strength, "vividness": args.vividness, "hints": hints, "mask": mask},
        ) if jobs else None
    except KeyboardInterrupt as stop:
        bar.close()
        print(f"\n{tag}interrupted: {written} image(s) written to {out_dir}; re-run with --skip-existing to continue",
              file=sys.stderr)
        return interrupted_status(stop)
    finally:
        bar.close()
        _torch_threads(threads)  # as it was (``main`` may be called in-process, e.g. by tests)
        if run_report is not None:
            run_report.close()
    summary = f"{tag}{written} image(s) written to {out_dir}"
    if skipped:
        summary += f", {skipped} already there (--skip-existing)"
    print(summary)
    for line in outputs.describe_shared(options):
        print(f"{tag}note: {line}")
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

    limit = args.max_megapixels or None  # the photos' budget applies to them too
    try:
        hints = hint_layer_from_image(args.hints, max_megapixels=limit) if args.hints else None
    except ColorNetError as err:
        raise UsageError(f"--hints: {err}") from None
    try:
        mask = mask_from_image(args.mask, max_megapixels=limit) if args.mask else None
    except ColorNetError as err:
        raise UsageError(f"--mask: {err}") from None
    return hints, mask


# ------------------------------------------------------------------------------------------- other commands


def cmd_classify(args: argparse.Namespace) -> int:
    import torch

    from .images import to_rgb_image
    from .inputs import plan_inputs
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


def cmd_weights_list(args: argparse.Namespace) -> int:
    from . import weights

    for entry in weights.list_weights():
        print(entry)
    return EXIT_OK


def cmd_weights_download(args: argparse.Namespace) -> int:
    from . import weights
    from .manifest import load_manifest

    entry = load_manifest().get(args.name)
    if not entry.published and entry.bundled_path is not None and entry.bundled_path.is_file():
        # scripts pre-fetch weights: a checkpoint that ships with the package is already there
        print(f"{entry.name} is bundled with colornet, nothing to download: {entry.bundled_path}")
        return EXIT_OK
    print(weights.download_weights(entry.name))
    return EXIT_OK


def cmd_weights_verify(args: argparse.Namespace) -> int:
    from . import weights

    report = weights.verify_weights(args.name)
    print(report)
    return EXIT_OK if report else EXIT_SOME_FAILED


# --------------------------------------------------------------------------------------------------- parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" after each option's help, except where there is no value to show (None, flags) or the
    help says it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or action.default is argparse.SUPPRESS:
            return text
        if "default:" in text or "%(default)" in text:
            return text
        return super()._get_help_string(action) or ""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (not the whole usage block) and ``main`` returns status 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _default_vividness() -> str:
    """The default checkpoint's own vividness, read from its bundled file's header (no torch), for --help."""
    try:
        from .manifest import load_manifest

        manifest = load_manifest()
        entry = manifest.get(None)
        with open(entry.bundled_path, "rb") as fh:  # type: ignore[arg-type]
            size = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(min(size, 1 << 20)))
        from .checks import vividness_when_unset

        architecture = json.loads(header["__metadata__"]["colornet_config"])["architecture"]
        default = vividness_when_unset(architecture.get("head", ""), architecture.get("vividness", 0.0),
                                       architecture.get("default_vividness"))
        return f"{default:g} for the default checkpoint {entry.name}"
    except (OSError, ValueError, KeyError, TypeError, ColorNetError):
        return "see `colornet weights list`"


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default=None,
                   help="manifest name or path to a .safetensors file (default: the bundled default checkpoint)")
    p.add_argument("--device", type=_device, default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1, mps")


def _add_look_options(p: argparse.ArgumentParser) -> None:
    """How the colours look: the same options, types and checks for photos, clips and videos."""
    from .checks import check_reference_weight, check_strength, check_vividness, check_working_size

    p.add_argument("--reference", action="append", help="use this photo's global prior (repeat to mix several)")
    p.add_argument("--reference-weight", action="append", type=library_check(check_reference_weight),
                   help="weight (> 0) of each --reference, in order; default: equal")
    p.add_argument("--working-size", type=library_check(check_working_size, int),
                   default=DEFAULT_WORKING_SIZE, help="longer side the network sees; 0 = full size")
    p.add_argument("--strength", type=library_check(check_strength), default=DEFAULT_STRENGTH,
                   help="chroma scale: 0 grey, 1 as predicted, >1 stronger")
    p.add_argument("--vividness", type=library_check(check_vividness), default=None,
                   help="colour-distribution checkpoints: how bold each pixel's colour is within what the network "
                        "finds plausible there, 0 = muted .. 1 = boldest, hues unchanged "
                        f"(default: the checkpoint's own: {_default_vividness()})")


def _add_sequence_options(p: argparse.ArgumentParser, *, defaults: bool) -> None:
    """``defaults=False`` (colorize): left None when not given, so using them without --sequence can be refused."""
    from .checks import PRIOR_MODES, check_cut_threshold, check_prior_mode, check_smoothing
    from .sequence import CUT_THRESHOLD
    from .temporal import DEFAULT_SMOOTHING

    p.add_argument("--prior-mode", type=library_check(check_prior_mode, _text), metavar="{" + ",".join(PRIOR_MODES) + "}",
                   default=DEFAULT_PRIOR_MODE if defaults else None,
                   help="global prior: per_shot (one look per shot), whole_batch (one for the clip), per_image "
                        f"(each frame its own) (default: {DEFAULT_PRIOR_MODE})")
    p.add_argument("--temporal-smoothing", type=library_check(check_smoothing),
                   default=DEFAULT_SMOOTHING if defaults else None,
                   help=f"0..1: smooth colour over time along motion, 0 = off (default: {DEFAULT_SMOOTHING})")
    p.add_argument("--cut-threshold", type=library_check(check_cut_threshold),
                   default=CUT_THRESHOLD if defaults else None,
                   help=f"L-histogram distance above which a frame starts a new shot (default: {CUT_THRESHOLD})")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .checks import check_crf, check_max_megapixels
    from .images import DEFAULT_MAX_MEGAPIXELS
    from .inputs import check_output_argument
    from .outputs import (
        BIT_DEPTHS,
        METADATA_MODES,
        OUTPUT_PROFILES,
        DEFAULT_JPEG_QUALITY,
        DEFAULT_PNG_COMPRESSION,
        OUTPUT_FORMATS,
        check_jpeg_quality,
        check_png_compression,
    )
    from .video import DEFAULT_CODEC, DEFAULT_CRF

    fmt = _HelpFormatter
    parser = _Parser(
        prog="colornet", description="Automatic photo colorization (Iizuka et al. 2016).", formatter_class=fmt
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    col = sub.add_parser(
        "colorize", help="colorize images, folders or globs", formatter_class=fmt,
        description="Colorize images. Each result keeps its input's name with the output suffix (photo.v2.jpg -> "
                    "photo.v2.png); images of one stem in one folder (x.jpg, x.png) keep their suffix too "
                    "(x.jpg.png, x.png.png). Under torchrun each process takes its share of the sorted inputs.",
    )
    col.add_argument("inputs", nargs="+", help="image files, folders (searched recursively) or glob patterns")
    col.add_argument("-o", "--output", required=True, type=library_check(check_output_argument, _text),
                     help="output folder (created; inputs are never overwritten)")
    _add_look_options(col)
    col.add_argument("--hints", default=None, metavar="H.png",
                     help="RGBA picture of colour hints (any size, same aspect): opaque pixels ask for their colour")
    col.add_argument("--mask", default=None, metavar="M.png",
                     help="black-and-white picture: white = colorize, black = keep the input pixel unchanged")
    col.add_argument("--format", choices=OUTPUT_FORMATS, default="png",
                     help="output format: png and tiff (deflate) keep alpha and 16 bits; jpg is 8-bit")
    col.add_argument("--metadata", choices=METADATA_MODES, default="keep",
                     help="keep: carry the input's EXIF (orientation reset), IPTC and XMP; strip: leave them out. "
                          "Either way each output gets an XMP provenance record and its colour profile")
    col.add_argument("--output-profile", choices=OUTPUT_PROFILES, default="srgb",
                     help="srgb: write sRGB with its ICC profile; input: convert back into the input's RGB profile "
                          "(e.g. Adobe RGB) and embed it")
    col.add_argument("--report", default=None, metavar="RUN.jsonl",
                     help="append one line per input (input, output, status or error, seconds, sizes, checkpoint "
                          "sha256) as it goes; .csv writes CSV. With --skip-existing, outputs it marks written are "
                          "trusted without decoding")
    col.add_argument("--png-compression", type=library_check(check_png_compression, int),
                     default=DEFAULT_PNG_COMPRESSION,
                     help="zlib level 0-9: 1 is faster, 9 smallest (at 4K, level 1 vs 6: 0.8 s vs 2.0 s a photo, "
                          "files 39%% larger; benchmarks/README.md)")
    col.add_argument("--jpeg-quality", type=library_check(check_jpeg_quality, int), default=DEFAULT_JPEG_QUALITY,
                     help="JPEG quality 1-100 (with --format jpg)")
    col.add_argument("--bit-depth", choices=BIT_DEPTHS, default="auto",
                     help="PNG/TIFF bits per channel: auto = 16 for inputs with more than 8 bits, else 8")
    col.add_argument("--max-megapixels", type=library_check(check_max_megapixels, _megapixels),
                     default=DEFAULT_MAX_MEGAPIXELS, metavar="auto|MP",
                     help="memory budget, judged from each file's header before decoding (a file over it fails, the "
                          "others go on): auto = what the memory available now allows (~14 bytes a pixel for 8-bit "
                          "photos, ~30 for 16-bit), a number = that many megapixels, 0 = no limit")
    col.add_argument("--batch-size", type=library_check(_positive_int, int), default=1,
                     help="same-size images per forward pass (helps on GPUs)")
    col.add_argument("--skip-existing", action="store_true",
                     help="leave outputs that already exist and are complete (continue an interrupted run)")
    col.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    col.add_argument("--sequence", action="store_true",
                     help="the inputs, in natural name order (f2 before f10), are the frames of one clip: one look "
                          "per shot, no flicker")
    _add_sequence_options(col, defaults=False)
    _add_model_options(col)
    col.set_defaults(func=cmd_colorize)

    from .cli_sequence import cmd_video

    vid = sub.add_parser("video", help="colorize a video file (needs PyAV: pip install \"colornet[video]\")",
                         formatter_class=fmt)
    vid.add_argument("input", help="video file (anything FFmpeg reads)")
    vid.add_argument("-o", "--output", required=True, type=library_check(check_output_argument, _text),
                     help="output video file (.mp4, .mkv, .mov, .webm, .avi) or folder (then IN_color.mp4 in it)")
    _add_look_options(vid)
    _add_sequence_options(vid, defaults=True)
    vid.add_argument("--codec", default=DEFAULT_CODEC, help="video encoder (audio is always copied)")
    vid.add_argument("--crf", type=library_check(check_crf, int), default=DEFAULT_CRF,
                     help="libx264 quality 0-51: lower is better")
    vid.add_argument("--max-megapixels", type=library_check(check_max_megapixels, _megapixels),
                     default=DEFAULT_MAX_MEGAPIXELS, metavar="auto|MP",
                     help="memory budget, judged from the video stream's frame size before decoding: auto = what the "
                          "memory available now allows, a number = that many megapixels a frame, 0 = no limit")
    vid.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_model_options(vid)
    vid.set_defaults(func=cmd_video)
    add_export_parser(sub)
    add_web_parser(sub)

    cls = sub.add_parser("classify", help="print the top scene classes of images", formatter_class=fmt)
    cls.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    cls.add_argument("--top", type=library_check(_positive_int, int), default=5, help="how many classes to print")
    _add_model_options(cls)
    cls.set_defaults(func=cmd_classify)

    wts = sub.add_parser("weights", help="list, download or verify named checkpoints", formatter_class=fmt,
                         description="Named checkpoints of the manifest: list them, download one, verify local copies.")
    actions = wts.add_subparsers(dest="action", required=True, parser_class=_Parser)
    name_help = "manifest name (default: the default checkpoint)"
    act = actions.add_parser("list", help="every named checkpoint and where copies of it are on this machine",
                             description="Every named checkpoint (* = the default), its size, where copies are on "
                                         "this machine (local, cached, bundled) and its Hub repo once published.")
    act.set_defaults(func=cmd_weights_list)
    act = actions.add_parser("download", help="fetch a published checkpoint into the Hub cache and verify it",
                             description="Fetch a published checkpoint into the Hub cache and check its sha256. A "
                                         "bundled checkpoint needs no download: it says so and exits 0.")
    act.add_argument("name", nargs="?", default=None, help=name_help)
    act.set_defaults(func=cmd_weights_download)
    act = actions.add_parser("verify", help="hash every local copy of a checkpoint against the manifest",
                             description="Hash every local copy (models folders, Hub cache, bundled) against the "
                                         "manifest's sha256; exit 1 if there is none or one differs.")
    act.add_argument("name", nargs="?", default=None, help=name_help)
    act.set_defaults(func=cmd_weights_verify)
    add_gimp_parser(sub, fmt)
    return parser


def _positive_int(value: int) -> int:
    from .errors import InputError

    if value < 1:
        raise InputError(f"{value} is out of range; use 1 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["--version"], ["-V"]):  # at once: no torch, no parser
        from . import __version__

        print(f"colornet {__version__}")
        return EXIT_OK
    with stop_on_signals():
        try:
            args = build_parser().parse_args(argv)
            _check_environment()
            return args.func(args)
        except UsageError as err:
            print(f"error: {err}", file=sys.stderr)
            return EXIT_USAGE
        except (ColorNetError, ValueError) as err:  # raised on purpose by the library: the message says what to do
            print(f"error: {err}", file=sys.stderr)
            return EXIT_SOME_FAILED
        except KeyboardInterrupt as stop:
            print("\ninterrupted", file=sys.stderr)
            return interrupted_status(stop)


if __name__ == "__main__":
    sys.exit(main())
