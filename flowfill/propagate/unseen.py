"""Hole pixels that no frame of a window shows: the background's own motion never carries them
out of the hole (a static logo over a static shot, burnt-in text), issue 16.

The background's motion between two frames is a homography fitted robustly to their estimated
flow outside both holes (people walking past are RANSAC's outliers). A hole pixel is *unseen*
when, carried by the chained homographies to every other frame of the window (and by the fitted
motion of each direct pair to the key and reference frames), it never lands clear of that
frame's hole. Chains along the completed flow still "find" such pixels: the flow inside a hole
is interpolated from whatever moves around it, and a chain that drifts a pixel or two out of a
thin stroke copies its neighbour; the invented content then slides with the passers-by. Unseen
pixels are instead filled frame by frame from their own rim, with one invented detail layer
carried by the background (``flowfill.hallucinate.layered``).

Where the motion of any pair a chain needs could not be fitted, nothing is claimed unseen
(the frame keeps the flow's propagation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import cv2
import numpy as np

from flowfill.flow.homography import apply, rescale
from flowfill.masks import box

FIT_STEP = 6
"""Grid spacing (proxy px) of the flow vectors the background motion is fitted to, at least."""
FIT_POINTS = 1500
"""About how many flow vectors the fit reads at most: a wider spacing on larger proxies. RANSAC
and its refinement cost grows with the vectors, and 1,500 spread over the frame fix eight
parameters as well as ten times as many (RESULTS.md, issue 19)."""
FIT_THRESHOLD = 1.0
"""RANSAC reprojection threshold, proxy px."""
MIN_INLIERS = 0.5
"""Share of the fitted vectors the background motion must explain, or it is not trusted."""
HOLE_GUARD = 2
"""Proxy px around the holes whose flow is not fitted (it leans on the hole's filling)."""
CLEAR_480P = 3.0
"""A pixel counts as seen in a frame when it lands at least this far from that frame's hole
(px at 480p, at least 1.5): the fitted motion's own error must not let it graze the rim."""

Motion = Mapping[tuple[int, int], np.ndarray]
"""The background motion of frame pairs: (a, b) -> H (3 x 3, full-resolution pixels of a onto
b); a pair is absent where it was not estimated or could not be fitted."""


def fit_background(flow: np.ndarray, hole_a: np.ndarray, hole_b: np.ndarray,
                   scale: tuple[float, float] = (1.0, 1.0),
                   within: tuple[slice, slice] | None = None) -> np.ndarray | None:
    """The homography of the background (full-resolution px of a onto b) from a proxy flow
    a -> b (h x w x 2) and the proxy holes; ``scale``: proxy over full size (sx, sy);
    ``within``: the box of a (rows, columns) where the flow was estimated (default: all).
    None when too few vectors lie outside the holes or too few agree."""
    h, w = hole_a.shape
    guard = cv2.dilate(hole_a.astype(np.uint8), np.ones((2 * HOLE_GUARD + 1,) * 2, np.uint8))
    rows, cols = within if within is not None else (slice(0, h), slice(0, w))
    area = (rows.stop - rows.start) * (cols.stop - cols.start)
    step = max(FIT_STEP, round(np.sqrt(area / FIT_POINTS)))
    ys, xs = np.mgrid[rows.start + step // 2:rows.stop:step, cols.start + step // 2:cols.stop:step]
    ys, xs = ys.ravel(), xs.ravel()
    keep = guard[ys, xs] == 0
    ys, xs = ys[keep], xs[keep]
    vec = flow[ys, xs]
    tx, ty = xs + vec[:, 0], ys + vec[:, 1]
    bx, by = np.rint(tx).astype(np.int64), np.rint(ty).astype(np.int64)
    inside = (bx >= 0) & (bx < w) & (by >= 0) & (by < h)
    landed_clear = np.zeros_like(inside)
    landed_clear[inside] = ~hole_b[by[inside], bx[inside]]
    sel = landed_clear
    if sel.sum() < 16:
        return None
    src = np.stack([xs[sel], ys[sel]], 1).astype(np.float32)
    dst = np.stack([tx[sel], ty[sel]], 1).astype(np.float32)
    hom, inliers = cv2.findHomography(src, dst, cv2.RANSAC, FIT_THRESHOLD, maxIters=500,
                                      confidence=0.995)
    if hom is None or inliers is None or inliers.mean() < MIN_INLIERS:
        return None
    return rescale(hom, scale)


def chained(motion: Motion, a: int, b: int) -> np.ndarray | None:
    """The background motion a -> b through the adjacent pairs between them; None where a link
    is missing."""
    step = 1 if b > a else -1
    hom = np.eye(3)
    for s in range(a, b, step):
        link = motion.get((s, s + step))
        if link is None:
            return None
        hom = link @ hom
    return hom


CHAMFER_AXIAL = 0.955
"""The step OpenCV's 3x3 L2 chamfer distance counts for one pixel across or down (its diagonal
1.3693): no pixel farther than px / CHAMFER_AXIAL from the hole's box in rows or columns can be
nearer to the hole than px."""


def _clear(hole: np.ndarray, px: float) -> np.ndarray:
    """Bool H x W: known pixels at least ``px`` from the hole."""
    out = np.ones_like(hole)
    if not hole.any():
        return out
    # beyond the hole's box grown past px every pixel is clear: the distances are worked out
    # on that box alone (the 3x3 chamfer's shortest paths stay within it), not the whole frame
    crop = box(hole, int(np.ceil(px / CHAMFER_AXIAL)) + 2)
    out[crop] = cv2.distanceTransform((~hole[crop]).astype(np.uint8), cv2.DIST_L2, 3) >= px
    return out


def _seen_from(t: int, holes: np.ndarray, clear: list[np.ndarray], motion: Motion, n: int,
               keys: Iterable[int], cell: int) -> np.ndarray | None:
    """Bool per hole pixel of frame t (row-major): whether the background carries it clear of
    the hole in some other frame; None when a link of the window's chains is missing (a
    reference frame whose motion could not be fitted only gives no evidence). The test runs
    once per ``cell`` x ``cell`` block of the hole, at the block's centre."""
    h, w = holes.shape[1:]
    ys, xs = np.nonzero(holes[t])
    blocks, back = np.unique((ys // cell) * (w // cell + 1) + xs // cell, return_inverse=True)
    by, bx = np.divmod(blocks, w // cell + 1)
    x = np.minimum(bx * cell + (cell - 1) / 2.0, w - 1)
    y = np.minimum(by * cell + (cell - 1) / 2.0, h - 1)
    seen = np.zeros(blocks.size, dtype=bool)

    def look(hom: np.ndarray, s: int) -> bool:  # True once every block is seen
        sx, sy = apply(hom, x, y)
        qx, qy = np.rint(sx).astype(np.int64), np.rint(sy).astype(np.int64)
        inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
        seen[inside] |= clear[s][qy[inside], qx[inside]]
        return bool(seen.all())

    for step in (1, -1):  # along the window each way, the links chained as they come
        hom = np.eye(3)
        for s in range(t + step, n if step > 0 else -1, step):
            link = motion.get((s - step, s))
            if link is None:
                return None
            hom = link @ hom
            if look(hom, s):
                return seen[back]
    for k in sorted(set(keys) - set(range(n))):  # the reference frames, fitted directly
        hom = motion.get((t, k))
        if hom is None:  # no evidence either way; its direct hop is dropped where unseen
            continue
        if look(hom, k):
            break
    return seen[back]


def never_seen(holes: np.ndarray, motion: Motion, n: int,
               keys: Mapping[int, Iterable[int]] | None = None) -> np.ndarray:
    """Bool n x H x W: the hole pixels of the window's first ``n`` frames that the background's
    motion never carries clear of the hole in any frame of the window, nor, through ``keys[t]``
    (the key and reference frames frame t has direct pairs with), in those. Frames where the
    motion of an adjacent pair is missing claim none (a missing reference pair is skipped: one
    failed fit must not hand a static logo back to the flow's drifting chains). Above 720p the
    test runs on blocks (2 x 2 px at 1080p, 4 x 4 at 2160p)."""
    count, h, w = holes.shape
    clear_px = max(CLEAR_480P * min(h, w) / 480.0, 1.5)
    cell = max(1, min(h, w) // 480)
    clear = [_clear(holes[s], clear_px) for s in range(count)]
    out = np.zeros((n, h, w), dtype=bool)
    for t in range(n):
        if not holes[t].any():
            continue
        seen = _seen_from(t, holes, clear, motion, n, (keys or {}).get(t, ()), cell)
        if seen is not None:
            out[t][holes[t]] = ~seen
    return out


def smooth_path(path: list[np.ndarray | None], sigma: float) -> list[np.ndarray | None]:
    """Each frame's motion (3 x 3, normalised) averaged with its neighbours' by a Gaussian of
    ``sigma`` frames, element by element (the motions are near one another, so the average
    is one too); None stays None and is left out of its neighbours' averages."""
    have = [t for t, hom in enumerate(path) if hom is not None]
    if not have or sigma <= 0:
        return list(path)
    stack = np.stack([path[t] / path[t][2, 2] for t in have])
    at = np.asarray(have, dtype=np.float64)
    out: list[np.ndarray | None] = [None] * len(path)
    for t in have:
        weight = np.exp(-0.5 * ((at - t) / sigma) ** 2)
        out[t] = np.tensordot(weight / weight.sum(), stack, axes=1)
    return out
