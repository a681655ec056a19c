"""Source-pointer sweeps and direct hops on torch tensors, on whatever device the inputs live.

The same algorithm as ``sweeps.py`` and ``direct.py`` (read those for the why): every hole pixel
follows its hop to the sweep's previous frame and either lands on a known pixel (the chain ends)
or inherits the source of the hole pixel it lands on plus the sub-pixel residual. ``Hops`` and
``Pointers`` are reused with tensor fields (int64 idx, float32 flow/x/y/err, bool ok, int32
frame). The per-frame work is masked rather than compacted, so a frame costs a fixed number of
kernels and no host synchronisation beyond the per-frame index check. Positions are computed in
float64 as numpy's int64 + float32 promotion does, so the roundings, and thus the chains, agree
with the numpy sweep exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from flowfill.propagate.sweeps import Hops, Pointers


def hops_to_torch(hops: Hops, device: torch.device | str = "cpu") -> Hops:
    """A copy of numpy ``hops`` with tensor fields on ``device`` (int64, float32, float32, bool)."""
    return Hops(
        torch.as_tensor(np.asarray(hops.idx, np.int64), device=device),
        torch.as_tensor(np.asarray(hops.flow, np.float32), device=device),
        torch.as_tensor(np.asarray(hops.err, np.float32), device=device),
        torch.as_tensor(np.asarray(hops.ok, bool), device=device),
    )


def subset_torch(hops: Hops, idx: torch.Tensor) -> Hops:
    """The hops of ``idx``, a sorted subset of the hole pixels of tensor ``hops`` (Hops.subset)."""
    pos = torch.searchsorted(hops.idx, idx)
    return Hops(idx, hops.flow[pos], hops.err[pos], hops.ok[pos])


def _empty_pointers(idx: torch.Tensor) -> Pointers:
    n, dev = idx.numel(), idx.device
    return Pointers(idx, torch.full((n,), -1, dtype=torch.int32, device=dev),
                    torch.zeros(n, dtype=torch.float32, device=dev),
                    torch.zeros(n, dtype=torch.float32, device=dev),
                    torch.zeros(n, dtype=torch.float32, device=dev))


def sweep_torch(
    shape: tuple[int, int],
    order: Sequence[int],
    holes: Mapping[int, torch.Tensor],
    hops: Mapping[int, Hops | None],
) -> dict[int, Pointers]:
    """Run one sweep over the frames ``order`` on tensors; the pointers of every frame's hole.

    As :func:`flowfill.propagate.sweep`: ``holes[t]`` are frame t's hole pixels now (sorted int64
    flat indices), ``hops[t]`` tensor hops of at least those pixels to the previous frame.
    """
    h, w = shape
    result: dict[int, Pointers] = {}
    prev_index: torch.Tensor | None = None  # slot of each hole pixel of the last frame, or -1
    prev: Pointers | None = None
    prev_t = -1
    for t in order:
        idx = holes[t]
        dev = idx.device
        n = idx.numel()
        if prev_index is None:
            prev_index = torch.full((h * w,), -1, dtype=torch.int64, device=dev)
        ptr = _empty_pointers(idx)
        hop = hops.get(t)
        if prev is not None and n and hop is not None:
            if hop.idx.numel() != n or not torch.equal(hop.idx, idx):
                hop = subset_torch(hop, idx)
            ys, xs = idx // w, idx % w
            flow = hop.flow.to(torch.float64)
            px = xs + flow[:, 0]  # float64, as numpy promotes int64 + float32
            py = ys + flow[:, 1]
            qx = torch.round(px).to(torch.int64)  # half to even, as np.rint
            qy = torch.round(py).to(torch.int64)
            inside = (qx >= 0) & (qx < w) & (qy >= 0) & (qy < h)
            q = torch.where(inside, qy * w + qx, 0)
            slot = torch.where(inside, prev_index[q], -1)
            # the hard test only where the chain lands on a known pixel (see sweeps.py)
            keep = inside & ((slot >= 0) | hop.ok)
            hop_err = hop.err.to(torch.float32)
            end = keep & (slot < 0)  # q known in the previous frame: the chain ends at p'
            frame = torch.where(end, prev_t, -1).to(torch.int32)
            x = torch.where(end, px, 0.0)
            y = torch.where(end, py, 0.0)
            err = torch.where(end, hop_err, 0.0)
            if prev.idx.numel():  # q a hole pixel with a source: inherit it plus the residual
                sl = slot.clamp(min=0)
                src = prev.frame[sl]
                inherit = keep & (slot >= 0) & (src >= 0)
                frame = torch.where(inherit, src, frame)
                x = torch.where(inherit, prev.x[sl].to(torch.float64) + (px - qx), x)
                y = torch.where(inherit, prev.y[sl].to(torch.float64) + (py - qy), y)
                err = torch.where(inherit, torch.maximum(prev.err[sl], hop_err), err)
            ptr = Pointers(idx, frame, x.to(torch.float32), y.to(torch.float32), err)
        if prev is not None:
            prev_index[prev.idx] = -1
        prev_index[idx] = torch.arange(n, dtype=torch.int64, device=dev)
        result[t] = ptr
        prev, prev_t = ptr, t
    return result


def direct_torch(hops: Hops, frame: int, shape: tuple[int, int]) -> Pointers:
    """Sources at p + flow(p) in ``frame`` for the hole pixels of tensor ``hops`` (as ``direct``).

    A hop counts where it passes the hard round-trip test and lands inside the frame; the
    candidate's error is the hop's own round-trip error.
    """
    h, w = shape
    ys, xs = hops.idx // w, hops.idx % w
    flow = hops.flow.to(torch.float64)
    x = (xs + flow[:, 0]).to(torch.float32)
    y = (ys + flow[:, 1]).to(torch.float32)
    inside = (x > -0.5) & (x < w - 0.5) & (y > -0.5) & (y < h - 0.5) & hops.ok
    src = torch.where(inside, frame, -1).to(torch.int32)
    return Pointers(hops.idx, src, x, y, hops.err.to(torch.float32))


__all__ = ["direct_torch", "hops_to_torch", "subset_torch", "sweep_torch"]
