"""Fill the hole of one window of frames: flow, completion, propagation, fusion, keyframes.

Everything here works on one window held in memory; ``pipeline.py`` streams windows through it.
Per-hop data (completed flow, round-trip error) is kept only at hole pixels, so memory beyond
the frames themselves follows the size of the hole, not of the frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from flowfill.edges.image import ImageEdgeCompleter
from flowfill.flow import FlowEstimator, make_estimator
from flowfill.flow.homography import apply
from flowfill.flow.prep import proxy_size, to_proxy
from flowfill.fuse.anchor import reanchor
from flowfill.fuse.kept import KeptSolvers
from flowfill.hallucinate import ITERATIVE, edge_guided, get_fill, steady
from flowfill.hallucinate.layered import Detail, detail_layer, fill_unseen
from flowfill.hallucinate.strips import by_edge, strips_first
from flowfill.hops import ProxyGrid, WindowHops, estimate_hops, key_frames
from flowfill.masks import REFERENCE_SHORT_SIDE, scaled_px
from flowfill.options import Options
from flowfill.parallel import FramePool, frame_threads
from flowfill.progress import Progress, renamed
from flowfill.propagate.rim import rim_range
from flowfill.propagate.unseen import chained, never_seen, smooth_path
from flowfill.stages import pixel_stages
from flowfill.timing import StageClock


@dataclass
class WindowResult:
    """The filled frames of a window and where each hole pixel's content came from."""

    frames: np.ndarray  # N x H x W x C, the hole filled
    propagated: np.ndarray  # N x H x W bool: filled from frames that saw the background
    keyframes: list[int] = field(default_factory=list)  # window-local indices hallucinated
    carried: np.ndarray | None = None  # N x H x W bool: filled along flow, in any pass
    unseen: np.ndarray | None = None  # N x H x W bool: what no frame shows (never_seen)


@dataclass
class SharedAnchor:
    """The frame whose invented detail every window of a shot reads where no frame shows the
    background (issue 16: invented once per shot, so the fill does not change where windows
    meet). ``at``: its index among the window's frames (references after the window's own);
    ``index``: its index in the clip; ``frame`` (H x W x 3) and ``mask`` (what the output
    replaces there); ``cache``: where the detail, once made, is kept for the other windows."""

    at: int
    index: int
    frame: np.ndarray
    mask: np.ndarray
    cache: dict = field(default_factory=dict)

    def detail(self, fill, options: Options, progress: Progress) -> Detail | None:
        """The detail ``fill`` invents over the whole mask of the anchor: the same for every
        window (made from the input frame alone, with the run's seed), so made only once."""
        key = (self.index, options.fill, options.fill_budget, options.seed, options.device,
               options.image_edges, options.image_edge_weights)
        if key not in self.cache:
            made = _invent(self.frame, self.mask, fill, options, progress)
            self.cache[key] = None if made is None else made.cropped()
        return self.cache[key]


SHARED_COVER = 0.5
"""The shot's anchor is read only when at least this share of the window's unseen pixels land
inside its mask (a moving mask, a pan that carries the hole elsewhere: the window's own anchor
then invents what it needs)."""

MOTION_SMOOTHING = 2.0
"""Frames (Gaussian sigma) over which each frame's motion onto the anchor is averaged: the
fits' noise (a few tenths of a pixel) would make the carried detail shimmer."""

RIM_RADIUS_480P = 32
"""Distant candidates that no neighbouring chain backs must fit the known colours this near
(px at 480p, scaled, at least 16; :mod:`flowfill.propagate.rim`)."""


def flow_estimator(options: Options) -> FlowEstimator:
    """The flow backend the options ask for, caching enough frames for the key frames."""
    return make_estimator(options.flow, weights=options.raft_weights, iters=options.raft_iters,
                          device=options.device, max_side=options.flow_max_side,
                          precision=options.flow_precision, tone=options.flow_tone,
                          cache=options.nonlocal_frames + options.reference_frames + 3)


def estimator_key(options: Options) -> tuple:
    """What :func:`flow_estimator` builds from: equal keys, interchangeable estimators (their
    frame caches are cleared per window)."""
    return (options.flow, options.raft_weights, options.raft_iters, options.device,
            options.flow_max_side, options.flow_precision, options.flow_tone,
            options.nonlocal_frames + options.reference_frames)


