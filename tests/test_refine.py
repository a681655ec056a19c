"""Hops refined against the hole's known surroundings (``propagate.refine``): a sub-pixel drift
of the completed flow is found from the pixels around a thin hole, and fills follow it."""

import cv2
import numpy as np
import pytest

import flowfill
from flowfill.evaluate import benchmark
from flowfill.evaluate import clips as clipmod
from flowfill.evaluate.metrics import composite, to_uint8
from flowfill.propagate.refine import MAX_SHIFT, refine_ends

H, W = 64, 96
SHIFT = (1.3, -0.4)  # where frame 0's content lies in frame 1, relative to frame 0


def _texture(seed: int = 0) -> np.ndarray:
    """A smooth random colour texture (features a few pixels wide), float32 in 0..1."""
    rng = np.random.default_rng(seed)
    big = rng.random((H + 8, W + 8, 3)).astype(np.float32)
    return cv2.GaussianBlur(big, (0, 0), 1.5)


def _pair() -> tuple[np.ndarray, np.ndarray]:
    """Frame 0 with a 3-px wide horizontal stroke as its hole, frame 1 its content moved by
    SHIFT (known everywhere)."""
    tex = _texture()
    warp = np.float32([[1, 0, SHIFT[0]], [0, 1, SHIFT[1]]])
    frame0 = tex[4:4 + H, 4:4 + W]
    moved = cv2.warpAffine(tex, warp, (W + 8, H + 8), flags=cv2.INTER_CUBIC)[4:4 + H, 4:4 + W]
    known = np.ones((2, H, W), bool)
    known[0, 30:33, 10:86] = False
    return np.stack([frame0, moved]), known


def test_a_drifted_hop_across_a_thin_hole_is_brought_back_to_the_true_shift():
    stack, known = _pair()
    idx = np.flatnonzero(~known[0])
    py, px = np.divmod(idx, W)
    drift = (0.8, 0.5)  # the completed flow's error
    x = (px + SHIFT[0] + drift[0]).astype(np.float32)
    y = (py + SHIFT[1] + drift[1]).astype(np.float32)
    nx, ny = refine_ends(stack, ~known, 0, idx, np.ones(idx.size, np.int64), x, y)
    err_before = np.hypot(x - px - SHIFT[0], y - py - SHIFT[1])
    err_after = np.hypot(nx - px - SHIFT[0], ny - py - SHIFT[1])
    assert np.all(err_before > 0.9)
    assert np.median(err_after) < 0.1
    assert np.mean(err_after < 0.25) > 0.9
    assert np.all(np.hypot(nx - x, ny - y) <= MAX_SHIFT * np.sqrt(2) + 1e-5)


def test_pixels_deep_in_a_wide_hole_and_flat_windows_keep_their_hop():
    stack, known = _pair()
    known[0, 10:50, 20:70] = False  # a wide hole: its middle has no known neighbour
    idx = np.flatnonzero(~known[0])
    py, px = np.divmod(idx, W)
    x = (px + SHIFT[0] + 0.7).astype(np.float32)
    y = (py + SHIFT[1]).astype(np.float32)
    nx, ny = refine_ends(stack, ~known, 0, idx, np.ones(idx.size, np.int64), x, y)
    deep = (py >= 14) & (py < 46) & (px >= 24) & (px < 66)
    assert deep.sum() > 1000
    assert np.array_equal(nx[deep], x[deep]) and np.array_equal(ny[deep], y[deep])
    rim = (py == 10) & (px > 25) & (px < 65)  # one known row above it: 10 of 25 known
    assert np.median(np.abs(nx[rim] - px[rim] - SHIFT[0])) < 0.2
    flat = np.full_like(stack, 0.4)  # nothing to match: no move
    fx, fy = refine_ends(flat, ~known, 0, idx, np.ones(idx.size, np.int64), x, y)
    assert np.array_equal(fx, x) and np.array_equal(fy, y)


@pytest.fixture(scope="module")
def sample_text():
    clip = clipmod.load_sample(16)
    holes = benchmark.case_masks(clip, "text", 0)
    frames = np.where(holes[..., None], np.float32(0.5), clip.truth)
    return frames, holes, to_uint8(clip.truth)


def _hole_mse(out: np.ndarray, truth8: np.ndarray, holes: np.ndarray) -> float:
    diff = composite(to_uint8(out), truth8, holes).astype(np.float64) - truth8
    return float(np.mean(diff[holes] ** 2))


def test_burnt_in_text_over_a_parallax_pan_is_filled_closer_to_the_truth(sample_text):
    """The shipped street pan (a fence before houses, moving at different speeds) under the
    benchmark's burnt-in text: refined hops cut the hole's squared error."""
    frames, holes, truth8 = sample_text
    on = _hole_mse(flowfill.remove(frames, holes), truth8, holes)
    off = _hole_mse(flowfill.remove(frames, holes, refine_hops=False), truth8,
                    holes)
    assert on < 0.94 * off, (on, off)
