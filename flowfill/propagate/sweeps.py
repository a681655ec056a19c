"""Source-pointer sweeps: every hole pixel finds its nearest-in-time known source along the flow.

A sweep visits frames in order; a hole pixel p of frame t follows its flow to the previous frame
of the sweep, p' = p + flow(p), and looks at q = round(p'). If q is known, the source is (t_prev,
p'); if q is itself a hole pixel with a source, p inherits it plus the sub-pixel residual p' - q.
Chains of any length cost O(1) per hole pixel; colours are sampled once, at the end of the chain
(docs/METHOD.md 4.1). The chain error is the largest round-trip error met along the way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Pointers:
    """Sources of the hole pixels ``idx`` (flat) of one frame; ``frame`` is -1 where none."""

    idx: np.ndarray
    frame: np.ndarray
    x: np.ndarray
    y: np.ndarray
    err: np.ndarray

    @property
    def found(self) -> np.ndarray:
        return self.frame >= 0

    def where(self, keep: np.ndarray) -> Pointers:
        """The pointers of the pixels where ``keep`` (bool, aligned with ``idx``; numpy or, for
        tensor fields, a tensor) is True."""
        return Pointers(self.idx[keep], self.frame[keep], self.x[keep], self.y[keep],
                        self.err[keep])


@dataclass
class Hops:
    """One hop per hole pixel of a frame towards the sweep's previous frame, aligned with ``idx``:
    the flow (n x 2), its round-trip error in pixels (n) and whether it passes the hard test (n),
    which is applied where a chain lands on a known pixel."""

    idx: np.ndarray
    flow: np.ndarray
    err: np.ndarray
    ok: np.ndarray

    def subset(self, idx: np.ndarray) -> Hops:
        """The hops of ``idx``, a sorted subset of this frame's hole pixels."""
        pos = np.searchsorted(self.idx, idx)
        return Hops(idx, self.flow[pos], self.err[pos], self.ok[pos])


def sweep(
    shape: tuple[int, int],
    order: Sequence[int],
    holes: Mapping[int, np.ndarray],
    hops: Mapping[int, Hops | None],
) -> dict[int, Pointers]:
    """Run one sweep over the frames ``order``; returns the pointers of every frame's hole.

    ``holes[t]`` are the flat indices (sorted) of frame t's hole pixels now; ``hops[t]`` holds at
    least those pixels' hops to the frame before t in ``order`` (None for the first frame).
    """
    h, w = shape
    result: dict[int, Pointers] = {}
    prev_index = np.full(h * w, -1, dtype=np.int64)  # slot of each hole pixel of the last frame
    prev: Pointers | None = None
    prev_t = -1
    for t in order:
        idx = holes[t]
        n = idx.size
        ptr = Pointers(idx, np.full(n, -1, np.int32), np.zeros(n, np.float32),
                       np.zeros(n, np.float32), np.zeros(n, np.float32))
        hop = hops.get(t)
        if prev is not None and n and hop is not None:
            if hop.idx.size != n or not np.array_equal(hop.idx, idx):
                hop = hop.subset(idx)
            ys, xs = np.divmod(idx, w)
            px = xs + hop.flow[:, 0]
            py = ys + hop.flow[:, 1]
            qx = np.rint(px).astype(np.int64)
            qy = np.rint(py).astype(np.int64)
            sel = np.flatnonzero((qx >= 0) & (qx < w) & (qy >= 0) & (qy < h))
            q = qy[sel] * w + qx[sel]
            slot = prev_index[q]
            # the hard test only where the chain lands on a known pixel: there the reverse flow
            # is measured, while between two hole pixels both flows are interpolations and a
            # per-hop veto would compound along long chains
            keep = (slot >= 0) | hop.ok[sel]
            sel, q, slot = sel[keep], q[keep], slot[keep]
            hop_err = hop.err[sel]
            # q known in the previous frame: the chain ends there, at p'
            end = slot < 0
            s = sel[end]
            ptr.frame[s] = prev_t
            ptr.x[s] = px[s]
            ptr.y[s] = py[s]
            ptr.err[s] = hop_err[end]
            # q is a hole pixel with a source: inherit it plus the residual of this hop
            s, sl, e = sel[~end], slot[~end], hop_err[~end]
            has = prev.frame[sl] >= 0
            s, sl, e = s[has], sl[has], e[has]
            ptr.frame[s] = prev.frame[sl]
            ptr.x[s] = prev.x[sl] + (px[s] - qx[s])
            ptr.y[s] = prev.y[sl] + (py[s] - qy[s])
            ptr.err[s] = np.maximum(prev.err[sl], e)
        if prev is not None:
            prev_index[prev.idx] = -1
        prev_index[idx] = np.arange(n)
        result[t] = ptr
        prev, prev_t = ptr, t
    return result
