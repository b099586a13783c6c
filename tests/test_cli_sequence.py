"""``colornet colorize --sequence`` and ``colornet video`` end to end on tiny synthetic clips."""

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from helpers import lively_model
from PIL import Image

from colornet.checkpoint import save_checkpoint
from colornet.cli import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, main
from colornet.model import compact_config


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return save_checkpoint(lively_model(compact_config(["a", "b"])), tmp_path_factory.mktemp("ckpt"))


def _frame(t: int, kind: int, h=36, w=64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    x = x + 1.5 * t
    v = 0.5 + 0.3 * (np.sin(x / 5.0) * np.cos(y / 7.0) if kind == 0 else np.cos(x / 3.0 + y / 4.0))
    return (np.clip(v, 0, 1) * 255).astype(np.uint8)


def test_sequence_folder_in_frames_out(tmp_path, weights, capsys):
    src = tmp_path / "frames"
    src.mkdir()
    for t in range(7):
        Image.fromarray(_frame(t, 0 if t < 4 else 1)).save(src / f"f{t:03d}.png")
    (src / "f999.png").write_bytes(b"not a png")  # one broken frame: reported, the rest of the clip still done
    out = tmp_path / "out"
    code = main(["colorize", str(src), "-o", str(out), "--sequence", "--weights", str(weights), "-q"])
    assert code == EXIT_SOME_FAILED
    assert sorted(p.name for p in out.iterdir()) == [f"f{t:03d}.png" for t in range(7)]
    captured = capsys.readouterr()
    assert "in 2 shot(s)" in captured.out and "f999.png" in captured.err
    img = np.asarray(Image.open(out / "f000.png"))
    assert img.shape == (36, 64, 3) and img.std(axis=2).mean() > 1  # colour, not grey


@pytest.mark.parametrize("option", [["--temporal-smoothing", "1.5"], ["--cut-threshold", "0"],
                                    ["--strength", "-1"]])
def test_sequence_bad_options_are_one_line_usage_errors(tmp_path, weights, capsys, option):
    Image.fromarray(_frame(0, 0)).save(tmp_path / "a.png")
    code = main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--sequence", "--weights",
                 str(weights), "-q", *option])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


# ---------------------------------------------------------------------------------------------------- video

try:
    import av  # the optional extra: the video tests run where PyAV is installed
except ImportError:
    av = None
needs_av = pytest.mark.skipif(av is None, reason='PyAV not installed (pip install "colornet[video]")')


def _make_video(path: Path, frames=12, fps=10, audio=True) -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=16000) if audio else None
        if sound is not None:
            sound.layout = "mono"
        for t in range(frames):
            grey = _frame(t, 0 if t < frames // 2 else 1, 48, 64)
            frame = av.VideoFrame.from_ndarray(np.dstack([grey] * 3), format="rgb24")
            frame.pts = t
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            n = 16000 * frames // fps
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 16000)).astype(np.float32)[None]
            for k in range(0, n, 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k : k + 1024]), format="flt",
                                                   layout="mono")
                chunk.sample_rate, chunk.pts = 16000, k
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.dts is not None]


def _video(path: Path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(s)]
        return s.average_rate, (s.codec_context.width, s.codec_context.height), frames


@needs_av
def test_video_keeps_rate_size_timing_and_audio(tmp_path, weights, capsys):
    src = _make_video(tmp_path / "in.mp4")
    out = tmp_path / "out" / "colour.mp4"
    code = main(["video", str(src), "-o", str(out), "--weights", str(weights), "-q"])
    assert code == EXIT_OK, capsys.readouterr().err
    rate_in, size_in, frames_in = _video(src)
    rate_out, size_out, frames_out = _video(out)
    assert rate_out == rate_in == Fraction(10) and size_out == size_in == (64, 48)
    assert [p for p, _ in frames_out] == [p for p, _ in frames_in]  # same count and timestamps
    assert _audio_packets(out) == _audio_packets(src)  # audio copied packet for packet, not re-encoded
    assert np.mean([f.std(axis=2).mean() for _, f in frames_out]) > 1  # colour
    assert "2 shot(s)" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["colour.mp4"]  # no temp file left


@needs_av
def test_video_interrupted_leaves_no_file(tmp_path):
    from colornet.video import colorize_video

    src = _make_video(tmp_path / "in.mp4", audio=False)
    out_dir = tmp_path / "out"

    def stop_after_three(frames):
        for i, frame in enumerate(frames):
            if i == 3:
                raise KeyboardInterrupt  # what Ctrl-C raises in the middle of a run
            yield frame

    with pytest.raises(KeyboardInterrupt):
        colorize_video(src, out_dir / "x.mp4", stop_after_three)
    assert list(out_dir.iterdir()) == []


@needs_av
def test_video_errors_are_one_line(tmp_path, weights, capsys, monkeypatch):
    src = _make_video(tmp_path / "in.mp4", frames=4, audio=False)
    assert main(["video", str(src), "-o", str(src), "--weights", str(weights), "-q"]) == EXIT_USAGE
    assert "overwrite the input" in capsys.readouterr().err
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 100)
    assert main(["video", str(tmp_path / "junk.mp4"), "-o", str(tmp_path / "o.mp4"), "-q"]) == EXIT_SOME_FAILED
    assert "junk.mp4" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "av", None)  # PyAV not installed
    assert main(["video", str(src), "-o", str(tmp_path / "o.mp4"), "-q"]) == EXIT_SOME_FAILED
    err = capsys.readouterr().err
    assert 'pip install "colornet[video]"' in err and err.count("\n") == 1