def fill_window(
    frames: np.ndarray,
    holes: np.ndarray,
    options: Options,
    progress: Progress | None = None,
    count_from: int = 0,
    estimator: FlowEstimator | None = None,
    clock: StageClock | None = None,
    references: int = 0,
    backend: str = "auto",
    masks: np.ndarray | None = None,
    shared: SharedAnchor | None = None,
    scratch: bool = False,
) -> WindowResult:
    """Fill ``holes`` (N x H x W bool) in ``frames`` (N x H x W x C float32) of one shot.

    One round (``_fill_round``) estimates flow around the hole, completes it across, and
    propagates, fuses and invents; each further round (``options.rounds``) estimates the
    neighbouring frames' flow again through the previous round's fill, which moves with the
    picture around it, and fills the hole again from the same known pixels: the completed flow
    blurs every motion edge it interpolates across, the flow through the fill keeps them
    (RESULTS.md, issue 16). Progress of the second round is reported as the stages
    ``reflow`` and ``repropagate`` (``reflow3``... after). ``count_from``: frames before it
    were already counted in progress (window overlap). ``estimator``: the flow backend
    (default: from options). ``clock``: where the time of each stage is summed.
    ``references``: the last this many frames lie outside the window, elsewhere in the shot;
    they are only sources (of direct hops) and are neither filled nor returned. ``backend``:
    where the per-pixel stages run (numpy, torch, or auto: torch on CUDA, numpy on CPU; see
    ``stages.py``). ``masks``: what the output replaces in the window's frames (bool, within
    ``holes``; default the holes): the pixels no frame shows are filled from the rim of these,
    not of the dilated holes. ``shared``: the shot's anchor (a key frame of the window if it
    lies inside it), whose detail the pixels no frame shows read (default: an anchor of the
    window's own). ``scratch``: ``frames`` may be worked in (their hole pixels overwritten;
    the caller made them for this call and reads them no more), which spares a copy of the
    window (at 4K, half a gigabyte of fresh pages for five frames).
    """
    progress = progress or Progress(enabled=False)
    if estimator is None:
        estimator = flow_estimator(options)
    size = proxy_size(*holes.shape[1:], options.flow_max_side)
    picture: np.ndarray | _Picture = frames
    # the rounds' factorisations, for the next round at this size and the next frame
    kept = KeptSolvers(last=options.rounds == 1)
    if options.rounds > 1 and options.first_round_proxy and size != holes.shape[1:]:
        result, hops, filled, picture = _first_round_on_proxy(
            frames, holes, size, options, progress, count_from, estimator, clock, references,
            backend, masks, shared, scratch)
    else:
        result, hops, filled = _fill_round(frames, holes, options, progress, count_from,
                                           estimator, clock, references, backend, masks, shared,
                                           kept=kept)
    if not holes[:holes.shape[0] - references].any():
        return result
    for again in range(2, options.rounds + 1):
        if again == options.rounds:
            kept.last_round()
        names = dict(zip(round_stages(1), round_stages(again), strict=True))
        result, _, filled = _fill_round(filled, holes, options, renamed(progress, names),
                                        count_from, estimator, clock, references, backend, masks,
                                        shared, first_round=hops, moving=result.carried,
                                        picture=picture, kept=kept, unseen=result.unseen)
    return result


