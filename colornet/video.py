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
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write
from .errors import VideoError

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


def _open_input(path: str | os.PathLike):
    av = require_av()
    if not Path(path).is_file():
        raise VideoError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise VideoError(f"{path}: not a video FFmpeg can read ({err})") from err
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: has no video stream")
    return container


def probe(path: str | os.PathLike) -> VideoInfo:
    with _open_input(path) as container:
        stream = container.streams.video[0]
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, stream.average_rate,
                         int(stream.frames or 0), len(container.streams.audio))


def _to_tensor(frame) -> torch.Tensor:
    return torch.from_numpy(frame.to_ndarray(format="rgb24")).permute(2, 0, 1)[None].float().div_(255.0)


class VideoFrames:
    """The video's frames as RGB ``[1,3,H,W]`` tensors in [0, 1]; every ``iter()`` decodes from the start, so a
    sequence colorizer can make its planning pass and then its colorizing pass."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path
        self.info = probe(path)

    def __len__(self) -> int:
        return self.info.frames

    def __iter__(self) -> Iterator[torch.Tensor]:
        av = require_av()
        with _open_input(self.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    yield _to_tensor(frame)
            except av.FFmpegError as err:
                raise VideoError(f"{self.path}: decoding failed ({err}); the file may be truncated") from err


def colorize_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    colorize: Callable[[Iterable[torch.Tensor]], Iterator[torch.Tensor]],
    *,
    codec: str = DEFAULT_CODEC,
    crf: int = DEFAULT_CRF,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Decode ``source``, run its frames through ``colorize`` (frames in, one colour frame out per frame, in order)
    and write ``target`` atomically with the source's size, timestamps and audio. Returns the number of frames."""
    av = require_av()
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise VideoError(f"{target}: the output would overwrite the input; choose another -o")
    if codec not in av.codecs_available:
        raise VideoError(f"codec {codec!r} is not in this PyAV build; try libx264, mpeg4 or libvpx-vp9")
    written = 0

    def write(tmp: str) -> None:
        nonlocal written
        written = _transcode(av, source, Path(tmp), target, colorize, codec, crf, progress)

    try:
        atomic_write(target, write, fsync=True)  # temp file beside the target, renamed only when complete
    except av.FFmpegError as err:
        raise VideoError(f"{source} -> {target}: {err}") from err
    return written


def _transcode(av, source: Path, tmp: Path, target: Path, colorize, codec: str, crf: int, progress) -> int:
    """Decode ``source``, colorize, encode into ``tmp`` (the video in ``target``'s format), copying the audio;
    returns the number of frames written."""
    written = 0
    with _open_input(source) as src:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        try:
            out = av.open(str(tmp), mode="w", format=_format_for(target))
        except (av.FFmpegError, ValueError) as err:
            raise VideoError(f"{target}: cannot write this kind of file ({err}); use .mp4 or .mkv") from err
        with out:
            vout = out.add_stream(codec, rate=vin.average_rate or Fraction(25))
            vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
            vout.pix_fmt = "yuv420p"
            vout.time_base = vin.time_base
            if codec == "libx264":
                vout.options = {"crf": str(crf), "preset": "medium"}
            audio = {}
            for ain in src.streams.audio:
                try:
                    audio[ain.index] = out.add_stream_from_template(ain)
                except (av.FFmpegError, ValueError) as err:
                    raise VideoError(f"{target}: its container cannot hold the {ain.codec_context.name} audio "
                                     f"of the input ({err}); use .mkv") from err
            stamps: collections.deque = collections.deque()

            def frames() -> Iterator[torch.Tensor]:
                # demux everything once: audio packets are copied as they come (interleaved with the video)
                for packet in src.demux(vin, *src.streams.audio):
                    if packet.stream.type == "audio":
                        if packet.dts is not None:
                            packet.stream = audio[packet.stream.index]
                            out.mux(packet)
                        continue
                    for frame in packet.decode():
                        stamps.append(frame.pts)
                        yield _to_tensor(frame)

            for rgb in colorize(frames()):
                arr = (rgb[0].permute(1, 2, 0).clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
                pts = stamps.popleft()
                if pts is not None:
                    frame.pts, frame.time_base = pts, vin.time_base
                out.mux(vout.encode(frame))
                written += 1
                if progress is not None:
                    progress(written)
            out.mux(vout.encode(None))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a finished video gets the usual permissions
    return written


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
