"""Hold the fill of pixels no frame saw steady in time: each frame's fill is averaged with its
neighbours', read through the background's motion (issue 16).

The smooth base of an unseen region interpolates that frame's own rim, so the rim's grain and
noise made the whole fill shimmer from frame to frame (on a still shot, more than the truth
changes). Averaging over a few frames along the background's motion keeps what moves slowly
(lighting, a pan) and drops the frame-to-frame noise; the invented detail is already carried
from one anchor and averages onto itself. Each neighbour's weight also falls with its colour
difference, so what passes by quickly is not smeared over time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from flowfill.flow.homography import apply
from flowfill.masks import box

SIGMA = 2.0
"""Frames (Gaussian sigma) of the average; measured on issue 16's still shots (RESULTS.md)."""
TOLERANCE = 0.06
"""Colour difference (RMS, 0..1) at which a neighbour's fill weighs e^-1/2 less: a fill that
differs by much more shows something that moved past (a passer-by behind burnt-in text) and
is not averaged in, or it would leave a trail."""


@dataclass
class Crop:
    """One frame's filled region: the filled picture in the region's box (grown by two pixels
    for the interpolation) and which of its pixels the region holds, with the box's corner."""

    top: int
    left: int
    image: np.ndarray
    inside: np.ndarray


def crop(filled: np.ndarray, region: np.ndarray) -> Crop:
    """The part of ``filled`` (H x W x C) a neighbour may read: ``region``'s (H x W bool) box."""
    rows, cols = box(region, pad=2)
    return Crop(rows.start, cols.start, np.ascontiguousarray(filled[rows, cols], np.float32),
                region[rows, cols])


def radius(sigma: float = SIGMA) -> int:
    """How many frames each side the average reaches."""
    return int(np.ceil(2 * sigma))


def steady(t: int, region: np.ndarray, crops: Mapping[int, Crop],
           paths: Sequence[np.ndarray | None], sigma: float = SIGMA) -> np.ndarray:
    """The values (m x C, float32) of frame t's ``region`` pixels (row-major): the Gaussian
    average over the frames of ``crops`` (within ``radius`` of t) of their fills at the place
    the background's motion carries each pixel to, each weighed down by its difference from
    frame t's own fill (``TOLERANCE``). ``paths[s]``: frame s's pixels onto a common anchor
    (3 x 3), None where unknown; a frame counts for a pixel only where the pixel lands inside
    that frame's region. Frame t itself always counts."""
    ys, xs = np.nonzero(region)
    own = crops[t]
    mine = own.image[ys - own.top, xs - own.left].astype(np.float64)
    acc = mine.copy()
    wsum = np.ones(ys.size)
    if paths[t] is None:
        return acc.astype(np.float32)
    for s, other in crops.items():
        if s == t or abs(s - t) > radius(sigma) or paths[s] is None:
            continue
        hom = np.linalg.inv(paths[s]) @ paths[t]  # t's pixels onto s's
        sx, sy = apply(hom, xs.astype(np.float64), ys.astype(np.float64))
        lx = (sx - other.left).astype(np.float32)[None]
        ly = (sy - other.top).astype(np.float32)[None]
        qx, qy = np.rint(lx[0]).astype(np.int64), np.rint(ly[0]).astype(np.int64)
        hh, ww = other.inside.shape
        ok = (qx >= 0) & (qx < ww) & (qy >= 0) & (qy < hh)
        ok[ok] = other.inside[qy[ok], qx[ok]]
        if not ok.any():
            continue
        val = np.stack([cv2.remap(np.ascontiguousarray(other.image[..., c]), lx, ly,
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
                        for c in range(other.image.shape[2])], -1)
        close = np.mean((val - mine) ** 2, axis=1)
        weight = np.exp(-0.5 * ((s - t) / sigma) ** 2 - 0.5 * close / TOLERANCE ** 2) * ok
        acc += weight[:, None] * val
        wsum += weight
    return (acc / wsum[:, None]).astype(np.float32)
