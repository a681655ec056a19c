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
