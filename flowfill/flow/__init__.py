"""Optical flow backends (DIS and its variants from OpenCV, RAFT in torch) and the
forward-backward check."""

from __future__ import annotations

import numpy as np

from flowfill.flow.consistency import round_trip
from flowfill.flow.dis import DISFlow, to_gray8
from flowfill.flow.estimator import DISEstimator, FlowEstimator, make_estimator

__all__ = ["DISEstimator", "DISFlow", "FlowEstimator", "estimate", "make_estimator",
           "round_trip", "to_gray8"]


def estimate(
    frame_a: np.ndarray,
    frame_b: np.ndarray,
    method: str = "dis",
    weights: str | None = None,
    iters: int = 20,
    device: str = "auto",
    max_side: int | None = 1024,
) -> np.ndarray:
    """Flow from ``frame_a`` to ``frame_b`` (H x W x 3 RGB, uint8 or float): H x W x 2 (dx, dy).

    ``method``: one of ``flowfill.options.FLOW_METHODS`` (dis, dis-fine, dis-sparse, raft,
    raft-small); RAFT needs ``weights`` (or FLOWFILL_RAFT_WEIGHTS).
    """
    if frame_a.shape != frame_b.shape or frame_a.ndim != 3 or frame_a.shape[2] != 3:
        raise ValueError(f"frames must both be H x W x 3, got {frame_a.shape} and {frame_b.shape}")
    return make_estimator(method, weights=weights, iters=iters, device=device,
                          max_side=max_side, cache=0)(frame_a, frame_b)
