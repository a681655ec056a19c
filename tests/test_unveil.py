"""Line defects that let the picture through are undone, not replaced (issue 17)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import flowfill
from flowfill.cli import build_parser, options_from_args
from flowfill.evaluate.clips import load_frame_folder, load_sample
from flowfill.evaluate.defects import add_grain
from flowfill.fuse.unveil import column_median, line_parts, unveil_lines

TENNIS = Path(__file__).resolve().parents[2] / "shared" / "clips" / "tennis"


def scratch(frame: np.ndarray, x: float, share: float, colour: float, rows: slice,
            width: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` with a soft vertical line of peak opacity ``share`` laid over ``rows``, and
    its mask (the line grown by 2 px, as the detector gives it)."""
    h, w = frame.shape[:2]
    across = np.clip(width / 2 + 0.5 - np.abs(np.arange(w, dtype=np.float32) - x), 0, 1)
    alpha = np.zeros((h, w), np.float32)
    alpha[rows] = share * across
    out = frame * (1 - alpha[..., None]) + colour * alpha[..., None]
    mask = cv2.dilate((alpha > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return out.astype(np.float32), mask


def fill_of(picture: np.ndarray, mask: np.ndarray, off: float = 0.01, error: float = 0.04,
            seed: int = 0) -> np.ndarray:
    """What a fill from other frames gives: ``picture`` (without this frame's grain) off by a
    little everywhere and by an error that changes from pixel to pixel (flow, blending)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.standard_normal(picture.shape).astype(np.float32), (0, 0), 0.7)
    return (picture + off + error / 0.45 * noise)[mask]  # blur at 0.7 keeps std ~0.45


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def highpass(image: np.ndarray) -> np.ndarray:
    return image - cv2.GaussianBlur(image, (0, 0), 1.0)


def highpass_std(image: np.ndarray, where: np.ndarray) -> float:
    return float(np.std(highpass(image)[where]))


@pytest.mark.skipif(not TENNIS.is_dir(), reason="shared clips absent (CI has them)")
def test_a_faint_scratch_on_grainy_film_gives_back_the_picture_and_its_grain():
    clean = load_frame_folder(TENNIS, max_frames=1)
    truth = add_grain(clean, seed=3)[0]
    frame, mask = scratch(truth, 200.3, 0.35, 1.0, slice(20, 220))
    fill = fill_of(clean[0], mask)
    out = unveil_lines(frame, mask, fill)
    # the fill lacks this frame's grain and errs; the frame under the line holds the picture
    assert rms(out, truth[mask]) < 0.5 * rms(fill, truth[mask])
    restored = frame.copy()
    restored[mask] = out
    inside = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ratio = highpass_std(restored, inside) / highpass_std(truth, inside)
    assert 0.8 < ratio < 1.25, ratio
    # and it is this frame's own grain, not noise of the same strength
    own = np.corrcoef(highpass(restored)[inside].ravel(), highpass(truth)[inside].ravel())[0, 1]
    assert own > 0.7, own


def test_dark_lines_and_the_frame_outside_the_line_come_back_too():
    truth = load_sample(max_frames=1).truth[0]
    frame, mask = scratch(truth, 150.0, 0.4, 0.0, slice(10, 170), width=3.5)
    fill = fill_of(truth, mask, off=-0.01)
    out = unveil_lines(frame, mask, fill)
    assert rms(out, truth[mask]) < 0.4 * rms(fill, truth[mask])
    # the mask's margin is the picture itself: it stays the frame's
    margin = ~cv2.dilate(
        (np.abs(frame - truth).max(-1) > 1e-6).astype(np.uint8), np.ones((3, 3))).astype(bool)
    assert rms(out[margin[mask]], truth[mask & margin]) < 0.01


def test_opaque_lines_and_specks_keep_the_fill():
    truth = load_sample(max_frames=1).truth[0]
    frame, mask = scratch(truth, 100.0, 1.0, 1.0, slice(20, 160))
    speck = np.zeros(mask.shape, bool)
    speck[40:49, 200:209] = True  # a speck's mask: no line
    frame[speck] = 0.95
    mask |= speck
    fill = fill_of(truth, mask)
    out = unveil_lines(frame, mask, fill)
    core = (frame[mask] == 1.0).all(-1)  # where the line covers the picture wholly
    assert core.sum() > 100
    np.testing.assert_allclose(out[core], fill[core], atol=1e-6)
    np.testing.assert_array_equal(out[speck[mask]], fill[speck[mask]])
    labels, lines = line_parts(mask)
    assert len(lines) == 1 and labels[lines[0][1]].max() == labels[90, 100]


@pytest.mark.parametrize("colour", [(0.1, 0.8, 0.2), (0.9, 0.3, 0.1), (0.3, 0.3, 0.8)])
def test_a_coloured_line_is_no_overlay_and_keeps_the_fill(colour):
    truth = load_sample(max_frames=1).truth[0]
    frame, mask = scratch(truth, 150.0, 0.4, np.float32(colour), slice(10, 170))
    fill = fill_of(truth, mask)
    np.testing.assert_array_equal(unveil_lines(frame, mask, fill), fill)


@pytest.mark.parametrize("colour", [(0.1, 0.8, 0.2), (0.5, 0.5, 0.5)])
def test_an_object_masked_with_unveil_on_keeps_the_fill(colour):
    truth = load_sample(max_frames=1).truth[0]
    pole = truth.copy()
    pole[20:160, 60:64] = colour  # a pole the user masked, with --unveil on by mistake
    mask = np.zeros(truth.shape[:2], bool)
    mask[18:162, 58:66] = True
    fill = fill_of(truth, mask)
    np.testing.assert_array_equal(unveil_lines(pole, mask, fill), fill)


def test_a_line_mask_over_picture_without_a_defect_leaves_the_picture():
    # a detector's false line (a pole's edge): the frame is the picture, the fill only near it
    truth = load_sample(max_frames=1).truth[0]
    mask = np.zeros(truth.shape[:2], bool)
    mask[30:150, 60:66] = True
    fill = fill_of(truth, mask, off=0.01)
    out = unveil_lines(truth, mask, fill)
    assert rms(out, truth[mask]) < 0.5 * rms(fill, truth[mask])


def test_values_outside_the_lines_and_non_finite_pixels_are_not_touched():
    truth = load_sample(max_frames=1).truth[0]
    frame, mask = scratch(truth, 150.0, 0.3, 1.0, slice(10, 170))
    fill = fill_of(truth, mask)
    valid = np.ones(mask.shape, bool)
    valid[50:60] = False  # pixels the frame did not hold (NaN in the input)
    out = unveil_lines(frame, mask, fill, valid)
    np.testing.assert_array_equal(out[~valid[mask]], fill[~valid[mask]])
    assert not np.array_equal(out[valid[mask]], fill[valid[mask]])
    assert unveil_lines(frame, np.zeros_like(mask), fill[:0]).shape == (0, 3)


def test_remove_unveils_a_scratch_and_the_cli_does_it_for_auto_masks():
    clip = load_sample(max_frames=8)
    truth = add_grain(clip.truth, seed=1)
    frames, masks = [], []
    for t, picture in enumerate(truth):
        frame, mask = scratch(picture, 120.0 + 0.4 * t, 0.3, 1.0, slice(15, 165))
        frames.append(frame)
        masks.append(mask)
    frames, masks = np.stack(frames), np.stack(masks)
    plain = flowfill.remove(frames, masks, grain="auto")
    unveiled = flowfill.remove(frames, masks, grain="auto", unveil=True)
    np.testing.assert_array_equal(unveiled[~masks], frames[~masks])
    gain = 20 * np.log10(rms(plain[masks], truth[masks]) / rms(unveiled[masks], truth[masks]))
    assert gain > 3.0, gain
    parser = build_parser()
    auto = parser.parse_args(["remove", "in.mp4", "--mask", "auto", "-o", "o.mp4"])
    assert options_from_args(auto).unveil
    off = parser.parse_args(["remove", "in.mp4", "--mask", "auto", "--no-unveil", "-o", "o.mp4"])
    assert not options_from_args(off).unveil
    folder = parser.parse_args(["remove", "in.mp4", "--mask", "m/", "-o", "o.mp4"])
    assert not options_from_args(folder).unveil


def test_long_runs_are_read_every_few_rows_and_agree_with_the_whole_median():
    # 4K: 72 rows each way; the share fades slowly, the fill's error changes from row to row
    rng = np.random.default_rng(5)
    rows = np.arange(2000, dtype=np.float32)
    share = (0.3 + 0.1 * np.sin(rows / 300))[:, None] + rng.normal(0, 0.08, (2000, 6))
    share = share.astype(np.float32)
    share[rng.random(share.shape) < 0.05] = np.nan
    got = column_median(share, 72)
    padded = np.pad(share, ((72, 72), (0, 0)), constant_values=np.nan)
    whole = np.nanmedian(np.stack([padded[i:i + 2000] for i in range(145)]), axis=0)
    apart = np.abs(got - whole)[100:-100]
    assert np.nanpercentile(apart, 99) < 0.03 and np.nanmean(apart) < 0.01  # noise: std 0.08
    np.testing.assert_allclose(column_median(share[:, :1], 8)[20:40, 0],
                               np.nanmedian(np.stack([share[i - 8:i + 9, 0]
                                                      for i in range(20, 40)]), axis=1),
                               atol=0)
