"""Random access to a filled clip: render any frame, filling only the window that holds it.

Hosts ask for frames one at a time and in any order (a compositor scrubbing, VapourSynth's
frame requests, the render server's clients). :class:`Shot` answers ``render(i)`` by filling
the window of ``flowfill.plan`` that outputs frame ``i`` (and, inside an overlap, the window
before it) and keeps the results of the last windows, so the window's other frames cost
nothing more. The answer equals what :func:`flowfill.remove_stream` yields for frame ``i``:
the same windows, cuts, reference frames and cross-fades (``tests/test_shot.py``).

Frames come from a ``read(i)`` callback, so a Shot holds no clip in memory: only the filled
values inside the masks of its cached windows, the picked reference frames and, before the
first render, one pass over the clip for cut detection and the reference picks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from flowfill.errors import InputError
from flowfill.flow import FlowEstimator
from flowfill.hops import edge_completer
from flowfill.options import Options
from flowfill.pipeline import (
    Item,
    fade,
    fill_values,
    finished,
    give_back_memory,
    make_item,
)
from flowfill.plan import Window, plan_windows, shots_from_cuts, window_of
from flowfill.progress import Progress, check_cancelled, hooked
from flowfill.references import Reference, ReferenceFrames, pick
from flowfill.shots import CutDetector
from flowfill.timing import StageClock
from flowfill.window import flow_estimator, round_stages

Reader = Callable[[int], tuple[np.ndarray, np.ndarray]]
"""``read(i)`` -> (frame float32 H x W x 3 or 4, mask bool H x W) of clip frame ``i``."""
FractionCallback = Callable[[float, str], None]
"""``on_progress(fraction, stage)``: how far this render is, 0..1, and the stage it is in."""

FIRST_ROUND_FLOW = 0.74
"""Share of the first round's time that its flow (with the completion) takes."""
LATER_ROUND = (0.5, 0.4)
"""A further round's time against the first's, and the share of it its flow takes (no
completion; RESULTS.md, issue 16)."""


def stage_spans(rounds: int) -> dict[str, tuple[float, float]]:
    """Where each counted stage of a window's fill starts and ends, as fractions of the fill
    (up to 0.95: the image fills' own bars take the rest)."""
    weights = [1.0] + [LATER_ROUND[0]] * (rounds - 1)
    unit = 0.95 / sum(weights)
    spans: dict[str, tuple[float, float]] = {}
    start = 0.0
    for number, weight in enumerate(weights, 1):
        flow, propagate = round_stages(number)
        end = start + weight * unit
        mid = start + (end - start) * (FIRST_ROUND_FLOW if number == 1 else LATER_ROUND[1])
        spans[flow], spans[propagate] = (start, mid), (mid, end)
        start = end
    return spans


class NeedFrames(Exception):  # noqa: N818 - a request, not a failure
    """``read`` cannot give these frames now; a caller that can fetch them retries after."""

    def __init__(self, frames: list[int]) -> None:
        self.frames = sorted(set(frames))
        super().__init__(f"frames needed: {self.frames[:8]}{'...' if len(frames) > 8 else ''}")


class _Scan:
    """One pass over the clip in order: hole areas and hard cuts, resumable after NeedFrames."""

    def __init__(self, options: Options) -> None:
        self.detector = CutDetector(options.cut_threshold, tone=options.flow_tone)
        self.areas: list[int] = []
        self.cuts: list[int] = []


