"""Stabilisation on real pixels: the tracker, the camera path and its bounded smoothing, the
warps and what they uncover, and ``flowfill stabilise`` end to end (fill, crop, movie, errors)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import write_rgb

from flowfill import cli
from flowfill.evaluate.clips import SHAKE as SHAKY_CLIP_SHAKE
from flowfill.evaluate.shake import shake_frames, shake_warps
from flowfill.io import open_frames
from flowfill.stabilise.motion import Tracker
from flowfill.stabilise.path import (
    MAX_ROLL,
    MAX_ZOOM,
    CameraPath,
    bounded_smooth,
    jitter,
    pose_matrix,
    pose_params,
    smooth,
)
from flowfill.stabilise.render import MARGIN, crop_zoom, warp_frame, zoomed
from flowfill.stabilise.stream import measure_path, plan_warps

SAMPLES = Path(__file__).resolve().parents[1] / "sample_clips"
N = 16
"""Frames of the shaky clip (the shipped pan is 30; 16 keep the fill mode run short)."""
SHAKE = SHAKY_CLIP_SHAKE
"""The shake of ``sample_clips/shaky.mp4``."""
FAST = ["--fill", "telea", "--edges", "off", "--no-nonlocal-align", "-q"]
"""Engine options that keep fill mode quick: only unseen pixels (few here) differ."""


def pan_frames(n: int = N) -> np.ndarray:
    """The first ``n`` shipped pan frames as float32 RGB in [0, 1] (320 x 180)."""
    paths = sorted((SAMPLES / "pan").glob("*.png"))[:n]
    return np.stack([cv2.imread(str(p))[..., ::-1] for p in paths]).astype(np.float32) / 255


def as_3x3(affine: np.ndarray) -> np.ndarray:
    """A 2 x 3 affine map as 3 x 3."""
    return np.vstack([affine, [0.0, 0.0, 1.0]])


def shaken_views(n: int, height: int, width: int) -> np.ndarray:
    """N x 3 x 3: pixel q of ``shake_frames(..., **SHAKE)`` frame t shows the steady frame at
    S_t q (the zoom ``shake_frames`` picks, recomputed; checked in the tests below)."""
    shift, angle = SHAKE["shift"], np.deg2rad(SHAKE["degrees"])
    zoom = (1 + 2 * shift) * (np.cos(angle) + np.sin(angle) * max(width / height,
                                                                   height / width)) * 1.01
    warps = shake_warps(n, height, width, SHAKE["seed"], shift, SHAKE["degrees"], zoom)
    return np.array([as_3x3(w) for w in warps])


def view(frame: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """``frame`` seen through ``warp`` (output q shows frame at warp q), bicubic, reflected."""
    h, w = frame.shape[:2]
    return cv2.warpAffine(frame, warp[:2], (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def corner_error(a: np.ndarray, b: np.ndarray, width: int, height: int) -> float:
    """Largest distance (px) between where two 3 x 3 maps send the frame's corners."""
    corners = np.array([[0, 0, 1], [width - 1, 0, 1], [0, height - 1, 1],
                        [width - 1, height - 1, 1]], float).T
    return float(np.abs((a @ corners)[:2] - (b @ corners)[:2]).max())


def quantised(frames: np.ndarray) -> np.ndarray:
    """Float frames as they come back from 8-bit PNGs."""
    return (np.rint(np.clip(frames, 0, 1) * 255) / 255).astype(np.float32)


def write_pngs(folder: Path, frames: np.ndarray) -> Path:
    """Float frames as 8-bit PNGs 00000.png, ... in ``folder``."""
    folder.mkdir()
    for t, frame in enumerate(frames):
        write_rgb(folder / f"{t:05d}.png", np.rint(np.clip(frame, 0, 1) * 255).astype(np.uint8))
    return folder


def read_frames(path: Path) -> np.ndarray:
    """Every frame of a clip as float32 RGB."""
    return np.stack(list(open_frames(path)))


def similarity(dx: float, dy: float, degrees: float, zoom: float, width: int,
               height: int) -> np.ndarray:
    """3 x 3 similarity about the frame centre: roll and zoom, then a shift."""
    m = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, zoom)
    m[:, 2] += (dx, dy)
    return as_3x3(m)


# ---------------------------------------------------------------- the tracker


