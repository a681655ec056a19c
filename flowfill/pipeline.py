"""The streaming driver: frames flow through in bounded windows, cut at shot boundaries.

Frames and masks are consumed lazily. A window of ``options.window`` frames is filled by
``window.fill_window``; consecutive windows share ``options.overlap`` frames, which are
cross-faded so the seam between windows does not jump. A hard cut closes the window, so nothing
propagates across it. Outside the user's mask the output is the input, bit for bit, so between
windows only the values inside the masks are carried (and checkpointed, see ``resume.py``).
Reference frames from elsewhere in the shot (``references.py``) join each window as sources.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np

from flowfill.errors import InputError
from flowfill.flow import FlowEstimator
from flowfill.fuse.grain import match_grain
from flowfill.fuse.unveil import unveil_lines
from flowfill.hallucinate.layered import calmest
from flowfill.hops import edge_completer
from flowfill.masks import dilate, dilate_by_thickness, scaled_px, still_margins
from flowfill.options import MIN_SIZE, Options
from flowfill.plan import Plan, Planner, Window
from flowfill.progress import CancelCheck, Progress, ProgressCallback, check_cancelled, hooked
from flowfill.references import Reference, ReferenceFrames
from flowfill.resume import Checkpoint, WindowRecord
from flowfill.shots import CutDetector
from flowfill.timing import StageClock
from flowfill.window import SharedAnchor, fill_window, flow_estimator

MARGIN_480P = 5
"""The automatic margin of the hole around the mask, in pixels at 480p (scaled with size)."""


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """glibc, looked up on first use (nothing is loaded or changed at import)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both exist only in glibc
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return None
    return libc


M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
TRIM_FROM = 512 << 20
"""Free memory at a heap's top kept for reuse within a window (the default, 128 kB, gives it
back after almost every free and faults it in again); :func:`give_back_memory` hands it all
back after each window."""
ARENAS = 2
"""glibc's malloc arenas: the main one and one the frame threads share. The default (eight per
core) grows a heap per thread, and a server filling windows on a new thread per render keeps
them; one alone made the frame threads wait on its lock for their small arrays (432x240 5-8%
slower, RESULTS.md, issue 19)."""


def bound_heap() -> None:
    """Keep glibc's blocks in its heaps (none mapped on its own) in at most :data:`ARENAS`
    arenas, each keeping up to :data:`TRIM_FROM` free at its top, so memory freed within a
    window is reused without page faults; :func:`give_back_memory` hands it back after each.

    Mapped on its own (from 4 MB, as before), every frame-sized array was zero-filled when
    first touched and unmapped when freed: at 2160p a seventh of the run's CPU time went on
    clearing pages. A frame thread's block over 64 MB (an arena's largest heap) is still
    mapped. A process-wide allocator setting: the ``flowfill`` command, the server and the
    batch runner call it; the library never does (a host keeps its own allocator tuning)."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(M_MMAP_MAX, 0)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_FROM)
        libc.mallopt(M_ARENA_MAX, ARENAS)


def give_back_memory() -> None:
    """Collect the young generations' cycles and hand the heap freed by a finished window back
    to the OS. A full collection walks every object torch and the rest keep (over 200,000:
    65 ms a window here), and after a window it found only a few small cycles of torch's
    and no array (RESULTS.md, issue 19); anything older is left to Python's own collections."""
    gc.collect(1)
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


COUNTS = ("hole_pixels", "filled_propagation", "filled_hallucination", "keyframes")
"""The counters of :class:`Stats` a window adds to (and a checkpoint stores)."""


