"""Which flow next to the hole still carries the removed object's own motion.

Flow estimators smear a moving object's motion a few patches beyond its silhouette; completing
the flow from there drags chains along with the object. Rather than a wide blanket margin
(which throws away real flow when nothing moves differently), a pixel in a ring around the
hole is marked when its flow looks like the object's (the median flow inside the hole) and
not like the background membrane interpolated from beyond the ring.
"""

from __future__ import annotations

import numpy as np


def contaminated(
    flow: np.ndarray,
    hole: np.ndarray,
    ring: np.ndarray,
    background: np.ndarray,
    share: float = 0.25,
) -> np.ndarray:
    """Bool mask of ``ring`` pixels whose ``flow`` has gone ``share`` of the way from
    ``background`` towards the object's motion.

    ``flow`` is the measured flow (H x W x 2), ``hole`` the region of the object, ``background``
    the flow completed from outside the ring. Nothing is marked where the object moves like the
    background (then the flow around it is right, whatever it is).
    """
    if not ring.any() or not hole.any():
        return np.zeros_like(ring)
    obj = np.median(flow[hole], axis=0)
    f = flow[ring]
    bg = background[ring]
    towards = obj - bg
    span2 = np.einsum("nc,nc->n", towards, towards)
    progress = np.einsum("nc,nc->n", f - bg, towards) / np.maximum(span2, 1e-12)
    distinct = np.sqrt(span2) > 0.5 + 0.1 * np.linalg.norm(bg, axis=1)
    out = np.zeros_like(ring)
    out[ring] = (progress > share) & distinct
    return out
