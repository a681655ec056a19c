"""The windows a clip is cut into: one definition of the work for every way of running it.

``remove_stream`` builds its windows as frames stream in; random-access renderers (the render
server, the VapourSynth filter) need to know up front which window outputs a frame. Both follow
the rule written here, and ``tests/test_shot.py`` checks that they agree frame for frame:

- a shot (frames between hard cuts) is cut into windows of ``window`` frames, consecutive
  windows sharing ``overlap`` frames; a window outputs the frames up to where the next one
  starts, and its first ``overlap`` frames are blended with the previous window's values;
- the last window of a shot takes what is left (fewer frames), and outputs all of it;
- when only overlap frames are left after a full window, they are output from the values the
  previous window computed for them (no window of their own).

:class:`Planner` applies the rule as frames stream in (``remove_stream`` without a scan);
:func:`plan` applies it to a scanned clip and adds what each window needs besides its own
frames (its shot, the clip-global indices of its reference frames), so the same list of work
can be run here or on other machines (``flowfill.dist``) and stitched in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from flowfill.options import Options


@dataclass(frozen=True)
class Window:
    """Frames ``start`` to ``stop - 1`` of the clip, filled together; the first ``keep`` are
    output by this window, and the first ``carry`` of those are blended with the previous
    window's values for them (0 at the start of a shot)."""

    start: int
    stop: int
    keep: int
    carry: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def only_carry(self) -> bool:
        """Nothing but the previous window's overlap is left: output its values as they are."""
        return self.size <= self.carry

    def outputs(self, index: int) -> bool:
        return self.start <= index < self.start + self.keep


def shots_from_cuts(count: int, cuts: Iterable[int]) -> list[tuple[int, int]]:
    """The shots [start, stop) of a clip of ``count`` frames with hard cuts before ``cuts``."""
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < count), count]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


class Planner:
    """The module's rule as frames arrive: ``push`` each frame's index (with whether a hard cut
    lies before it) and get the windows that frame completes; ``finish`` gives the last one."""

    def __init__(self, window: int, overlap: int) -> None:
        if window < 2 or not 0 <= overlap < window:
            raise ValueError(f"bad window {window} / overlap {overlap}")
        self.window, self.overlap = window, overlap
        self.start = 0  # first frame of the window being gathered
        self.carry = 0  # how many of its frames the previous window also filled

    def push(self, index: int, cut: bool = False) -> list[Window]:
        """The windows that are complete once frame ``index`` (the next one) is known."""
        out: list[Window] = []
        if cut and index > self.start:  # the shot ends before this frame: its rest is one window
            out.append(Window(self.start, index, index - self.start, self.carry))
        if cut:
            self.start, self.carry = index, 0
        if index + 1 - self.start >= self.window:
            w, o = self.window, self.overlap
            out.append(Window(self.start, self.start + w, w - o, self.carry))
            self.start, self.carry = self.start + w - o, o
        return out

    def finish(self, count: int) -> list[Window]:
        """The last window of a clip of ``count`` frames (none when nothing is left)."""
        if count <= self.start:
            return []
        return [Window(self.start, count, count - self.start, self.carry)]


def plan_windows(count: int, cuts: Iterable[int], window: int, overlap: int) -> list[Window]:
    """The windows of a clip of ``count`` frames, in order (see the module's rule)."""
    planner = Planner(window, overlap)
    cut_set = {c for c in cuts if 0 < c < count}
    plan: list[Window] = []
    for i in range(count):
        plan.extend(planner.push(i, i in cut_set))
    return plan + planner.finish(count)


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
                picks.append(int(a) + int(np.argmin(areas[a:b])))
    return picks


def shot_of(shots: Sequence[tuple[int, int]], index: int) -> tuple[int, int]:
    """The shot [start, stop) that holds frame ``index``."""
    for a, b in shots:
        if a <= index < b:
            return a, b
    raise IndexError(f"frame {index} is outside the clip")


def references_for(picks: Sequence[int], shots: Sequence[tuple[int, int]], first: int,
                   last: int) -> list[int]:
    """The reference frames a window of frames ``first..last`` takes: the picks of its own
    shot that lie outside it, in the picks' order (clip-global indices)."""
    try:
        a, b = shot_of(shots, first)
    except IndexError:
        a, b = first, last + 1
    return [p for p in picks if a <= p < b and not first <= p <= last]


def shot_picks(picks: Sequence[int], shots: Sequence[tuple[int, int]],
               index: int) -> list[int]:
    """The picks of the shot holding frame ``index`` (none for a frame outside ``shots``)."""
    try:
        a, b = shot_of(shots, index)
    except IndexError:
        return []
    return [p for p in picks if a <= p < b]


@dataclass(frozen=True)
class Work:
    """One window of a plan with all it needs besides its frames: its shot [start, stop), the
    clip-global indices of the reference frames it takes as extra sources, and all its shot's
    picks (inside the window or among its references: every window of a shot chooses the same
    anchor from them, ``pipeline.shared_anchor``)."""

    window: Window
    shot: tuple[int, int]
    references: tuple[int, ...]
    picks: tuple[int, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The work of one clip: its windows in output order, with the cuts, reference picks and
    options they were planned with."""

    count: int
    cuts: tuple[int, ...]
    picks: tuple[int, ...]
    options: Options
    works: tuple[Work, ...]

    @property
    def shots(self) -> list[tuple[int, int]]:
        return shots_from_cuts(self.count, self.cuts)

    @property
    def to_fill(self) -> list[Work]:
        """The works that fill frames (a window of only overlap frames takes the previous
        window's values)."""
        return [w for w in self.works if not w.window.only_carry]


def reference_picks(areas: Sequence[int] | np.ndarray, shots: list[tuple[int, int]],
                    options: Options) -> list[int]:
    """The clip's reference frames (``options.reference_frames`` per shot longer than a
    window), from each frame's hole size in pixels."""
    if not options.reference_frames or len(areas) <= options.window:
        return []
    return pick(np.asarray(areas), shots, options.reference_frames, options.window)


def plan(areas: Sequence[int] | np.ndarray, cuts: Iterable[int], options: Options) -> Plan:
    """The windows the pipeline runs on a scanned clip: ``areas`` holds each frame's hole size
    in pixels (its length is the clip's), ``cuts`` the frames a hard cut lies before."""
    count = len(areas)
    cuts = tuple(sorted(c for c in set(cuts) if 0 < c < count))
    shots = shots_from_cuts(count, cuts)
    picks = reference_picks(areas, shots, options)
    works = tuple(
        Work(w, shot_of(shots, w.start), tuple(references_for(picks, shots, w.start, w.stop - 1)),
             tuple(shot_picks(picks, shots, w.start)))
        for w in plan_windows(count, cuts, options.window, options.overlap)
    )
    return Plan(count, cuts, tuple(picks), options, works)


def window_of(plan: list[Window], index: int) -> int:
    """The position in ``plan`` of the window that outputs frame ``index``."""
    for k, w in enumerate(plan):
        if w.outputs(index):
            return k
    raise IndexError(f"frame {index} is outside the clip")
