"""Which flow next to the hole still carries the removed object's own motion.

Flow estimators smear a moving object's motion a few patches beyond its silhouette; completing
the flow from there drags chains along with the object. Rather than a wide blanket margin
(which throws away real flow when nothing moves differently), a pixel in a ring around the hole
is marked when its flow has moved from the background membrane (interpolated from beyond the
ring) towards the object's motion (the median flow inside the hole) by more than a fraction of
a pixel: the smear is a blend of the two, so its component towards the object is what tells.
"""

from __future__ import annotations

import numpy as np


def contaminated(
    flow: np.ndarray,
    hole: np.ndarray,
    ring: np.ndarray,
    background: np.ndarray,
    tolerance: float = 0.3,
) -> np.ndarray:
    """Bool mask of ``ring`` pixels whose ``flow`` has moved from ``background`` towards the
    object's motion by more than ``tolerance`` pixels (plus 5% of the background motion).

    ``flow`` is the measured flow (H x W x 2), ``hole`` the region of the object, ``background``
    the flow completed from outside the ring. Nothing is marked where the object moves like the
    background (then the flow around it is right, whatever it is).
    """
    return contaminated_at(flow, np.flatnonzero(hole), np.flatnonzero(ring), background,
                           tolerance)


def contaminated_at(flow: np.ndarray, hole_idx: np.ndarray, ring_idx: np.ndarray,
                    background: np.ndarray, tolerance: float = 0.3) -> np.ndarray:
    """:func:`contaminated` with the hole and the ring given as flat pixel indices (ascending),
    for a caller that tests many flows around one hole: the same result, without a pass over
    the whole frame per mask."""
    h, w = flow.shape[:2]
    out = np.zeros((h, w), bool)
    if ring_idx.size == 0 or hole_idx.size == 0:
        return out
    flat = flow.reshape(h * w, -1)
    obj = np.median(np.take(flat, hole_idx, axis=0), axis=0)
    f = np.take(flat, ring_idx, axis=0)
    bg = np.take(background.reshape(h * w, -1), ring_idx, axis=0)
    towards = obj - bg
    span = np.linalg.norm(towards, axis=1)
    along = np.einsum("nc,nc->n", f - bg, towards) / np.maximum(span, 1e-6)  # px towards object
    bg_speed = np.linalg.norm(bg, axis=1)
    distinct = span > 0.5 + 0.1 * bg_speed
    out.reshape(-1)[ring_idx] = (along > tolerance + 0.05 * bg_speed) & distinct
    return out
