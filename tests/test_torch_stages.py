"""The torch propagation and fusion stages against their numpy originals, on CPU torch.

Sweeps and direct hops must agree exactly (source frames, positions, errors); blending to float32
rounding; the Poisson solve to the CG tolerance (float64) or float32 rounding of the solve.
"""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from flowfill.evaluate import clips
from flowfill.flow import round_trip, to_gray8
from flowfill.fuse import poisson_fill, poisson_fill_torch
from flowfill.fuse.poisson_torch import _anchored, _neighbours
from flowfill.grid import DIRECTIONS, build_system
from flowfill.propagate import (
    Hops,
    direct,
    direct_torch,
    gather,
    gather_torch,
    hops_to_torch,
    sample_known,
    sample_known_torch,
    subset_torch,
    sweep,
    sweep_torch,
)

H, W, N = 60, 80, 6
PAN = Path(__file__).resolve().parents[1] / "sample_clips" / "pan"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: one torch thread, so a busy machine does not stall OpenMP's team."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def _blobs(rng: np.random.Generator, h: int = H, w: int = W, frac: float = 0.15) -> np.ndarray:
    """A random mask of smooth blobs covering about ``frac`` of the frame."""
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 4.0)
    return noise > np.quantile(noise, 1 - frac)


def _smooth_flow(rng: np.random.Generator, amp: float = 3.0) -> np.ndarray:
    """A smooth random flow field (H x W x 2 float32) of a few pixels."""
    low = rng.normal(0, amp, (4, 5, 2)).astype(np.float32)
    return cv2.resize(low, (W, H), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 1.0, 2).astype(
        np.float32)


def _smooth_frames(rng: np.random.Generator, n: int = N, c: int = 3) -> np.ndarray:
    frames = [cv2.GaussianBlur(rng.random((H, W, c)).astype(np.float32), (0, 0), 2.0)
              for _ in range(n)]
    return np.stack(frames)


