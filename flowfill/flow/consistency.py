"""Forward-backward consistency: the round-trip error of a flow and its reverse."""

from __future__ import annotations

import cv2
import numpy as np


def sample_flow(flow: np.ndarray, pos_x: np.ndarray, pos_y: np.ndarray) -> np.ndarray:
    """Bilinearly sample a flow field at float positions (full-frame maps), edges replicated."""
    return cv2.remap(flow, pos_x, pos_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def round_trip(flow_ab: np.ndarray, flow_ba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Round-trip error of a->b->a for every pixel of a, and whether it passes the occlusion test.

    Returns (d, ok): d = |w_ab(x) + w_ba(x + w_ab(x))| in pixels, and ok from the standard rule
    |w_ab + w_ba|^2 < 0.01 (|w_ab|^2 + |w_ba|^2) + 0.5 (Sundaram et al.; as ProPainter uses).
    """
    h, w = flow_ab.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = sample_flow(flow_ba, gx + flow_ab[..., 0], gy + flow_ab[..., 1])
    err = flow_ab + back
    d2 = np.einsum("hwc,hwc->hw", err, err)
    ok = d2 < 0.01 * (
        np.einsum("hwc,hwc->hw", flow_ab, flow_ab) + np.einsum("hwc,hwc->hw", back, back)
    ) + 0.5
    return np.sqrt(d2), ok
