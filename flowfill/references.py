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
from flowfill.plan import pick, reference_picks, references_for, shot_picks, shots_from_cuts
from flowfill.progress import Progress

__all__ = ["ClipScan", "Opener", "Reference", "ReferenceFrames", "pick", "scan_clip"]

Opener = Callable[[], tuple[Iterable[np.ndarray], Iterable[np.ndarray]]]
"""Returns fresh (frames, masks) iterables over the whole clip each time it is called."""


@dataclass
class Reference:
    """A frame kept as a long-range source: its index in the clip, pixels and hole, and what
    the output replaces there (its mask; None: it cannot be its shot's anchor)."""

    index: int
    frame: np.ndarray
    hole: np.ndarray
    mask: np.ndarray | None = None


class ReferenceFrames:
    """The reference frames of a clip and the shots they belong to."""

    def __init__(self, refs: list[Reference], shots: list[tuple[int, int]],
                 picks: list[int] | None = None) -> None:
        """``picks``: all the clip's picks, where ``refs`` are not all of them (a worker given
        one window's references); default the indices of ``refs``."""
        self.refs = refs
        self.shots = shots
        self.picks = [r.index for r in refs] if picks is None else list(picks)
        self.details: dict = {}
        """The detail each shot's anchor invents, per fill setting (``window.SharedAnchor``):
        made by the first window that needs it, read by the others of the run."""

    def shot_picks(self, index: int) -> list[int]:
        """The picks of the shot holding frame ``index``: the candidates for the frame whose
        invented detail every window of the shot reads where no frame shows the background."""
        return shot_picks(self.picks, self.shots, index)

    def for_window(self, first: int, last: int) -> list[Reference]:
        """The references in the shot of frame ``first`` that lie outside [first, last]."""
        wanted = references_for([r.index for r in self.refs], self.shots, first, last)
        return [r for r in self.refs if r.index in wanted]

    @classmethod
    def read(cls, open_clip: Opener, picks: Iterable[int], shots: list[tuple[int, int]],
             options: Options) -> ReferenceFrames:
        """Read the clip up to its last pick, keeping only the picked frames."""
        from flowfill.pipeline import prepared  # the same validation and holes as the run

        wanted = set(picks)
        refs: list[Reference] = []
        if wanted:
            last = max(wanted)
            for item, _ in prepared(*open_clip(), options, detect_cuts=False):
                if item.index in wanted:
                    refs.append(Reference(item.index, item.frame, item.hole, item.mask))
                if item.index >= last:
                    break
        return cls(refs, shots)

    @classmethod
    def scan(cls, open_clip: Opener, options: Options,
             progress: Progress | None = None) -> ReferenceFrames:
        """Two reads of the clip: hole areas and shot cuts, then the picked frames only."""
        found = scan_clip(open_clip, options, progress)
        shots = shots_from_cuts(len(found.areas), found.cuts)
        picks = reference_picks(found.areas, shots, options)
        return cls.read(open_clip, picks, shots, options)


@dataclass
class ClipScan:
    """What a cheap pass over a clip finds: each frame's hole size in pixels, and the frames a
    hard cut lies before."""

    areas: list[int]
    cuts: list[int]


def scan_clip(open_clip: Opener, options: Options,
              progress: Progress | None = None) -> ClipScan:
    """One read of the clip: validates every frame and mask as the run does, keeps nothing."""
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
    return ClipScan(areas, cuts)
