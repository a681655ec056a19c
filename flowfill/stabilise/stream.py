"""Stabilise a clip in two passes over its frames: measure the camera path, then warp every
frame onto the smoothed path and fill (or crop away) what the warp leaves uncovered."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from flowfill.options import Options
from flowfill.pipeline import Stats, remove_stream
from flowfill.progress import Progress
from flowfill.stabilise.motion import Tracker
from flowfill.stabilise.path import CameraPath
from flowfill.stabilise.render import MODES, crop_zoom, warp_frame, zoomed

DEFAULT_SMOOTHNESS = 10.0
"""Time scale of the path smoother in frames: shake faster than about 2 pi S frames goes."""
DEFAULT_MAX_SHIFT = 0.08
"""How far a frame may move to meet the smooth path, as a fraction of its width / height."""


def measure_path(frames: Iterable[np.ndarray], tone: str = "display",
                 progress: Progress | None = None) -> CameraPath:
    """The camera path of a clip (float32 H x W x C frames) from its frame-to-frame motion."""
    tracker = Tracker(tone=tone)
    bar = (progress or Progress(enabled=False)).bar("motion")
    motions: list[np.ndarray | None] = []
    shape = None
    for frame in frames:
        shape = frame.shape[:2]
        motions.append(tracker.push(frame))
        bar.update(1)
    if shape is None:
        raise ValueError("no frames")
    return CameraPath.from_motions(motions, width=shape[1], height=shape[0])


def plan_warps(path: CameraPath, mode: str = "fill", smoothness: float = DEFAULT_SMOOTHNESS,
               max_shift: float = DEFAULT_MAX_SHIFT) -> tuple[np.ndarray, float]:
    """N x 3 x 3 warps onto the smoothed path, and the zoom (1 in fill mode) that crop mode
    applies so no frame shows a border."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose {', '.join(MODES)}")
    if smoothness < 0 or not 0 <= max_shift < 0.5:
        raise ValueError("smoothness must be >= 0 and max_shift in [0, 0.5)")
    warps = path.warps(smoothness, max_shift)
    if mode == "fill":
        return warps, 1.0
    zoom = crop_zoom(warps, path.width, path.height)
    return zoomed(warps, zoom, path.width, path.height), zoom


def stabilised(
    frames: Iterable[np.ndarray],
    warps: np.ndarray,
    mode: str = "fill",
    options: Options | None = None,
    progress: Progress | None = None,
    stats: Stats | None = None,
    **engine: object,
) -> Iterator[np.ndarray]:
    """Yield each frame warped by its warp; in ``fill`` mode the uncovered borders are filled
    by flowfill (``remove_stream`` with ``options`` and ``engine``'s keywords) from what other
    frames saw, so the output keeps the full frame."""
    if mode == "crop":
        for frame, warp in zip(frames, warps, strict=False):
            yield warp_frame(frame, warp)[0]
        return
    pending: deque[np.ndarray] = deque()

    def warped() -> Iterator[np.ndarray]:
        for frame, warp in zip(frames, warps, strict=False):
            out, hole = warp_frame(frame, warp)
            pending.append(hole)
            yield out

    def holes() -> Iterator[np.ndarray]:
        while pending:  # frames are drawn first, so a frame's hole is always waiting here
            yield pending.popleft()

    yield from remove_stream(warped(), holes(), options, progress, stats, **engine)
