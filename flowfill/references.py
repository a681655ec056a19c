"""Long-range sources for windowed runs: a few frames picked across each whole shot.

A window sees only its own frames, so background that the camera showed far earlier or later
in a long shot would be lost to it. Before the main pass, a cheap scan of the whole clip
(masks and cut detection only; frames are decoded but not kept) picks, in each of
``reference_frames`` equal stretches of every shot longer than a window, the frame with the
least hole; a second read keeps just those frames. Each window then adds the picks of its own
shot that lie outside it as direct-hop sources. Memory: ``reference_frames`` frames per shot
being processed, whatever the clip's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from flowfill.options import Options
from flowfill.plan import shots_from_cuts
from flowfill.progress import Progress

Opener = Callable[[], tuple[Iterable[np.ndarray], Iterable[np.ndarray]]]
"""Returns fresh (frames, masks) iterables over the whole clip each time it is called."""


@dataclass
class Reference:
    """A frame kept as a long-range source: its index in the clip, pixels and hole."""

    index: int
    frame: np.ndarray
    hole: np.ndarray


def pick(areas: np.ndarray, shots: list[tuple[int, int]], count: int, window: int) -> list[int]:
    """Per shot [start, end) longer than ``window``, the least-hole frame of each of ``count``
    equal stretches (the earliest on ties); shots a window covers need none."""
    picks: list[int] = []
    for start, end in shots:
        if end - start <= window or count <= 0:
            continue
        bounds = np.linspace(start, end, count + 1).round().astype(int)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if b > a:
                picks.append(a + int(np.argmin(areas[a:b])))
    return picks


class ReferenceFrames:
    """The reference frames of a clip and the shots they belong to."""

    def __init__(self, refs: list[Reference], shots: list[tuple[int, int]]) -> None:
        self.refs = refs
        self.shots = shots

    def for_window(self, first: int, last: int) -> list[Reference]:
        """The references in the shot of frame ``first`` that lie outside [first, last]."""
        shot = next(((a, b) for a, b in self.shots if a <= first < b), (first, last + 1))
        return [r for r in self.refs
                if shot[0] <= r.index < shot[1] and not first <= r.index <= last]

    @classmethod
    def scan(cls, open_clip: Opener, options: Options,
             progress: Progress | None = None) -> ReferenceFrames:
        """Two reads of the clip: hole areas and shot cuts, then the picked frames only."""
        from flowfill.pipeline import prepared  # the same validation, holes and cuts as the run

        progress = progress or Progress(enabled=False)
        areas: list[int] = []
        cuts: list[int] = []
        bar = progress.bar("scan")
        for item, cut in prepared(*open_clip(), options):
            areas.append(int(item.hole.sum()))
            if cut:
                cuts.append(item.index)
            bar.update(1)
        progress.done("scan")
        shots = shots_from_cuts(len(areas), cuts)
        wanted = set(pick(np.asarray(areas), shots, options.reference_frames, options.window))
        refs: list[Reference] = []
        if wanted:
            last = max(wanted)
            for item, _ in prepared(*open_clip(), options, detect_cuts=False):
                if item.index in wanted:
                    refs.append(Reference(item.index, item.frame, item.hole))
                if item.index >= last:
                    break
        return cls(refs, shots)