def _window(seed: int = 0):
    """Holes, over-complete hops (a dilated hole, so the subset path runs) and direct hops."""
    rng = np.random.default_rng(seed)
    masks = np.stack([_blobs(rng) for _ in range(N)])
    masks[1:4] |= masks[0]  # shared hole area, so chains run through several hole frames
    holes = {t: np.flatnonzero(masks[t]) for t in range(N)}
    wide = [np.flatnonzero(cv2.dilate(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
            for m in masks]

    def hops_of(t):
        flow = _smooth_flow(rng).reshape(-1, 2)[wide[t]]
        err = rng.gamma(1.0, 0.7, wide[t].size).astype(np.float32)
        ok = rng.random(wide[t].size) < 0.9
        return Hops(wide[t], flow, err, ok)

    to_prev = {t: hops_of(t) for t in range(1, N)}
    to_next = {t: hops_of(t) for t in range(N - 1)}
    to_key = {t: hops_of(t) for t in range(N)}
    return masks, holes, to_prev, to_next, to_key


def _to_torch_hops(hops):
    return {t: None if h is None else hops_to_torch(h) for t, h in hops.items()}


def _assert_pointers_equal(p, q):
    np.testing.assert_array_equal(p.idx, q.idx.numpy())
    np.testing.assert_array_equal(p.frame, q.frame.numpy())
    np.testing.assert_allclose(p.x, q.x.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(p.y, q.y.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_array_equal(p.err, q.err.numpy())


def test_sweeps_and_direct_hops_match_numpy_exactly():
    masks, holes, to_prev, to_next, to_key = _window()
    th = {t: _t(i) for t, i in holes.items()}
    chained = 0
    for order, hops in ((range(N), to_prev), (range(N - 1, -1, -1), to_next)):
        ref = sweep((H, W), order, holes, hops)
        out = sweep_torch((H, W), order, th, _to_torch_hops(hops))
        for t in range(N):
            _assert_pointers_equal(ref[t], out[t])
            assert out[t].frame.dtype == torch.int32 and out[t].x.dtype == torch.float32
            chained += int((np.abs(ref[t].frame - t) > 1)[ref[t].found].sum())
    assert chained > 50  # chains crossed hole frames, not only single hops
    for t in range(N):
        ref = direct(to_key[t].subset(holes[t]), 2, (H, W))
        out = direct_torch(subset_torch(hops_to_torch(to_key[t]), th[t]), 2, (H, W))
        _assert_pointers_equal(ref, out)
        assert (~ref.found).any() and ref.found.any()


@pytest.mark.parametrize("density", [0.7, 0.97])
def test_sample_known_matches_numpy_at_edges_and_partial_footprints(density):
    rng = np.random.default_rng(3)
    stack = _smooth_frames(rng)
    known = rng.random((N, H, W)) < density
    m = 5000
    f = rng.integers(0, N, m).astype(np.int32)
    x = rng.uniform(-2, W + 1, m).astype(np.float32)
    y = rng.uniform(-2, H + 1, m).astype(np.float32)
    ref = sample_known(stack, known, f, x, y)
    out = sample_known_torch(_t(stack), _t(known), _t(f), _t(x), _t(y))
    np.testing.assert_array_equal(ref[1], out[1].numpy())
    np.testing.assert_array_equal(ref[2], out[2].numpy())
    np.testing.assert_allclose(ref[0], out[0].numpy(), atol=1e-6, rtol=0)
    assert not ref[1].all() and ref[2].any() and not ref[2].all()


@pytest.mark.parametrize("extra,max_err,agree,local,radius", [
    (0, np.inf, np.inf, None, 0), (1, np.inf, np.inf, None, 0), (2, np.inf, np.inf, None, 0),
    (2, 1.5, 0.05, None, 0), (2, 1.5, 0.05, 2, 0), (2, 0.5, np.inf, 2, 0),
    (2, 0.5, 0.05, 2, 3)])
def test_gather_matches_numpy(extra, max_err, agree, local, radius):
    """radius: with the colour range of the known pixels this near (the rim checks)."""
    from flowfill.propagate.rim import rim_range

    masks, holes, to_prev, to_next, to_key = _window(seed=1 + extra)
    rng = np.random.default_rng(10 + extra)
    stack = _smooth_frames(rng)
    known = ~masks
    known[0] &= rng.random((H, W)) < 0.95  # some unknown specks: partial footprints
    th = {t: _t(i) for t, i in holes.items()}
    back = sweep((H, W), range(N), holes, to_prev)
    ahead = sweep((H, W), range(N - 1, -1, -1), holes, to_next)
    tback = sweep_torch((H, W), range(N), th, _to_torch_hops(to_prev))
    tahead = sweep_torch((H, W), range(N - 1, -1, -1), th, _to_torch_hops(to_next))
    keys = [0, 5][:extra]
    for t in (0, 2, 5):
        cands = [back[t], ahead[t]] + [direct(to_key[t].subset(holes[t]), k, (H, W))
                                       for k in keys]
        tcands = [tback[t], tahead[t]] + [
            direct_torch(subset_torch(hops_to_torch(to_key[t]), th[t]), k, (H, W)) for k in keys]
        here = t if local else None
        rim = rim_range(stack[t], known[t], holes[t], radius) if radius else None
        trim = None if rim is None else (_t(rim[0]), _t(rim[1]))
        ref = gather(cands, stack, known, 0.7, max_err, agree, local, rim=rim, here=here)
        out = gather_torch(tcands, _t(stack), _t(known), 0.7, max_err, agree, local, rim=trim,
                           here=here)
        np.testing.assert_array_equal(ref.idx, out.idx.numpy())
        np.testing.assert_array_equal(ref.found, out.found.numpy())
        np.testing.assert_array_equal(ref.step_ok, out.step_ok.numpy())
        np.testing.assert_allclose(ref.colour, out.colour.numpy(), atol=1e-6, rtol=0)
        np.testing.assert_allclose(ref.step, out.step.numpy(), atol=1e-6, rtol=0)
        assert ref.found.any() and not ref.step_ok.all()


def _poisson_case(seed: int = 0):
    """A frame with a hole: part of it excluded (still unfilled), an island cut off by excluded
    pixels (floating) and a patch at the image border; noisy colours and partial gradients."""
    rng = np.random.default_rng(seed)
    truth = cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), 3.0)
    hole = _blobs(rng, frac=0.25)
    hole[40:60, 0:12] = True
    excluded = np.zeros((H, W), bool)
    excluded[8:22, 50:66] = True  # ring around the island below
    island = np.zeros((H, W), bool)
    island[11:19, 53:63] = True
    excluded &= ~island
    hole |= excluded | island
    excluded |= hole & (_blobs(rng, frac=0.05))  # scattered unfilled pixels cut links
    excluded &= ~island
    filled = hole & ~excluded
    idx = np.flatnonzero(filled)
    frame = truth.copy()
    frame[hole] = 5.0  # garbage under the hole must not matter
    colour = (truth.reshape(-1, 3)[idx] + rng.normal(0, 0.05, (idx.size, 3))).astype(np.float32)
    ys, xs = np.divmod(idx, W)
    step = np.zeros((4, idx.size, 3), np.float32)
    for d, (dy, dx) in enumerate(DIRECTIONS):
        ny, nx = np.clip(ys + dy, 0, H - 1), np.clip(xs + dx, 0, W - 1)
        step[d] = truth[ny, nx] - truth[ys, xs] + rng.normal(0, 0.01, (idx.size, 3))
    step_ok = rng.random((4, idx.size)) < 0.8
    return frame, filled, excluded, colour, step, step_ok, island


def test_poisson_matches_numpy_with_excluded_and_floating_parts():
    frame, filled, excluded, colour, step, step_ok, island = _poisson_case()
    ref = poisson_fill(frame, filled, excluded, colour, step, step_ok)
    args = [_t(a) for a in (frame, filled, excluded, colour, step, step_ok)]
    out64 = poisson_fill_torch(*args).numpy()
    out32 = poisson_fill_torch(*args, dtype=torch.float32).numpy()
    assert out64.dtype == np.float32 and out64.shape == ref.shape
    # float64 CG (tolerance 1e-6) against the exact LU solution of the same system
    assert np.abs(out64 - ref).max() < 2e-5
    # float32 (the GPU default): rounding of the solve; the weakly pulled island drifts most
    # (3e-5 measured there, 1e-6 elsewhere)
    assert np.abs(out32 - ref).max() < 2e-4
    # the island really floats: it keeps the mean of its propagated colours
    on_island = island.ravel()[np.flatnonzero(filled)]
    np.testing.assert_allclose(ref[on_island].mean(0), colour[on_island].mean(0), atol=1e-3)


def test_screened_poisson_matches_numpy_and_pulls_towards_the_colours():
    frame, filled, excluded, colour, step, step_ok, island = _poisson_case(3)
    plain = poisson_fill(frame, filled, excluded, colour, step, step_ok)
    ref = poisson_fill(frame, filled, excluded, colour, step, step_ok, 0.5)
    args = [_t(a) for a in (frame, filled, excluded, colour, step, step_ok)]
    out = poisson_fill_torch(*args, 0.5).numpy()
    assert np.abs(out - ref).max() < 2e-5
    # the colour term draws the solution towards the (noisy) blended colours, the more the
    # heavier it is
    strong = poisson_fill(frame, filled, excluded, colour, step, step_ok, 8.0)
    gaps = [np.abs(x - colour).mean() for x in (plain, ref, strong)]
    assert gaps[0] > 1.1 * gaps[1] and gaps[1] > 2 * gaps[2]


def test_floating_components_match_scipy_including_a_long_serpentine():
    rng = np.random.default_rng(7)
    snake = np.zeros((H, W), bool)  # one winding region, 1440 px, ~700 px from end to end
    for r in range(2, H - 2, 6):
        snake[r : r + 2, 2 : W - 2] = True
        snake[r + 2 : r + 6, (W - 4 if r % 12 == 2 else 2) : (W - 2 if r % 12 == 2 else 4)] = True
    snake[H - 4 :] = False
    door = np.zeros((H, W), bool)
    door[2, 1] = True  # the one known pixel it touches, at its far end
    cases = [(snake, ~snake & ~door), (snake, ~snake)]  # anchored through the door; floating
    for _ in range(4):
        filled = _blobs(rng, frac=0.4)
        cases.append((filled, ~filled & (rng.random((H, W)) < 0.95)))
    results = []
    for filled, excluded in cases:
        ref = build_system(filled, excluded_mask=excluded).anchored()
        out = _anchored(*_neighbours(_t(filled), _t(excluded))[:2]).numpy()
        np.testing.assert_array_equal(ref, out)
        results.append(ref)
    assert results[0].all() and not results[1].any()
    assert any(r.any() and not r.all() for r in results[2:])


def test_poisson_empty_and_tiny_systems():
    frame = np.zeros((1, 5, 1), np.float32)
    frame[0, 4] = 1.0
    hole = np.zeros((1, 5), bool)
    hole[0, 1:4] = True
    steps = torch.zeros((4, 3, 1))
    sol = poisson_fill_torch(_t(frame), _t(hole), torch.zeros(1, 5, dtype=torch.bool),
                             torch.full((3, 1), 0.9), steps, torch.ones(4, 3, dtype=torch.bool))
    np.testing.assert_allclose(sol[:, 0].numpy(), [0.25, 0.5, 0.75], atol=1e-6)
    none = torch.zeros(1, 5, dtype=torch.bool)
    empty = poisson_fill_torch(_t(frame), none, none, torch.zeros(0, 1), torch.zeros(4, 0, 1),
                               torch.zeros(4, 0, dtype=torch.bool))
    assert empty.shape == (0, 1)


def _pan_window(n: int = 5):
    """Frames of the sample pan clip, a fixed square hole, DIS flows and their hops."""
    files = sorted(PAN.glob("*.png"))[:n]
    frames = np.stack([cv2.imread(str(f))[:, :, ::-1] for f in files]).astype(np.float32) / 255
    h, w = frames.shape[1:3]
    masks = np.zeros((n, h, w), bool)
    masks[:, 70:110, 140:180] = True
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    gray = [to_gray8(f) for f in frames]
    holes = {t: np.flatnonzero(masks[t]) for t in range(n)}
    to_prev, to_next = {}, {}
    for t in range(n - 1):
        fwd = dis.calc(gray[t], gray[t + 1], None)
        bwd = dis.calc(gray[t + 1], gray[t], None)
        for hops, src, a, b in ((to_next, t, fwd, bwd), (to_prev, t + 1, bwd, fwd)):
            err, ok = round_trip(a, b)
            idx = holes[src]
            hops[src] = Hops(idx, a.reshape(-1, 2)[idx], err.ravel()[idx], ok.ravel()[idx])
    return frames, masks, holes, to_prev, to_next


@pytest.mark.skipif(not PAN.is_dir(), reason="sample clip absent")
def test_one_round_sweep_gather_poisson_on_the_sample_clip():
    frames, masks, holes, to_prev, to_next = _pan_window()
    n, h, w, c = frames.shape
    known = ~masks
    th = {t: _t(i) for t, i in holes.items()}
    back = sweep((h, w), range(n), holes, to_prev)
    ahead = sweep((h, w), range(n - 1, -1, -1), holes, to_next)
    tback = sweep_torch((h, w), range(n), th, _to_torch_hops(to_prev))
    tahead = sweep_torch((h, w), range(n - 1, -1, -1), th, _to_torch_hops(to_next))
    tstack, tknown = _t(frames), _t(known)
    solved = 0
    for t in range(n):
        _assert_pointers_equal(back[t], tback[t])
        _assert_pointers_equal(ahead[t], tahead[t])
        g = gather([back[t], ahead[t]], frames, known, 0.7)
        tg = gather_torch([tback[t], tahead[t]], tstack, tknown, 0.7)
        np.testing.assert_array_equal(g.found, tg.found.numpy())
        if not g.found.any():
            continue
        filled = np.zeros(h * w, bool)
        filled[g.idx[g.found]] = True
        excluded = np.zeros(h * w, bool)
        excluded[g.idx[~g.found]] = True
        ref = poisson_fill(frames[t], filled.reshape(h, w), excluded.reshape(h, w), g.colour,
                           g.step, g.step_ok)
        out = poisson_fill_torch(tstack[t], _t(filled.reshape(h, w)), _t(excluded.reshape(h, w)),
                                 tg.colour, tg.step, tg.step_ok)
        assert np.abs(out.numpy() - ref).max() < 2e-5  # CG to 1e-6 against the exact LU
        solved += 1
    assert solved >= n - 2


def test_window_on_the_torch_stages_matches_the_numpy_stages():
    """A whole window (sweeps, blending, fusion and a keyframe round) either way, on CPU."""
    from conftest import hole_psnr, square_masks, synthetic_frames

    from flowfill.options import Options
    from flowfill.window import fill_window

    frames = np.stack(synthetic_frames(8, 48, 64)).astype(np.float32) / 255
    holes = np.stack(square_masks(8, 48, 64))
    options = Options(edges="off", device="cpu")
    a = fill_window(frames, holes, options, backend="numpy")
    b = fill_window(frames, holes, options, backend="torch")
    assert a.keyframes == b.keyframes and np.array_equal(a.propagated, b.propagated)
    assert a.propagated.any() and np.abs(a.frames - b.frames).max() < 1e-5
    # the hole really was filled, with the background behind the square: 28.6-29.8 dB, where
    # the frame's mean colour scores 12.1-18.5 (and Telea 27.4-28.1)
    truth = np.stack(synthetic_frames(8, 48, 64, square=False)).astype(np.float32) / 255
    for t in range(len(frames)):
        assert hole_psnr(a.frames[t], truth[t], holes[t]) > 24


def test_unseen_pixels_are_held_out_the_same_way_on_the_torch_stages():
    """A still shot whose hole is seen by no frame in its left half and uncovered by a moving
    hole in its right half: the torch stages hold the unseen pixels out of propagation and fill
    them exactly as the numpy stages do."""
    from conftest import synthetic_frames

    from flowfill.options import Options
    from flowfill.window import fill_window

    n, h, w = 6, 48, 64
    still = np.stack(synthetic_frames(1, h, w, square=False)).astype(np.float32)[0] / 255
    frames = np.repeat(still[None], n, 0)
    holes = np.zeros((n, h, w), bool)
    holes[:, 16:30, 8:22] = True  # static: never seen
    for t in range(n):
        holes[t, 16:30, 34 + 4 * t:44 + 4 * t] = True  # moving: seen in other frames
    options = Options(edges="off", device="cpu", nonlocal_frames=0)
    a = fill_window(frames, holes, options, backend="numpy")
    b = fill_window(frames, holes, options, backend="torch")
    assert a.keyframes == b.keyframes == []
    assert np.array_equal(a.propagated, b.propagated)
    assert not a.propagated[:, 16:30, 8:22].any()  # the static hole: filled in place
    assert a.propagated[:, 16:30, 34:].sum() > 0.9 * holes[:, :, 34:].sum()
    assert np.abs(a.frames - b.frames).max() < 1e-5


RUNNING_CAR = clips.shared_clips_dir() / "running_car.mp4"


@pytest.mark.skipif(not RUNNING_CAR.exists(), reason="shared clips absent")
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_keyframe_rounds_gather_only_what_can_change_and_fill_the_same(backend, monkeypatch):
    """After a keyframe, a frame that did not change gathers only the pixels with a source in a
    frame that did: the rest were found by nothing and would be again. On a whip pan's uncovered
    borders (three keyframes) fewer pixels are gathered and the window comes out the same, bit
    for bit, as when every pixel is gathered again."""
    import dataclasses

    from flowfill import stages
    from flowfill.evaluate.masks import make_mask
    from flowfill.options import Options
    from flowfill.window import fill_window

    frames = clips.load_movie(RUNNING_CAR, 12)[:, ::2, ::2].copy()
    holes = make_mask("borders", *frames.shape[:3], seed=3)
    real = stages.pixel_stages("cpu", backend)
    asked = []

    def counted(candidates, *args, **kw):
        asked.append(len(candidates[0].idx))
        return real.gather(candidates, *args, **kw)

    monkeypatch.setattr("flowfill.window.pixel_stages",
                        lambda device, backend: dataclasses.replace(real, gather=counted))
    options = Options(device="cpu", edges="off", rounds=1)
    skipping = fill_window(frames, holes, options, backend=backend)
    gathered = sum(asked)
    asked.clear()

    def everything(self, candidates, frames):
        n = len(candidates[0].idx)
        return np.ones(n, bool) if self.device is None else torch.ones(n, dtype=torch.bool)

    monkeypatch.setattr(stages.PixelStages, "reaching", everything)
    full = fill_window(frames, holes, options, backend=backend)
    assert len(skipping.keyframes) >= 2 and skipping.keyframes == full.keyframes
    assert gathered < 0.9 * sum(asked)
    assert np.array_equal(skipping.frames, full.frames)
    assert np.array_equal(skipping.propagated, full.propagated)
