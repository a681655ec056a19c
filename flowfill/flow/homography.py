"""Homography pre-alignment of distant frames, so flow only has to explain the residual motion.

Distant frames of a panning or zooming shot differ by more than a flow estimator's search range;
FGVC's paper aligns them by a homography first (its public code never does). Features come
from outside the holes only, so the removed object cannot steer the alignment.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from flowfill.devices import small_work

MIN_INLIERS = 12


def features(gray: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """SIFT keypoint positions (n x 2) and descriptors of an 8-bit frame, outside its hole."""
    sift = cv2.SIFT_create(nfeatures=2000)
    points, desc = sift.detectAndCompute(gray, (~hole).astype(np.uint8) * 255)
    return np.float32([p.pt for p in points]).reshape(-1, 2), desc


def match(
    feat_a: tuple[np.ndarray, np.ndarray | None], feat_b: tuple[np.ndarray, np.ndarray | None]
) -> np.ndarray | None:
    """H (3 x 3) mapping points of a onto b from their features; None if unsure.

    Lowe's ratio 0.75 and RANSAC with a 4-pixel reprojection threshold, as FGVC's paper code.
    """
    (pa, da), (pb, db) = feat_a, feat_b
    if da is None or db is None or len(pa) < MIN_INLIERS or len(pb) < MIN_INLIERS:
        return None
    query, train = ratio_matches(da, db, 0.75)
    if query.size < MIN_INLIERS:
        return None
    src, dst = pa[query], pb[train]
    hom, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 4.0)
    if hom is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return hom


def ratio_matches(da: np.ndarray, db: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into a, into b) of the descriptors of a (n x d, float32) whose nearest in b
    (Euclidean) is nearer than ``ratio`` times the second nearest (Lowe's test), in a's order.

    Brute force by one matrix product on one thread (torch's: numpy's and OpenCV's BLAS start
    threads that spin beside the frame threads): SIFT's descriptors are whole numbers below 256
    (OpenCV rounds them), so each squared distance is a whole number well inside float32's
    exact range, and the matches are exactly those of OpenCV's brute-force matcher, in a
    quarter of its time."""
    if len(da) == 0 or len(db) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = np.ascontiguousarray(da, np.float32), np.ascontiguousarray(db, np.float32)
    with small_work("cpu"):
        dots = (torch.from_numpy(a) @ torch.from_numpy(b).T).numpy()
    d2 = np.einsum("ij,ij->i", b, b)[None] - 2.0 * dots  # |a|^2 is added after
    rows = np.arange(len(a))
    best = d2.argmin(axis=1)
    first = d2[rows, best]
    d2[rows, best] = np.inf
    second = d2.min(axis=1)
    own = np.einsum("ij,ij->i", a, a)
    # distances in float32 as OpenCV's, compared in float64 as its matches' are in Python
    near = np.sqrt(np.maximum(first + own, 0.0)).astype(np.float64)
    far = np.sqrt(np.maximum(second + own, 0.0)).astype(np.float64)
    query = np.flatnonzero(near < ratio * far)
    return query, best[query]


def find_homography(
    gray_a: np.ndarray, gray_b: np.ndarray, hole_a: np.ndarray, hole_b: np.ndarray
) -> np.ndarray | None:
    """H (3 x 3) mapping points of a onto b, from SIFT matches outside the holes; None if unsure."""
    return match(features(gray_a, hole_a), features(gray_b, hole_b))


def warp_to(frame: np.ndarray, hom: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` resampled onto a grid of ``size`` (H, W) whose point x shows frame(hom x)."""
    return cv2.warpPerspective(frame, hom, (size[1], size[0]),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)


def rescale(hom: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """``hom`` for frames resized so that a point x there lies at ``scale`` (sx, sy) times x
    in the frames ``hom`` was found on."""
    to_found = np.diag([scale[0], scale[1], 1.0])
    return np.linalg.inv(to_found) @ hom @ to_found


def apply(hom: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) mapped through the homography ``hom``."""
    d = hom[2, 0] * x + hom[2, 1] * y + hom[2, 2]
    d = np.where(np.abs(d) < 1e-9, 1e-9, d)
    return ((hom[0, 0] * x + hom[0, 1] * y + hom[0, 2]) / d,
            (hom[1, 0] * x + hom[1, 1] * y + hom[1, 2]) / d)


def compose(hom: np.ndarray, residual: np.ndarray) -> np.ndarray:
    """Flow a -> b from the residual flow a -> (b warped onto a by ``hom``): H(p + r(p)) - p."""
    h, w = residual.shape[:2]
    gx, gy = _axes(h, w)  # broadcast, not a meshgrid: the same numbers for less memory
    x, y = apply(hom, gx + residual[..., 0], gy + residual[..., 1])
    return _flow(x - gx, y - gy)


def compose_back(hom: np.ndarray, back: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Flow b -> a on b's grid (``size``), from the flow (b warped onto a) -> a on a's grid.

    A point q of b sits at H^-1 q on the warped grid; it goes to H^-1 q + back(H^-1 q) in a.
    """
    gx, gy = _axes(*size)
    wx, wy = apply(np.linalg.inv(hom), gx, gy)
    sampled = cv2.remap(back, wx.astype(np.float32), wy.astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    return _flow(wx + sampled[..., 0] - gx, wy + sampled[..., 1] - gy)


def _axes(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel columns (1 x w) and rows (h x 1), float64, to broadcast over an h x w grid."""
    return (np.arange(w, dtype=np.float64)[None, :], np.arange(h, dtype=np.float64)[:, None])


def _flow(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """float32 H x W x 2 from the two float64 components (rounded as ``astype`` rounds)."""
    out = np.empty(dx.shape + (2,), np.float32)
    out[..., 0], out[..., 1] = dx, dy
    return out
