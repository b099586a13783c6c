"""The CLI's clip commands: ``colornet colorize FRAMES_DIR -o OUT --sequence`` and ``colornet video IN -o OUT``.

Both run the frames of one clip through ``colornet.sequence`` (one prior per shot, cuts reset, ab smoothed along
motion), streamed: a first pass over the frames finds the shots and their priors, the second colorizes and writes
frame by frame. Progress bars for both passes; Ctrl-C stops between frames (frames already written stay complete;
a video is only renamed into place when finished).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from .defaults import DEFAULT_STRENGTH, DEFAULT_WORKING_SIZE
from .errors import ColorNetError
from .images import load_image
from .sequence import CUT_THRESHOLD, PRIOR_MODES, check_prior_mode
from .temporal import DEFAULT_SMOOTHING, check_smoothing

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_sequence_options(p: argparse.ArgumentParser, *, default_mode: str) -> None:
    p.add_argument("--prior-mode", choices=PRIOR_MODES, default=default_mode,
                   help=f"global prior: per_shot (one look per shot), whole_batch (one for the clip), per_image "
                        f"(each frame its own) (default: {default_mode})")
    p.add_argument("--temporal-smoothing", type=float, default=DEFAULT_SMOOTHING,
                   help=f"0..1: smooth colour over time along motion (0 off; default {DEFAULT_SMOOTHING})")
    p.add_argument("--cut-threshold", type=float, default=CUT_THRESHOLD,
                   help=f"L-histogram distance above which a frame starts a new shot (default {CUT_THRESHOLD})")


def _check_options(args: argparse.Namespace) -> str | None:
    try:
        check_prior_mode(args.prior_mode)
        check_smoothing(args.temporal_smoothing)
    except ValueError as err:
        return str(err)
    if not 0 < args.cut_threshold <= 1:
        return f"--cut-threshold must be in (0, 1], got {args.cut_threshold}"
    weights, refs = getattr(args, "reference_weight", None) or [], getattr(args, "reference", None) or []
    if weights and len(weights) != len(refs):
        return (f"{len(weights)} --reference-weight for {len(refs)} --reference: give one weight per reference "
                "(or none for equal weights)")
    if args.strength < 0:
        return f"--strength must be >= 0 (0 = greyscale, 1 = as predicted), got {args.strength}"
    return None


def _load(args: argparse.Namespace):
    """(colorizer, reference prior or None), or the one-line usage error (wrong head, vividness out of range)
    found before any frame is read, as ``colornet colorize`` does."""
    from .pipeline import Colorizer  # lazy: the CLI's --help must not wait for torch models

    colorizer = Colorizer.from_pretrained(args.weights, device=args.device, working_size=args.working_size or None)
    try:
        colorizer.model.temperature(args.vividness)
    except ValueError as err:
        return f"--vividness: {err}"
    prior = colorizer.prior_from_references(args.reference, args.reference_weight or None) if args.reference else None
    return colorizer, prior


class _FolderFrames:
    """Image files in order as RGB ``[1,3,H,W]``; re-iterable. Unreadable files are skipped (the same ones on
    every pass) and reported once; ``current`` is the (path, output name, alpha) of the frame just read."""

    def __init__(self, items: list[tuple[Path, Path]]) -> None:
        self.items = items
        self.failed: dict[Path, str] = {}
        self.current: tuple[Path, Path, object] | None = None

    def __iter__(self) -> Iterator[torch.Tensor]:
        for path, rel in self.items:
            if path in self.failed:
                continue
            try:
                image = load_image(path)
            except ColorNetError as err:
                self.failed[path] = str(err)
                continue
            self.current = (path, rel, image.alpha)
            yield torch.from_numpy(image.rgb).permute(2, 0, 1)[None]


def cmd_colorize_sequence(args: argparse.Namespace, inputs: list[tuple[Path, Path]]) -> int:
    """``colornet colorize ... --sequence``: the inputs (in name order) are the frames of one clip."""
    from tqdm import tqdm

    from .atomic import atomic_write
    from .images import to_pil
    from .sequence import colorize_frames, plan_shots

    problem = _check_options(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from .inputs import natural_order

    out_dir = Path(args.output)
    ordered = natural_order(inputs)  # frames of a clip are numbered: f2 comes before f10
    if [p for p, _ in ordered] != [p for p, _ in sorted(inputs, key=lambda job: str(job[0]))]:
        names = [p.name for p, _ in ordered]
        shown = ", ".join(names[:3]) + (f", ..., {names[-1]}" if len(names) > 3 else "")
        print(f"frames taken in natural name order (2 before 10): {shown}", file=sys.stderr)
    inputs = ordered
    problem = _unwritable(out_dir)
    if problem:
        print(f"error: -o {out_dir}: {problem}; choose another -o", file=sys.stderr)
        return EXIT_USAGE
    input_paths = {p for p, _ in inputs}
    for path, rel in inputs:
        target = (out_dir / rel).with_suffix("." + args.format)
        if target.resolve() in input_paths:
            print(f"error: output {target} would overwrite an input; choose another -o folder", file=sys.stderr)
            return EXIT_USAGE
    loaded = _load(args)
    if isinstance(loaded, str):
        print(f"error: {loaded}", file=sys.stderr)
        return EXIT_USAGE
    colorizer, prior = loaded
    frames = _FolderFrames(inputs)
    written = 0
    try:
        plan = None
        if prior is None and args.prior_mode != "per_image":
            with tqdm(total=len(inputs), desc="finding shots", unit="frame", disable=args.quiet) as bar:
                plan = plan_shots(colorizer, frames, prior_mode=args.prior_mode, cut_threshold=args.cut_threshold,
                                  progress=lambda done, total: bar.update(1))
        bar = tqdm(total=len(inputs) - len(frames.failed), desc="colorizing", unit="frame", disable=args.quiet)
        for rgb in colorize_frames(colorizer, frames, prior_mode=args.prior_mode, prior=prior, plan=plan,
                                   temporal_smoothing=args.temporal_smoothing, strength=args.strength,
                                   cut_threshold=args.cut_threshold, vividness=args.vividness):
            _, rel, alpha = frames.current  # type: ignore[misc]
            image = to_pil(rgb[0].permute(1, 2, 0).cpu().numpy(), alpha)  # type: ignore[arg-type]
            if args.format == "jpg":
                image = image.convert("RGB")
            target = (out_dir / rel).with_suffix("." + args.format)
            try:
                atomic_write(target, image.save, fsync=False)
            except OSError as err:  # a full disk, a folder made read-only mid-run: stop, keep what was written
                bar.close()
                print(f"error: cannot write {target} ({err.strerror or err}); {written} frame(s) written to "
                      f"{out_dir}; free space or fix the folder, then run again", file=sys.stderr)
                return EXIT_SOME_FAILED
            written += 1
            bar.update(1)
        bar.close()
    except KeyboardInterrupt:
        print(f"\ninterrupted: {written} frame(s) written to {out_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    shots = f" in {len(plan.starts)} shot(s)" if plan is not None else ""
    print(f"{written} frame(s){shots} written to {out_dir}")
    if frames.failed:
        print(f"{len(frames.failed)} input(s) failed (left out of the clip):", file=sys.stderr)
        for path, why in frames.failed.items():
            print(f"  {path}: {why}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def cmd_video(args: argparse.Namespace) -> int:
    """``colornet video IN -o OUT``: colorize a video file, keeping its size, timing and audio."""
    from tqdm import tqdm

    from .sequence import colorize_frames, plan_shots
    from .video import VideoFrames, colorize_video, require_av

    problem = _check_options(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    require_av()
    from .video import VideoReport, check_codec

    try:
        check_codec(args.codec)  # needs PyAV, so here and not in the parser; still before any work
    except ColorNetError as err:
        print(f"error: --codec: {err}", file=sys.stderr)
        return EXIT_USAGE
    source, target = Path(args.input), Path(args.output)
    if target.is_dir() or not target.suffix:
        target = target / (source.stem + "_color.mp4")
    if target.resolve() == source.resolve():
        print(f"error: {target}: the output would overwrite the input; choose another -o", file=sys.stderr)
        return EXIT_USAGE
    problem = _unwritable(target.parent)
    if problem:
        print(f"error: -o {args.output}: {problem}; choose another -o", file=sys.stderr)
        return EXIT_USAGE
    max_megapixels = args.max_megapixels or None
    frames = VideoFrames(source, max_megapixels)  # the stream's size against the budget, before decoding
    if line := frames.info.describe_stream():
        print(line, file=sys.stderr)
    total = len(frames) or None
    loaded = _load(args)
    if isinstance(loaded, str):
        print(f"error: {loaded}", file=sys.stderr)
        return EXIT_USAGE
    colorizer, prior = loaded
    try:
        plan = None
        if prior is None and args.prior_mode != "per_image":
            with tqdm(total=total, desc="finding shots", unit="frame", disable=args.quiet) as bar:
                plan = plan_shots(colorizer, frames, prior_mode=args.prior_mode, cut_threshold=args.cut_threshold,
                                  progress=lambda done, _: bar.update(1))
            total = plan.frames

        def colorize(stream):
            return colorize_frames(colorizer, stream, prior_mode=args.prior_mode, prior=prior, plan=plan,
                                   temporal_smoothing=args.temporal_smoothing, strength=args.strength,
                                   cut_threshold=args.cut_threshold, vividness=args.vividness)

        report = VideoReport()
        with tqdm(total=total, desc="colorizing", unit="frame", disable=args.quiet) as bar:
            count = colorize_video(source, target, colorize, codec=args.codec, crf=args.crf,
                                   progress=lambda done: bar.update(1), max_megapixels=max_megapixels,
                                   report=report)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {target} not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in report.warnings:
        if line != frames.info.describe_stream():  # already said before the work
            print(f"warning: {line}", file=sys.stderr)
    shots = f", {len(plan.starts)} shot(s)" if plan is not None else ""
    print(f"{count} frame(s){shots} written to {target}")
    return EXIT_OK if report.complete else EXIT_SOME_FAILED


def _unwritable(folder: Path) -> str | None:
    """Why a file cannot be written in ``folder`` (created if missing), or None: found before the model loads and
    the planning pass runs, not as a traceback at the end."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".colornet-write-test."):
            pass
    except OSError as err:
        return f"cannot write in {folder} ({err.strerror or err})"
    return None


