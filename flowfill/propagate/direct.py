"""Direct candidates: one hop from a frame's hole pixels straight into a non-local key frame."""

from __future__ import annotations

import numpy as np

from flowfill.propagate.sweeps import Hops, Pointers


def direct(hops: Hops, frame: int, shape: tuple[int, int]) -> Pointers:
    """Sources at p + flow(p) in ``frame`` for the hole pixels of ``hops``.

    A hop counts where it passes the hard round-trip test and lands inside the frame; whether
    the landing pixel is known there is decided when sampling, against the current known mask.
    The candidate's error is the hop's own round-trip error.
    """
    h, w = shape
    ys, xs = np.divmod(hops.idx, w)
    x = (xs + hops.flow[:, 0]).astype(np.float32)
    y = (ys + hops.flow[:, 1]).astype(np.float32)
    inside = (x > -0.5) & (x < w - 0.5) & (y > -0.5) & (y < h - 0.5) & hops.ok
    src = np.where(inside, frame, -1).astype(np.int32)
    return Pointers(hops.idx, src, x, y, hops.err.astype(np.float32))
