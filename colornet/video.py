"""Video files in and out with PyAV (FFmpeg in its wheels), an optional extra: ``pip install "colornet[video]"``.

``colorize_video`` decodes a file, hands its frames (streamed) to a sequence colorizer, and encodes the result with
the input's frame size, frame timestamps (so the frame rate, constant or variable, is kept) and every audio stream
copied packet for packet (no re-encoding). The output is written to a hidden temporary file beside the target and
renamed over it only when complete (``colornet.atomic``), so Ctrl-C or an error never leaves a broken or half-written video behind.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import atomic_write
from .checks import check_crf
from .errors import VideoError
from .images import DEFAULT_MAX_MEGAPIXELS, check_size

DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18  # visually lossless for x264; colour is what we changed, so keep it clean


def require_av():
    """The ``av`` module, or a one-line error that says how to install it."""
    try:
        import av
    except ImportError as err:
        raise VideoError(
            'video files need PyAV: pip install "colornet[video]" (or: pip install av), then run again'
        ) from err
    return av


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction | None
    frames: int  # 0 when the container does not say
    audio_streams: int
    stream_index: int = 0  # the video stream used (``pick_stream``)
    video_streams: int = 1  # how many the file has
    rotation: int = 0  # degrees counter-clockwise of the display matrix (phones film sideways): kept on output
    duration: float | None = None  # seconds, when the container says

    def describe_stream(self) -> str | None:
        """A line naming the stream used when the file has several (None: only one)."""
        if self.video_streams < 2:
            return None
        return (f"using video stream #{self.stream_index} ({self.width}x{self.height}, the largest) of "
                f"{self.video_streams}; the others are left out")


def _open_input(path: str | os.PathLike):
    av = require_av()
    where = Path(path)
    if where.is_dir():
        raise VideoError(f"{path}: is a folder; give a video file (colorize a folder of frames with "
                         "colornet colorize FOLDER --sequence)")
    if not where.is_file():
        if os.path.lexists(where):
            raise VideoError(f"{path}: not a regular file (a FIFO, device or broken link?); give a video file")
        raise VideoError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise VideoError(f"{path}: not a video FFmpeg can read ({err})") from err
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream")
    return container


def pick_stream(container):
    """The main video stream: the one with the most pixels that is not a cover picture (ties: the first)."""
    streams = list(container.streams.video)
    attached = getattr(getattr(__import__("av").stream, "Disposition", None), "attached_pic", None)
    moving = [s for s in streams if attached is None or not (s.disposition & attached)] or streams
    return max(moving, key=lambda s: (s.codec_context.width * s.codec_context.height, -s.index))


def probe(path: str | os.PathLike, max_megapixels: float | None = None) -> VideoInfo:
    """The video's main stream, size, rate, rotation and length, read from the headers (and the first frame only
    when the headers do not give the size). ``max_megapixels``: a larger frame size is refused before decoding."""
    with _open_input(path) as container:
        stream = pick_stream(container)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width and height:
            check_size(width, height, max_megapixels, str(path), lean=False)  # before a single frame is decoded
        rotation = 0
        try:
            first = next(container.decode(stream), None)
        except require_av().FFmpegError as err:
            raise VideoError(f"{path}: its first frame cannot be decoded ({err})") from err
        if first is not None:
            if not (width and height):
                width, height = first.width, first.height
                check_size(width, height, max_megapixels, str(path), lean=False)
            rotation = int(round(getattr(first, "rotation", 0) or 0))  # PyAV < 14 cannot read it: 0, as before
        if stream.duration and stream.time_base:  # the video's own length: audio may run longer than the picture
            duration = float(stream.duration * stream.time_base)
        elif container.duration and not container.streams.audio:
            duration = float(container.duration) / 1_000_000
        else:
            duration = None
        return VideoInfo(width, height, stream.average_rate, int(stream.frames or 0), len(container.streams.audio),
                         stream.index, len(container.streams.video), rotation, duration)


def _to_tensor(frame, width: int, height: int, max_megapixels: float | None, source: str) -> torch.Tensor:
    """A decoded frame as RGB ``[1,3,H,W]`` in [0, 1] at the stream's first size (a stream may change size
    mid-way: scaled back, so the encoder and the smoothing see one size), judged by the budget before conversion."""
    check_size(frame.width, frame.height, max_megapixels, source, lean=False)
    if (frame.width, frame.height) != (width, height):
        frame = frame.reformat(width=width, height=height)
    return torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)[None].float().div_(255.0)


class VideoFrames:
    """The video's frames as RGB ``[1,3,H,W]`` tensors in [0, 1]; every ``iter()`` decodes from the start, so a
    sequence colorizer can make its planning pass and then its colorizing pass. ``max_megapixels`` (the photos'
    budget; None = no limit) is checked against the stream's size before any frame is decoded."""

    def __init__(self, path: str | os.PathLike, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> None:
        self.path = path
        self.max_megapixels = max_megapixels
        self.info = probe(path, max_megapixels)
        self.failure: str | None = None  # why the last pass stopped decoding early, if it did

    def __len__(self) -> int:
        return self.info.frames

    def __iter__(self) -> Iterator[torch.Tensor]:
        av = require_av()
        with _open_input(self.path) as container:
            stream = container.streams.video[self._position(container)]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    yield _to_tensor(frame, self.info.width, self.info.height, self.max_megapixels, str(self.path))
            except av.FFmpegError as err:  # a truncated or damaged file: the frames before it, as colorize_video
                self.failure = str(err)  # keeps them too (and says so), so both passes see the same frames

    def _position(self, container) -> int:
        return [s.index for s in container.streams.video].index(self.info.stream_index)


def check_codec(codec: str) -> str:
    """The one rule for ``--codec``: a video encoder this PyAV build has (not an audio one, not a decoder only)."""
    av = require_av()
    try:
        found = av.codec.Codec(codec, "w")
    except (av.FFmpegError, ValueError, KeyError) as err:  # UnknownCodecError is a ValueError
        raise VideoError(f"codec {codec!r} is not an encoder in this PyAV build ({err}); try libx264, mpeg4 or "
                         "libvpx-vp9") from None
    if found.type != "video":
        raise VideoError(f"codec {codec!r} is a {found.type} encoder; choose a video encoder such as libx264, "
                         "mpeg4 or libvpx-vp9 (audio is always copied as it is)")
    return codec


@dataclass
class VideoReport:
    """What ``colorize_video`` did: frames written, and the warnings a user must see (a truncated input, a padded
    odd size, the stream chosen among several)."""

    frames: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """False when frames of the input were lost (decoding stopped early)."""
        return not any(w.startswith("incomplete") for w in self.warnings)


def colorize_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    colorize: Callable[[Iterable[torch.Tensor]], Iterator[torch.Tensor]],
    *,
    codec: str = DEFAULT_CODEC,
    crf: int = DEFAULT_CRF,
    progress: Callable[[int], None] | None = None,
    max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS,
    report: VideoReport | None = None,
) -> int:
    """Decode ``source``, run its frames through ``colorize`` (frames in, one colour frame out per frame, in order)
    and write ``target`` atomically with the source's size, timestamps (constant or variable rate), rotation and
    audio. Returns the number of frames; ``report`` (if given) also collects the warnings (an input that stops
    decoding early is written as far as it decodes, and said so)."""
    av = require_av()
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise VideoError(f"{target}: the output would overwrite the input; choose another -o")
    check_codec(codec)
    check_crf(crf)
    info = probe(source, max_megapixels)
    report = report if report is not None else VideoReport()
    if line := info.describe_stream():
        report.warnings.append(line)

    def write(tmp: str) -> None:
        report.frames = _transcode(av, source, Path(tmp), target, colorize, codec, crf, progress, info,
                                   max_megapixels, report)

    try:
        atomic_write(target, write, fsync=True)  # temp file beside the target, renamed only when complete
    except av.FFmpegError as err:
        raise VideoError(f"{source} -> {target}: {err}") from err
    except OSError as err:  # read-only folder, a file where a folder should be, a full disk
        raise VideoError(f"{target}: cannot write the video ({err.strerror or err}); choose another -o") from None
    return report.frames


