"""The streaming driver: frames flow through in bounded windows, cut at shot boundaries.

Frames and masks are consumed lazily. A window of ``options.window`` frames is filled by
``window.fill_window``; consecutive windows share ``options.overlap`` frames, which are
cross-faded so the seam between windows does not jump. A hard cut closes the window, so nothing
propagates across it. Outside the user's mask the output is the input, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import zip_longest

import numpy as np

from flowfill.errors import InputError
from flowfill.flow import FlowEstimator
from flowfill.hops import edge_completer
from flowfill.masks import dilate, scaled_px
from flowfill.options import Options
from flowfill.progress import Progress
from flowfill.shots import CutDetector
from flowfill.window import fill_window, flow_estimator


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


@dataclass
class _Item:
    index: int
    frame: np.ndarray
    mask: np.ndarray  # what the output replaces (the user's mask, grown by --grow)
    hole: np.ndarray  # what is treated as unknown (mask dilated by --dilate)


def _items(
    frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], options: Options
) -> Iterator[tuple[_Item, bool]]:
    """Validated frames with their masks, and whether a hard cut lies before each one."""
    detector = CutDetector(options.cut_threshold)
    shape = None
    pending: _Item | None = None
    for i, (frame, mask) in enumerate(zip_longest(frames, masks)):
        if frame is None or mask is None:
            what = "frames" if frame is None else "masks"
            raise InputError(None, f"ran out of {what} at frame {i}: frame and mask counts differ")
        frame = np.asarray(frame, dtype=np.float32)
        mask = np.asarray(mask).astype(bool, copy=False)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(None, f"frame {i} has shape {frame.shape}, expected H x W x 3")
        if shape is None:
            shape = frame.shape[:2]
        if frame.shape[:2] != shape:
            raise InputError(None, f"frame {i} is {frame.shape[1]}x{frame.shape[0]}, "
                                   f"earlier frames are {shape[1]}x{shape[0]}")
        if mask.shape != shape:
            raise InputError(None, f"mask {i} is {mask.shape[1]}x{mask.shape[0]} but the frame "
                                   f"is {shape[1]}x{shape[0]}")
        grown = dilate(mask, options.grow)
        px = options.dilate if options.dilate is not None else scaled_px(5, shape)
        item = _Item(i, frame, grown, dilate(grown, px))
        detector.push(frame, item.hole)
        if pending is not None:
            yield pending, detector.is_cut(pending.index)
        pending = item
    if pending is not None:
        yield pending, detector.is_cut(pending.index, final=True)


def remove_stream(
    frames: Iterable[np.ndarray],
    masks: Iterable[np.ndarray],
    options: Options | None = None,
    progress: Progress | None = None,
    stats: Stats | None = None,
    estimator: FlowEstimator | None = None,
) -> Iterator[np.ndarray]:
    """Yield the completed frames in order, holding only a bounded window in memory.

    ``frames``: float32 H x W x 3; ``masks``: bool H x W, True = remove. The output has the
    input's scale (float values above 1 survive) and equals it outside the masks.
    ``estimator``: the flow backend, if already built (default: from ``options``).
    """
    options = (options or Options()).validated()
    progress = progress or Progress(enabled=False)
    stats = stats if stats is not None else Stats()
    t0 = time.perf_counter()
    if estimator is None:  # loaded once (RAFT weights), shared by every window
        estimator = flow_estimator(options)
    edge_completer(options)  # a bad --edge-weights fails here, before any frame is read
    window: list[_Item] = []
    carry: list[np.ndarray] = []  # filled overlap frames from the previous window

    def run_window(final: bool) -> Iterator[np.ndarray]:
        nonlocal window, carry
        new = len(window) - len(carry)
        if new <= 0:  # only overlap frames left: they were filled by the previous window
            filled = carry
            propagated = [np.zeros_like(it.mask) for it in window]
        else:
            result = fill_window(
                np.stack([it.frame for it in window]), np.stack([it.hole for it in window]),
                options, progress, count_from=len(carry), estimator=estimator,
            )
            stats.keyframes += len(result.keyframes)
            filled = list(result.frames)
            propagated = list(result.propagated)
            for j in range(len(carry)):  # cross-fade the overlap from the old to the new window
                lam = (j + 1) / (len(carry) + 1)
                filled[j] = (1 - lam) * carry[j] + lam * filled[j]
        keep = len(window) if final else len(window) - options.overlap
        for j in range(keep):
            it = window[j]
            out = it.frame.copy()
            out[it.mask] = filled[j][it.mask]
            stats.frames += 1
            n_mask = int(it.mask.sum())
            n_prop = int((propagated[j] & it.mask).sum())
            stats.hole_pixels += n_mask
            stats.filled_propagation += n_prop
            stats.filled_hallucination += n_mask - n_prop
            yield out
        carry = [] if final else filled[keep:]
        window = [] if final else window[keep:]

    for item, cut in _items(frames, masks, options):
        if cut:
            stats.cuts.append(item.index)
            if window:
                yield from run_window(final=True)
        window.append(item)
        if len(window) >= options.window:
            yield from run_window(final=False)
    if window:
        yield from run_window(final=True)
    stats.seconds = time.perf_counter() - t0
