"""Colorize many files as a pipeline: decode ahead and encode behind while the network runs.

Three stages in three threads, joined by bounded queues (so memory stays at a few images whatever the archive
size): a reader decodes the next files (Pillow and zlib release the GIL), the calling thread runs the network
(torch uses its own worker threads), a writer quantises, encodes and atomically writes the previous results.
Consecutive images of the same size can share one forward pass (``batch_size``), which pays off on GPUs.

A file that cannot be decoded or colorized is reported as one failed job and the run goes on; a full disk stops the
run (nothing more could be written) and keeps what was written; Ctrl-C stops the threads and keeps finished files.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import ColorNetError, PipelineError
from .images import DEFAULT_MAX_MEGAPIXELS, RGBImage, load_image
from .outputs import DiskFullError
from .pipeline import Colorizer
from .prior import GlobalPrior

_DONE = object()


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


@dataclass(frozen=True)
class Outcome:
    """One finished job: ``error`` is None when its output was written."""

    job: Job
    error: str | None = None
    seconds: float | None = None  # the work spent on this input: decoding + its share of its batch's pass + writing


def _message(err: BaseException, job: Job) -> str:
    """The error text without a leading copy of the path (the caller prints the path once)."""
    text = str(err) or type(err).__name__
    for prefix in (f"{job.source}: ", f"{job.source.resolve()}: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class _Stage(threading.Thread):
    """A daemon thread that records the first unexpected exception instead of losing it."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._fn()
        except BaseException as err:  # re-raised in the calling thread
            self.error = err


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put unless the run is stopping (never blocks forever on a full queue nobody reads any more)."""
    return _put_while(q, item, lambda: not stop.is_set())


def _put_while(q: queue.Queue, item: object, alive: Callable[[], bool]) -> bool:
    """Put while the consumer is alive (its death must not hang the producer)."""
    while alive():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def run_jobs(
    jobs: Sequence[Job],
    colorizer: Colorizer | Callable[[], Colorizer],
    save: Callable[[RGBImage, Path], None],
    report: Callable[[Outcome], None],
    *,
    prior: GlobalPrior | Callable[[Colorizer], GlobalPrior | None] | None = None,
    settings: dict[str, Any] | None = None,
    batch_size: int = 1,
    prefetch: int = 2,
    max_megapixels: float | str | None = DEFAULT_MAX_MEGAPIXELS,
    lean: bool = True,
    workers: int = 1,
) -> DiskFullError | None:
    """Run every job through decode -> colorize -> save; ``report`` is called once per job, from the writer thread.

    ``colorizer`` may be a factory: it is then called *after* the reader has started, so loading the model overlaps
    decoding the first files. ``settings``: keyword arguments of ``Colorizer.colorize_batch`` (strength, vividness,
    hints, mask). ``lean``: 8-bit files stay uint8 from decoder to encoder (the colorizer converts in strips); False
    keeps float results (for 16-bit output of 8-bit inputs). ``workers`` > 1 runs that many forward passes at once (one thread each, sharing the
    model): on a CPU, two single-threaded passes side by side do ~25 % more work per second than one two-threaded
    pass (``colornet.cli`` picks this for CPU runs of several files). Returns the ``DiskFullError`` that stopped the
    run early, if any.
    """
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=max(1, prefetch) * max(1, batch_size) * max(1, workers))
    results: queue.Queue = queue.Queue(maxsize=2 * max(1, batch_size))
    disk_full: list[DiskFullError] = []
    spent: dict[Job, float] = {}  # per job, added to by each stage in turn (so never by two threads at once)

    def finished(outcome: Outcome) -> None:
        report(dataclasses.replace(outcome, seconds=spent.pop(outcome.job, None)))

    def read() -> None:
        for job in jobs:
            if stop.is_set():
                return
            start = time.perf_counter()
            try:
                item: object = (job, load_image(job.source, max_megapixels=max_megapixels, keep_uint8=lean))
            except (ColorNetError, ValueError, OSError, MemoryError) as err:
                item = Outcome(job, _message(err, job))
            spent[job] = time.perf_counter() - start
            if not _put(decoded, item, stop):
                return
        _put(decoded, _DONE, stop)

    def write() -> None:
        while True:
            item = results.get()
            if item is _DONE:
                return
            if isinstance(item, Outcome):
                finished(item)
                continue
            job, result = item
            if disk_full:  # the disk is full: do not even try
                continue
            start = time.perf_counter()
            try:
                save(result, job.target)
                spent[job] = spent.get(job, 0.0) + time.perf_counter() - start
            except DiskFullError as err:
                disk_full.append(err)
                stop.set()
                finished(Outcome(job, _message(err, job)))
                continue
            except (ColorNetError, ValueError, OSError, MemoryError) as err:
                finished(Outcome(job, _message(err, job)))
                continue
            finished(Outcome(job))

    reader = _Stage(read, "colornet-reader")
    writer = _Stage(write, "colornet-writer")
    reader.start()
    writer.start()
    extra: list[_Stage] = []
    try:
        model = colorizer() if callable(colorizer) and not isinstance(colorizer, Colorizer) else colorizer
        the_prior = prior(model) if callable(prior) else prior
        options = dict(settings or {})
        warm_up(model)  # also folds batch norm once, before several threads use the folded copy

        def colorize_loop() -> None:
            try:
                for batch in _batches(decoded, batch_size, stop, reader.is_alive):
                    start = time.perf_counter()
                    items = [batch] if isinstance(batch, Outcome) else _colorize_batch(model, batch, the_prior, options)
                    if not isinstance(batch, Outcome):  # each image's share of the forward pass
                        share = (time.perf_counter() - start) / len(batch)
                        for job, _ in batch:
                            spent[job] = spent.get(job, 0.0) + share
                    for item in items:  # a finished result is always handed on (and written), even when stopping
                        if not _put_while(results, item, writer.is_alive):
                            return
            except BaseException:
                stop.set()  # one worker failing (or interrupted) stops them all
                raise

        extra = [_Stage(colorize_loop, f"colornet-worker-{i}") for i in range(1, max(1, workers))]
        for stage in extra:
            stage.start()
        colorize_loop()
        for stage in extra:
            stage.join()
    except BaseException:
        stop.set()
        raise
    finally:
        for stage in extra:
            stage.join(timeout=30)
        _finish(results, writer)  # the writer saves what is already colorized, then ends
        stop.set()
        reader.join(timeout=5)
    for stage in (reader, writer, *extra):
        if stage.error is not None:
            if isinstance(stage.error, (ColorNetError, KeyboardInterrupt)):
                raise stage.error
            raise PipelineError(f"the {stage.name} thread failed ({type(stage.error).__name__}: {stage.error}); "
                                "the run stopped - please report this with the command line") from stage.error
    return disk_full[0] if disk_full else None


def _finish(results: queue.Queue, writer: _Stage) -> None:
    """Let the writer drain what is queued, then end it."""
    while writer.is_alive():
        try:
            results.put(_DONE, timeout=0.1)
        except queue.Full:
            continue
        writer.join()


def _batches(decoded: queue.Queue, batch_size: int, stop: threading.Event,
             reader_alive: Callable[[], bool] = lambda: True) -> Iterator[object]:
    """Failures one by one, images in runs of up to ``batch_size`` of the same size (consecutive, in order).
    Ends when the reader has died without its end marker (an error ``run_jobs`` raises), instead of waiting forever."""
    pending: list[tuple[Job, RGBImage]] = []
    while not stop.is_set():
        try:
            item = decoded.get(timeout=0.1)
        except queue.Empty:
            if not reader_alive() and decoded.empty():
                break
            continue
        if item is _DONE:
            decoded.put(_DONE)  # for the other workers (a slot is free: this one was just taken)
            break
        if isinstance(item, Outcome):
            yield item
            continue
        if pending and (item[1].rgb.shape, item[1].rgb.dtype) != (pending[0][1].rgb.shape, pending[0][1].rgb.dtype):
            yield pending
            pending = []
        pending.append(item)
        if len(pending) >= batch_size:
            yield pending
            pending = []
    if pending and not stop.is_set():
        yield pending


def _colorize_batch(
    colorizer: Colorizer, batch: list[tuple[Job, RGBImage]], prior: GlobalPrior | None, settings: dict[str, Any]
) -> list[object]:
    """(job, result) per image, or a failed ``Outcome`` for an image ``Colorizer.colorize_batch`` could not do."""
    try:
        results = colorizer.colorize_batch([image for _, image in batch], prior, **settings)
    except (ColorNetError, ValueError) as err:  # a setting this input cannot take: each image fails, the run goes on
        return [Outcome(job, _message(err, job)) for job, _ in batch]
    return [Outcome(job, _message(result, job)) if isinstance(result, Exception) else (job, result)
            for (job, _), result in zip(batch, results, strict=True)]


def warm_up(colorizer: Colorizer) -> None:
    """Fold batch norm and run one tiny pass now, while the reader is still decoding the first file.

    The first forward pass pays for BN folding and for torch/oneDNN setting up its kernels and allocator; doing it
    on a 64x64 image during the first decode hides most of it (see benchmarks/bench_cli.py, cold vs warm rows).
    """
    colorizer.colorize_rgb(torch.full((1, 3, 64, 64), 0.5))
