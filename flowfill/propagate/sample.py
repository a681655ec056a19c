"""Sampling colours at chain endpoints: bilinear, using only known pixels of the source frame."""

from __future__ import annotations

import numpy as np


def sample_known(
    stack: np.ndarray, known: np.ndarray, frame: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear samples of ``stack`` (N x H x W x C) at (frame, x, y), weighting only known pixels.

    Returns (values n x C, valid n, exact n): a sample whose four neighbours are all unknown is
    invalid; ``exact`` marks samples whose whole bilinear footprint is known (no renormalising).
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
    return acc, valid, wsum > 1 - 1e-4