@pytest.mark.parametrize("dx, dy, degrees, zoom, upscale", [
    (4.3, -2.7, 1.5, 1.03, 1),
    (-9.6, 6.2, -2.5, 0.97, 1),
    (0.4, 0.25, 0.0, 1.0, 1),
    (7.1, 3.3, 1.0, 1.02, 4),  # 1280 x 720: measured on a 640 px proxy, in frame pixels
])
def test_tracker_recovers_a_known_similarity(dx, dy, degrees, zoom, upscale):
    frame = pan_frames(1)[0]
    if upscale > 1:
        frame = cv2.resize(frame, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    h, w = frame.shape[:2]
    truth = similarity(dx, dy, degrees, zoom, w, h)
    moved = view(frame, np.linalg.inv(truth))  # the content at p moves to truth @ p
    tracker = Tracker()
    assert tracker.push(frame) is None  # no previous frame
    got = tracker.push(moved)
    assert got is not None and got.shape == (3, 3)
    assert corner_error(got, truth, w, h) < 0.2 * upscale, (got, truth)


@pytest.mark.parametrize("other", ["noise", "flat"])
def test_tracker_finds_no_motion_without_common_content(other):
    frame = pan_frames(1)[0]
    rng = np.random.default_rng(0)
    after = {"noise": rng.random(frame.shape, dtype=np.float32),
             "flat": np.full_like(frame, 0.4)}[other]
    tracker = Tracker()
    tracker.push(frame)
    assert tracker.push(after) is None
    assert tracker.push(pan_frames(1)[0]) is None  # nothing to track from (noise/flat)...
    assert tracker.push(pan_frames(1)[0]) is not None  # ...until content returns


def test_tracker_follows_the_pan_past_the_ball():
    """The sample pans ~2.8 px/frame left with a ball rolling against it: the background
    wins, and the path of the steady pan has (almost) no jitter."""
    frames = pan_frames(N)
    path = measure_path(frames)
    assert path.segments == [0]
    steps = np.diff(path.params()[:, 0])
    assert np.all((steps < -2.0) & (steps > -3.6)), steps
    assert path.jitter() < 0.6


# ---------------------------------------------------------------- the camera path


def test_a_missing_motion_starts_a_new_segment():
    w, h = 320, 180
    a = similarity(3.0, -1.0, 0.5, 1.01, w, h)
    b = similarity(-2.0, 4.0, -0.3, 1.0, w, h)
    path = CameraPath.from_motions([None, a, a, None, b, b], w, h)
    assert path.segments == [0, 3]
    assert path.spans() == [(0, 3), (3, 6)]
    expected = [np.eye(3), a, a @ a, np.eye(3), b, b @ b]
    assert np.allclose(path.poses, expected)
    # a motion list that does not start with None still starts a segment at frame 0
    assert CameraPath.from_motions([a, None, b], w, h).segments == [0, 1]
    # each segment is smoothed on its own: a jump at the cut is no shake...
    steady = [None, *[similarity(-2.0, 0, 0, 1, w, h)] * 9]
    jump = CameraPath.from_motions(steady + steady, w, h)
    assert jump.segments == [0, 10]
    assert jump.jitter() < 1e-9
    warps = jump.warps(5.0, 0.08)
    assert np.allclose(warps, np.eye(3), atol=1e-9)  # a steady pan is left where it is


def test_pose_params_round_trip():
    centre = np.array([159.5, 89.5])
    params = np.array([12.0, -7.5, 0.03, np.log(1.02)])
    assert np.allclose(pose_params(pose_matrix(params, centre), centre), params)


@pytest.mark.parametrize("n, sigma", [(100, 15.0), (16, 15.0), (5, 30.0), (30, 5.0)])
def test_a_steady_pan_stays_straight_to_its_ends(n, sigma):
    t = np.arange(n, dtype=np.float64)
    line = np.column_stack([3.0 - 2.8 * t, 0.4 * t, 0.001 * t, -0.0005 * t])
    assert np.abs(smooth(line, sigma) - line).max() < 1e-6
    bound = np.array([25.6, 14.4, MAX_ROLL, MAX_ZOOM])
    assert np.abs(bounded_smooth(line, sigma, bound) - line).max() < 1e-6


def test_bounded_smoothing_never_moves_a_frame_beyond_the_bound():
    rng = np.random.default_rng(1)
    w, h, n = 320, 180, 60
    t = np.arange(n, dtype=np.float64)
    raw = np.column_stack([-2.5 * t + rng.normal(0, 80, n), rng.normal(0, 60, n),
                           rng.normal(0, 0.4, n), rng.normal(0, 0.2, n)])
    path = CameraPath(np.array([pose_matrix(p, np.array([(w - 1) / 2, (h - 1) / 2]))
                                for p in raw]), [0], w, h)
    assert np.allclose(path.params(), raw)
    max_shift = 0.08
    out = path.smoothed(15.0, max_shift)
    bound = np.array([max_shift * w, max_shift * h, MAX_ROLL, MAX_ZOOM])
    assert np.all(np.abs(out - raw) <= bound + 1e-9)
    assert np.any(np.isclose(np.abs(out - raw), bound))  # the bound was needed here
    # a shake three times the bound cannot be taken out, but none is added
    assert jitter(out, path.spans(), w, h) < path.jitter()
    # a shake within the bound is (almost) all taken out
    small = np.column_stack([-2.5 * t + rng.normal(0, 4, n), rng.normal(0, 4, n),
                             rng.normal(0, 0.008, n), rng.normal(0, 0.004, n)])
    calm = CameraPath(np.array([pose_matrix(p, path.centre) for p in small]), [0], w, h)
    out = calm.smoothed(15.0, max_shift)
    assert np.all(np.abs(out - small).max(axis=0) < 0.8 * bound)  # the bound not reached
    assert jitter(out, calm.spans(), w, h) < 0.1 * calm.jitter()


# ---------------------------------------------------------------- warps, masks, crop


def test_warp_frame_marks_exactly_what_it_uncovers():
    frame = pan_frames(1)[0]
    h, w = frame.shape[:2]
    shift = np.eye(3)
    shift[0, 2] = 5.0  # output q shows the frame at q + (5, 0)
    out, hole = warp_frame(frame, shift)
    assert out.shape == frame.shape and hole.shape == (h, w)
    cols = np.flatnonzero(hole.any(axis=0))
    assert hole[:, cols].all()  # whole columns...
    assert w - 5 - MARGIN <= cols.min() <= w - 5 and cols.max() == w - 1  # ...on the right
    keep = ~hole
    assert np.abs(out[:, : w - 8] - frame[:, 5 : w - 3]).max() < 1e-5  # integer shift: exact
    assert out[keep].min() >= frame.min() and out[keep].max() <= frame.max()
    # nothing uncovered by the identity
    out, hole = warp_frame(frame, np.eye(3))
    assert not hole.any() and np.abs(out - frame).max() < 1e-5


def test_crop_zoom_keeps_every_frame_inside_its_input():
    frames = quantised(shake_frames(pan_frames(N), **SHAKE))
    h, w = frames.shape[1:3]
    path = measure_path(frames)
    warps, _ = plan_warps(path, "fill")
    k = crop_zoom(warps, w, h)
    assert 0.7 < k < 1.0
    inside = zoomed(warps, k, w, h)
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T
    for warp in inside:
        x, y = (warp @ corners)[:2]
        assert np.all((x >= MARGIN) & (x <= w - 1 - MARGIN)
                      & (y >= MARGIN) & (y <= h - 1 - MARGIN)), (x, y)
    # and no frame, warped for real, shows any border
    assert not any(warp_frame(f, wp)[1].any() for f, wp in zip(frames, inside, strict=True))
    # while the unzoomed warps do uncover some, and a little more zoom-out would too
    assert any(warp_frame(f, wp)[1].any() for f, wp in zip(frames, warps, strict=True))
    wider = zoomed(warps, min(k * 1.01, 1.0), w, h)
    assert any(warp_frame(f, wp)[1].any() for f, wp in zip(frames, wider, strict=True))
    assert plan_warps(path, "crop")[1] == pytest.approx(k)


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def shaky(tmp_path_factory):
    """A shaky clip made from the pan (16 PNG frames in ``shaky/``), the steady frames, the
    maps of the shaken views (S_t) and the jitter of the shaky clip."""
    root = tmp_path_factory.mktemp("stabilise")
    steady = pan_frames(N)
    frames = shake_frames(steady, **SHAKE)
    folder = write_pngs(root / "shaky", frames)
    views = shaken_views(N, *steady.shape[1:3])
    jitter_in = measure_path(read_frames(folder)).jitter()
    return folder, steady, views, jitter_in


def test_the_shaken_views_are_known(shaky):
    """The truth the command's tests compare with: shaken frame t = steady frame t at S_t q."""
    _, steady, views, jitter_in = shaky
    frames = shake_frames(steady, **SHAKE)
    for t in (0, N // 2, N - 1):
        again = np.clip(view(steady[t], views[t]), 0, 1)
        assert np.abs(again - frames[t]).max() < 1e-5
    assert jitter_in > 4.0  # several pixels of shake


def stabilised_truth(steady: np.ndarray, views: np.ndarray, warps: np.ndarray) -> np.ndarray:
    """What a perfect stabilised frame shows: output q -> shaken at W_t q -> steady at
    S_t W_t q. Checks that every output pixel then lies inside the steady frame."""
    h, w = steady.shape[1:3]
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], float).T
    out = []
    for frame, s, warp in zip(steady, views, warps, strict=True):
        x, y = (s @ warp @ corners)[:2]
        assert np.all((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1))
        out.append(np.clip(view(frame, s @ warp), 0, 1))
    return np.stack(out)