@dataclass
class Stats:
    """What a run did, for the CLI's closing summary; pixel counts are inside the user's mask."""

    frames: int = 0
    hole_pixels: int = 0
    filled_propagation: int = 0
    filled_hallucination: int = 0
    keyframes: int = 0
    cuts: list[int] = field(default_factory=list)
    seconds: float = 0.0
    resumed_frames: int = 0
    """Frames taken from a checkpoint of an interrupted run instead of being computed."""
    windows_remote: int = 0
    """Windows computed by the workers of a Ray cluster (``--ray``)."""
    workers_lost: int = 0
    """Ray workers lost with their process or node (their windows were run again)."""
    clock: StageClock = field(default_factory=StageClock)
    """Seconds per stage (flow, completion, propagation, fusion, hallucination)."""

    def add(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class Item:
    """A validated frame of the clip with its masks."""

    index: int
    frame: np.ndarray  # H x W x 3 or 4 float32; a 4th channel (alpha) passes through untouched
    # (what the stages see: non-finite values are replaced by 0, and their pixels are in hole)
    mask: np.ndarray  # what the output replaces (the user's mask, grown by --grow)
    hole: np.ndarray  # what is treated as unknown (mask dilated by --dilate, non-finite pixels)
    original: np.ndarray | None = None
    """The frame as given, when it held NaN or Inf values (composited outside the mask)."""

    @property
    def rgb(self) -> np.ndarray:
        """The colour channels the stages work on."""
        return self.frame[..., :3]


def make_item(index: int, frame: np.ndarray, mask: np.ndarray, options: Options,
              shape: tuple[int, int] | None = None) -> Item:
    """Check one frame and mask (against ``shape``, the clip's H x W, if known) and prepare
    its masks: the one the output replaces (grown by ``grow``) and the hole (dilated, plus any
    pixel with a NaN or infinite colour, which no stage ever reads)."""
    frame = np.asarray(frame, dtype=np.float32)
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    mask = mask.astype(bool, copy=False)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise InputError(None, f"frame {index} has shape {frame.shape}, expected H x W x 3 "
                               "(RGB) or H x W x 4 (RGBA)")
    if shape is None and (frame.shape[0] < MIN_SIZE or frame.shape[1] < MIN_SIZE):
        raise InputError(None, f"frames are {frame.shape[1]}x{frame.shape[0]}; at least "
                               f"{MIN_SIZE}x{MIN_SIZE} pixels needed")
    shape = shape or frame.shape[:2]
    if frame.shape[:2] != shape:
        raise InputError(None, f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, "
                               f"earlier frames are {shape[1]}x{shape[0]}")
    if mask.ndim != 2:
        raise InputError(None, f"mask {index} has shape {mask.shape}, expected H x W "
                               f"({shape[0]} x {shape[1]})")
    if mask.shape != shape:
        raise InputError(None, f"mask {index} is {mask.shape[1]}x{mask.shape[0]} but the frame "
                               f"is {shape[1]}x{shape[0]}")
    if mask.all():
        raise InputError(None, f"mask {index} covers the whole frame: nothing is left to fill "
                               "from")
    grown = dilate(mask, options.grow)
    if options.dilate is not None:
        hole = dilate(grown, options.dilate)
    else:  # 5 px at 480p, less around thin parts (scratches, dust); fill_values takes the
        # margin back around parts that stay still through a window
        hole = dilate_by_thickness(grown, scaled_px(MARGIN_480P, shape))
    finite = np.isfinite(frame)
    if finite.all():
        return Item(index, frame, grown, hole)
    # NaN and Inf pixels (float EXR plates carry them) are unknown: sources for nothing, filled
    # inside the mask, kept as they are outside it. The stages see 0 there, never the values.
    unknown = ~finite[..., :3].all(axis=2)
    if (grown | unknown).all():
        raise InputError(None, f"frame {index} has only NaN or infinite pixels outside the "
                               "mask: nothing is left to fill from")
    clean = np.where(finite, frame, np.float32(0))
    return Item(index, clean, grown, hole | unknown, original=frame)


def prepared(
    frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], options: Options,
    detect_cuts: bool = True,
) -> Iterator[tuple[Item, bool]]:
    """Validated frames with their masks, and whether a hard cut lies before each one."""
    detector = CutDetector(options.cut_threshold, tone=options.flow_tone)
    shape = None
    pending: Item | None = None
    for i, (frame, mask) in enumerate(zip_longest(frames, masks)):
        if frame is None or mask is None:
            what = "frames" if frame is None else "masks"
            raise InputError(None, f"ran out of {what} at frame {i}: frame and mask counts differ")
        item = make_item(i, frame, mask, options, shape)
        shape = item.frame.shape[:2]
        if detect_cuts:
            detector.push(item.rgb, item.hole)
        if pending is not None:
            yield pending, detect_cuts and detector.is_cut(pending.index)
        pending = item
    if pending is not None:
        yield pending, detect_cuts and detector.is_cut(pending.index, final=True)


@dataclass
class WindowValues:
    """A window's fill before any cross-fade: per frame the values inside its mask (m x 3),
    how many pixels of it came from other frames, and how many keyframes were invented."""

    values: list[np.ndarray]
    propagated: list[int]
    keyframes: int


