"""Sampling colours at chain endpoints: Catmull-Rom where the source's 4x4 footprint is known,
bilinear over the known pixels elsewhere.

Bilinear interpolation halves a picture's finest detail at half-pixel offsets, and a chain's
end lands at an arbitrary sub-pixel position, so propagated fills came out visibly softer than
the frames they were copied from; the cubic kernel keeps that detail.
"""

from __future__ import annotations

import numpy as np

CUBIC_A = -0.5
"""Keys's cubic convolution parameter: -0.5 is Catmull-Rom, the one that reproduces quadratics."""


def cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """The four Keys weights (float32) of the taps at offsets -1, 0, 1, 2 from the floor, for a
    fractional position ``t`` in [0, 1)."""
    a = CUBIC_A
    out = []
    for s in (t + 1, t, 1 - t, 2 - t):
        near = ((a + 2) * s - (a + 3)) * s * s + 1
        far = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
        out.append(np.where(s <= 1, near, far).astype(np.float32))
    return out


def sample_known(
    stack: np.ndarray, known: np.ndarray, frame: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples of ``stack`` (N x H x W x C) at (frame, x, y), from known pixels only.

    Returns (values n x C, valid n, exact n): a sample whose four bilinear neighbours are all
    unknown is invalid; ``exact`` marks samples whose whole bilinear footprint is known (no
    renormalising). Where the 4x4 footprint is known too, the value is the Catmull-Rom one.
    Positions are clamped to the image, so a step off the edge reads the edge pixel.
    """
    n_frames, h, w, c = stack.shape
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), max(w - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.int64), max(h - 2, 0))
    fx = (x - x0).astype(np.float32)
    fy = (y - y0).astype(np.float32)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    base = frame.astype(np.int64) * (h * w)
    flat = stack.reshape(-1, c)
    kflat = known.reshape(-1)
    acc = np.zeros((x.size, c), dtype=np.float32)
    wsum = np.zeros(x.size, dtype=np.float32)
    for yy, xx, wgt in (
        (y0, x0, (1 - fx) * (1 - fy)),
        (y0, x1, fx * (1 - fy)),
        (y1, x0, (1 - fx) * fy),
        (y1, x1, fx * fy),
    ):
        i = base + yy * w + xx
        wk = wgt * kflat[i]
        acc += wk[:, None] * flat[i]
        wsum += wk
    valid = wsum > 1e-4
    acc[valid] /= wsum[valid, None]
    exact = wsum > 1 - 1e-4
    sel = np.flatnonzero(exact)
    if sel.size:
        acc[sel] = _cubic(flat, kflat, base[sel], x0[sel], y0[sel], fx[sel], fy[sel], h, w,
                          acc[sel])
    return acc, valid, exact


def _cubic(flat: np.ndarray, kflat: np.ndarray, base: np.ndarray, x0: np.ndarray,
           y0: np.ndarray, fx: np.ndarray, fy: np.ndarray, h: int, w: int,
           fallback: np.ndarray) -> np.ndarray:
    """Catmull-Rom samples (n x C) where all 16 taps are known (clamped at the image's edge),
    ``fallback`` elsewhere."""
    wx, wy = cubic_weights(fx), cubic_weights(fy)
    acc = np.zeros_like(fallback)
    whole = np.ones(x0.size, bool)
    cols = [np.clip(x0 + i - 1, 0, w - 1) for i in range(4)]
    for j in range(4):
        row = base + np.clip(y0 + j - 1, 0, h - 1) * w
        for i in range(4):
            idx = row + cols[i]
            whole &= kflat[idx]
            acc += (wx[i] * wy[j])[:, None] * flat[idx]
    return np.where(whole[:, None], acc, fallback)