def test_fill_mode_steadies_the_clip_and_fills_its_borders(shaky, tmp_path, capsys):
    folder, steady, views, jitter_in = shaky
    out = tmp_path / "out"
    code = cli.main(["stabilise", str(folder), "-o", str(out), *FAST])
    _, err = capsys.readouterr()
    assert code == 0 and err == "", err
    assert sorted(os.listdir(out)) == sorted(os.listdir(folder))
    result = read_frames(out)
    assert result.shape == (N, *steady.shape[1:])
    jitter_out = measure_path(result).jitter()
    assert jitter_out < jitter_in / 5, (jitter_in, jitter_out)

    # the border each warp uncovered is filled with the scene, not black
    shaky_frames = read_frames(folder)
    warps, zoom = plan_warps(measure_path(shaky_frames), "fill")
    assert zoom == 1.0
    holes = np.stack([warp_frame(f, wp)[1] for f, wp in zip(shaky_frames, warps, strict=True)])
    assert holes.mean() > 0.01 and holes.any(axis=(1, 2)).sum() >= N // 2
    truth = stabilised_truth(steady, views, warps)
    error = np.abs(result - truth).mean(axis=-1)
    black = truth.mean(axis=-1)
    filled, as_black = float(error[holes].mean()), float(black[holes].mean())
    assert filled < 0.1 * as_black, (filled, as_black)  # about 0.04 against 0.6
    assert float(error[~holes].mean()) < 0.01  # elsewhere the warped input itself
    assert (result[holes].max(axis=-1) < 0.02).mean() < 0.002  # no black left in the fill


