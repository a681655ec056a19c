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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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


def plan_windows(count: int, cuts: Iterable[int], window: int, overlap: int) -> list[Window]:
    """The windows of a clip of ``count`` frames, in order (see the module's rule)."""
    if window < 2 or not 0 <= overlap < window:
        raise ValueError(f"bad window {window} / overlap {overlap}")
    plan: list[Window] = []
    for a, b in shots_from_cuts(count, cuts):
        start, carry = a, 0
        while b - start >= window:
            plan.append(Window(start, start + window, window - overlap, carry))
            start, carry = start + window - overlap, overlap
        if b > start:
            plan.append(Window(start, b, b - start, carry))
    return plan


def window_of(plan: list[Window], index: int) -> int:
    """The position in ``plan`` of the window that outputs frame ``index``."""
    for k, w in enumerate(plan):
        if w.outputs(index):
            return k
    raise IndexError(f"frame {index} is outside the clip")
