"""Tests of the evaluation kit: metrics, synthetic masks, the sample scene and the benchmark."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowfill.evaluate import benchmark, clips, masks, metrics, scenes

SAMPLES = Path(__file__).resolve().parents[1] / "sample_clips"


def _rng_image(seed: int, shape: tuple[int, ...] = (48, 64, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


# --------------------------------------------------------------------------- metrics


def test_psnr_identical_is_cap() -> None:
    a = _rng_image(0)
    assert metrics.psnr(a, a) == metrics.PSNR_CAP
    assert metrics.hole_psnr(a, a, np.ones(a.shape[:2], bool)) == metrics.PSNR_CAP


def test_psnr_matches_formula() -> None:
    a = np.full((20, 30, 3), 100, np.uint8)
    b = a + np.uint8(10)  # MSE = 100 exactly
    assert metrics.psnr(a, b) == pytest.approx(20 * math.log10(255 / 10), abs=1e-12)
    c = _rng_image(1)
    d = np.clip(c.astype(int) + np.random.default_rng(2).integers(-20, 21, c.shape), 0, 255)
    mse = np.mean((c.astype(np.float64) - d) ** 2)
    assert metrics.psnr(c, d.astype(np.uint8)) == pytest.approx(10 * math.log10(255**2 / mse))


def test_hole_psnr_only_sees_hole() -> None:
    a = _rng_image(3)
    hole = np.zeros(a.shape[:2], bool)
    hole[10:20, 5:25] = True
    b = a.copy()
    b[~hole] = 255 - b[~hole]  # damage outside the hole: invisible to hole-PSNR
    assert metrics.hole_psnr(a, b, hole) == metrics.PSNR_CAP
    b[hole] = np.clip(b[hole].astype(int) + 8, 0, 255)
    mse = np.mean((a[hole].astype(np.float64) - b[hole]) ** 2)
    assert metrics.hole_psnr(a, b, hole) == pytest.approx(10 * math.log10(255**2 / mse))
    assert math.isnan(metrics.hole_psnr(a, b, np.zeros_like(hole)))


def test_ssim_matches_skimage() -> None:
    skm = pytest.importorskip("skimage.metrics")
    a = _rng_image(4, (90, 120, 3))
    blurred = cv2.GaussianBlur(a, (5, 5), 1.5)
    for b in (blurred, a, 255 - a):
        ref = skm.structural_similarity(a, b, channel_axis=-1, win_size=65, data_range=255)
        assert metrics.ssim(a, b) == pytest.approx(ref, abs=1e-6)


def test_flicker_zero_for_truth_and_grows_with_noise() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(40, 200, (6, 32, 32, 3)).astype(np.uint8)
    hole = np.zeros((6, 32, 32), bool)
    hole[:, 8:24, 8:24] = True
    assert metrics.flicker(truth, truth, hole) == 0.0
    # a steady error is not flicker
    steady = np.clip(truth.astype(int) + 10, 0, 255).astype(np.uint8)
    assert metrics.flicker(steady, truth, hole) == 0.0
    values = []
    for sigma in (2, 6, 15):
        noisy = np.clip(truth + rng.normal(0, sigma, truth.shape), 0, 255).astype(np.uint8)
        values.append(metrics.flicker(metrics.composite(noisy, truth, hole), truth, hole))
    assert 0 < values[0] < values[1] < values[2]


def test_composite_takes_hole_from_prediction() -> None:
    truth = np.zeros((4, 5, 3), np.float32)
    pred = np.ones((4, 5, 3), np.float32)
    hole = np.zeros((4, 5), bool)
    hole[1, 2] = True
    out = metrics.composite(pred, truth, hole)
    assert out.dtype == np.uint8 and out[1, 2].tolist() == [255] * 3 and out.sum() == 3 * 255


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize("kind", masks.MASK_KINDS)
def test_masks_deterministic_and_sized(kind: str) -> None:
    a = masks.make_mask(kind, 12, 60, 100, seed=7)
    b = masks.make_mask(kind, 12, 60, 100, seed=7)
    c = masks.make_mask(kind, 12, 60, 100, seed=8)
    assert a.shape == (12, 60, 100) and a.dtype == bool
    assert np.array_equal(a, b)
    assert kind in ("logo", "text") or not np.array_equal(a, c)
    nonempty = a.any(axis=(1, 2))
    assert nonempty.mean() >= (0.8 if kind == "scratches" else 1.0)


def test_blob_moves_and_has_the_right_size() -> None:
    m = masks.moving_blob(10, 240, 432, seed=1)
    ys, xs = zip(*(np.argwhere(f).mean(axis=0) for f in m), strict=True)
    assert abs(xs[-1] - xs[0]) > 432 / 3
    across = np.sqrt(4 * m.sum(axis=(1, 2)) / np.pi)
    assert np.all((across > 240 / 10) & (across < 240 / 3.5))


def test_logo_identical_every_frame() -> None:
    m = masks.stationary_logo(6, 240, 432, seed=2)
    assert all(np.array_equal(m[0], f) for f in m)
    ys, xs = np.nonzero(m[0])
    assert 0 < len(ys) < 0.1 * m[0].size
    # sits in a corner region
    assert ys.max() < 240 / 3 or ys.min() > 2 * 240 / 3
    assert xs.max() < 432 / 2 or xs.min() > 432 / 2


def test_text_is_several_words_of_thin_strokes_the_same_every_frame() -> None:
    m = masks.burnt_in_text(5, 240, 432, seed=4)
    assert all(np.array_equal(m[0], f) for f in m)
    n_labels, _ = cv2.connectedComponents(m[0].astype(np.uint8))
    assert n_labels - 1 >= 20  # letters (26 here; some touch once grown)
    # thin: no pixel lies deeper than 3 px inside the mask (a logo's strokes are thicker)
    depth = cv2.distanceTransform(m[0].astype(np.uint8), cv2.DIST_L2, 3)
    assert depth.max() <= 3.0
    ys, xs = np.nonzero(m[0])
    assert xs.max() - xs.min() > 432 / 2 and ys.max() - ys.min() < 240 / 5
    narrow = masks.burnt_in_text(2, 224, 264, seed=4)[0]  # fits a narrower frame
    assert narrow.any() and not narrow[:, :2].any() and not narrow[:, -2:].any()


def test_scratches_are_thin_and_near_vertical() -> None:
    m = masks.scratches(30, 120, 200, seed=3)
    padded = np.pad(m, ((0, 0), (0, 0), (1, 1))).astype(np.int8)
    d = np.diff(padded, axis=2)
    runs = np.argwhere(d == -1)[:, 2] - np.argwhere(d == 1)[:, 2]
    assert runs.max() <= 3
    # tall: each frame's marked rows cover a good part of the height
    assert np.all(m.any(axis=2).sum(axis=1)[m.any(axis=(1, 2))] >= 0.5 * 120)


def test_dilate_cross() -> None:
    m = np.zeros((1, 21, 21), bool)
    m[0, 10, 10] = True
    grown = masks.dilate_cross(m, 4)
    assert grown.sum() == 1 + 4 * (1 + 2 + 3 + 4)  # a diamond of radius 4


# --------------------------------------------------------------------------- sample scene


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_shipped_sample_matches_generator() -> None:
    spec = scenes.pan_scene()
    frame_paths = sorted((SAMPLES / "pan").glob("*.png"))
    mask_paths = sorted((SAMPLES / "pan_mask").glob("*.png"))
    assert len(frame_paths) == len(mask_paths) == spec.frames
    for t, (fp, mp) in enumerate(zip(frame_paths, mask_paths, strict=True)):
        frame, mask = scenes.render_frame(spec, t)
        shipped = _read_rgb(fp)
        assert shipped.shape == (180, 320, 3)
        assert np.array_equal(shipped, frame), f"{fp.name} drifted from scenes.py"
        shipped_mask = cv2.imread(str(mp), cv2.IMREAD_GRAYSCALE)
        assert set(np.unique(shipped_mask)) <= {0, 255}
        assert np.array_equal(shipped_mask > 0, mask)
        clean, _ = scenes.render_frame(spec, t, with_object=False)
        differs = np.any(clean != shipped, axis=-1)
        assert differs.any() and not np.any(differs & ~mask)


def test_scenes_pan_and_static_variant() -> None:
    spec = scenes.pan_scene(96, 54, 6)
    a, _ = scenes.render_frame(spec, 0, with_object=False)
    b, _ = scenes.render_frame(spec, 5, with_object=False)
    assert a.std() > 20 and not np.array_equal(a, b)  # structured and moving
    static = scenes.static_scene(96, 54, 6)
    frames, holes = scenes.render(static, with_object=False)
    assert all(np.array_equal(frames[0], f) for f in frames)
    assert np.logical_and.reduce(holes).any()  # part of the hole is never seen


def test_sample_movie_has_video_and_audio() -> None:
    av = pytest.importorskip("av")
    with av.open(str(SAMPLES / "pan.mp4")) as container:
        kinds = {s.type for s in container.streams}
        assert {"video", "audio"} <= kinds
        assert sum(1 for _ in container.decode(video=0)) == scenes.pan_scene().frames


# --------------------------------------------------------------------------- clips / benchmark


def test_missing_shared_clip_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOWFILL_SHARED_CLIPS", str(tmp_path))
    assert clips.load_clip("tennis") is None
    assert clips.load_clip("running_car") is None
    assert "skipping" in capsys.readouterr().out
    sample = clips.load_clip("sample", 4)
    assert sample is not None and sample.frames.shape == (4, 180, 320, 3)
    assert sample.frames.dtype == np.float32 and sample.object_masks is not None


def test_the_shaky_clip_is_the_shipped_movies_street_shaken_alike_however_many_frames() -> None:
    av = pytest.importorskip("av")
    every, few = clips.load_clip("shaky"), clips.load_clip("shaky", 6)
    assert every is not None and few is not None
    assert every.frames.shape == (clips.SHAKY_FRAMES, 180, 320, 3)
    assert np.array_equal(few.frames, every.frames[:6]) and few.truth is few.frames
    # sample_clips/shaky.mp4 is the same street through the same shake, with its ball: away
    # from the ball, the two agree within the codec's error (the next frame, shaken otherwise,
    # does not)
    with av.open(str(SAMPLES / "shaky.mp4")) as container:
        movie = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert len(movie) == clips.SHAKY_FRAMES
    error = np.abs(movie[:6].astype(np.float32) / 255 - few.frames).max(axis=-1)
    assert np.median(error) < 0.02
    assert np.median(np.abs(movie[1].astype(np.float32) / 255 - few.frames[0]).max(axis=-1)) > \
        2 * np.median(error)


def test_option_pass_through() -> None:
    parser, names = benchmark.build_parser()
    args = parser.parse_args(["--window", "12", "--dilate", "none", "--max-keyframes", "3"])
    got = {n: getattr(args, f"opt_{n}") for n in names if hasattr(args, f"opt_{n}")}
    assert got == {"window": 12, "dilate": None, "max_keyframes": 3}


def test_benchmark_quick_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert benchmark.main(["--quick", "--clips", "sample", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "telea" in text and "s/frame" in text
    # the case being run goes to stderr; no bars there when it is not a terminal
    assert captured.err.count("... sample/") == len(benchmark.CASES)
    assert "propagate" not in captured.err
    report = json.loads(out.read_text())
    assert {c["case"] for c in report["cases"]} == set(benchmark.CASES)
    # hole-PSNR gain over Telea measured here, the hole blanked in the input: blob +15.2,
    # parked +7.0, logo -0.7 (a still logo on a pan, nothing better to copy), text +0.6,
    # scratches +5.0, stabilisation borders +7.6, object +5.0 dB; Telea scores 14.7-27.1 dB.
    # (SSIM of the composited frames is above 0.98 for any fill: not a test.)
    floor = {"blob": 3.0, "parked": 3.0, "logo": -2.0, "text": -1.0, "scratches": 1.5,
             "borders": 3.0, "object": 2.0}
    for case in report["cases"]:
        assert case["error"] is None and case["peak_mb"] > 0
        assert 0 < case["flowfill"]["detail"] < 3 and 0 < case["telea"]["detail"] < 3
        telea, ours = case["telea"]["hole_psnr"], case["flowfill"]["hole_psnr"]
        assert 10 < telea < 35, case
        assert case["hole_psnr_gain"] == pytest.approx(ours - telea)
        assert case["hole_psnr_gain"] > floor[case["case"]], (case["case"], ours, telea)
    assert np.mean([c["hole_psnr_gain"] for c in report["cases"]]) > 2.5  # 3.4 here


def test_hole_ssim_and_detail_ratio_tell_blur_and_noise_from_the_truth():
    from flowfill.evaluate.metrics import high_frequency_ratio, hole_ssim

    rng = np.random.default_rng(0)
    truth = (rng.random((60, 80, 3)) * 255).astype(np.uint8)
    truth = cv2.GaussianBlur(truth, (0, 0), 1.0)
    hole = np.zeros((60, 80), bool)
    hole[20:40, 30:50] = True
    blurred = truth.copy()
    blurred[hole] = cv2.GaussianBlur(truth, (0, 0), 3.0)[hole]
    noisy = np.clip(truth + rng.normal(0, 25, truth.shape), 0, 255).astype(np.uint8)
    noisy[~hole] = truth[~hole]
    assert hole_ssim(truth, truth, hole) == pytest.approx(1.0)
    assert high_frequency_ratio(truth, truth, hole) == pytest.approx(1.0)
    assert hole_ssim(blurred, truth, hole) < 0.8 and hole_ssim(noisy, truth, hole) < 0.9
    assert high_frequency_ratio(blurred, truth, hole) < 0.3
    assert high_frequency_ratio(noisy, truth, hole) > 1.2
    assert np.isnan(hole_ssim(truth, truth, np.zeros_like(hole)))
    # the clip's pooled ratio: frames weigh by their holes' energy; frames without hole skip
    from flowfill.evaluate.metrics import detail_ratio

    clip, holes = np.stack([truth, truth]), np.stack([hole, np.zeros_like(hole)])
    assert detail_ratio(clip, clip, holes) == pytest.approx(1.0)
    assert detail_ratio(np.stack([noisy, blurred]), clip, holes) == pytest.approx(
        high_frequency_ratio(noisy, truth, hole))
    assert detail_ratio(np.stack([blurred, noisy]), clip, holes) < 0.3
    assert np.isnan(detail_ratio(clip, clip, np.zeros_like(holes)))


def test_stabilise_benchmark_takes_the_shake_out(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    assert benchmark.main(["--stabilise", "--clips", "sample", "--frames", "16", "--fill",
                           "telea", "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "shake in px" in captured.out
    assert captured.err == ""  # --quiet: nothing on stderr
    (row,) = json.loads(out.read_text())["stabilise"]
    assert row["frames"] == 16 and row["black_left"] == 0
    assert 0 < row["uncovered_percent"] < 20
    assert row["jitter_in_px"] > 2 and row["reduction"] > 5, row


# --------------------------------------------------------------------------- archival


def _archival_defects() -> tuple[object, np.ndarray]:
    """Two 40 x 60 frames: specks of 9 px (frame 0, 3.4 px wide), 25 px (frame 0, 5.6 px) and
    16 px (frame 1, 4.5 px); a 1-px scratch of 30 px on frame 1; a 4 x 4 ball on frame 0."""
    from flowfill.evaluate.defects import Defects

    dust = np.zeros((2, 40, 60), np.int32)
    dust[0, 5:8, 5:8] = 1
    dust[0, 20:25, 30:35] = 2
    dust[1, 30:34, 10:14] = 3
    scratches = np.zeros_like(dust)
    scratches[1, 5:35, 50] = 1
    sizes = {i: float(2 * np.sqrt((dust == i).sum() / np.pi)) for i in (1, 2, 3)}
    ball = np.zeros(dust.shape, bool)
    ball[0, 30:34, 50:54] = True
    frames = np.zeros((2, 40, 60, 3), np.float32)
    return Defects(frames, dust, scratches, sizes), ball


def test_archival_detection_scores_on_oracle_masks() -> None:
    from flowfill.evaluate import archival

    defects, ball = _archival_defects()
    oracle = archival.near(defects.footprint, 2)  # what a perfect detector with margin 2 gives
    s = archival.score_detection(oracle, defects, ball)
    assert (s.dust_recall, s.small_recall, s.precision, s.scratch_recall) == (1, 1, 1, 1)
    assert s.false_percent == 0 and s.ball_percent == 0
    assert s.counts == {"specks_found": 2, "specks": 2, "small_specks_found": 1,
                        "small_specks": 1, "components_true": 4, "components": 4}

    # missing one of the two specks of 4 px and more: recall 0.5; the small one is apart
    missing = oracle.copy()
    missing[0, 15:30, 25:40] = False
    assert archival.score_detection(missing, defects, ball).dust_recall == 0.5
    # half of a speck's footprint is enough, a pixel less is not
    half = np.zeros_like(oracle)
    half[1, 30:32, 10:14] = True
    assert archival.speck_found(half, defects.dust)[3]
    half[1, 31, 13] = False
    assert not archival.speck_found(half, defects.dust)[3]
    # a false blob of 6 px far from every defect: precision 4/5, 6 of 4800 pixels false;
    # one on the ball: its pixels go, and it is false too
    blob = oracle.copy()
    blob[1, 2:4, 25:28] = True
    s = archival.score_detection(blob, defects, ball)
    assert s.precision == pytest.approx(0.8)
    assert s.false_percent == pytest.approx(100 * 6 / 4800)
    on_ball = oracle.copy()
    on_ball[0, 30:32, 50:54] = True
    s = archival.score_detection(on_ball, defects, ball)
    assert s.ball_percent == pytest.approx(50.0) and s.precision == pytest.approx(0.8)
    # a pixel within margin + 1 of a speck is the margin, not a false detection
    grown = oracle.copy()
    grown[0, 5:8, 10] = True  # 3 px right of speck 1 (columns 5-7)
    assert archival.score_detection(grown, defects, ball).false_percent == 0
    # half the scratch found
    short = oracle.copy()
    short[1, 20:, 47:54] = False
    assert archival.score_detection(short, defects, ball).scratch_recall == pytest.approx(0.5)
    # nothing found: recall 0, precision undefined, nothing false
    s = archival.score_detection(np.zeros_like(oracle), defects, ball)
    assert s.dust_recall == 0 and math.isnan(s.precision) and s.false_percent == 0


def test_archival_fill_scores() -> None:
    from flowfill.evaluate import archival

    rng = np.random.default_rng(0)
    truth = np.clip(128 + rng.normal(0, 8, (3, 60, 80, 3)), 0, 255).astype(np.uint8)
    region = np.zeros((3, 60, 80), bool)
    region[:, 20:40, 30:50] = True
    s = archival.score_fill(truth, truth, region, region)
    assert s.hole_psnr == metrics.PSNR_CAP and s.flicker == 0 and s.detail == pytest.approx(1)
    assert s.grain == pytest.approx(1.0, abs=0.15)  # the picture's own grain
    flat = truth.copy()
    flat[region] = 128
    smooth = archival.score_fill(flat, truth, region, region)
    assert smooth.detail < 0.1 and smooth.hole_psnr < 35 and smooth.grain < 0.1


def test_archival_benchmark_runs_the_detector_and_both_fills(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "a.json"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: flowfill's bars
    assert benchmark.main(["--archival", "--clips", "sample", "--frames", "10", "--in-process",
                           "--out", str(out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "dust>=4" in text and "detection/fill" in text
    assert "... sample/grainy" in captured.err
    for stage in ("flow", "propagate", "reflow", "repropagate"):
        assert f"{stage:<11}" in captured.err, stage
    report = json.loads(out.read_text())
    rows = report["archival"]
    assert [(r["clip"], r["variant"], r["frames"]) for r in rows] == [
        ("sample", "clean", 10), ("sample", "grainy", 10)]
    for row in rows:
        d = row["detection"]
        assert d["specks"] >= 10 and d["components"] >= 1, d
        assert d["dust_recall"] >= 0.8, d  # most painted dust is found
        # precision, false detections and the ball are reported against issue 17's bars, which
        # the detector does not meet on this clip yet (brick joints, the ball): figures only
        assert 0 < d["precision"] <= 1 and 0 <= d["false_percent"] < 5, d
        assert 0 <= d["ball_percent"] <= 100 and 0 <= row["clean_false_percent"] < 5, row
        assert row["error"] is None and row["seconds_per_frame"] > 0
        assert row["detect_seconds_per_frame"] > 0
        ours, telea = row["flowfill"], row["telea"]
        assert set(ours) == set(telea) == {"hole_psnr", "flicker", "detail", "grain"}
        assert 10 < telea["hole_psnr"] < ours["hole_psnr"], row  # flowfill fills, and better
        assert row["hole_psnr_gain"] == pytest.approx(ours["hole_psnr"] - telea["hole_psnr"])
    summary = report["archival_summary"]
    assert summary["rows"] == 2 and 0 <= summary["ball_percent_max"] <= 100
