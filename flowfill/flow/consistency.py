"""Forward-backward consistency: the round-trip error of a flow and its reverse."""

from __future__ import annotations

import cv2
import numpy as np


def sample_flow(flow: np.ndarray, pos_x: np.ndarray, pos_y: np.ndarray) -> np.ndarray:
    """Bilinearly sample a flow field at float positions (full-frame maps), edges replicated."""
    return cv2.remap(flow, pos_x, pos_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def round_trip(flow_ab: np.ndarray, flow_ba: np.ndarray,
               box: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Round-trip error of a->b->a for every pixel of a, and whether it passes the occlusion test.

    Returns (d, ok): d = |w_ab(x) + w_ba(x + w_ab(x))| in pixels, and ok from the standard rule
    |w_ab + w_ba|^2 < 0.01 (|w_ab|^2 + |w_ba|^2) + 0.5 (Sundaram et al.; as ProPainter uses).
    ``box`` (y0, y1, x0, x1): only those pixels of a are worked out (the same values; d is 0
    and ok False elsewhere), as when only a hole's pixels are asked about.
    """
    h, w = flow_ab.shape[:2]
    y0, y1, x0, x1 = (0, h, 0, w) if box is None else box
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32),
                         np.arange(y0, y1, dtype=np.float32))
    ab = flow_ab[y0:y1, x0:x1]
    back = sample_flow(flow_ba, gx + ab[..., 0], gy + ab[..., 1])
    err = ab + back
    d2 = np.einsum("hwc,hwc->hw", err, err)
    ok = d2 < 0.01 * (
        np.einsum("hwc,hwc->hw", ab, ab) + np.einsum("hwc,hwc->hw", back, back)
    ) + 0.5
    if box is None:
        return np.sqrt(d2), ok
    d, passed = np.zeros((h, w), np.float32), np.zeros((h, w), bool)
    d[y0:y1, x0:x1], passed[y0:y1, x0:x1] = np.sqrt(d2), ok
    return d, passed
