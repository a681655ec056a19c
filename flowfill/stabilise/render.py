"""Frames warped onto the smooth camera path, and what each warp leaves uncovered.

``fill`` keeps the whole frame and hands the uncovered borders to flowfill as holes; ``crop``
zooms every frame by one common factor until no frame shows a border (the classic result).
Each frame is resampled once, bicubic, at full resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

MODES = ("fill", "crop")
MARGIN = 2.0
"""Pixels a bicubic sample needs inside the input on each side to take no border colour."""


def warp_frame(frame: np.ndarray, warp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` shown through ``warp`` (output pixel q shows frame at warp q), and the bool
    mask of output pixels that took any colour from outside the frame (True = uncovered)."""
    h, w = frame.shape[:2]
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    out = cv2.warpAffine(frame, warp[:2], (w, h), flags=flags,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if out.ndim == 2:
        out = out[..., None]
    out = np.clip(out, frame.min(), frame.max())  # bicubic overshoot stays within the source
    cover = cv2.warpAffine(np.ones((h, w), np.float32), warp[:2], (w, h), flags=flags,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, np.abs(cover - 1.0) > 1e-3


def crop_zoom(warps: np.ndarray, width: int, height: int) -> float:
    """The largest zoom factor k <= 1 such that the centred k-sized frame lies within what every
    warp covers: output point q is taken from c + k (q - c). Every warp covers a convex
    quadrilateral, so the four corners decide."""
    c = np.array([(width - 1) / 2, (height - 1) / 2])
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]],
                       dtype=np.float64)

    def fits(k: float) -> bool:
        q = c + k * (corners - c)
        pts = np.einsum("nij,kj->nki", warps[:, :2, :2], q) + warps[:, None, :2, 2]
        return bool(np.all((pts >= MARGIN) & (pts <= np.array([width, height]) - 1 - MARGIN)))

    lo, hi = 0.0, 1.0
    if fits(hi):
        return 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def zoomed(warps: np.ndarray, k: float, width: int, height: int) -> np.ndarray:
    """``warps`` that first zoom the output by 1/k about the centre (k from :func:`crop_zoom`)."""
    c = np.array([(width - 1) / 2, (height - 1) / 2])
    z = np.eye(3)
    z[:2, :2] *= k
    z[:2, 2] = c - k * c
    return warps @ z

