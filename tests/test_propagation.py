"""Pointer sweeps and end-to-end propagation on textures whose truth is known."""

import cv2
import numpy as np
from conftest import hole_psnr

import flowfill
from flowfill.pipeline import Stats
from flowfill.propagate import Hops, sample_known, sweep


def _hops(holes, flow_xy):
    """Exact constant-flow hops for every hole pixel of every frame."""
    out = {}
    for t, idx in holes.items():
        flow = np.tile(np.asarray(flow_xy, np.float32), (idx.size, 1))
        out[t] = Hops(idx, flow, np.zeros(idx.size, np.float32), np.ones(idx.size, bool))
    return out


def test_chain_crosses_several_hole_frames_and_keeps_subpixel_residual():
    h, w = 10, 20
    holes = {t: np.array([5 * w + x for x in range(6, 12)]) for t in range(4)}
    holes[0] = np.array([], dtype=np.int64)  # frame 0 fully known
    # each frame's content moved +1.25 px in x: the hop to the previous frame is -1.25
    ptrs = sweep((h, w), range(4), holes, _hops(holes, (-1.25, 0.0)))
    p = ptrs[3]
    assert p.found.all()
    # pixel x in frame 3 sees frame-0 position x - 3 * 1.25 when every hop lands in the hole
    xs = p.idx % w
    first = xs == 6  # x=6 -> 4.75 is known in frame 2 already: one hop
    np.testing.assert_allclose(p.x[first], 6 - 1.25)
    assert (p.frame[first] == 2).all()
    deep = xs == 11  # 11 -> 9.75 (hole, rounds to 10) -> ... ends in frame 0
    assert (p.frame[deep] == 0).all()
    np.testing.assert_allclose(p.x[deep], 11 - 3 * 1.25, atol=1e-5)


def test_chain_stops_at_rejected_landing_and_leaves_the_image():
    h, w = 6, 8
    holes = {0: np.array([], dtype=np.int64), 1: np.array([2 * w + 1, 2 * w + 5])}
    hops = _hops(holes, (-3.0, 0.0))
    hops[1].ok[1] = False  # the hop of pixel x=5 fails the occlusion test at a known landing
    ptrs = sweep((h, w), range(2), holes, hops)
    assert list(ptrs[1].found) == [False, False]  # x=1 leaves the image, x=5 is rejected


def _texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    base = (base - base.min()) / (base.max() - base.min())
    return base


def _translating_clip(n=12, h=72, w=96, speed=3):
    """A textured background panning ``speed`` px/frame, and a fixed square hole in the middle."""
    big = _texture(h, w + speed * n, seed=3)
    frames = np.stack([big[:, speed * t : speed * t + w] for t in range(n)])
    masks = np.zeros((n, h, w), bool)
    masks[:, 24:48, 36:60] = True  # the background behind it shows in other frames
    return frames, masks


def _marked(frames, masks):
    """``frames`` with the hole's pixels 4/255 off the truth, up or down at random: too faint
    to change the flow, but an output that kept the input there is 4/255 off everywhere."""
    rng = np.random.default_rng(0)
    out = frames.copy()
    out[masks] += rng.choice([-4 / 255, 4 / 255], out[masks].shape).astype(np.float32)
    return out


def test_endpoint_samples_keep_fine_detail_and_fall_back_next_to_the_hole():
    # a fine sine (period 4.5 px) read at sub-pixel positions: bilinear interpolation is off by
    # up to 0.09 (of an amplitude of 0.4), the cubic kernel by a third of that
    h, w = 40, 60
    xs = np.arange(w, dtype=np.float32)
    wave = lambda x: 0.5 + 0.4 * np.sin(2 * np.pi * x / 4.5)  # noqa: E731
    stack = np.broadcast_to(wave(xs)[None, None, :, None], (1, h, w, 1)).copy()
    known = np.ones((1, h, w), bool)
    x = np.linspace(5.5, 50.5, 200).astype(np.float32)
    y = np.full_like(x, 20.25)
    f = np.zeros(x.size, np.int32)
    val, valid, exact = sample_known(stack, known, f, x, y)
    assert valid.all() and exact.all()
    err = np.abs(val[:, 0] - wave(x))
    assert err.max() < 0.04, err.max()
    # with a tap of the 4x4 footprint unknown (but the 2x2 one known) it is the bilinear value
    known[0, 20, 3:12] = False
    known[0, 19:22, 7:9] = True
    x2 = np.array([7.5], np.float32)
    y2 = np.array([20.0], np.float32)
    got, _, ex = sample_known(stack, known, np.zeros(1, np.int32), x2, y2)
    assert ex[0] and abs(got[0, 0] - (stack[0, 20, 7, 0] + stack[0, 20, 8, 0]) / 2) < 1e-6


