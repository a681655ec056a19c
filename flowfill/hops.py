"""The hops of a window's hole pixels: flows between frames, completed in each flow mask.

Adjacent hops (t to t-1 and to t+1) feed the chain sweeps. Non-local hops go straight from
every frame to a few key frames spread through the window and back, completed like the adjacent
ones (not discarded, as FGVC's code does): they reach background that chains cannot, such as
what an occluder hid while it stood still, or what left the frame in between. Per-hop data is
kept only at hole pixels, so memory follows the size of the hole.

Flow is estimated and completed on a proxy whose long side is at most ``flow_max_side``; the
completed flows and their round-trip errors are sampled at the full-resolution hole pixels, so
colour is still taken and fused at full resolution while the solves stay proxy-sized.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from flowfill.complete import FrameFlowFill, MembraneCache
from flowfill.edges import EdgeCompleter
from flowfill.edges.image import luminance
from flowfill.flow import FlowEstimator, round_trip, to_gray8
from flowfill.flow import homography as homog
from flowfill.flow.hole_fill import smooth_over
from flowfill.flow.prep import proxy_size, to_proxy
from flowfill.masks import box, scaled_px
from flowfill.options import Options
from flowfill.parallel import FramePool, blocks, frame_threads
from flowfill.progress import Progress
from flowfill.propagate import Hops
from flowfill.propagate.refine import refine_ends
from flowfill.propagate.unseen import fit_background
from flowfill.timing import StageClock

FAR_CONTEXT = 24
"""Proxy px (at 480p) of picture around a distant pair's ring that its flow is estimated on:
beyond that box the residual motion left by the alignment is taken as zero (RESULTS.md, issue
19)."""
FAR_CROP_SHARE = 0.5
"""A distant pair's flow is estimated on the whole frame when the box would cover more than
this share of it (nothing worth saving, and the background fit keeps its evidence)."""

FAR_MIN_SIDE = 480
"""Long side (px) below which the distant pairs' proxy is not shrunk: about the size of the
benchmark's clips, where distant flows at full size are what the quality figures were measured
with (RESULTS.md, issue 19)."""

_UNSET = object()  # a cache's "not worked out yet", where None is a value


@dataclass
class WindowHops:
    """Per frame with a hole: hops to the previous and next frame and to each key frame."""

    to_prev: dict[int, Hops] = field(default_factory=dict)
    to_next: dict[int, Hops] = field(default_factory=dict)
    direct: dict[int, list[tuple[int, Hops]]] = field(default_factory=dict)
    motion: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    """The background's motion (a, b) -> H of every pair whose flow was estimated and could
    be fitted (:func:`flowfill.propagate.unseen.fit_background`), both ways."""
    coarse: WindowHops | None = None
    """The same hops for the hole pixels of the frames on the adjacent flows' proxy, when
    :func:`estimate_hops` was asked for them (``coarse``): a first round filled there."""


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
                         need_context=options.edges == "auto", precision=options.edge_precision)


def _hole_edges(completer: EdgeCompleter | None):  # -> (flow, mask) -> strength, or None
    """The completer as the flow fill calls it: soft edge strength, worked out only around the
    hole."""
    if completer is None:
        return None
    return lambda flow, mask: completer.strength(flow, mask, whole=False)


class ProxyGrid:
    """Full-resolution hole pixels read off proxy-sized fields (identity when the sizes match)."""

    def __init__(self, full: tuple[int, int], proxy: tuple[int, int]) -> None:
        self.full, self.proxy = full, proxy
        self.same = full == proxy
        self.sx, self.sy = proxy[1] / full[1], proxy[0] / full[0]

    def at(self, field: np.ndarray, idx: np.ndarray, nearest: bool = False) -> np.ndarray:
        """``field`` (proxy h x w [x C]) at the full-resolution flat pixels ``idx``."""
        if self.same:
            return field.reshape(field.shape[0] * field.shape[1], -1)[idx].reshape(
                (idx.size,) + field.shape[2:])
        ys, xs = np.divmod(idx, self.full[1])
        ph, pw = self.proxy
        px = np.clip((xs + 0.5) * self.sx - 0.5, 0, pw - 1)
        py = np.clip((ys + 0.5) * self.sy - 0.5, 0, ph - 1)
        flat = field.reshape(ph * pw, -1)
        if nearest:
            return flat[np.rint(py).astype(np.int64) * pw + np.rint(px).astype(np.int64)].reshape(
                (idx.size,) + field.shape[2:])
        x0 = np.minimum(px.astype(np.int64), pw - 2 if pw > 1 else 0)
        y0 = np.minimum(py.astype(np.int64), ph - 2 if ph > 1 else 0)
        fx = (px - x0).astype(np.float32)[:, None]
        fy = (py - y0).astype(np.float32)[:, None]
        x1, y1 = np.minimum(x0 + 1, pw - 1), np.minimum(y0 + 1, ph - 1)
        out = ((flat[y0 * pw + x0] * (1 - fx) + flat[y0 * pw + x1] * fx) * (1 - fy)
               + (flat[y1 * pw + x0] * (1 - fx) + flat[y1 * pw + x1] * fx) * fy)
        return out.reshape((idx.size,) + field.shape[2:])

    def box(self, idx: np.ndarray) -> tuple[int, int, int, int]:
        """Proxy rows and columns (y0, y1, x0, x1) that :meth:`at` reads for ``idx``."""
        ph, pw = self.proxy
        if idx.size == 0:
            return 0, 0, 0, 0
        ys, xs = np.divmod(idx, self.full[1])
        if self.same:
            return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        # bilinear reads reach the next proxy pixel; one more for rounding
        return (max(int(ys.min() * self.sy) - 2, 0), min(int((ys.max() + 1) * self.sy) + 3, ph),
                max(int(xs.min() * self.sx) - 2, 0), min(int((xs.max() + 1) * self.sx) + 3, pw))

    def hole(self, hole: np.ndarray) -> np.ndarray:
        """The proxy hole: every proxy pixel that covers part of the full-resolution hole."""
        if self.same:
            return hole
        return to_proxy(hole.astype(np.float32), self.proxy) > 0


@dataclass
class _Coarse:
    """Frames and holes on the adjacent flows' proxy whose hole pixels get hops too, read off
    the same flows (a first round filled there: ``estimate_hops``'s ``coarse``)."""

    frames: np.ndarray
    holes: np.ndarray
    idx: list[np.ndarray]
    grids: dict[tuple[int, int], ProxyGrid]
    """By the proxy a pair's flow lies on: its grid for these hole pixels."""

    def grid(self, fine: ProxyGrid) -> ProxyGrid:
        return self.grids[fine.proxy]

    def pair(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames t and t + 1's luminance (2 x h x w x 1) and holes, for ``_refine``."""
        return (np.stack([luminance(self.frames[t]), luminance(self.frames[t + 1])])[..., None],
                self.holes[t:t + 2])


def _refine(hop: Hops, pair: np.ndarray, pair_holes: np.ndarray, here: int) -> None:
    """Move the hops of frame ``here`` of a neighbouring ``pair`` (2 x H x W x 1 luminance,
    its holes 2 x H x W) towards the other frame, to where the known pixels around each hole
    pixel match what surrounds its landing point (in place; ``propagate.refine``)."""
    w = pair_holes.shape[2]
    py, px = np.divmod(hop.idx, w)
    x = (px + hop.flow[:, 0]).astype(np.float32)
    y = (py + hop.flow[:, 1]).astype(np.float32)
    other = np.full(hop.idx.size, 1 - here, np.int64)
    nx, ny = refine_ends(pair, pair_holes, here, hop.idx, other, x, y)
    hop.flow[:, 0] = nx - px
    hop.flow[:, 1] = ny - py


def _keep_invented(hop: Hops, first: Hops, moving: np.ndarray | None, t: int) -> None:
    """Frame t's hops through a fill (in place) put back to the first round's ``first`` at the
    hole pixels outside ``moving`` (their fill was invented: it moves with nothing, and the flow
    through it says nothing of the picture's motion)."""
    if moving is None:
        return
    keep = ~moving[t].reshape(-1)[hop.idx]
    hop.flow[keep] = first.flow[keep]
    hop.err[keep] = first.err[keep]
    hop.ok[keep] = first.ok[keep]


def _hops(grid: ProxyGrid, idx: np.ndarray, flow: np.ndarray, back: np.ndarray,
          check: bool) -> Hops:
    """The hops of full-resolution hole pixels ``idx`` along the proxy ``flow``, with the round
    trip through ``back``; vectors and errors are scaled to full-resolution pixels."""
    err, ok = round_trip(flow, back, grid.box(idx))
    ok_idx = grid.at(ok, idx, nearest=True) if check else np.ones(idx.size, bool)
    vec = grid.at(flow, idx)
    err_idx = grid.at(err, idx)
    if not grid.same:
        vec = vec / np.float32([grid.sx, grid.sy])
        err_idx = err_idx / np.float32(min(grid.sx, grid.sy))
    return Hops(idx, vec, err_idx, ok_idx)


class _WindowFlows:
    """Completed flows between frames of one window; per-frame completion kept while needed."""

    def __init__(self, frames: np.ndarray, holes: np.ndarray, options: Options,
                 estimator: FlowEstimator, keys: list[int], clock: StageClock,
                 filled: bool = False) -> None:
        full = holes.shape[1:]
        near = proxy_size(*full, options.flow_max_side)
        # distant pairs on a coarser proxy: they are fallback sources (nearest first), so a
        # quarter of the flow and completion work buys most of what they give
        self.grids = {False: ProxyGrid(full, near),
                      True: ProxyGrid(full, far_proxy(near, options.nonlocal_scale))}
        self.grid = self.grids[False]
        self.split = self.grids[True].proxy != near  # else both kinds share the per-frame work
        self.inner_px: dict[bool, int] = {}
        self.outer_px: dict[bool, int] = {}
        for far, grid in self.grids.items():
            size = grid.proxy  # every per-pixel distance below is on the proxy
            scale = 1.0 if grid.same else grid.sy
            inner = (max(1, round(options.flow_dilate * scale))
                     if options.flow_dilate is not None else scaled_px(15, size))
            self.inner_px[far] = inner
            self.outer_px[far] = (max(inner, scaled_px(40, size)) if options.object_flow
                                  else inner)
        self.frames, self.holes = frames, holes
        self.filled = filled  # the holes hold a first fill: adjacent flows are taken as they are
        self.prefill = options.flow_prefill
        # each thread its own flow backend (OpenCV's DIS keeps state per call) and stage clock
        self._main = (estimator, clock, {})
        self._local = threading.local()
        self.edges = _hole_edges(edge_completer(options))
        self.nonlocal_edges = options.edges == "on"  # auto: adjacent flows only, as FGVC
        self.align = options.nonlocal_align
        self.tone = options.flow_tone
        self.keys = set(keys)
        self._features: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._proxies: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._smoothed: dict[tuple[int, bool], np.ndarray] = {}
        self._crops: dict[tuple[int, bool], tuple[slice, slice] | None] = {}

    def on_thread(self, estimator: FlowEstimator, clock: StageClock,
                  motion: dict[tuple[int, int], np.ndarray]) -> None:
        """Make the calling thread estimate with ``estimator``, time into ``clock`` and put the
        background's motion of its pairs into ``motion`` (its run of frames' own: a pair of
        key frames is fitted from both ends, and the later frame's fit must win, as when the
        frames are worked on in order)."""
        self._local.work = (estimator, clock, motion)

    @property
    def _fills(self) -> dict[tuple[int, bool], FrameFlowFill]:
        """The calling thread's per-frame completions, which hold factorisations: each thread
        keeps its own and drops them itself (:meth:`drop_thread`; ``grid.factorise``)."""
        fills = getattr(self._local, "fills", None)
        if fills is None:
            fills = self._local.fills = {}
            # a still mask: one factorisation for every frame (of this thread)
            self._local.membranes = MembraneCache(4)
        return fills

    def drop_thread(self) -> None:
        """Drop the calling thread's completions and factorisations, on this thread."""
        self._local.__dict__.pop("fills", None)
        self._local.__dict__.pop("membranes", None)

    @property
    def estimator(self) -> FlowEstimator:
        return getattr(self._local, "work", self._main)[0]

    @property
    def clock(self) -> StageClock:
        return getattr(self._local, "work", self._main)[1]

    @property
    def motion(self) -> dict[tuple[int, int], np.ndarray]:
        return getattr(self._local, "work", self._main)[2]

    def _proxy(self, t: int, far: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Frame t and its hole on the adjacent pairs' proxy, or (``far``) the distant ones'."""
        got = self._proxies.get((t, far))
        if got is None:
            grid = self.grids[far]
            got = self._proxies[(t, far)] = (to_proxy(self.frames[t], grid.proxy),
                                             grid.hole(self.holes[t]))
        return got

    def _fill(self, t: int, far: bool = False) -> FrameFlowFill:
        got = self._fills.get((t, far))
        if got is None:
            got = self._fills[(t, far)] = FrameFlowFill(self._proxy(t, far)[1],
                                                        self.inner_px[far], self.outer_px[far],
                                                        self.edges, self._local.membranes)
        return got

    def _smooth(self, t: int, far: bool, region: np.ndarray,
                key: object) -> tuple[np.ndarray, object]:
        """Frame t's proxy smoothed over ``region`` and the estimator's cache key for it: the
        frame's own key (and a kept copy) when the region is its own hole, else none."""
        frame, hole = self._proxy(t, far)
        if not np.array_equal(region, hole):
            return smooth_over(frame, region), None
        got = self._smoothed.get((t, far))
        if got is None:
            got = self._smoothed[(t, far)] = smooth_over(frame, hole)
        return got, key

    def _feat(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Frame t's features for alignment, found on the distant pairs' proxy: the grid the
        aligned flows are estimated on, whose residual motion the flow then takes up."""
        got = self._features.get(t)
        if got is None:
            frame, hole = self._proxy(t, self.split)
            got = self._features[t] = homog.features(to_gray8(frame, self.tone), hole)
        return got

    def _crop(self, t: int, far: bool) -> tuple[slice, slice] | None:
        """The box of frame t's proxy that its distant pairs' flow is estimated on: its hole
        grown by the completion's ring and FAR_CONTEXT (None: the whole frame). Only the hole's
        hops are read, and completion reads no further than the ring."""
        crop = self._crops.get((t, far), _UNSET)
        if crop is not _UNSET:
            return crop
        hole = self._proxy(t, far)[1]
        crop = None
        if hole.any():
            rows, cols = box(hole, self.outer_px[far] + 1 + scaled_px(FAR_CONTEXT, hole.shape))
            least = getattr(self.estimator, "min_side", 1)  # the backend's smallest frame
            rows, cols = _at_least(rows, least, hole.shape[0]), _at_least(cols, least,
                                                                          hole.shape[1])
            area = (rows.stop - rows.start) * (cols.stop - cols.start)
            crop = (rows, cols) if area <= FAR_CROP_SHARE * hole.size else None
        self._crops[(t, far)] = crop
        return crop

    def _cropped_pair(self, a: int, b: int, coarse: bool, hom: np.ndarray,
                      crop: tuple[slice, slice]) -> tuple[np.ndarray, np.ndarray]:
        """Residual flows a -> (b warped onto a by ``hom``) and back on a's grid, estimated
        inside ``crop`` only and zero beyond it (the alignment's motion alone). With the
        prefill both crops are smoothed over a's hole and b's, warped onto the crop."""
        (fa, ha), (fb, hb) = self._proxy(a, coarse), self._proxy(b, coarse)
        rows, cols = crop
        size = (rows.stop - rows.start, cols.stop - cols.start)
        moved = hom @ np.array([[1.0, 0.0, cols.start], [0.0, 1.0, rows.start], [0.0, 0.0, 1.0]])
        crop_a, crop_b = np.ascontiguousarray(fa[rows, cols]), homog.warp_to(fb, moved, size)
        if self.prefill:
            region = ha[rows, cols] | (homog.warp_to(hb.astype(np.float32), moved, size) > 0)
            crop_a, crop_b = smooth_over(crop_a, region), smooth_over(crop_b, region)
        out = []
        for res in self.estimator.pair(crop_a, crop_b):
            whole = np.zeros(fa.shape[:2] + (2,), np.float32)
            whole[rows, cols] = res
            out.append(whole)
        return out[0], out[1]

    def release(self, t: int) -> None:
        """Forget frame t's per-frame work unless it is a key frame (used by every frame)."""
        if t not in self.keys:
            for far in (False, True):
                self._fills.pop((t, far), None)
                self._proxies.pop((t, far), None)
                self._smoothed.pop((t, far), None)
                self._crops.pop((t, far), None)
            self._features.pop(t, None)

    def pair(self, a: int, b: int, far: bool = False) -> tuple[np.ndarray, np.ndarray, ProxyGrid]:
        """Completed proxy flows a -> b and b -> a and the grid they lie on; distant pairs on
        the coarser proxy, pre-aligned when asked to. ``far``: b is not a's neighbour in time,
        whatever the indices say (a reference frame)."""
        far = far or abs(a - b) > 1
        coarse = far and self.split  # on the distant pairs' own proxy
        grid = self.grids[coarse]
        (fa, ha), (fb, hb) = self._proxy(a, coarse), self._proxy(b, coarse)
        ka, kb = (("far", a), ("far", b)) if coarse else (a, b)  # the estimator's cache keys
        if self.filled and not far:
            # the second round: the holes hold the first fill, moving with the picture around
            # it, so the flow estimated through them is the hole's flow (no smoothing, no
            # completion, whose interpolation across the hole blurs every motion edge)
            with self.clock("flow"):
                fwd, bwd = self.estimator.pair(fa, fb, ka, kb)
            return fwd, bwd, grid
        with self.clock("flow"):
            hom = None
            if self.align and far:
                hom = homog.match(self._feat(a), self._feat(b))  # on the grid of ``coarse``
            crop = self._crop(a, coarse) if hom is not None else None
            if crop is not None:  # only a's hole hops: the flow around it is enough
                res_fwd, res_bwd = self._cropped_pair(a, b, coarse, hom, crop)
            else:
                if self.prefill:
                    # what a hole holds would pull the flow around it: each frame smoothed over
                    # its own hole, and a distant pair over both (far apart in time, one frame's
                    # smooth patch would lie over the other's picture of the same place: a still
                    # camera, an object that has left)
                    sa, sb = (ha | hb, ha | hb) if far else (ha, hb)
                    fa, ka = self._smooth(a, coarse, sa, ka)
                    fb, kb = self._smooth(b, coarse, sb, kb)
                if hom is None:
                    fwd, bwd = self.estimator.pair(fa, fb, ka, kb)
                else:
                    res_fwd, res_bwd = self.estimator.pair(
                        fa, homog.warp_to(fb, hom, fa.shape[:2]), ka)
            if hom is not None:  # flow between a and b warped onto a, composed with hom
                fwd = homog.compose(hom, res_fwd)
                bwd = homog.compose_back(hom, res_bwd, fb.shape[:2])
            # a cropped pair's fit reads the crop's own flow: beyond it lies only the alignment
            background = fit_background(fwd, self._proxy(a, coarse)[1],
                                        self._proxy(b, coarse)[1], (grid.sx, grid.sy), crop)
            if background is not None:
                self.motion[(a, b)] = background
                self.motion[(b, a)] = np.linalg.inv(background)
        use = not far or self.nonlocal_edges
        with self.clock("completion"):
            # distant pairs: smeared ring flow replaced, not solved for (no factorisation each)
            return (self._fill(a, coarse).complete(fwd, use, joint=not far),
                    self._fill(b, coarse).complete(bwd, use, joint=not far), grid)


def _at_least(span: slice, least: int, size: int) -> slice:
    """``span`` grown about its middle to at least ``least`` (within 0..size)."""
    grow = least - (span.stop - span.start)
    if grow <= 0:
        return span
    start = min(max(span.start - grow // 2, 0), max(size - least, 0))
    return slice(start, min(start + least, size))


def far_proxy(near: tuple[int, int], scale: float) -> tuple[int, int]:
    """The distant pairs' proxy: ``near`` (h, w) times ``scale``, its long side no shorter than
    FAR_MIN_SIDE (or ``near``'s own, when that is shorter)."""
    long_side = max(near)
    side = max(round(long_side * scale), min(long_side, FAR_MIN_SIDE))
    return proxy_size(*near, side)


def estimate_hops(
    frames: np.ndarray,
    holes: np.ndarray,
    options: Options,
    estimator: FlowEstimator,
    progress: Progress,
    count_from: int = 0,
    clock: StageClock | None = None,
    references: int = 0,
    extra_keys: tuple[int, ...] = (),
    first_round: WindowHops | None = None,
    moving: np.ndarray | None = None,
    coarse: tuple[np.ndarray, np.ndarray] | None = None,
) -> WindowHops:
    """Adjacent and non-local hops of every frame's hole pixels in one window.

    Pairs where neither frame has a hole are skipped (no chain passes through them); a frame's
    non-local flows are estimated only if it has a hole. ``count_from``: frames before it were
    already counted in progress (window overlap). ``clock``: where stage times are summed.
    ``references``: the last this many of ``frames`` lie outside the window (long-range
    sources from elsewhere in the shot): they are key frames only, in no chain. ``extra_keys``:
    window frames made key frames besides the spread ones (the shot's anchor, whose motion onto
    every frame is then fitted directly, not chained). ``first_round``: its hops, given
    when ``frames`` hold a fill in their holes (a further round, ``Options.rounds``): the
    adjacent flows are estimated through the fill and taken as they are at the hole pixels
    ``moving`` (n x H x W bool: filled from other frames, so moving with the picture; None:
    all); the
    other hole pixels (invented: a smooth guess or a patch moves with nothing) and the distant
    hops and the background's motion keep the first round's (a distant flow is a fallback
    source, estimated on a coarser proxy, and not worth a second estimate). ``coarse``: the
    frames and holes (first round only) on the adjacent flows' proxy, whose hole pixels get
    their hops from the same flows, in the result's ``coarse`` (its motion in their pixels).
    """
    n = holes.shape[0] - references
    refs = list(range(n, n + references))
    keys = sorted(set(key_frames(n, options.nonlocal_frames)) | set(extra_keys)) + refs
    idx = [np.flatnonzero(m) for m in holes[:n]]
    clock = clock or StageClock()
    flows = _WindowFlows(frames, holes, options, estimator, keys, clock,
                         filled=first_round is not None)
    small = None
    if coarse is not None:
        if first_round is not None:
            raise ValueError("hops on a coarser grid are a first round's")
        size = coarse[1].shape[1:]
        small = _Coarse(coarse[0], coarse[1], [np.flatnonzero(m) for m in coarse[1][:n]],
                        {g.proxy: ProxyGrid(size, g.proxy) for g in flows.grids.values()})
    out = WindowHops(coarse=None if small is None else WindowHops())
    if first_round is not None:
        out.direct, out.motion = first_round.direct, first_round.motion
    estimator.clear()  # cached per-frame work is keyed by window-local index
    bar = progress.bar("flow")
    twin = getattr(estimator, "twin", None)  # a backend a second thread may run beside it
    threads = frame_threads(options.frame_threads, options.device) if twin is not None else 1
    lock = threading.Lock()
    mine = threading.local()  # each thread's own flow backend, kept for all its blocks

    def block(frames_in: range, block_clock: StageClock) -> WindowHops:
        """The hops of the frames ``frames_in``, on the calling thread."""
        part = WindowHops(coarse=None if small is None else WindowHops())
        if not hasattr(mine, "estimator"):
            mine.estimator = twin() if threads > 1 else estimator
        flows.on_thread(mine.estimator, block_clock, part.motion)
        carried: tuple[int, np.ndarray] | None = None  # the last pair's second luminance
        for t in frames_in:
            carried = _frame_hops(t, n, idx, keys, flows, frames, holes, options, first_round,
                                  moving, part, carried, small)
            flows.release(t)
            if t >= count_from:
                with lock:
                    bar.update(1)
        return part

    def finish() -> None:  # on each thread, when it has no more blocks
        flows.drop_thread()
        mine.__dict__.pop("estimator", None)

    with FramePool(threads, clock) as pool:
        parts = pool.map(block, blocks(n, threads), finish)
    for part in parts:  # in the frames' order, as if worked on one after another
        out.to_next.update(part.to_next)
        out.to_prev.update(part.to_prev)
        if first_round is None:
            out.direct.update(part.direct)
            out.motion.update(part.motion)
        if out.coarse is not None:
            out.coarse.to_next.update(part.coarse.to_next)
            out.coarse.to_prev.update(part.coarse.to_prev)
            out.coarse.direct.update(part.coarse.direct)
    if out.coarse is not None:  # the background's motion in the coarse frames' pixels
        (h, w), (ch, cw) = holes.shape[1:], small.holes.shape[1:]
        out.coarse.motion = {pair: homog.rescale(hom, (w / cw, h / ch))
                             for pair, hom in out.motion.items()}
    return out


def _frame_hops(t: int, n: int, idx: list[np.ndarray], keys: list[int], flows: _WindowFlows,
                frames: np.ndarray, holes: np.ndarray, options: Options,
                first_round: WindowHops | None, moving: np.ndarray | None, part: WindowHops,
                carried: tuple[int, np.ndarray] | None, coarse: _Coarse | None = None
                ) -> tuple[int, np.ndarray] | None:
    """Frame t's hops into ``part``: to the next frame (and the next frame's back to t), and,
    in the first round, to every key frame. ``carried``: the previous pair's second frame's
    luminance (which is this pair's first, when it is frame t); returns this pair's.
    ``coarse``: the frames whose hole pixels get hops into ``part.coarse`` as well."""
    second = None
    if t + 1 < n and (idx[t].size or idx[t + 1].size):
        fwd, bwd, grid = flows.pair(t, t + 1)
        with flows.clock("flow"):  # the round trips
            if options.refine_hops:  # the pair's luminance, for both directions
                first = (carried[1] if carried is not None and carried[0] == t
                         else luminance(frames[t]))
                second = (t + 1, luminance(frames[t + 1]))
                pair = np.stack([first, second[1]])[..., None]
                pair_holes = holes[t : t + 2]
            if idx[t].size:
                part.to_next[t] = _hops(grid, idx[t], fwd, bwd, options.consistency)
                if options.refine_hops:
                    _refine(part.to_next[t], pair, pair_holes, 0)
                if first_round is not None:
                    _keep_invented(part.to_next[t], first_round.to_next[t], moving, t)
            if idx[t + 1].size:
                part.to_prev[t + 1] = _hops(grid, idx[t + 1], bwd, fwd, options.consistency)
                if options.refine_hops:
                    _refine(part.to_prev[t + 1], pair, pair_holes, 1)
                if first_round is not None:
                    _keep_invented(part.to_prev[t + 1], first_round.to_prev[t + 1], moving,
                                   t + 1)
            if coarse is not None:
                _coarse_hops(t, fwd, bwd, grid, coarse, part.coarse, options)
    if idx[t].size and first_round is None:
        for k in keys:
            if k >= n or abs(k - t) > 1:
                to_key, from_key, grid = flows.pair(t, k, far=k >= n)
                with flows.clock("flow"):
                    hop = _hops(grid, idx[t], to_key, from_key, options.consistency)
                    if coarse is not None:
                        part.coarse.direct.setdefault(t, []).append((k, _hops(
                            coarse.grid(grid), coarse.idx[t], to_key, from_key,
                            options.consistency)))
                part.direct.setdefault(t, []).append((k, hop))
    return second


def _coarse_hops(t: int, fwd: np.ndarray, bwd: np.ndarray, grid: ProxyGrid, coarse: _Coarse,
                 part: WindowHops, options: Options) -> None:
    """The hops between frames t and t + 1 of ``coarse``'s hole pixels into ``part``, read off
    the pair's flows as the full-resolution ones are (refined on the coarse frames)."""
    small = coarse.grid(grid)
    pair = coarse.pair(t) if options.refine_hops else None
    for here, (at, flow, back, into) in enumerate(((t, fwd, bwd, part.to_next),
                                                   (t + 1, bwd, fwd, part.to_prev))):
        if coarse.idx[at].size:
            into[at] = _hops(small, coarse.idx[at], flow, back, options.consistency)
            if pair is not None:
                _refine(into[at], pair[0], pair[1], here)