def fill_values(
    window: list[Item], options: Options, progress: Progress, estimator: FlowEstimator,
    clock: StageClock, references: ReferenceFrames | None = None, count_from: int = 0,
) -> WindowValues:
    """Fill one window of a shot (with the shot's references outside it as extra sources)."""
    refs = references.for_window(window[0].index, window[-1].index) if references else []
    masks = np.stack([it.mask for it in window])
    holes = np.stack([it.hole for it in window])
    if options.dilate is None:  # the automatic margin: none around still parts of the mask
        shape = masks.shape[1:]
        release = still_margins(masks, holes, scaled_px(MARGIN_480P, shape))
        for j, it in enumerate(window):
            if it.original is not None:  # a NaN or Inf pixel stays unknown
                release[j] &= np.isfinite(it.original[..., :3]).all(axis=2)
        holes &= ~release
    result = fill_window(
        np.stack([it.rgb for it in window] + [r.frame[..., :3] for r in refs]),
        np.concatenate([holes] + [r.hole[None] for r in refs]) if refs else holes,
        options, progress, count_from=count_from, estimator=estimator, clock=clock,
        references=len(refs), masks=masks, shared=shared_anchor(window, refs, references),
        scratch=True,  # the stack above is the call's own
    )
    return WindowValues(
        [result.frames[j][it.mask] for j, it in enumerate(window)],
        [int((result.propagated[j] & it.mask).sum()) for j, it in enumerate(window)],
        len(result.keyframes),
    )


ANCHOR_RING_480P = 12
"""Width (px at 480p) of the ring around the masks whose pixels choose the shot's anchor."""


def shared_anchor(window: list[Item], refs: list[Reference],
                  references: ReferenceFrames | None) -> SharedAnchor | None:
    """The anchor of the window's shot as the window sees it (one of its frames or one of its
    references ``refs``): of the shot's picks, the one whose surroundings of the mask are the
    most usual (:func:`flowfill.hallucinate.layered.calmest`). Every window of the shot has
    all the picks at hand, so all choose the same. None when the shot has no picks (it fits in
    a window) or a pick's mask is not known."""
    picks = references.shot_picks(window[0].index) if references is not None else []
    first, last = window[0].index, window[-1].index
    at_ref = {r.index: j for j, r in enumerate(refs)}
    found: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    for p in sorted(picks):
        if first <= p <= last:
            item = window[p - first]
            found.append((p, p - first, item.rgb, item.mask))
        elif p in at_ref and refs[at_ref[p]].mask is not None:
            ref = refs[at_ref[p]]
            found.append((p, len(window) + at_ref[p], ref.frame[..., :3], ref.mask))
        else:  # without every pick, no choice the other windows are sure to share
            return None
    if not found:
        return None
    shape = found[0][3].shape
    j = calmest([f[2] for f in found], [f[3] for f in found], scaled_px(ANCHOR_RING_480P, shape))
    index, at, frame, mask = found[j]
    return SharedAnchor(at, index, frame, mask, references.details)


def cross_fade(carry: list[np.ndarray], values: list[np.ndarray]) -> list[np.ndarray]:
    """The window's values with its first ``len(carry)`` frames (the overlap with the previous
    window) blended from the previous window's values to its own, linearly."""
    out = list(values)
    for j in range(len(carry)):
        out[j] = fade(carry[j], values[j], j, len(carry))
    return out


def fade(previous: np.ndarray, own: np.ndarray, j: int, overlap: int) -> np.ndarray:
    """Position ``j`` of an overlap of ``overlap`` frames: weight (j + 1) / (overlap + 1) on the
    new window's value, the rest on the previous window's."""
    lam = (j + 1) / (overlap + 1)
    return (1 - lam) * previous + lam * own


def composite(item: Item, values: np.ndarray) -> np.ndarray:
    """The output frame: the input with its mask's colour replaced (alpha untouched)."""
    out = (item.frame if item.original is None else item.original).copy()
    out[item.mask, :3] = values
    return out


def finished(item: Item, values: np.ndarray, options: Options) -> np.ndarray:
    """The output frame of ``item`` from its fill ``values``, grain-matched to the frame around
    the mask (``options.grain``; seeded by the frame's index, so any window gives the same),
    line defects first unveiled (``options.unveil``)."""
    valid = (None if item.original is None or not (options.unveil or options.grain == "auto")
             else np.isfinite(item.original[..., :3]).all(2))
    if options.unveil:
        values = unveil_lines(item.frame, item.mask, values, valid)
    if options.grain == "auto":
        values = match_grain(item.frame, item.mask, values, options.seed, item.index, valid)
    return composite(item, values)


WindowFill = Callable[[Window, list[Item]], WindowValues]
"""``fill(window, items)`` -> the window's :class:`WindowValues`: how a window is filled.
``items`` are its frames (``window.start`` to ``window.stop - 1``); a remote filler may ignore
them and fetch the result computed elsewhere from the same input."""


def stitch(window: Window, filled: WindowValues | None,
           carry: list[np.ndarray]) -> WindowRecord:
    """A window's outputs, the overlap it hands on and its counts, from its fill (None for a
    window of only overlap frames) and the previous window's ``carry``, cross-faded."""
    counts = dict.fromkeys(COUNTS, 0)
    if filled is None:  # only overlap frames left: the last window filled them
        return WindowRecord(list(carry), [], counts)
    values = cross_fade(carry, filled.values)
    counts["keyframes"] = filled.keyframes
    for j in range(window.keep):
        n_mask = len(filled.values[j])  # the values are those inside the frame's mask
        counts["hole_pixels"] += n_mask
        counts["filled_propagation"] += filled.propagated[j]
        counts["filled_hallucination"] += n_mask - filled.propagated[j]
    return WindowRecord(values[:window.keep], values[window.keep:], counts)


