"""Issue 19 items 1, 9, 10 and 15 (video and frame folders): each test failed before the issue.

Before: no pixel limit on ``colornet video``; variable frame rate failed ("Invalid argument ... 22"); the rotation
display matrix was dropped; a truncated file "succeeded" with a few frames and no word; only the first video stream
was used; odd sizes failed inside libx264; ``--strength nan`` was refused only after the planning pass, ``--crf 99``
accepted; an unwritable -o and ``--codec aac`` gave tracebacks; ``colornet video /tmp`` said "no such file";
``--sequence`` frames were taken in text order (f0, f1, f10, f2) and an unwritable -o failed after the planning pass.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from helpers import lively_model
from PIL import Image

from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from colornet.model import compact_config

av = pytest.importorskip("av", reason='PyAV not installed (pip install "colornet[video]")')


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path_factory.mktemp("ckpt"))


def _picture(t: int, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    grey = (0.5 + 0.3 * np.sin((x + 2 * t) / 5.0) * np.cos(y / 7.0)) * 255
    return np.dstack([grey.astype(np.uint8)] * 3)


def _make(path: Path, *, sizes=((64, 48),), frames=10, pts=None, rotation=None, codec="libx264",
          pix_fmt="yuv420p", options=None, noise=False) -> Path:
    """A small video: one stream per entry of ``sizes``; ``pts`` in milliseconds (variable rate) or 25 fps."""
    with av.open(str(path), "w", options=options or {}) as out:
        streams = []
        for width, height in sizes:
            stream = out.add_stream(codec, rate=25)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            if pts is not None:
                stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
            if rotation is not None:
                stream.set_display_rotation(rotation)
            streams.append(stream)
        for i in range(frames):
            for stream in streams:
                picture = _picture(i, stream.height, stream.width)
                if noise:  # incompressible: every frame takes its share of the file
                    picture = np.random.default_rng(i).integers(0, 255, picture.shape, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                if pts is not None:
                    frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
                out.mux(stream.encode(frame))
        for stream in streams:
            out.mux(stream.encode(None))
    return path


def _read(path: Path, index: int = 0):
    with av.open(str(path)) as c:
        s = c.streams.video[index]
        frames = list(c.decode(s))
        return s, [float(f.pts * s.time_base) for f in frames], frames


def _video(args: list[str], weights: Path) -> int:
    return main(["video", *args, "--weights", str(weights), "-q"])


def _tinted(frames):
    """A stand-in colorizer (the video plumbing is under test, not the network): frames in, tinted frames out."""
    for rgb in frames:
        out = rgb.clone()
        out[:, 0] = out[:, 0] * 0.5 + 0.5
        yield out


def _transcode(src: Path, out: Path):
    from colornet.video import VideoReport, colorize_video

    report = VideoReport()
    colorize_video(src, out, _tinted, report=report)
    return report


def test_variable_frame_rate_keeps_every_timestamp(tmp_path):
    stamps = [0, 40, 80, 90, 100, 200, 210, 400, 440, 450]
    src = _make(tmp_path / "vfr.mp4", pts=stamps)
    out = tmp_path / "out.mp4"
    assert _transcode(src, out).complete
    _, times, _ = _read(out)
    assert times == pytest.approx([t / 1000 for t in stamps], abs=1e-3)


def test_the_rotation_is_kept(tmp_path):
    src = _make(tmp_path / "rot.mp4", rotation=90)
    out = tmp_path / "out.mp4"
    _transcode(src, out)
    _, _, frames = _read(out)
    assert frames[0].rotation == 90 and (frames[0].width, frames[0].height) == (64, 48)


def test_a_truncated_video_is_written_as_far_as_it_decodes_and_said_so(tmp_path, weights, capsys):
    whole = _make(tmp_path / "whole.mkv", frames=30, noise=True)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 3])
    out = tmp_path / "out.mp4"
    code = _video([str(cut), "-o", str(out)], weights)
    err = capsys.readouterr().err
    assert code == EXIT_SOME_FAILED and "warning: incomplete" in err and "truncated" in err, err
    _, times, _ = _read(out)
    assert 0 < len(times) < 30


def test_the_largest_of_several_video_streams_is_used_and_named(tmp_path):
    src = _make(tmp_path / "two.mkv", sizes=((32, 24), (96, 72)), frames=4)
    out = tmp_path / "out.mp4"
    report = _transcode(src, out)
    assert "using video stream #1 (96x72, the largest) of 2" in report.warnings[0], report.warnings
    stream, times, _ = _read(out)
    assert (stream.codec_context.width, stream.codec_context.height) == (96, 72) and len(times) == 4


@pytest.mark.parametrize("size", [(161, 121), (3, 5)])
def test_odd_sizes_are_padded_and_said_so(tmp_path, size):
    src = _make(tmp_path / "odd.mkv", sizes=(size,), frames=3, codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "out.mp4"
    text = " ".join(_transcode(src, out).warnings)
    assert "odd side" in text and f"{size[0] + size[0] % 2}x{size[1] + size[1] % 2}" in text
    stream, times, _ = _read(out)
    assert (stream.codec_context.width, stream.codec_context.height) == (size[0] + 1, size[1] + 1)
    assert len(times) == 3


def test_a_stream_above_the_pixel_budget_is_refused_before_decoding(tmp_path, weights, capsys):
    src = _make(tmp_path / "v.mp4", sizes=((320, 240),), frames=2)
    code = _video([str(src), "-o", str(tmp_path / "o.mp4"), "--max-megapixels", "0.05"], weights)
    err = capsys.readouterr().err
    assert code == EXIT_SOME_FAILED and "320x240" in err and "above the 0.05 MP limit" in err
    assert not (tmp_path / "o.mp4").exists()
    # a large PNG read as a one-frame video: refused from its header (it would take gigabytes to decode)
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((9000, 9000), np.uint8)).save(big)
    code = _video([str(big), "-o", str(tmp_path / "o.mp4"), "--max-megapixels", "75"], weights)
    assert code == EXIT_SOME_FAILED and "above the 75 MP limit" in capsys.readouterr().err


@pytest.fixture
def clip(tmp_path) -> Path:
    return _make(tmp_path / "in.mp4", frames=3)


def _no_model(monkeypatch):
    """Fail the test if the model is loaded: usage errors must come before any work."""
    import colornet.pipeline

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the usage error")

    monkeypatch.setattr(colornet.pipeline.Colorizer, "from_pretrained", classmethod(refuse))


@pytest.mark.parametrize("option, words", [
    (["--strength", "nan"], "strength must be a finite number"),
    (["--crf", "99"], "crf must be a whole number from 0"),
    (["--codec", "aac"], "is a audio encoder"),
    (["--codec", "no-such-codec"], "is not an encoder"),
    (["--working-size", "-5"], "working_size must be >= 0"),
    (["--reference-weight", "0"], "reference weight must be a finite number > 0"),
])
def test_bad_video_options_are_one_line_before_any_work(clip, tmp_path, capsys, monkeypatch, option, words):
    _no_model(monkeypatch)
    code = main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "-q", *option])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.count("\n") == 1 and words in err and "Traceback" not in err, err


@pytest.mark.parametrize("where", ["under a file", "read-only", "empty"])
def test_an_unwritable_video_output_is_one_line_before_any_work(clip, tmp_path, capsys, monkeypatch, where):
    _no_model(monkeypatch)
    if where == "under a file":
        (tmp_path / "file").write_text("x")
        target = str(tmp_path / "file" / "o.mp4")
    elif where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o555)
        target = str(tmp_path / "ro" / "o.mp4")
    else:
        target = ""
    code = main(["video", str(clip), "-o", target, "-q"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.count("\n") == 1 and "-o" in err and "Traceback" not in err, err


def test_a_folder_or_a_device_as_the_video_says_what_it_is(tmp_path, capsys, monkeypatch):
    _no_model(monkeypatch)
    assert main(["video", str(tmp_path), "-o", str(tmp_path / "o.mp4"), "-q"]) == EXIT_SOME_FAILED
    assert "is a folder" in capsys.readouterr().err
    assert main(["video", "/dev/null", "-o", str(tmp_path / "o.mp4"), "-q"]) == EXIT_SOME_FAILED
    assert "not a regular file" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ --sequence


def test_sequence_frames_are_taken_in_natural_order_and_said_so(tmp_path, weights, capsys, monkeypatch):
    import colornet.cli_sequence as cs

    src = tmp_path / "frames"
    src.mkdir()
    for i in (0, 1, 2, 10, 11):
        Image.fromarray(_picture(i, 24, 32)).save(src / f"f{i}.png")
    seen = []
    real = cs._FolderFrames.__iter__

    def spy(self):
        for frame in real(self):
            seen.append(self.current[0].name)
            yield frame

    monkeypatch.setattr(cs._FolderFrames, "__iter__", spy)
    code = main(["colorize", str(src), "-o", str(tmp_path / "out"), "--sequence", "--prior-mode", "per_image",
                 "--weights", str(weights), "-q"])
    err = capsys.readouterr().err
    assert code == EXIT_OK, err
    assert seen == ["f0.png", "f1.png", "f2.png", "f10.png", "f11.png"]
    assert "natural name order" in err


def test_sequence_unwritable_output_is_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    _no_model(monkeypatch)
    src = tmp_path / "frames"
    src.mkdir()
    Image.fromarray(_picture(0, 24, 32)).save(src / "f0.png")
    (tmp_path / "file").write_text("x")
    code = main(["colorize", str(src), "-o", str(tmp_path / "file" / "out"), "--sequence", "-q"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.count("\n") == 1 and "Traceback" not in err, err


def test_empty_output_argument_is_refused_for_colorize(tmp_path, capsys):
    Image.fromarray(_picture(0, 24, 32)).save(tmp_path / "a.png")
    assert main(["colorize", str(tmp_path / "a.png"), "-o", "", "-q"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "-o is empty" in err and "-o ." in err


def test_a_raw_stream_without_timestamps_keeps_its_frame_rate(tmp_path):
    """Review of item 9: frames without pts (a raw .h264) are timed by the rate, not squeezed into microseconds."""
    src = tmp_path / "raw.h264"
    with av.open(str(src), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(6):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(_picture(i, 48, 64), format="rgb24")))
        out.mux(stream.encode(None))
    out = tmp_path / "out.mp4"
    _transcode(src, out)
    _, times, _ = _read(out)
    assert times == pytest.approx([i / 25 for i in range(6)], abs=1e-3)