def _first_round_on_proxy(
    frames: np.ndarray, holes: np.ndarray, size: tuple[int, int], options: Options,
    progress: Progress, count_from: int, estimator: FlowEstimator, clock: StageClock | None,
    references: int, backend: str, masks: np.ndarray | None, shared: SharedAnchor | None,
    scratch: bool = False,
) -> tuple[WindowResult, WindowHops, np.ndarray, np.ndarray | _Picture]:
    """The first of several rounds, filled on the adjacent flows' proxy (``size``): its fill is
    only what the next round's flow, estimated on that proxy, looks through (that round's hole
    values are never read), so filling at full size bought nothing but time. The flows and the
    hops of the full-size hole pixels the next round keeps (distant ones, and where the fill
    was invented) are the same as at full size; the proxy's hole pixels take theirs from the
    same flows. Returns the result on the proxy (its ``carried`` at full size), the full-size
    hops, the frames with the proxy fill brought up into their holes (``frames`` themselves
    when ``scratch``) and the frames as given (:class:`_Picture` when ``scratch``)."""
    n = holes.shape[0] - references
    up = ProxyGrid(holes.shape[1:], size)  # full-size pixels read off the proxy, and back
    small_frames = np.stack([to_proxy(f, size) for f in frames])
    small_holes = np.stack([up.hole(m) for m in holes])
    small_masks = (None if masks is None else
                   np.stack([up.hole(m) for m in masks]) & small_holes[:masks.shape[0]])
    hops = estimate_hops(frames, holes, options, estimator, progress, count_from, clock,
                         references, extra_keys=_anchor_key(shared, n),
                         coarse=(small_frames, small_holes))
    result, _, small = _fill_round(small_frames, small_holes, options, progress, count_from,
                                   estimator, clock, references, backend, small_masks, None,
                                   hops=hops.coarse, kept=KeptSolvers(last=True))  # dropped here
    if scratch:  # the window worked in place: only its hole pixels are kept aside
        picture: np.ndarray | _Picture = _Picture(frames, holes)
        filled = frames
    else:
        picture, filled = frames, frames.copy()
    found = [np.zeros(holes[:n].shape, bool) for _ in range(2)]  # propagated, carried
    for t in range(holes.shape[0]):
        idx = np.flatnonzero(holes[t])
        if idx.size:
            filled[t].reshape(-1, filled.shape[-1])[idx] = up.at(small[t], idx)
            for full, proxy in zip(found, (result.propagated, result.carried), strict=True):
                if t < n and proxy is not None:
                    full[t].reshape(-1)[idx] = up.at(proxy[t], idx, nearest=True)
    return WindowResult(filled[:n], found[0], result.keyframes, found[1]), hops, filled, picture


class _Picture:
    """A window's frames as given, where the array they came in is worked in: their hole
    pixels are kept aside, and every other pixel is still the array's own (a round writes
    only hole pixels). ``picture[t]`` is frame t as a :class:`_PictureFrame`."""

    def __init__(self, frames: np.ndarray, holes: np.ndarray) -> None:
        self.frames = frames
        self.shape = frames.shape
        self.idx = [np.flatnonzero(m) for m in holes]
        self.kept = [frames[t].reshape(-1, frames.shape[-1])[i] for t, i in enumerate(self.idx)]

    def __getitem__(self, key: int | slice) -> _PictureFrame | list[_PictureFrame]:
        if isinstance(key, slice):
            return [_PictureFrame(self, t) for t in range(*key.indices(self.shape[0]))]
        return _PictureFrame(self, int(key))


class _PictureFrame:
    """Frame t of a :class:`_Picture`: a crop of it by indexing with (rows, columns) slices
    (what the re-anchoring reads), or all of it as an array."""

    def __init__(self, picture: _Picture, t: int) -> None:
        self.picture, self.t = picture, t
        self.shape = picture.shape[1:]

    def __getitem__(self, crop: tuple[slice, slice]) -> np.ndarray:
        rows, cols = crop
        (r0, r1, _), (c0, c1, _) = rows.indices(self.shape[0]), cols.indices(self.shape[1])
        out = self.picture.frames[self.t][r0:r1, c0:c1].copy()
        ys, xs = np.divmod(self.picture.idx[self.t], self.shape[1])
        inside = (ys >= r0) & (ys < r1) & (xs >= c0) & (xs < c1)
        out[ys[inside] - r0, xs[inside] - c0] = self.picture.kept[self.t][inside]
        return out

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        out = self.picture.frames[self.t].copy()
        out.reshape(-1, out.shape[-1])[self.picture.idx[self.t]] = self.picture.kept[self.t]
        return out if dtype is None else out.astype(dtype)


def _anchor_key(shared: SharedAnchor | None, n: int) -> tuple[int, ...]:
    """The shot's anchor as a key frame of the window's flows, when it lies in the window."""
    return (shared.at,) if shared is not None and shared.at < n else ()


