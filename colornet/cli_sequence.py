"""The CLI's clip commands: ``colornet colorize FRAMES_DIR -o OUT --sequence`` and ``colornet video IN -o OUT``.

Both run the frames of one clip through ``colornet.sequence`` (one prior per shot, cuts reset, ab smoothed along
motion), streamed: a first pass over the frames finds the shots and their priors, the second colorizes and writes
frame by frame. Frames are written by ``colornet.outputs`` exactly as still photos are (names, format, bit depth,
atomic fsynced writes); a video is only renamed into place when finished. Progress bars for both passes; Ctrl-C,
SIGTERM and SIGHUP stop between frames. The options were parsed and checked by ``colornet.cli``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from .errors import ColorNetError, UsageError
from .exits import EXIT_OK, EXIT_SOME_FAILED, interrupted_status
from .images import RGBImage, load_image
from .outputs import OutputOptions, OutputPlan, write_image


def _reference_prior(args: argparse.Namespace, colorizer):
    return colorizer.prior_from_references(args.reference, args.reference_weight or None) if args.reference else None


class _FolderFrames:
    """Image files in order as RGB ``[1,3,H,W]``; re-iterable. Unreadable files are skipped (the same ones on
    every pass) and reported once; ``current`` is the (target, image) of the frame just read."""

    def __init__(self, items: list[tuple[Path, Path]], max_megapixels: float | str | None) -> None:
        self.items = items
        self.max_megapixels = max_megapixels
        self.failed: dict[Path, str] = {}
        self.current: tuple[Path, RGBImage] | None = None

    def __iter__(self) -> Iterator[torch.Tensor]:
        for path, target in self.items:
            if path in self.failed:
                continue
            try:
                image = load_image(path, max_megapixels=self.max_megapixels)
            except ColorNetError as err:
                self.failed[path] = str(err)
                continue
            self.current = (target, image)
            yield torch.from_numpy(image.rgb).permute(2, 0, 1)[None]


def cmd_colorize_sequence(args: argparse.Namespace, outputs: OutputPlan, options: OutputOptions) -> int:
    """``colornet colorize ... --sequence``: the inputs (in natural name order) are the frames of one clip."""
    from tqdm import tqdm

    from .archive.report import job_record
    from .cli import _check_references, _open_report, _prepare_output_folder, load_colorizer, with_provenance
    from .inputs import natural_order
    from .sequence import colorize_frames, plan_shots

    _check_references(args)
    if outputs.refused:  # a clip with a frame left out is not the clip: refuse before any work
        source, why = outputs.refused[0]
        raise UsageError(f"{source}: {why}")
    out_dir = Path(args.output)
    _prepare_output_folder(out_dir)
    colorizer = load_colorizer(args, max_megapixels=args.max_megapixels)
    options = with_provenance(args, colorizer, options)  # every frame gets the provenance record
    prior = _reference_prior(args, colorizer)
    targets = natural_order(outputs.targets)  # frames of a clip are numbered: f2 comes before f10
    if [p for p, _ in targets] != [p for p, _ in sorted(outputs.targets, key=lambda job: str(job[0]))]:
        names = [p.name for p, _ in targets]
        shown = ", ".join(names[:3]) + (f", ..., {names[-1]}" if len(names) > 3 else "")
        print(f"frames taken in natural name order (2 before 10): {shown}", file=sys.stderr)
    frames = _FolderFrames(targets, args.max_megapixels)
    total = len(outputs.targets)
    written = 0
    run_report = _open_report(args.report) if getattr(args, "report", None) else None
    sha = options.provenance.checkpoint_sha256 if options.provenance else None
    started = time.perf_counter()
    try:
        plan = None
        if prior is None and args.prior_mode != "per_image":
            with tqdm(total=total, desc="finding shots", unit="frame", disable=args.quiet) as bar:
                plan = plan_shots(colorizer, frames, prior_mode=args.prior_mode, cut_threshold=args.cut_threshold,
                                  progress=lambda done, _: bar.update(1))
        with tqdm(total=total - len(frames.failed), desc="colorizing", unit="frame", disable=args.quiet) as bar:
            for rgb in colorize_frames(colorizer, frames, prior_mode=args.prior_mode, prior=prior, plan=plan,
                                       temporal_smoothing=args.temporal_smoothing, strength=args.strength,
                                       cut_threshold=args.cut_threshold, vividness=args.vividness):
                target, image = frames.current  # type: ignore[misc]
                result = RGBImage(rgb[0].permute(1, 2, 0).cpu().numpy(), image.alpha, image.bit_depth, image.source,
                                  image.metadata)
                try:
                    size = write_image(result, target, options)
                except (OSError, ColorNetError) as err:  # a full disk, a folder made read-only mid-run: stop
                    bar.close()
                    print(f"error: {err}; {written} frame(s) written to {out_dir}; free space or fix the folder, "
                          "then run again", file=sys.stderr)
                    return EXIT_SOME_FAILED
                if run_report is not None:  # a frame's seconds: since the previous frame was written
                    now = time.perf_counter()
                    run_report.add(job_record(image.source, target, None, now - started, (result.size, size), sha))
                    started = now
                written += 1
                bar.update(1)
    except KeyboardInterrupt as stop:
        print(f"\ninterrupted: {written} frame(s) written to {out_dir}", file=sys.stderr)
        return interrupted_status(stop)
    finally:
        if run_report is not None:
            for path, why in frames.failed.items():
                run_report.add(job_record(path, path, why, None, None, sha))
            run_report.close()
    shots = f" in {len(plan.starts)} shot(s)" if plan is not None else ""
    print(f"{written} frame(s){shots} written to {out_dir}")
    for line in outputs.describe_shared(options):
        print(f"note: {line}")
    if frames.failed:
        print(f"{len(frames.failed)} input(s) failed (left out of the clip):", file=sys.stderr)
        for path, why in frames.failed.items():
            print(f"  {path}: {why}", file=sys.stderr)
        return EXIT_SOME_FAILED
    return EXIT_OK


def cmd_video(args: argparse.Namespace) -> int:
    """``colornet video IN -o OUT``: colorize a video file, keeping its size, timing and audio."""
    from tqdm import tqdm

    from .cli import _check_references, _prepare_output_folder, load_colorizer
    from .sequence import colorize_frames, plan_shots
    from .video import VideoFrames, VideoReport, check_codec, colorize_video, require_av, video_target

    _check_references(args)
    source = Path(args.input)
    try:
        target = video_target(source, Path(args.output))
    except ColorNetError as err:
        raise UsageError(str(err)) from None
    require_av()
    try:
        check_codec(args.codec)  # needs PyAV, so here and not in the parser; still before any work
    except ColorNetError as err:
        raise UsageError(f"--codec: {err}") from None
    _prepare_output_folder(target.parent)  # an unwritable -o is found now, not after the planning pass
    max_megapixels = getattr(args, "max_megapixels", "auto")
    frames = VideoFrames(source, max_megapixels)  # the stream's size against the budget, before decoding
    if line := frames.info.describe_stream():
        print(line, file=sys.stderr)
    total = len(frames) or None
    colorizer = load_colorizer(args)
    prior = _reference_prior(args, colorizer)
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
    except KeyboardInterrupt as stop:
        print(f"\ninterrupted: {target} not written", file=sys.stderr)
        return interrupted_status(stop)
    for line in report.warnings:
        if line != frames.info.describe_stream():  # already said before the work
            print(f"warning: {line}", file=sys.stderr)
    shots = f", {len(plan.starts)} shot(s)" if plan is not None else ""
    print(f"{count} frame(s){shots} written to {target}")
    return EXIT_OK if report.complete else EXIT_SOME_FAILED