def remove_stream(
    frames: Iterable[np.ndarray],
    masks: Iterable[np.ndarray],
    options: Options | None = None,
    progress: Progress | None = None,
    stats: Stats | None = None,
    estimator: FlowEstimator | None = None,
    references: ReferenceFrames | None = None,
    checkpoint: Checkpoint | None = None,
    on_progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    plan: Plan | None = None,
    fill: WindowFill | None = None,
) -> Iterator[np.ndarray]:
    """Yield the completed frames in order, holding only a bounded window in memory.

    ``frames``: float32 H x W x 3, or H x W x 4 whose 4th channel (alpha) comes back
    unchanged; ``masks``: bool H x W, True = remove. The output has the input's scale (float
    values above 1 survive) and equals it outside the masks.
    ``estimator``: the flow backend, if already built (default: from ``options``).
    ``references``: long-range source frames of the whole clip (``ReferenceFrames.scan``).
    ``checkpoint``: finished windows are saved there, and taken from there when resuming.
    ``on_progress(stage, done, total)``: called as each stage advances (frames of the clip,
    or iterations of a fill; ``total`` None when unknown). ``cancelled()``: polled at every
    progress step; once it returns True the run stops by raising :class:`flowfill.Cancelled`.
    Both may be called from the run's frame threads (``options.frame_threads``), one call at a
    time. ``plan``: the clip's windows from a scan (:func:`flowfill.plan.plan`); without it they are
    planned by the same rule as frames arrive. ``fill``: fills a window (default: here, with
    ``estimator`` and ``references``; ``flowfill.dist`` fetches windows filled on a cluster).
    """
    options = (options or Options()).validated()
    progress = hooked(progress or Progress(enabled=False), on_progress, cancelled)
    stats = stats if stats is not None else Stats()
    t0 = time.perf_counter()
    if fill is None:
        if estimator is None:  # loaded once (RAFT weights), shared by every window
            estimator = flow_estimator(options)
        edge_completer(options)  # a bad --edge-weights fails here, before any frame is read

        def fill(w: Window, items: list[Item]) -> WindowValues:
            return fill_values(items, options, progress, estimator, stats.clock, references,
                               count_from=w.carry)

    planner = Planner(options.window, options.overlap) if plan is None else None
    planned = deque(plan.works) if plan is not None else deque()
    if plan is not None:
        stats.cuts.extend(plan.cuts)

    def ready(index: int, cut: bool) -> list[Window]:
        """The windows complete once frame ``index`` is known."""
        if planner is not None:
            return planner.push(index, cut)
        out = []
        while planned and planned[0].window.stop - 1 <= index:
            out.append(planned.popleft().window)
        return out

    window: list[Item] = []  # the frames from the first of the window being gathered
    carry: list[np.ndarray] = []  # filled overlap values (inside the masks) from the last window

    def run_window(w: Window) -> Iterator[np.ndarray]:
        nonlocal window, carry
        items = window[:w.size]
        assert items[0].index == w.start and items[-1].index == w.stop - 1
        record = checkpoint.load(w.start) if checkpoint is not None else None
        if record is not None and len(record.outputs) == w.keep:
            stats.resumed_frames += w.keep
            progress.bar("resumed").update(w.keep)
        else:
            check_cancelled(cancelled)
            record = stitch(w, None if w.only_carry else fill(w, items), carry)
            give_back_memory()
            if checkpoint is not None and not w.only_carry:
                checkpoint.save(w.start, record)
        stats.add(record.counts)
        for j in range(w.keep):
            stats.frames += 1
            yield finished(items[j], record.outputs[j], options)
        carry = record.carry
        window = window[w.keep:]

    count = 0
    for item, cut in prepared(frames, masks, options, detect_cuts=plan is None):
        count = item.index + 1
        if plan is not None and count > plan.count:
            raise InputError(None, f"the clip has more frames than the {plan.count} planned")
        if cut:
            stats.cuts.append(item.index)
        done = ready(item.index, cut)
        window.append(item)
        for w in done:
            yield from run_window(w)
    if plan is not None and count != plan.count:
        raise InputError(None, f"the clip has {count} frames but was planned with {plan.count}")
    for w in planner.finish(count) if planner is not None else list(planned):
        yield from run_window(w)
    stats.seconds = time.perf_counter() - t0