def round_stages(number: int) -> tuple[str, str]:
    """The progress stages of round ``number``'s flow and propagation: flow and propagate,
    then reflow and repropagate, then reflow3 and repropagate3..."""
    if number == 1:
        return "flow", "propagate"
    suffix = "" if number == 2 else str(number)
    return f"reflow{suffix}", f"repropagate{suffix}"


def _fill_round(
    frames: np.ndarray,
    holes: np.ndarray,
    options: Options,
    progress: Progress,
    count_from: int,
    estimator: FlowEstimator,
    clock: StageClock | None,
    references: int,
    backend: str,
    masks: np.ndarray | None,
    shared: SharedAnchor | None,
    first_round: WindowHops | None = None,
    moving: np.ndarray | None = None,
    picture: np.ndarray | _Picture | None = None,
    hops: WindowHops | None = None,
    kept: KeptSolvers | None = None,
    unseen: np.ndarray | None = None,
) -> tuple[WindowResult, WindowHops, np.ndarray]:
    """One round of :func:`fill_window`, and its hops.

    Both sweeps give every hole pixel up to two sources, the candidates are blended and fused
    by a Poisson solve per frame; then the frame with the most hole left gets the
    hallucination fill, becomes a source, and the sweeps run again, so what was invented is
    carried to the other frames and stays put in time. The loop ends when no frame has more
    than ``options.tiny_hole`` pixels left or after ``options.max_keyframes`` keyframes; what
    remains is filled frame by frame.
    Each hole pixel's candidates: the sources its backward and forward chains reach, and one
    direct hop into each non-local key frame. ``first_round``: the first round's hops, when
    ``frames`` hold the previous round's fill in their holes, and ``moving`` where that fill
    was taken from other frames (``estimate_hops``); the round fills
    ``frames`` in place, and ``picture`` holds the window's frames as given (the picture
    between the mask and the dilated hole that the fill is anchored to). ``hops``: the hops,
    when they were estimated already (a first round on the proxy). ``kept``: the window's
    direct factorisations (fusion's on the CPU, and the re-anchoring's), taken where a system
    repeats and kept for later frames and rounds. ``unseen``: the pixels no frame shows, found
    by the round before at this size (a further round keeps the first's background motion and
    distant pairs, which alone decide them). Returns the result,
    the hops and the whole filled array (the references' frames too), of which the result's
    frames are a view.
    """
    clock = clock or StageClock()
    n_all, h, w, c = frames.shape
    n = n_all - references
    if hops is None:
        hops = estimate_hops(frames, holes, options, estimator, progress, count_from, clock,
                             references, extra_keys=_anchor_key(shared, n),
                             first_round=first_round, moving=moving)
    # the picture's own edges continued through the hole guide what is invented (issue 16)
    image_edges = (ImageEdgeCompleter(options.device, options.image_edge_weights,
                                      precision=options.edge_precision)
                   if options.image_edges == "on" else None)
    guide = None if image_edges is None else image_edges.guide
    fill = edge_guided(get_fill(options.fill), guide)
    # keyframes: a border along two edges on two thin crops, not the whole frame
    key_fill = by_edge(fill)
    # per-frame leftovers: the chosen fill when it is cheap, Telea after an iterative one, and
    # Telea for strips along the frame's edge
    leftover = strips_first(edge_guided(
        get_fill("telea" if options.fill in ITERATIVE else options.fill), guide))
    px = pixel_stages(options.device, backend)
    kept = KeptSolvers() if kept is None else kept
    # the CPU's fusion solves each system by a factorisation, which later frames and rounds reuse
    poisson = px.poisson if px.device is not None else partial(px.poisson, kept=kept)
    picture = frames if picture is None else picture
    # the second round works in the first's array: its hole values are never read, only solved
    cur = px.array(frames if first_round is not None else frames.copy())
    known = px.array(~holes)
    propagated = px.array(np.zeros_like(holes[:n]))
    carried = px.array(np.zeros_like(holes[:n]))
    to_prev = {t: px.hops(hop) for t, hop in hops.to_prev.items()}
    to_next = {t: px.hops(hop) for t, hop in hops.to_next.items()}
    to_key = {t: [(k, px.hops(hop)) for k, hop in pairs] for t, pairs in hops.direct.items()}
    hole_now = {t: px.flat_indices(known[t] == 0) for t in range(n)}
    # pixels no frame shows: never propagated, filled per frame at the end (unseen.py)
    if unseen is None or unseen.shape != (n, h, w):
        unseen = (never_seen(holes, hops.motion, n,
                             {t: [k for k, _ in pairs] for t, pairs in hops.direct.items()})
                  if options.unseen == "background" else np.zeros((n, h, w), bool))
    unseen_at = {t: px.array(unseen[t].reshape(-1)) for t in range(n) if unseen[t].any()}
    unseen_count = unseen.reshape(n, -1).sum(1)
    # scaled with size, but never below a pixel: the flow's own round-trip noise does not shrink
    max_err = max(options.max_chain_error * min(h, w) / REFERENCE_SHORT_SIDE, 1.0)
    rim_px = max(scaled_px(RIM_RADIUS_480P, (h, w)), 16)  # the colours around: this near
    keyframes: list[int] = []
    bar = progress.bar("propagate")
    first = True
    changed: set[int] | None = None  # frames changed since the last gather (None: all)

    def invent(t: int, method, **kw) -> None:  # a keyframe or leftover fill, on the host
        with clock("hallucination"):
            image = method(px.host(cur[t]), px.host(px.mask_of(hole_now[t], (h, w))),
                           device=options.device, seed=options.seed, **kw)
        cur[t] = px.array(image)
        # unseen pixels stay open (not a source) until their own fill at the end
        rest = hole_now[t][unseen_at[t][hole_now[t]]] if t in unseen_at else hole_now[t][:0]
        known[t].reshape(-1)[hole_now[t]] = True
        known[t].reshape(-1)[rest] = False
        hole_now[t] = rest

    def gather_frame(t: int, clk: StageClock, sweeps: tuple, changed: set[int] | None,
                     first: bool) -> tuple[np.ndarray, tuple | None] | None:
        """Frame t's hole pixels left open after this gather, and its update (the pixels found
        and their fused colours; None if nothing was found); None when nothing could have
        changed for it (``changed``: the frames changed since the last gather; None: all).
        ``sweeps``: the chains' candidates both ways. Reads the frames as they were before
        the gather, so frames are gathered on several threads at once."""
        back, ahead = sweeps
        with clk("propagation"):
            candidates = [back[t], ahead[t]] + [
                px.direct(px.subset(hop, hole_now[t]), k, (h, w))
                for k, hop in to_key.get(t, [])
            ]
            if t in unseen_at:  # what chains "find" there is a drift, not a sighting
                for cand in candidates:
                    cand.frame[unseen_at[t][cand.idx]] = -1
            # a pixel that nothing was found for last time, in a frame that has not changed
            # since, whose sources all lie in frames that have not changed either, would be
            # found by nothing again: only the others are gathered, the rest stays open
            ask = (None if changed is None or t in changed
                   else px.reaching(candidates, changed))
            if ask is not None:
                if not ask.any():
                    return None
                candidates = [cand.where(ask) for cand in candidates]
            rim = None
            if options.nearest_first and len(candidates) > 2:
                low, high = rim_range(px.host(cur[t]), px.host(known[t]),
                                      px.host(candidates[0].idx), rim_px)
                rim = (px.array(low), px.array(high))
            g = px.gather(candidates, cur, known, options.alpha, max_err, options.agreement,
                          local=2 if options.nearest_first else None, rim=rim, here=t)
            if ask is None:
                still_open = g.idx[~g.found]
            else:
                stays = ~ask
                stays[ask] = ~g.found
                still_open = hole_now[t][stays]
        update = None
        if g.found.any():
            with clk("fusion"):
                update = (g.idx[g.found],
                          poisson(cur[t], px.mask_of(g.idx[g.found], (h, w)),
                                     px.mask_of(still_open, (h, w)), g.colour, g.step,
                                     g.step_ok, options.colour_weight))
        if first and t >= count_from:
            with bar_lock:
                bar.update(1)
        return still_open, update

    # each frame's gather and fusion read the frames as they were: on several threads at once
    threads = frame_threads(options.frame_threads, options.device) if px.device is None else 1
    bar_lock = threading.Lock()
    with FramePool(threads, clock) as pool:
        while True:
            active = [t for t in range(n) if len(hole_now[t])]
            if not active:
                break
            with clock("propagation"):
                back = px.sweep((h, w), range(n), hole_now, to_prev)
                ahead = px.sweep((h, w), range(n - 1, -1, -1), hole_now, to_next)
            updates = []
            task = partial(gather_frame, sweeps=(back, ahead), changed=changed, first=first)
            for t, done in zip(active, pool.map(task, active), strict=True):
                if done is None:
                    continue
                hole_now[t], update = done
                if update is not None:
                    updates.append((t, *update))
            for t, idx, solution in updates:
                cur[t].reshape(-1, c)[idx] = solution
                known[t].reshape(-1)[idx] = True
                carried[t].reshape(-1)[idx] = True
                if first:
                    propagated[t].reshape(-1)[idx] = True
            if first:
                bar.update(sum(1 for t in range(count_from, n) if t not in active))
            first = False
            sizes = np.array([len(hole_now[t]) for t in range(n)]) - unseen_count
            if sizes.max() <= options.tiny_hole or len(keyframes) >= options.max_keyframes:
                break
            k = int(np.argmax(sizes))
            invent(k, key_fill, budget=options.fill_budget, progress=progress)
            changed = {t for t, _, _ in updates} | {k}
            keyframes.append(k)
    for t in range(n):  # tiny leftovers, or beyond the keyframe bound: frame by frame
        left = len(hole_now[t]) - unseen_count[t]
        if left:
            invent(t, get_fill("telea") if left <= options.tiny_hole else leftover)
    cur, propagated, carried = px.host(cur), px.host(propagated), px.host(carried)
    if unseen_count.any():
        with clock("hallucination"):
            _fill_unseen(cur, picture[:n], holes[:n] if masks is None else masks, unseen,
                         hops.motion, fill, options, progress, image_edges, shared)
    if masks is not None:  # the fill meets the picture the output keeps around the mask
        def anchored(t: int, clk: StageClock) -> None:
            with clk("fusion"):  # into frame t of ``cur`` itself: one thread per frame
                reanchor(cur[t], picture[t], masks[t], kept, in_place=True, hole=holes[t])

        # on several threads (the solves let others run): each frame's own, the same result
        todo = [t for t in range(n) if (holes[t] & ~masks[t]).any()]
        with FramePool(threads, clock) as pool:
            pool.map(anchored, todo)
    return WindowResult(cur[:n], propagated, keyframes, carried, unseen), hops, cur


