"""Fill the hole of one window of frames: flow, completion, propagation, fusion, keyframes.

Everything here works on one window held in memory; ``pipeline.py`` streams windows through it.
Per-hop data (completed flow, round-trip error) is kept only at hole pixels, so memory beyond
the frames themselves follows the size of the hole, not of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowfill.complete import MembraneFill
from flowfill.complete.contamination import contaminated
from flowfill.flow import DISFlow, round_trip, to_gray8
from flowfill.fuse import poisson_fill
from flowfill.hallucinate import get_fill
from flowfill.masks import flow_mask, scaled_px
from flowfill.options import Options
from flowfill.progress import Progress
from flowfill.propagate import Hops, gather, sweep


@dataclass
class WindowResult:
    """The filled frames of a window and where each hole pixel's content came from."""

    frames: np.ndarray  # N x H x W x C, the hole filled
    propagated: np.ndarray  # N x H x W bool: filled from frames that saw the background
    keyframes: list[int] = field(default_factory=list)  # window-local indices hallucinated


def _hops(idx: np.ndarray, flow: np.ndarray, back: np.ndarray, check: bool) -> Hops:
    """The hops of hole pixels ``idx`` along ``flow``, with the round trip through ``back``."""
    err, ok = round_trip(flow, back)
    ok_idx = ok.ravel()[idx] if check else np.ones(idx.size, bool)
    return Hops(idx, flow.reshape(-1, 2)[idx], err.ravel()[idx], ok_idx)


def _mask_of(idx: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A bool H x W mask that is True at the flat pixel indices ``idx``."""
    mask = np.zeros(shape[0] * shape[1], bool)
    mask[idx] = True
    return mask.reshape(shape)


class _FrameFlowMasks:
    """Per frame: the flow mask, and the wider ring where object-like flow is also cut away."""

    def __init__(self, hole: np.ndarray, inner_px: int, outer_px: int) -> None:
        self.hole = hole
        self.inner = flow_mask(hole, inner_px)
        outer = flow_mask(hole, outer_px)
        self.ring = outer & ~self.inner
        self.outer_fill = MembraneFill(outer) if self.ring.any() else None
        self.inner_fill = MembraneFill(self.inner)

    def complete(self, flow: np.ndarray) -> np.ndarray:
        """The flow with the hole, and object-like flow in the ring, re-estimated by Laplace."""
        if self.outer_fill is None:
            return self.inner_fill(flow)[0]
        background = self.outer_fill(flow)[0]
        extra = contaminated(flow, self.hole, self.ring, background)
        if not extra.any():
            return self.inner_fill(flow)[0]
        return MembraneFill(self.inner | extra)(flow)[0]


def estimate_hops(
    frames: np.ndarray, holes: np.ndarray, options: Options, progress: Progress, count_from: int
) -> tuple[dict[int, Hops], dict[int, Hops]]:
    """Flows between neighbours, completed inside each frame's flow mask, as hops per hole pixel.

    Returns (to_prev, to_next): for each frame with a hole, the hop to the frame before/after.
    Pairs where neither frame has a hole are skipped: no chain passes through them.
    """
    n, h, w = holes.shape
    inner_px = options.flow_dilate if options.flow_dilate is not None else scaled_px(15, (h, w))
    outer_px = max(inner_px, scaled_px(40, (h, w))) if options.object_flow else inner_px
    idx = [np.flatnonzero(m) for m in holes]
    dis = DISFlow()
    gray: dict[int, np.ndarray] = {}
    masks: dict[int, _FrameFlowMasks] = {}
    to_prev: dict[int, Hops] = {}
    to_next: dict[int, Hops] = {}
    bar = progress.bar("flow")
    for a in range(n - 1):
        b = a + 1
        if idx[a].size or idx[b].size:
            for t in (a, b):
                if t not in gray:
                    gray[t] = to_gray8(frames[t])
                if t not in masks:
                    masks[t] = _FrameFlowMasks(holes[t], inner_px, outer_px)
            fwd = masks[a].complete(dis(gray[a], gray[b]))
            bwd = masks[b].complete(dis(gray[b], gray[a]))
            if idx[a].size:
                to_next[a] = _hops(idx[a], fwd, bwd, options.consistency)
            if idx[b].size:
                to_prev[b] = _hops(idx[b], bwd, fwd, options.consistency)
        gray.pop(a, None)
        masks.pop(a, None)
        if a >= count_from:
            bar.update(1)
    if n - 1 >= count_from:
        bar.update(1)
    return to_prev, to_next


def fill_window(
    frames: np.ndarray,
    holes: np.ndarray,
    options: Options,
    progress: Progress | None = None,
    count_from: int = 0,
) -> WindowResult:
    """Fill ``holes`` (N x H x W bool) in ``frames`` (N x H x W x C float32) of one shot.

    Rounds: both sweeps give every hole pixel up to two sources, the candidates are blended and
    fused by a Poisson solve per frame; then the frame with the most hole left gets the
    hallucination fill, becomes a source, and the sweeps run again (at most
    ``options.max_keyframes`` times, then what remains is filled frame by frame).
    ``count_from``: frames before it were already counted in progress (window overlap).
    """
    progress = progress or Progress(enabled=False)
    n, h, w, c = frames.shape
    to_prev, to_next = estimate_hops(frames, holes, options, progress, count_from)
    fill = get_fill(options.fill)
    cur = frames.copy()
    known = ~holes
    propagated = np.zeros_like(holes)
    hole_now = {t: np.flatnonzero(holes[t]) for t in range(n)}
    keyframes: list[int] = []
    bar = progress.bar("propagate")
    first = True
    while True:
        active = [t for t in range(n) if hole_now[t].size]
        if not active:
            break
        back = sweep((h, w), range(n), hole_now, to_prev)
        ahead = sweep((h, w), range(n - 1, -1, -1), hole_now, to_next)
        updates = []
        for t in active:
            g = gather([back[t], ahead[t]], cur, known, options.alpha)
            if g.found.any():
                solution = poisson_fill(cur[t], _mask_of(g.idx[g.found], (h, w)),
                                        _mask_of(g.idx[~g.found], (h, w)),
                                        g.colour, g.step, g.step_ok)
                updates.append((t, g.idx[g.found], solution))
            hole_now[t] = g.idx[~g.found]
            if first and t >= count_from:
                bar.update(1)
        for t, idx, solution in updates:
            cur[t].reshape(-1, c)[idx] = solution
            known[t].reshape(-1)[idx] = True
            if first:
                propagated[t].reshape(-1)[idx] = True
        if first:
            bar.update(sum(1 for t in range(count_from, n) if t not in active))
        first = False
        sizes = np.array([hole_now[t].size for t in range(n)])
        if not sizes.any() or len(keyframes) >= options.max_keyframes:
            break
        k = int(np.argmax(sizes))
        cur[k] = fill(cur[k], _mask_of(hole_now[k], (h, w)), device=options.device,
                      seed=options.seed)
        known[k].reshape(-1)[hole_now[k]] = True
        hole_now[k] = hole_now[k][:0]
        keyframes.append(k)
    for t in range(n):  # beyond the keyframe bound: fill what is left frame by frame
        if hole_now[t].size:
            cur[t] = fill(cur[t], _mask_of(hole_now[t], (h, w)), device=options.device,
                          seed=options.seed)
    return WindowResult(cur, propagated, keyframes)