def test_samples_with_their_neighbours_equal_five_single_samples():
    # the fused gather must give the same numbers, bit for bit, as sampling each of the five
    # positions alone: inside, next to unknown pixels, at the image's edges, off the image
    from flowfill.grid import DIRECTIONS
    from flowfill.propagate.sample import sample_with_steps

    rng = np.random.default_rng(7)
    stack = rng.random((3, 30, 41, 3), dtype=np.float32)
    known = rng.random((3, 30, 41)) > 0.2
    n = 4000
    f = rng.integers(0, 3, n).astype(np.int32)
    x = rng.uniform(-2, 43, n).astype(np.float32)
    y = rng.uniform(-2, 32, n).astype(np.float32)
    x[:50] = np.round(x[:50])
    y[50:100] = 15.999999  # a step that rounds across a power of two
    (val, valid, exact), steps = sample_with_steps(stack, known, f, x, y)
    for got, want in zip((val, valid, exact), sample_known(stack, known, f, x, y), strict=True):
        assert np.array_equal(got, want)
    for (nb, nexact), (dy, dx) in zip(steps, DIRECTIONS, strict=True):
        want, _, want_exact = sample_known(stack, known, f, x + dx, y + dy)
        assert np.array_equal(nb, want) and np.array_equal(nexact, want_exact)


def test_propagation_recovers_translating_texture_within_1_255():
    """Where the hole shows the scene itself (4/255 off), flow that sees it is exact, and so is
    the propagation along it. The flow prefill hides what a hole holds (a logo, an object)
    from the flow, and with it this scene: off here, on in the test below."""
    frames, masks = _translating_clip()
    stats = Stats()
    out = flowfill.remove(_marked(frames, masks), masks, stats=stats, max_keyframes=0,
                          flow_prefill=False)
    err = np.abs(out - frames)[masks]
    assert stats.filled_propagation == stats.hole_pixels  # every pixel came from other frames
    assert err.mean() < 1 / 255  # 0.18/255 here; the input kept: 4/255, Telea's blur 23/255
    assert np.percentile(err, 99) < 3 / 255  # 0.86/255


def test_the_flow_prefill_costs_little_where_the_hole_shows_the_scene():
    """The prefill's worst case: the hole held the scene, and the flow no longer sees it. The
    smoothed-over hole stands still while the texture pans past it, which pulls the flow next
    to it a little: still far under the 4/255 of an output that kept the input."""
    frames, masks = _translating_clip()
    stats = Stats()
    out = flowfill.remove(_marked(frames, masks), masks, stats=stats, max_keyframes=0)
    err = np.abs(out - frames)[masks]
    assert stats.filled_propagation == stats.hole_pixels
    assert err.mean() < 2 / 255  # 1.25/255 here


def test_output_equals_input_outside_the_mask_bit_for_bit():
    truth, masks = _translating_clip(n=8)
    truth = truth * 3.0 + 0.123456  # float above 1: scene-linear values survive untouched
    masks[::2, 10:14, 5:9] = True
    frames = truth.copy()
    frames[masks] = 9.0  # the object to remove
    out = flowfill.remove(frames, masks, window=5, overlap=2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[~masks], frames[~masks])
    # filled from the scene (values ~0-3): 0.20 here, the frames' mean colour 0.31, black 1.5
    assert np.abs(out[masks] - truth[masks]).mean() < 0.26


def test_cut_stops_propagation():
    # scene A: a red texture whose region behind the logo is visible (the logo is absent there);
    # scene B: a static blue texture with a stationary logo, so B never sees behind it.
    n, h, w = 6, 48, 64
    tex = _texture(h, w, seed=5)
    r, g, b = tex[..., 0], tex[..., 1], tex[..., 2]
    red = np.stack([np.dstack([0.6 + 0.4 * r, 0.1 * g, 0.1 * b])] * n)
    blue = np.stack([np.dstack([0.1 * r, 0.2 * g, 0.6 + 0.4 * b])] * n)
    frames = np.concatenate([red, blue]).astype(np.float32)
    masks = np.zeros((2 * n, h, w), bool)
    masks[n:, 16:32, 20:44] = True
    damaged = frames.copy()
    damaged[masks] = (0.9, 0.1, 0.1)  # the logo, red as scene A
    stats = Stats()
    out = flowfill.remove(damaged, masks, stats=stats)
    assert stats.cuts == [n]
    filled = out[n:][masks[n:]]
    assert filled[:, 0].max() < 0.3  # no red came across the cut (0.08 here)
    assert filled[:, 2].mean() > 0.6
    # invented from scene B: 28.3 dB (as good as B's mean colour on this flat texture; black 6.5)
    assert hole_psnr(out[n:], frames[n:], masks[n:]) > 24


def test_windows_stitch_without_losing_quality():
    frames, masks = _translating_clip(n=20)
    masks[:] = False
    masks[:, 24:48, 40:52] = True  # 12 px wide at 3 px/frame: a window of 8 sees behind it
    marked = _marked(frames, masks)
    # the hole shows the scene: flow that sees it is exact (see the test above)
    whole = flowfill.remove(marked, masks, window=40, flow_prefill=False)
    windowed = flowfill.remove(marked, masks, window=8, overlap=3, flow_prefill=False)
    err_whole = np.abs(whole - frames)[masks].mean()
    err_win = np.abs(windowed - frames)[masks].mean()
    assert err_whole < 1 / 255 and err_win < 1 / 255  # 0.14 and 0.12 / 255 here
    assert err_win < err_whole + 1 / 255
    # no jump at the window seams: frame-to-frame change inside the hole stays like the truth's
    jump = np.abs(np.diff(windowed, axis=0) - np.diff(frames, axis=0))[masks[1:]].mean()
    assert jump < 2 / 255  # 0.17/255; the input kept would jump by 4/255
