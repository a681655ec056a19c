"""Random-access rendering (flowfill.Shot, flowfill.plan) against the streaming pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import hole_psnr, square_masks, synthetic_frames

import flowfill
from flowfill import Cancelled, InputError, NeedFrames, Options, Shot
from flowfill.plan import Window, plan_windows, window_of

FAST = {"fill": "telea", "nonlocal_frames": 0, "edges": "off"}


def clip(n: int, cut: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Float frames and masks; with ``cut``, a different scene from that frame on."""
    frames = np.stack(synthetic_frames(n, seed=seed)).astype(np.float32) / 255
    masks = np.stack(square_masks(n))
    if cut is not None:
        frames[cut:] = 1.0 - frames[cut:, ::-1]
    return frames, masks


def streamed(frames, masks, **options) -> np.ndarray:
    return flowfill.remove(frames, masks, **options)


def rendered(frames, masks, order, **options) -> tuple[np.ndarray, Shot]:
    opts = Options.from_kwargs(**options)
    shot = Shot(len(frames), lambda i: (frames[i], masks[i]), opts)
    out = np.zeros_like(frames)
    for i in order:
        out[i] = shot.render(i)
    return out, shot


def test_plan_rule():
    assert plan_windows(10, [], 4, 1) == [Window(0, 4, 3, 0), Window(3, 7, 3, 1),
                                          Window(6, 10, 3, 1), Window(9, 10, 1, 1)]
    assert plan_windows(10, [5], 4, 1) == [Window(0, 4, 3, 0), Window(3, 5, 2, 1),
                                           Window(5, 9, 3, 0), Window(8, 10, 2, 1)]
    plan = plan_windows(12, [], 5, 2)
    assert [window_of(plan, i) for i in range(12)] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert plan[-1].only_carry is False and plan_windows(8, [], 5, 2)[-1].only_carry


@pytest.mark.parametrize(("n", "window", "overlap", "cut"), [
    (12, 5, 2, None),   # windows not aligned with the clip's end
    (11, 5, 2, None),   # ends on a full window: the last overlap is output from its values
    (13, 6, 4, None),   # overlap above half a window: blends of blends
    (14, 6, 2, 7),      # a hard cut inside the clip
])
def test_any_order_equals_the_stream(n, window, overlap, cut):
    frames, masks = clip(n, cut)
    opts = dict(FAST, window=window, overlap=overlap, reference_frames=0)
    want = streamed(frames, masks, **opts)
    order = list(np.random.default_rng(n).permutation(n))
    got, shot = rendered(frames, masks, order, **opts)
    assert np.abs(got - want).max() <= 1e-6
    if cut is not None:
        assert shot.cuts == [cut]
    # in order, each window is filled once
    _, linear = rendered(frames, masks, range(n), **opts)
    assert linear.windows_filled == len([w for w in plan_windows(n, linear.cuts, window,
                                                                 overlap) if not w.only_carry])


def test_reference_frames_and_rgba_alpha_pass_through():
    n = 14
    frames, masks = clip(n)
    alpha = np.random.default_rng(1).random(frames.shape[:3] + (1,), dtype=np.float32)
    rgba = np.concatenate([frames, alpha], axis=3)
    # grain off: the background's static per-pixel noise reads as film grain, and grain
    # matched to it costs up to 3 dB against this one realisation (any order with grain: above)
    opts = dict(FAST, window=6, overlap=2, reference_frames=2, grain="off")
    want = streamed(rgba, masks, **opts)
    assert want.shape == rgba.shape
    assert np.array_equal(want[..., 3], rgba[..., 3])
    assert np.array_equal(want[..., :3], streamed(frames, masks, **opts))
    got, _ = rendered(rgba, masks, [9, 2, 13, 0, 5, 1, 3, 4, 6, 7, 8, 10, 11, 12], **opts)
    assert np.abs(got - want).max() <= 1e-6
    truth = np.stack(synthetic_frames(n, square=False)).astype(np.float32) / 255
    for t in range(n):  # filled with the background: 28.7-30.0 dB; the mean colour 12.7-21.7
        assert hole_psnr(got[t, ..., :3], truth[t], masks[t]) > 25


def test_need_frames_resumes_where_it_stopped():
    n = 10
    frames, masks = clip(n)
    have: set[int] = set()

    def read(i):
        if i not in have:
            raise NeedFrames([i])
        return frames[i], masks[i]

    shot = Shot(n, read, Options(**FAST, window=5, overlap=1))
    assert shot.frames_needed(7) == list(range(n))  # the scan reads everything once
    have.update(range(6))
    with pytest.raises(NeedFrames) as need:
        shot.render(7)
    assert need.value.frames == [6]
    have.update(range(n))
    out = shot.render(7)
    assert shot.frames_needed(7) == [7] and shot.frames_needed(6) == [6]
    assert shot.frames_needed(8) == [8, 9]  # its overlap blends in the next window
    assert shot.frames_needed(1) == [0, 1, 2, 3, 4]
    want = streamed(frames, masks, **FAST, window=5, overlap=1)
    assert np.abs(out - want[7]).max() <= 1e-6


def test_progress_cancel_and_bad_input():
    frames, masks = clip(8)
    shot = Shot(8, lambda i: (frames[i], masks[i]), Options(**FAST))
    seen = []
    shot.render(3, on_progress=lambda f, stage: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3
    fresh = Shot(8, lambda i: (frames[i], masks[i]), Options(**FAST))
    calls = []
    with pytest.raises(Cancelled):
        fresh.render(3, cancelled=lambda: calls.append(1) or len(calls) > 4)
    assert fresh.windows_filled == 0
    assert np.array_equal(fresh.render(3), shot.render(3))  # usable after a cancel
    small = Shot(8, lambda i: (frames[i], masks[i][:16]), Options(**FAST))
    with pytest.raises(InputError, match="mask 0 is 48x16 but the frame is 48x32"):
        small.render(0)
    with pytest.raises(InputError, match="outside the clip"):
        shot.render(8)
