"""The engine a Ray worker holds: loaded once, it fills any window of a plan from the paths.

A worker reads its window's frames and reference frames itself (no frames go through the
driver) and returns only the filled values inside the masks. It sets torch's and OpenCV's
thread counts to the driver's, since the arithmetic of some stages depends on them: equal
counts give output identical bit for bit to a local run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flowfill.devices import Threads
from flowfill.io import open_frames, open_masks
from flowfill.io.masks import MaskSource
from flowfill.io.sequence import SequenceSource
from flowfill.io.source import FrameSource
from flowfill.options import Options
from flowfill.pipeline import Item, WindowValues, fill_values, make_item
from flowfill.plan import Work
from flowfill.progress import Progress
from flowfill.references import Reference, ReferenceFrames
from flowfill.timing import StageClock


@dataclass(frozen=True)
class Clip:
    """Where a clip is read from, as the driver opened it: input and mask as given on the
    command line, the ``--frames`` selection (start, stop) if any, and the frames' size
    (width, height; what a worker reserves memory for)."""

    input: str
    mask: str
    selection: tuple[int, int | None] | None = None
    size: tuple[int, int] | None = None

    def open(self) -> tuple[FrameSource, MaskSource]:
        """Fresh frame and mask sources over the (selected) clip."""
        source = open_frames(self.input, keep_alpha=True)
        if self.selection is not None:
            source.select(*self.selection)
        return source, open_masks(self.mask, source)


def read_items(clip: Clip, wanted: set[int], options: Options) -> dict[int, Item]:
    """The clip's frames ``wanted`` with their masks, prepared as the run prepares them."""
    found: dict[int, Item] = {}
    if not wanted:
        return found
    frames, masks = clip.open()
    shape = None
    if isinstance(frames, SequenceSource) and masks.random_access:
        # image files: read only the frames wanted (a movie, or masks computed from the
        # input, are read from the clip's first frame on)
        for index in sorted(wanted):
            if index < len(frames.info.paths):
                found[index] = make_item(index, frames.frame_at(index), masks.mask_at(index),
                                         options, shape)
                shape = found[index].frame.shape[:2]
    else:
        last = max(wanted)
        for index, (frame, mask) in enumerate(zip(frames, masks, strict=False)):
            if index in wanted:
                found[index] = make_item(index, frame, mask, options, shape)
                shape = found[index].frame.shape[:2]
            if index >= last:
                break
    missing = wanted - set(found)
    if missing:
        raise FileNotFoundError(f"{clip.input}: frames {sorted(missing)[:4]} could not be read")
    return found


class WindowWorker:
    """Fills windows of any clip's plan (a Ray actor's body; also usable in-process): ``clip``
    and ``options`` are the defaults of :meth:`fill`, None when every window brings its own."""

    def __init__(self, clip: Clip | None, options: Options | None, threads: Threads,
                 version: str) -> None:
        from flowfill import __version__

        if version != __version__:
            raise RuntimeError(f"this worker runs flowfill {__version__}, the driver "
                               f"{version}: install the same version on every node")
        threads.apply()
        self.clip, self.options = clip, options
        self.estimators: dict[tuple, object] = {}
        self.edges: set[tuple] = set()
        if options is not None:
            self._engine(options)  # loaded once (RAFT weights, edge net), for every window

    def _engine(self, options: Options):  # -> FlowEstimator
        """The flow backend ``options`` ask for, loaded once per worker (with the edge net)."""
        from flowfill.hops import edge_completer
        from flowfill.window import estimator_key, flow_estimator

        key = estimator_key(options)
        if key not in self.estimators:
            self.estimators[key] = flow_estimator(options)
        edges = (options.edges, options.edge_weights, options.device)
        if edges not in self.edges:
            edge_completer(options)  # loads the edge net (kept by the completer's cache)
            self.edges.add(edges)
        return self.estimators[key]

    def fill(self, work: Work, clip: Clip | None = None,
             options: Options | None = None) -> WindowValues:
        """The values inside the masks of ``work``'s frames, filled as a local run fills them
        (``clip`` and ``options``: the window's own, for a worker shared by many clips)."""
        clip, options = clip or self.clip, options or self.options
        if clip is None or options is None:
            raise ValueError("a window needs its clip and options")
        if options.frame_threads is None:  # Ray gave this worker one CPU, not the machine's
            options = replace(options, frame_threads=1)
        estimator = self._engine(options)
        w = work.window
        items = read_items(clip, set(range(w.start, w.stop)) | set(work.references), options)
        refs = ReferenceFrames([Reference(p, items[p].frame, items[p].hole, items[p].mask)
                                for p in work.references], [work.shot],
                               picks=list(work.picks))
        window = [items[t] for t in range(w.start, w.stop)]
        del items
        return fill_values(window, options, Progress(enabled=False), estimator,
                           StageClock(), refs, count_from=w.carry)

    def pid(self) -> int:
        """The worker's process id (tests kill it)."""
        import os

        return os.getpid()