def add_video_parser(sub, model_options) -> None:
    # the same argument rules as ``colornet colorize`` (the library's checks): refused before any frame is read
    from .cli import _finite_float, library_check, non_negative_float, positive_float
    from .images import DEFAULT_MAX_MEGAPIXELS
    from .inputs import check_output_argument
    from .pipeline import check_strength, check_working_size
    from .video import CRF_RANGE, check_crf

    vid = sub.add_parser("video", help="colorize a video file (needs PyAV: pip install \"colornet[video]\")")
    vid.add_argument("input", help="video file (anything FFmpeg reads)")
    vid.add_argument("-o", "--output", required=True, type=library_check(check_output_argument, str),
                     help="output video file (.mp4, .mkv, ...) or folder")
    add_sequence_options(vid, default_mode="per_shot")
    vid.add_argument("--reference", action="append", help="use this photo's global prior (repeat to mix several)")
    vid.add_argument("--reference-weight", action="append", type=positive_float,
                     help="weight (> 0) of each --reference, in order")
    vid.add_argument("--working-size", type=library_check(check_working_size, int), default=DEFAULT_WORKING_SIZE,
                     help="longer side the network sees; 0 = full size")
    vid.add_argument("--strength", type=library_check(check_strength), default=DEFAULT_STRENGTH,
                     help="chroma scale: 0 grey, 1 as predicted, >1 stronger")
    vid.add_argument("--vividness", type=_finite_float, default=None,
                     help="colour-distribution checkpoints: 0 = the safest, muted colours, 1 = the boldest; "
                          "default: the checkpoint's own")
    vid.add_argument("--codec", default="libx264", help="video encoder (default libx264; audio is always copied)")
    vid.add_argument("--crf", type=library_check(check_crf, int), default=18,
                     help=f"libx264 quality {CRF_RANGE[0]}..{CRF_RANGE[1]}: lower is better (default 18)")
    vid.add_argument("--max-megapixels", type=non_negative_float, default=DEFAULT_MAX_MEGAPIXELS,
                     help="refuse videos whose frames are larger than this, judged from the stream before decoding, "
                          "so memory stays bounded; 0 = no limit (default: %(default)g)")
    vid.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    model_options(vid)
    vid.set_defaults(func=cmd_video)