def _to(motion: dict, t: int, anchor: int) -> np.ndarray | None:
    """The background's motion from frame t onto the anchor: fitted directly where the two
    were paired (key frames), else chained through the adjacent pairs."""
    direct = motion.get((t, anchor)) if abs(t - anchor) > 1 else None
    return direct if direct is not None else chained(motion, t, anchor)


def _fill_unseen(cur: np.ndarray, frames: np.ndarray, masks: np.ndarray, unseen: np.ndarray,
                 motion: dict, fill, options: Options, progress: Progress,
                 image_edges: ImageEdgeCompleter | None = None,
                 shared: SharedAnchor | None = None) -> None:
    """Fill every frame's unseen pixels in place (``cur``, host frames): the smooth fill of the
    rim of its mask (the picture between the mask and the dilated hole is put back: a smooth
    fill reads its rim, and the nearest rim is the best one) plus the detail of one anchor frame
    read through the background's motion (:mod:`flowfill.hallucinate.layered`). The anchor is
    the shot's (``shared``) where it covers the window's unseen pixels, else a key frame near
    the window's middle with nearly the most unseen pixels, its detail invented by ``fill``."""
    n = unseen.shape[0]
    regions = unseen & masks
    images = [np.where(masks[t][..., None], cur[t], frames[t]) for t in range(n)]
    detail, paths = None, None
    if shared is not None:
        paths = _paths(motion, n, shared.at)
        if _covered(regions, paths, shared.mask) >= SHARED_COVER:
            detail = shared.detail(fill, options, progress)
        else:
            paths = None
    if paths is None:
        detail, paths = _own_detail(images, regions, motion, fill, options, progress)
    # each frame's fill, then its average with its neighbours' along the background's motion
    # (steady.py); a frame is written once the fills it averages over are all made
    have = [t for t in range(n) if regions[t].any()]
    crops: dict[int, steady.Crop] = {}
    reach = steady.radius()
    ahead = 0
    for t in have:
        while ahead < len(have) and have[ahead] <= t + reach:
            s = have[ahead]
            edges = (image_edges.guide(images[s], regions[s], whole=False)
                     if image_edges is not None else None)
            crops[s] = steady.crop(fill_unseen(images[s], regions[s], detail, paths[s], edges),
                                   regions[s])
            ahead += 1
        for s in [s for s in crops if s < t - reach]:
            del crops[s]
        ys, xs = np.nonzero(regions[t])
        images[t][ys, xs] = steady.steady(t, regions[t], crops, paths)
        cur[t] = images[t]


