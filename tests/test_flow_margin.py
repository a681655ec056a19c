"""The object-aware flow margin: smeared object motion next to the hole is re-estimated."""

import numpy as np

from flowfill.complete.contamination import contaminated
from flowfill.complete.frame import FrameFlowFill


def _scene(object_motion):
    """A background panning at (2, 0) with a square hole; the object's motion smears outwards."""
    h, w = 60, 80
    yy, xx = np.mgrid[0:h, 0:w]
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = 2.0
    hole = (abs(yy - 30) < 8) & (abs(xx - 40) < 8)
    dist = np.maximum(abs(yy - 30) - 8, abs(xx - 40) - 8).clip(0)
    smear = np.exp(-dist / 3.0)[..., None]  # the estimator's blur of the object's motion
    flow = (1 - smear) * flow + smear * np.asarray(object_motion, np.float32)
    return flow.astype(np.float32), hole, dist


def test_smear_towards_the_object_is_marked_and_background_is_not():
    flow, hole, dist = _scene((-6.0, 3.0))
    ring = (dist > 2) & (dist <= 14)
    background = np.zeros_like(flow)
    background[..., 0] = 2.0
    marked = contaminated(flow, hole, ring, background, tolerance=0.3)
    towards = np.exp(-dist / 3.0) * np.hypot(-6.0 - 2.0, 3.0)  # px moved towards the object
    assert marked[ring & (towards > 0.45)].all()
    assert not marked[ring & (towards < 0.35)].any()


def test_nothing_is_marked_when_the_object_moves_with_the_background():
    flow, hole, dist = _scene((2.0, 0.0))
    ring = (dist > 2) & (dist <= 14)
    background = np.zeros_like(flow)
    background[..., 0] = 2.0
    assert not contaminated(flow, hole, ring, background).any()


def test_completed_flow_in_the_hole_follows_the_background_not_the_object():
    flow, hole, _ = _scene((-6.0, 3.0))
    adaptive = FrameFlowFill(hole, inner_px=2, outer_px=14).complete(flow)
    blanket_small = FrameFlowFill(hole, inner_px=2, outer_px=2).complete(flow)
    truth = np.array([2.0, 0.0])
    err_adaptive = np.linalg.norm(adaptive[hole] - truth, axis=1).mean()
    err_small = np.linalg.norm(blanket_small[hole] - truth, axis=1).mean()
    assert err_adaptive < err_small / 3


def test_without_a_joint_solve_smeared_ring_pixels_take_the_background():
    flow, hole, dist = _scene((-6.0, 3.0))
    fill = FrameFlowFill(hole, inner_px=2, outer_px=14)
    out = fill.complete(flow, joint=False)
    background = fill.outer_fill(flow)[0]
    marked = contaminated(flow, hole, fill.ring, background)
    assert marked.any() and (~marked & fill.ring).any()
    assert np.allclose(out[marked], background[marked])  # the smear is replaced...
    untouched = ~fill.inner & ~marked
    assert np.array_equal(out[untouched], flow[untouched])  # ...and nothing else outside
    joint = fill.complete(flow)  # the smear solved for with the hole
    small = FrameFlowFill(hole, inner_px=2, outer_px=2).complete(flow)  # no smear removed
    err = lambda f: np.linalg.norm(f[hole] - np.array([2.0, 0.0]), axis=1).mean()  # noqa: E731
    assert err(out) < err(small) / 3 and err(joint) < err(small) / 3


def test_frames_with_the_same_mask_share_one_factorisation():
    from flowfill.complete import MembraneCache

    flow, hole, _ = _scene((-6.0, 3.0))
    cache = MembraneCache(4)
    fills = [FrameFlowFill(hole.copy(), 2, 14, cache=cache) for _ in range(5)]
    outs = [f.complete(flow, joint=False) for f in fills]
    assert cache.misses == 2 and cache.hits == 8  # the flow mask and its ring, once each
    assert fills[0].inner_fill is fills[4].inner_fill
    alone = FrameFlowFill(hole, 2, 14).complete(flow, joint=False)
    assert all(np.array_equal(o, alone) for o in outs)
    moved = np.roll(hole, 3, axis=1)
    FrameFlowFill(moved, 2, 14, cache=cache).complete(flow, joint=False)
    assert cache.misses == 4  # a different mask is factorised anew


def test_the_cache_keeps_only_its_size():
    from flowfill.complete import MembraneCache

    cache = MembraneCache(2)
    masks = [np.zeros((20, 20), bool) for _ in range(3)]
    for i, m in enumerate(masks):
        m[5:9, 2 + 5 * i : 6 + 5 * i] = True
        cache(m)
    cache(masks[0])  # evicted by the third
    assert cache.misses == 4 and cache.hits == 0 and len(cache._fills) == 2
