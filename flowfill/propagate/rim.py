"""The colours around a hole: a plausibility check for sources that only distant frames give.

A hole pixel that no neighbouring frame's chain reaches can still get a candidate from a distant
frame (a non-local key frame, a reference), one hop along a flow between frames far apart. Where
the picture is flat (snow, sky, a wall) that flow is unconstrained and may land anywhere: on
``fastpan``'s logo it pasted fragments of trees and a car into snow. Such a candidate is kept
only when its colour lies within the range of the known colours around the pixel (a square
window), widened by a tolerance, wherever that picture is flat (textured picture holds the flow,
and a hole in it may hold colours its rim does not).
"""

from __future__ import annotations

import cv2
import numpy as np

RIM_TOLERANCE = 0.15
"""How far outside the colours around it (per channel, 0..1 scale) a distant candidate may be."""
FLAT_SPAN = 0.25
"""Picture whose colours around a hole pixel span at most this (per channel) is flat: the
flow between distant frames is not held there, and the check applies."""


def rim_range(frame: np.ndarray, known: np.ndarray, idx: np.ndarray, radius: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per hole pixel (flat indices ``idx`` into ``frame``'s H x W grid) the lowest and highest
    known colour within ``radius`` px (a square window), m x C each; -inf and +inf where no known
    pixel is that close (deep inside a large hole: no check)."""
    h, w, c = frame.shape
    size = (2 * radius + 1, 2 * radius + 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, size)
    if not idx.size:
        return np.zeros((0, c), np.float32), np.zeros((0, c), np.float32)
    ys, xs = np.divmod(idx, w)
    # only the hole pixels' windows are read: the crop around them (the frame's edge stays
    # where it was, so the ranges are the same as over the whole frame)
    y0, y1 = max(int(ys.min()) - radius, 0), min(int(ys.max()) + radius + 1, h)
    x0, x1 = max(int(xs.min()) - radius, 0), min(int(xs.max()) + radius + 1, w)
    part, known3 = frame[y0:y1, x0:x1], known[y0:y1, x0:x1, None]
    big = np.float32(3.0e38)
    high = cv2.dilate(np.where(known3, part, -big).astype(np.float32), kernel)
    low = cv2.erode(np.where(known3, part, big).astype(np.float32), kernel)
    local = (ys - y0) * (x1 - x0) + (xs - x0)
    high = high.reshape(-1, c)[local]
    low = low.reshape(-1, c)[local]
    none = high < -1.0e38
    return np.where(none, -np.inf, low), np.where(none, np.inf, high)


def rim_span(rim: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """How far each hole pixel's rim colours (m) spread: the widest channel's range (inf where
    no known pixel is near)."""
    low, high = rim
    return (high - low).max(axis=-1)


def flat_rim(rim: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Which hole pixels' rims (m) are flat: their colours span at most ``FLAT_SPAN``."""
    return rim_span(rim) <= FLAT_SPAN


def outside_rim(colour: np.ndarray, rim: tuple[np.ndarray, np.ndarray],
                tolerance: float = RIM_TOLERANCE, flat_only: bool = True) -> np.ndarray:
    """Which candidate colours (... x m x C) fall outside a flat rim's range (m x C) by more than
    ``tolerance`` in some channel (a rim whose colours span more than ``FLAT_SPAN`` is textured:
    the flow is held there, and the hole may well hold colours its rim does not).
    ``flat_only=False``: outside the range whatever the rim."""
    low, high = rim
    outside = ((colour < low - tolerance) | (colour > high + tolerance)).any(axis=-1)
    return outside & flat_rim(rim) if flat_only else outside