def _own_detail(images: list[np.ndarray], regions: np.ndarray, motion: dict, fill,
                options: Options, progress: Progress
                ) -> tuple[Detail | None, list[np.ndarray | None]]:
    """The window's own anchor's detail and each frame's motion onto it: the anchor is a key
    frame if there is one (every frame has its own fitted motion to a key frame; a chain of
    adjacent fits drifts by a pixel or more over a window), the nearest to the window's middle
    of those with nearly the most unseen pixels."""
    n = len(images)
    size = regions.reshape(n, -1).sum(1)
    keys = [k for k in key_frames(n, options.nonlocal_frames) if size[k]]
    pool = keys or list(range(n))
    most = max(size[k] for k in pool)
    anchor = min((k for k in pool if size[k] >= 0.9 * most), key=lambda k: abs(2 * k - n))
    detail = _invent(images[anchor], regions[anchor], fill, options, progress)
    return detail, _paths(motion, n, anchor)


def _invent(image: np.ndarray, region: np.ndarray, fill, options: Options,
            progress: Progress) -> Detail | None:
    """The detail ``fill`` invents in ``region`` of an anchor ``image``; None for a speck (the
    smooth fill alone). An iterative fill is run once (minutes at most, cancellable through
    progress), not also to test whether it continues a regular texture: that test is for the
    patch fill's copies."""
    if region.sum() <= options.tiny_hole:
        return None
    return detail_layer(image, region, fill, try_structure=options.fill not in ITERATIVE,
                        device=options.device, seed=options.seed, budget=options.fill_budget,
                        progress=progress)


