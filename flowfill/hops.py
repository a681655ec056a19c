"""The hops of a window's hole pixels: flows between frames, completed in each flow mask.

Adjacent hops (t to t-1 and to t+1) feed the chain sweeps. Non-local hops go straight from
every frame to a few key frames spread through the window and back, completed like the adjacent
ones (not discarded, as FGVC's code does): they reach background that chains cannot, such as
what an occluder hid while it stood still, or what left the frame in between. Per-hop data is
kept only at hole pixels, so memory follows the size of the hole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flowfill.complete import FrameFlowFill
from flowfill.edges import EdgeCompleter
from flowfill.flow import FlowEstimator, round_trip, to_gray8
from flowfill.flow import homography as homog
from flowfill.masks import scaled_px
from flowfill.options import Options
from flowfill.progress import Progress
from flowfill.propagate import Hops


@dataclass
class WindowHops:
    """Per frame with a hole: hops to the previous and next frame and to each key frame."""

    to_prev: dict[int, Hops] = field(default_factory=dict)
    to_next: dict[int, Hops] = field(default_factory=dict)
    direct: dict[int, list[tuple[int, Hops]]] = field(default_factory=dict)


def key_frames(n: int, count: int) -> list[int]:
    """``count`` key frames spread through a window of ``n`` (3: first, middle, last as FGVC)."""
    if count <= 0 or n < 3:
        return []
    if count == 1:
        return [n // 2]
    return sorted({int(k) for k in np.linspace(0, n - 1, min(count, n)).round()})


def edge_completer(options: Options) -> EdgeCompleter | None:
    """The edge completer ``options.edges`` asks for (None when off)."""
    if options.edges == "off":
        return None
    return EdgeCompleter(options.device, options.edge_weights,
                         need_context=options.edges == "auto")


def _hole_edges(completer: EdgeCompleter | None):  # -> (flow, mask) -> edges, or None
    """The completer as the flow fill calls it: only the hole's neighbourhood is worked on."""
    if completer is None:
        return None
    return lambda flow, mask: completer(flow, mask, whole=False)


def _hops(idx: np.ndarray, flow: np.ndarray, back: np.ndarray, check: bool) -> Hops:
    """The hops of hole pixels ``idx`` along ``flow``, with the round trip through ``back``."""
    err, ok = round_trip(flow, back)
    ok_idx = ok.ravel()[idx] if check else np.ones(idx.size, bool)
    return Hops(idx, flow.reshape(-1, 2)[idx], err.ravel()[idx], ok_idx)


class _WindowFlows:
    """Completed flows between frames of one window; per-frame completion kept while needed."""

    def __init__(self, frames: np.ndarray, holes: np.ndarray, options: Options,
                 estimator: FlowEstimator, keys: list[int]) -> None:
        h, w = holes.shape[1:]
        self.inner_px = (options.flow_dilate if options.flow_dilate is not None
                         else scaled_px(15, (h, w)))
        self.outer_px = (max(self.inner_px, scaled_px(40, (h, w))) if options.object_flow
                         else self.inner_px)
        self.frames, self.holes, self.estimator = frames, holes, estimator
        self.edges = _hole_edges(edge_completer(options))
        self.nonlocal_edges = options.edges == "on"  # auto: adjacent flows only, as FGVC
        self.align = options.nonlocal_align
        self.keys = set(keys)
        self._fills: dict[int, FrameFlowFill] = {}
        self._features: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def _fill(self, t: int) -> FrameFlowFill:
        if t not in self._fills:
            self._fills[t] = FrameFlowFill(self.holes[t], self.inner_px, self.outer_px,
                                          self.edges)
        return self._fills[t]

    def _feat(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        if t not in self._features:
            self._features[t] = homog.features(to_gray8(self.frames[t]), self.holes[t])
        return self._features[t]

    def release(self, t: int) -> None:
        """Forget frame t's per-frame work unless it is a key frame (used by every frame)."""
        if t not in self.keys:
            self._fills.pop(t, None)
            self._features.pop(t, None)

    def pair(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Completed flows a -> b and b -> a, distant pairs pre-aligned when asked to."""
        fa, fb = self.frames[a], self.frames[b]
        hom = None
        if self.align and abs(a - b) > 1:
            hom = homog.match(self._feat(a), self._feat(b))
        if hom is None:
            fwd, bwd = self.estimator.pair(fa, fb, a, b)
        else:  # flow between a and b warped onto a, composed with the homography
            res_fwd, res_bwd = self.estimator.pair(fa, homog.warp_to(fb, hom, fa.shape[:2]), a)
            fwd = homog.compose(hom, res_fwd)
            bwd = homog.compose_back(hom, res_bwd, fb.shape[:2])
        use = abs(a - b) == 1 or self.nonlocal_edges
        return self._fill(a).complete(fwd, use), self._fill(b).complete(bwd, use)


def estimate_hops(
    frames: np.ndarray,
    holes: np.ndarray,
    options: Options,
    estimator: FlowEstimator,
    progress: Progress,
    count_from: int = 0,
) -> WindowHops:
    """Adjacent and non-local hops of every frame's hole pixels in one window.

    Pairs where neither frame has a hole are skipped (no chain passes through them); a frame's
    non-local flows are estimated only if it has a hole. ``count_from``: frames before it were
    already counted in progress (window overlap).
    """
    n = holes.shape[0]
    idx = [np.flatnonzero(m) for m in holes]
    keys = key_frames(n, options.nonlocal_frames)
    flows = _WindowFlows(frames, holes, options, estimator, keys)
    out = WindowHops()
    estimator.clear()  # cached per-frame work is keyed by window-local index
    bar = progress.bar("flow")
    for t in range(n):
        if t + 1 < n and (idx[t].size or idx[t + 1].size):
            fwd, bwd = flows.pair(t, t + 1)
            if idx[t].size:
                out.to_next[t] = _hops(idx[t], fwd, bwd, options.consistency)
            if idx[t + 1].size:
                out.to_prev[t + 1] = _hops(idx[t + 1], bwd, fwd, options.consistency)
        if idx[t].size:
            for k in keys:
                if abs(k - t) > 1:
                    to_key, from_key = flows.pair(t, k)
                    out.direct.setdefault(t, []).append(
                        (k, _hops(idx[t], to_key, from_key, options.consistency)))
        flows.release(t)
        if t >= count_from:
            bar.update(1)
    return out