def _even(n: int) -> int:
    return n + (n % 2)


def _transcode(av, source: Path, tmp: Path, target: Path, colorize, codec: str, crf: int, progress,
               info: VideoInfo, max_megapixels: float | None, report: VideoReport) -> int:
    """Decode ``source``, colorize, encode into ``tmp`` (the video in ``target``'s format), copying the audio;
    returns the number of frames written."""
    written = 0
    decoded = 0
    failure: list[str] = []
    with _open_input(source) as src:
        vin = next(s for s in src.streams.video if s.index == info.stream_index)
        vin.thread_type = "AUTO"
        try:
            out = av.open(str(tmp), mode="w", format=_format_for(target))
        except (av.FFmpegError, ValueError) as err:
            raise VideoError(f"{target}: cannot write this kind of file ({err}); use .mp4 or .mkv") from err
        with out:
            vout = out.add_stream(codec, rate=vin.average_rate or Fraction(25))
            width, height = info.width, info.height
            vout.pix_fmt = "yuv420p"
            if (width % 2 or height % 2) and vout.pix_fmt == "yuv420p":  # 4:2:0 needs even sides: repeat the edge
                report.warnings.append(f"{width}x{height} has an odd side, which 4:2:0 video cannot hold: encoded as "
                                       f"{_even(width)}x{_even(height)} with the last row/column repeated")
            vout.width, vout.height = _even(width), _even(height)
            vout.time_base = vin.time_base
            if info.rotation and hasattr(vout, "set_display_rotation"):
                vout.set_display_rotation(info.rotation)  # shown upright by players, as the input was
            if codec == "libx264":
                vout.options = {"crf": str(crf), "preset": "medium"}
            audio = {}
            for ain in src.streams.audio:
                try:
                    audio[ain.index] = _copy_of_stream(out, ain)
                except (av.FFmpegError, ValueError) as err:
                    raise VideoError(f"{target}: its container cannot hold the {ain.codec_context.name} audio "
                                     f"of the input ({err}); use .mkv") from err
            stamps: collections.deque = collections.deque()

            def frames() -> Iterator[torch.Tensor]:
                nonlocal decoded
                # demux everything once: audio packets are copied as they come (interleaved with the video)
                try:
                    for packet in src.demux(vin, *src.streams.audio):
                        if packet.stream.type == "audio":
                            if packet.dts is not None:
                                packet.stream = audio[packet.stream.index]
                                out.mux(packet)
                            continue
                        for frame in packet.decode():
                            stamps.append(frame.pts)
                            decoded += 1
                            yield _to_tensor(frame, width, height, max_megapixels, str(source))
                except av.FFmpegError as err:  # a damaged or truncated file: keep what decoded, and say so
                    failure.append(str(err))

            last_pts = None
            for rgb in colorize(frames()):
                arr = (rgb[0].permute(1, 2, 0).clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
                if arr.shape[:2] != (vout.height, vout.width):
                    arr = np.pad(arr, ((0, vout.height - arr.shape[0]), (0, vout.width - arr.shape[1]), (0, 0)),
                                 mode="edge")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
                pts = stamps.popleft()
                if written == 0 and pts is not None:  # before the encoder opens: the input's own clock, so
                    vout.codec_context.time_base = vin.time_base  # variable frame rates survive (no pts: 1/rate)
                if pts is not None:
                    frame.pts, frame.time_base = pts, vin.time_base
                    last_pts = pts
                out.mux(vout.encode(frame))
                written += 1
                if progress is not None:
                    progress(written)
            out.mux(vout.encode(None))
    _check_complete(info, decoded, last_pts, vin.time_base, failure, source, report)
    return written


def _copy_of_stream(out: Any, template: Any) -> Any:
    """A stream in ``out`` that takes ``template``'s packets as they are: ``add_stream_from_template`` in PyAV 14
    and later, ``add_stream(template=...)`` before it (the video extra's oldest supported PyAV is 12)."""
    copy = getattr(out, "add_stream_from_template", None)
    return copy(template) if copy is not None else out.add_stream(template=template)


def _check_complete(info: VideoInfo, decoded: int, last_pts, time_base, failure: list[str], source: Path,
                    report: VideoReport) -> None:
    """A warning when fewer frames decoded than the file promises (a truncated download, a damaged file)."""
    why = f" ({failure[0]})" if failure else ""
    # a few frames fewer than the header counts is normal (edit lists trim the start); a truncated file loses more
    if failure or (info.frames and info.frames - decoded > max(2, info.frames // 50)):
        of = f" of {info.frames}" if info.frames else ""
        report.warnings.append(f"incomplete: {source}: only {decoded}{of} frame(s) could be decoded{why}; the "
                               "file is probably truncated or damaged - the output holds those frames")
        return
    if info.duration and last_pts is not None and info.fps:
        reached = float(last_pts * time_base) + 1.0 / float(info.fps)
        if reached < 0.9 * info.duration - 2.0 / float(info.fps):
            report.warnings.append(f"incomplete: {source}: its frames end at {reached:.2f} s of the {info.duration:.2f} "
                                   "s the file declares; the file is probably truncated - the output holds those frames")


CONTAINERS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm", ".avi": "avi"}


def _format_for(target: Path) -> str:
    """The container to write (named explicitly: the temp file's suffix is not the target's)."""
    try:
        return CONTAINERS[target.suffix.lower()]
    except KeyError:
        raise VideoError(f"{target}: colornet writes {', '.join(CONTAINERS)} videos, not {target.suffix}; "
                         "use one of those suffixes (convert afterwards if you need another format)") from None


def video_target(source: Path, output: Path) -> Path:
    """Where ``colornet video SOURCE -o OUTPUT`` writes: OUTPUT itself, or ``SOURCE_color.mp4`` inside OUTPUT when
    it is a folder or has no suffix. A container colornet cannot write, or the input itself, is a ``VideoError``."""
    target = output / (source.stem + "_color.mp4") if output.is_dir() or not output.suffix else output
    _format_for(target)
    if target.resolve() == source.resolve():
        raise VideoError(f"{target}: the output would overwrite the input; choose another -o")
    return target