def _paths(motion: dict, n: int, anchor: int) -> list[np.ndarray | None]:
    """Each frame's background motion onto the anchor, smoothed in time; a frame whose own fit
    is missing (one failed pair) goes through its nearest frame that has one, by the adjacent
    links between them, so its detail does not drop out for a frame."""
    raw = [_to(motion, t, anchor) for t in range(n)]
    have = [t for t in range(n) if raw[t] is not None]
    for t in range(n):
        if raw[t] is None and have:
            s = min(have, key=lambda s: abs(s - t))
            link = chained(motion, t, s)
            if link is not None:
                raw[t] = raw[s] @ link
    return smooth_path(raw, MOTION_SMOOTHING)


def _covered(regions: np.ndarray, paths: list[np.ndarray | None], mask: np.ndarray,
             step: int = 3) -> float:
    """The share of ``regions``' pixels (every ``step``-th) that ``paths`` (each frame's motion
    onto the anchor; None: the pair could not be fitted) carry inside the anchor's ``mask``."""
    h, w = mask.shape
    inside = total = 0
    for t, region in enumerate(regions):
        ys, xs = np.nonzero(region)
        ys, xs = ys[::step], xs[::step]
        total += len(ys)
        if paths[t] is None or not len(ys):
            continue
        ax, ay = apply(paths[t], xs.astype(np.float64), ys.astype(np.float64))
        bx, by = np.rint(ax).astype(np.int64), np.rint(ay).astype(np.int64)
        ok = (bx >= 0) & (bx < w) & (by >= 0) & (by < h)
        inside += int(mask[by[ok], bx[ok]].sum())
    return inside / total if total else 0.0