def test_crop_mode_shows_no_border(shaky, tmp_path, capsys):
    folder, steady, views, jitter_in = shaky
    out = tmp_path / "out"
    code = cli.main(["stabilize", str(folder), "-o", str(out), "--mode", "crop"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "cropped to" in err and "px RMS in" in err
    result = read_frames(out)
    assert result.shape == (N, *steady.shape[1:])
    assert measure_path(result).jitter() < jitter_in / 5
    warps, zoom = plan_warps(measure_path(read_frames(folder)), "crop")
    assert zoom < 1.0
    truth = stabilised_truth(steady, views, warps)
    error = np.abs(result - truth).mean(axis=-1)
    assert error.mean() < 0.01
    for edge in (error[:, 0], error[:, -1], error[:, :, 0], error[:, :, -1]):
        assert edge.mean() < 0.02  # the outermost rows and columns show the scene...
    for edge in (result[:, :2], result[:, -2:], result[:, :, :2], result[:, :, -2:]):
        assert (edge.max(axis=-1) < 0.02).mean() < 0.002  # ...and nothing black


def test_a_movie_keeps_its_audio(tmp_path, capsys):
    import av

    out = tmp_path / "steady.mp4"
    code = cli.main(["stabilise", str(SAMPLES / "pan.mp4"), "-o", str(out), "--frames", "0:16",
                     *FAST])
    _, err = capsys.readouterr()
    assert code == 0 and err == "", err
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert len(c.streams.audio) == 1 and c.streams.audio[0].codec_context.name == "aac"
    result = read_frames(out)
    assert result.shape == (16, 180, 320, 3)
    # the sample pans steadily: it comes back (almost) as it was
    source = read_frames(SAMPLES / "pan.mp4")[:16]
    assert np.abs(result - source).mean() < 0.03


BAD = {
    "missing input": (lambda tmp: [tmp / "nope"], "nope"),
    "max shift too large": (lambda tmp: [tmp / "in", "--max-shift", "80"], "--max-shift"),
    "negative smoothness": (lambda tmp: [tmp / "in", "--smoothness", "-1"], "--smoothness"),
    "negative max shift": (lambda tmp: [tmp / "in", "--max-shift", "-1"], "--max-shift"),
    "unknown mode": (lambda tmp: [tmp / "in", "--mode", "zoom"], "--mode"),
}


@pytest.mark.parametrize("output", ["out", "out.mp4"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, case, output):
    write_pngs(tmp_path / "in", pan_frames(4))
    args, names = BAD[case]
    listing = sorted(os.listdir(tmp_path))
    code = cli.main(["stabilise", *map(str, args(tmp_path)), "-o", str(tmp_path / output)])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowfill: error: "), err
    assert names in lines[0]
    assert out == ""
    assert sorted(os.listdir(tmp_path)) == listing  # no output, no temporary files
