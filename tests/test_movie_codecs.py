"""Movie outputs: every --codec / --quality writes what it says, keeps the picture outside the hole
(exactly for the lossless ones), and impossible choices are refused before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from flowfill.errors import InputError
from flowfill.io import MovieSource, open_sink
from flowfill.io.codecs import CODECS, QUALITIES, check_codec

PAN = Path(__file__).resolve().parents[1] / "sample_clips" / "pan.mp4"
FRAMES = 6
BOX = (slice(60, 120), slice(100, 200))


def filled_pan() -> tuple[np.ndarray, np.ndarray]:
    """The sample movie's first frames as decoded, with a flat grey box 'filled' in, and the box
    mask: what a removal hands the sink (outside the hole, exactly the decoded input)."""
    source = MovieSource(str(PAN))
    source.select(0, FRAMES)
    frames = np.stack(list(source))
    mask = np.zeros(frames.shape[:3], bool)
    mask[(slice(None), *BOX)] = True
    out = frames.copy()
    out[mask] = (0.45, 0.5, 0.55)
    return frames, out


def write(path: Path, frames: np.ndarray, codec: str | None, quality: str = "high"):
    like = MovieSource(str(PAN))
    like.select(0, FRAMES)
    with open_sink(path, like, codec=codec, quality=quality) as sink:
        for frame in frames:
            sink.write(frame)
    return sink


def decoded(path: Path) -> tuple[np.ndarray, str, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        name, fmt = stream.codec_context.name, next(container.decode(stream)).format.name
    return np.stack(list(MovieSource(str(path)))), name, fmt


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.round(a * 255) - np.round(b * 255)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


CASES = [(name, quality) for name in CODECS for quality in QUALITIES
         if not (quality == "lossless" and name in ("prores", "prores4444", "dnxhr"))]
EXT = {"h264": ".mp4", "h265": ".mp4", "prores": ".mov", "prores4444": ".mov", "dnxhr": ".mov",
       "ffv1": ".avi", "vp9": ".mkv"}
FLOOR = {  # least PSNR (dB) outside the hole on the sample pan: 2 dB under what was measured
    ("h264", "review"): 33.9, ("h264", "high"): 39.9, ("h264", "master"): 43.8,
    ("h265", "review"): 32.9, ("h265", "high"): 38.0, ("h265", "master"): 41.9,
    ("prores", "review"): 38.9, ("prores", "high"): 43.6, ("prores", "master"): 43.6,
    ("prores4444", "review"): 46.9, ("prores4444", "high"): 46.9,
    ("prores4444", "master"): 48.3,
    ("dnxhr", "review"): 32.0, ("dnxhr", "high"): 35.8, ("dnxhr", "master"): 36.7,
    ("vp9", "review"): 34.7, ("vp9", "high"): 40.0, ("vp9", "master"): 42.9,
}


@pytest.mark.parametrize("name,quality", CASES)
def test_each_codec_and_quality_keeps_the_picture_outside_the_hole(tmp_path, name, quality):
    frames, out = filled_pan()
    path = tmp_path / f"out{EXT[name]}"
    sink = write(path, out, name, quality)
    back, codec, fmt = decoded(path)
    assert back.shape == frames.shape
    # decoders name some formats their own way: x264's RGB as planar, ProRes 4444 as 12-bit
    assert fmt == {"rgb24": "gbrp"}.get(sink.pix_fmt, sink.pix_fmt) or (
        name == "prores4444" and fmt == "yuv444p12le")
    assert codec == {"h264": "h264", "h265": "hevc", "prores": "prores", "prores4444": "prores",
                     "dnxhr": "dnxhd", "ffv1": "ffv1", "vp9": "vp9"}[name]
    outside = np.ones(frames.shape[:3], bool)
    outside[(slice(None), *BOX)] = False
    kept = psnr(back[outside], frames[outside])
    if quality == "lossless" or name == "ffv1":
        assert kept == float("inf")
        np.testing.assert_array_equal(np.round(back * 255), np.round(out * 255))
    else:
        assert kept >= FLOOR[name, quality], kept
    assert psnr(back[~outside], out[~outside]) > 30.0  # the fill itself is encoded too


def test_a_movie_keeps_its_own_planes_outside_the_hole(tmp_path):
    """A 4:2:0 input re-encoded as 4:2:0: outside the hole the planes are the input's, not an
    RGB round trip's; the second chroma subsampling alone cost more than the codec does."""
    frames, out = filled_pan()
    outside = np.ones(frames.shape[:3], bool)
    outside[(slice(None), *BOX)] = False
    kept = tmp_path / "plate.mkv"
    like = MovieSource(str(PAN))
    like.select(0, FRAMES)
    with open_sink(kept, like, codec="h264", quality="high") as sink:
        assert sink.plate is not None and sink.pix_fmt == "yuv420p"
        for frame in out:
            sink.write(frame)
    plate = psnr(decoded(kept)[0][outside], frames[outside])
    through_rgb = tmp_path / "rgb.mkv"
    like = MovieSource(str(PAN))
    like.select(0, FRAMES)
    with open_sink(through_rgb, like, codec="h264", quality="high") as sink:
        sink.plate.close()
        sink.plate = None  # what the sink did before: every pixel through RGB
        for frame in out:
            sink.write(frame)
    rgb = psnr(decoded(through_rgb)[0][outside], frames[outside])
    assert plate > rgb + 1.0, (plate, rgb)


def test_the_extension_chooses_the_codec_when_none_is_given(tmp_path):
    frames, out = filled_pan()
    for ext, codec in ((".mp4", "h264"), (".mov", "prores"), (".avi", "ffv1")):
        write(tmp_path / f"d{ext}", out, None)
        assert decoded(tmp_path / f"d{ext}")[1] == codec


@pytest.mark.parametrize("ext,codec,quality,words", [
    (".mp4", "prores", "high", "a .mp4 file cannot hold prores"),
    (".mov", "vp9", "high", "cannot hold vp9"),
    (".mov", "prores", "lossless", "prores is never lossless"),
    (".mp4", "mpeg2", "high", "unknown codec"),
    (".mp4", "h264", "best", "unknown quality"),
])
def test_impossible_choices_are_refused(ext, codec, quality, words):
    with pytest.raises(InputError) as err:
        check_codec("out" + ext, ext, codec, quality)
    assert words in str(err.value)


@pytest.mark.parametrize("extra,output,words", [
    (["--codec", "prores"], "out.mp4", "out.mp4: a .mp4 file cannot hold prores"),
    (["--quality", "lossless", "--codec", "dnxhr"], "out.mov", "dnxhr is never lossless"),
    (["--codec", "h264"], "frames/", "is not a movie"),
])
def test_the_cli_refuses_them_in_one_line_and_writes_nothing(tmp_path, extra, output, words):
    flowfill = str(Path(sys.executable).parent / "flowfill")
    mask = tmp_path / "m.png"
    import cv2

    box = np.zeros((180, 320), np.uint8)
    box[BOX] = 255
    cv2.imwrite(str(mask), box)
    run = subprocess.run([flowfill, "remove", str(PAN), "-m", str(mask), "-o",
                          str(tmp_path / output), "--quiet", *extra],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and words in run.stderr
    assert sorted(os.listdir(tmp_path)) == ["m.png"]
