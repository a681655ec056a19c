"""Fill the hole of one window of frames: flow, completion, propagation, fusion, keyframes.

Everything here works on one window held in memory; ``pipeline.py`` streams windows through it.
Per-hop data (completed flow, round-trip error) is kept only at hole pixels, so memory beyond
the frames themselves follows the size of the hole, not of the frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowfill.flow import FlowEstimator, make_estimator
from flowfill.fuse import poisson_fill
from flowfill.hallucinate import ITERATIVE, get_fill
from flowfill.hops import estimate_hops
from flowfill.options import Options
from flowfill.progress import Progress
from flowfill.propagate import direct, gather, sweep


@dataclass
class WindowResult:
    """The filled frames of a window and where each hole pixel's content came from."""

    frames: np.ndarray  # N x H x W x C, the hole filled
    propagated: np.ndarray  # N x H x W bool: filled from frames that saw the background
    keyframes: list[int] = field(default_factory=list)  # window-local indices hallucinated


def _mask_of(idx: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A bool H x W mask that is True at the flat pixel indices ``idx``."""
    mask = np.zeros(shape[0] * shape[1], bool)
    mask[idx] = True
    return mask.reshape(shape)


def flow_estimator(options: Options) -> FlowEstimator:
    """The flow backend the options ask for, caching enough frames for the key frames."""
    return make_estimator(options.flow, weights=options.raft_weights, iters=options.raft_iters,
                          device=options.device, max_side=options.flow_max_side,
                          precision=options.flow_precision, cache=options.nonlocal_frames + 3)


def fill_window(
    frames: np.ndarray,
    holes: np.ndarray,
    options: Options,
    progress: Progress | None = None,
    count_from: int = 0,
    estimator: FlowEstimator | None = None,
) -> WindowResult:
    """Fill ``holes`` (N x H x W bool) in ``frames`` (N x H x W x C float32) of one shot.

    Rounds: both sweeps give every hole pixel up to two sources, the candidates are blended and
    fused by a Poisson solve per frame; then the frame with the most hole left gets the
    hallucination fill, becomes a source, and the sweeps run again, so what was invented is
    carried to the other frames and stays put in time. The loop ends when no frame has more
    than ``options.tiny_hole`` pixels left or after ``options.max_keyframes`` keyframes; what
    remains is filled frame by frame.
    Each hole pixel's candidates: the sources its backward and forward chains reach, and one
    direct hop into each non-local key frame. ``count_from``: frames before it were already
    counted in progress (window overlap). ``estimator``: the flow backend (default: from options).
    """
    progress = progress or Progress(enabled=False)
    n, h, w, c = frames.shape
    if estimator is None:
        estimator = flow_estimator(options)
    hops = estimate_hops(frames, holes, options, estimator, progress, count_from)
    fill = get_fill(options.fill)
    # per-frame leftovers: the chosen fill when it is cheap, Telea after an iterative one
    leftover = get_fill("telea" if options.fill in ITERATIVE else options.fill)
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
        back = sweep((h, w), range(n), hole_now, hops.to_prev)
        ahead = sweep((h, w), range(n - 1, -1, -1), hole_now, hops.to_next)
        updates = []
        for t in active:
            candidates = [back[t], ahead[t]] + [
                direct(hop.subset(hole_now[t]), k, (h, w)) for k, hop in hops.direct.get(t, [])
            ]
            g = gather(candidates, cur, known, options.alpha)
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
        if sizes.max() <= options.tiny_hole or len(keyframes) >= options.max_keyframes:
            break
        k = int(np.argmax(sizes))
        cur[k] = fill(cur[k], _mask_of(hole_now[k], (h, w)), device=options.device,
                      seed=options.seed, budget=options.fill_budget, progress=progress)
        known[k].reshape(-1)[hole_now[k]] = True
        hole_now[k] = hole_now[k][:0]
        keyframes.append(k)
    for t in range(n):  # tiny leftovers, or beyond the keyframe bound: frame by frame
        if hole_now[t].size:
            small = hole_now[t].size <= options.tiny_hole
            cur[t] = (get_fill("telea") if small else leftover)(
                cur[t], _mask_of(hole_now[t], (h, w)), device=options.device, seed=options.seed)
    return WindowResult(cur, propagated, keyframes)