class Shot:
    """A clip of ``count`` frames, filled on demand window by window (see the module doc).

    ``options``: as for :func:`flowfill.remove`; ``estimator``: a flow backend to share
    (default: built from the options, once); ``cache_windows``: how many windows' results are
    kept. ``render`` calls are serialised (hosts call from several threads).
    """

    def __init__(self, count: int, read: Reader, options: Options | None = None, *,
                 estimator: FlowEstimator | None = None, cache_windows: int = 2) -> None:
        if count < 1:
            raise InputError(None, "the clip has no frames")
        self.count = count
        self.options = (options or Options()).validated()
        self._read = read
        self._estimator = estimator or flow_estimator(self.options)
        edge_completer(self.options)  # a bad edge checkpoint fails now, not at the first frame
        o, w = self.options.overlap, self.options.window
        # an overlap above half a window blends values that are blends: keep the whole chain
        self._cache_size = max(cache_windows, -(-o // (w - o)) + 2)
        self._lock = threading.RLock()
        self._shape: tuple[int, int] | None = None
        self._scan: _Scan | None = _Scan(self.options)
        self._picks: list[int] | None = None
        self._refs: dict[int, Reference] = {}
        self._plan: list[Window] | None = None
        self._references: ReferenceFrames | None = None
        self._raw: OrderedDict[int, list[np.ndarray]] = OrderedDict()
        self.clock = StageClock()
        self.windows_filled = 0
        """How many window fills this shot has run (a cached window is not filled again)."""
        self.cuts: list[int] = []
        """Frames a hard cut lies before (known once the first render has scanned the clip)."""

    # -- what a render reads ------------------------------------------------------------

    def frames_needed(self, index: int) -> list[int]:
        """The frames ``render(index)`` will read, as far as known now: before the first
        render, every frame (the scan for cuts and reference frames); after it, the frames of
        the window(s) not yet cached, and ``index`` itself."""
        self._check_index(index)
        plan = self._plan  # read without the lock: safe to ask while another thread renders
        if plan is None:
            rest = list(range(self.scanned, self.count))
            picks = [p for p in (self._picks or []) if p not in self._refs]
            return sorted({*rest, *picks, index})
        needed = {index}
        k = window_of(plan, index)
        for w in self._windows_for(k, index - plan[k].start):
            if w not in self._raw:
                needed.update(range(plan[w].start, plan[w].stop))
        return sorted(needed)

    @property
    def scanned(self) -> int:
        """How many frames (from the first) the scan has read; all of them once planned."""
        scan = self._scan
        return self.count if scan is None else len(scan.areas)

    @property
    def planned(self) -> bool:
        """Whether the scan is done and the windows are known."""
        return self._plan is not None

    def advance(self) -> None:
        """Scan as far as ``read`` can give frames now (a server calls it as frames arrive, so
        the scan needs no frame twice and no more than one in memory)."""
        if not self._lock.acquire(blocking=False):
            return  # a render is running: it scans what it needs itself
        try:
            if self._plan is None:
                self._prepare(None, None)
        except NeedFrames:
            pass
        finally:
            self._lock.release()

    # -- rendering ----------------------------------------------------------------------

    def render(self, index: int, on_progress: FractionCallback | None = None,
               cancelled: Callable[[], bool] | None = None) -> np.ndarray:
        """Frame ``index`` filled: float32 H x W x C as ``read`` gives it (alpha unchanged).

        Raises :class:`NeedFrames` if ``read`` did (nothing done is lost: the next call goes
        on from there), :class:`flowfill.Cancelled` once ``cancelled()`` is True, InputError
        for bad frames or masks."""
        self._check_index(index)
        with self._lock:
            scanning = self._plan is None
            if scanning:
                self._prepare(_scaled(on_progress, 0.0, 0.1), cancelled)
                on_progress = _scaled(on_progress, 0.1, 1.0)
            assert self._plan is not None
            k = window_of(self._plan, index)
            todo = [w for w in self._windows_for(k, index - self._plan[k].start)
                    if w not in self._raw]
            for n, w in enumerate(todo):
                self._fill(w, _fraction(on_progress, n, len(todo),
                                        stage_spans(self.options.rounds)), cancelled)
            values = self._value(k, index - self._plan[k].start)
            item = self._item(index)
            if on_progress is not None:
                on_progress(1.0, "done")
            return finished(item, values, self.options)

    def close(self) -> None:
        """Drop everything the shot holds (cached results, reference frames)."""
        with self._lock:
            self._raw.clear()
            self._refs.clear()
            self._references = None

    # -- internals ----------------------------------------------------------------------

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.count:
            raise InputError(None, f"frame {index} is outside the clip (0..{self.count - 1})")

    def _item(self, i: int) -> Item:
        frame, mask = self._read(i)
        item = make_item(i, frame, mask, self.options, self._shape)
        self._shape = item.frame.shape[:2]
        return item

    def _prepare(self, on_progress: FractionCallback | None,
                 cancelled: Callable[[], bool] | None) -> None:
        """Finish the scan (cuts, hole areas), read the reference picks, make the plan."""
        if self._plan is not None:
            return
        scan = self._scan
        assert scan is not None
        for i in range(len(scan.areas), self.count):
            check_cancelled(cancelled)
            item = self._item(i)
            scan.detector.push(item.rgb, item.hole)
            if i >= 2 and scan.detector.is_cut(i - 1):
                scan.cuts.append(i - 1)
            scan.areas.append(int(item.hole.sum()))
            if on_progress is not None:
                on_progress((i + 1) / self.count, "scan")
        if self._picks is None:
            last = self.count - 1
            if last >= 1 and scan.detector.is_cut(last, final=True):
                scan.cuts.append(last)
            shots = shots_from_cuts(self.count, scan.cuts)
            self._picks = pick(np.asarray(scan.areas), shots, self.options.reference_frames,
                               self.options.window)
        for p in self._picks:
            if p not in self._refs:
                item = self._item(p)
                self._refs[p] = Reference(p, item.frame, item.hole, item.mask)
        shots = shots_from_cuts(self.count, scan.cuts)
        self._references = ReferenceFrames([self._refs[p] for p in self._picks], shots)
        self._plan = plan_windows(self.count, scan.cuts, self.options.window,
                                  self.options.overlap)
        self.cuts = list(scan.cuts)
        self._scan = None

    def _windows_for(self, k: int, j: int) -> list[int]:
        """The windows whose fill the output of position ``j`` of window ``k`` depends on."""
        assert self._plan is not None
        w = self._plan[k]
        if w.only_carry:
            return self._windows_for(k - 1, self._plan[k - 1].keep + j)
        if j < w.carry:
            return [*self._windows_for(k - 1, self._plan[k - 1].keep + j), k]
        return [k]

    def _value(self, k: int, j: int) -> np.ndarray:
        """The output values (inside the mask) of position ``j`` of window ``k``: its own fill,
        blended in the overlap with the previous window's value, as ``remove_stream`` does."""
        assert self._plan is not None
        w = self._plan[k]
        if w.only_carry:
            return self._value(k - 1, self._plan[k - 1].keep + j)
        raw = self._raw_window(k)[j]
        if j >= w.carry:
            return raw
        return fade(self._value(k - 1, self._plan[k - 1].keep + j), raw, j, w.carry)

    def _raw_window(self, k: int) -> list[np.ndarray]:
        if k not in self._raw:
            self._fill(k, None, None)
        self._raw.move_to_end(k)
        return self._raw[k]

    def _fill(self, k: int, on_progress: Callable[[str, int, int | None], None] | None,
              cancelled: Callable[[], bool] | None) -> None:
        assert self._plan is not None
        w = self._plan[k]
        check_cancelled(cancelled)
        items = [self._item(t) for t in range(w.start, w.stop)]
        progress = hooked(Progress(enabled=False, total=len(items)), on_progress, cancelled)
        filled = fill_values(items, self.options, progress, self._estimator, self.clock,
                             self._references)
        del items
        self._raw[k] = filled.values
        self.windows_filled += 1
        while len(self._raw) > self._cache_size:
            self._raw.popitem(last=False)
        give_back_memory()


def _fraction(on_progress: FractionCallback | None, n: int, total: int,
              spans: dict[str, tuple[float, float]]) -> Callable[[str, int, int | None],
                                                               None] | None:
    """A stage listener for the ``n``-th of ``total`` window fills of one render that reports
    the render's overall fraction (``spans``: ``stage_spans``; any other stage, such as an
    image fill's, reports where the fill stands, so the fraction never goes back)."""
    if on_progress is None:
        return None
    reached = [float(n) / total]

    def listener(stage: str, done: int, stage_total: int | None) -> None:
        if stage in spans:
            lo, hi = spans[stage]
            part = min(1.0, done / stage_total) if stage_total else 0.0
            reached[0] = max(reached[0], (n + lo + (hi - lo) * part) / total)
        on_progress(reached[0], stage)

    return listener


def _scaled(on_progress: FractionCallback | None, lo: float,
            hi: float) -> FractionCallback | None:
    """``on_progress`` with fractions mapped into [lo, hi] (a part of one render)."""
    if on_progress is None:
        return None
    return lambda fraction, stage: on_progress(lo + (hi - lo) * fraction, stage)
