"""Progress bars, one per stage, that ``--quiet`` silences."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from flowfill.errors import Cancelled

ProgressCallback = Callable[[str, int, "int | None"], None]
"""``on_progress(stage, done, total)``: a stage reached ``done`` of ``total`` (None: unknown)."""
CancelCheck = Callable[[], bool]
"""``cancelled()``: True once the caller wants the run stopped."""


def bars_wanted(quiet: bool) -> bool:
    """Whether a command shows progress bars: on a terminal, unless ``--quiet``."""
    return not quiet and sys.stderr is not None and sys.stderr.isatty()


class Bar(Protocol):
    def update(self, n: int = 1) -> None: ...
    def close(self) -> None: ...


class Progress:
    """Hands out one bar per stage name; the same name always returns the same bar."""

    def __init__(self, enabled: bool = True, total: int | None = None) -> None:
        self.enabled = enabled and sys.stderr is not None
        self.total = total
        self._bars: dict[str, Bar] = {}

    def bar(self, stage: str, total: int | None = None, unit: str = "f") -> Bar:
        """The bar of ``stage`` (created on first use), counting frames out of the clip total
        unless ``total`` and ``unit`` say otherwise."""
        if stage not in self._bars:
            if self.enabled:
                from tqdm import tqdm

                self._bars[stage] = tqdm(
                    total=self.total if total is None else total, desc=f"{stage:<11}",
                    unit=unit, position=len(self._bars), leave=True, dynamic_ncols=True,
                    file=sys.stderr,
                )
            else:
                self._bars[stage] = _NullBar()
        return self._bars[stage]

    def done(self, stage: str) -> None:
        """Close and forget the bar of ``stage`` (a bar per task, such as one keyframe fill)."""
        bar = self._bars.pop(stage, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def renamed(progress: Progress, names: dict[str, str]) -> Progress:
    """``progress`` with the stages in ``names`` reported under other names (a second round of
    the same stages gets bars of its own)."""
    return _RenamedProgress(progress, names)


class _RenamedProgress(Progress):
    def __init__(self, inner: Progress, names: dict[str, str]) -> None:
        super().__init__(enabled=False, total=inner.total)
        self.enabled = inner.enabled
        self.inner, self.names = inner, names

    def bar(self, stage: str, total: int | None = None, unit: str = "f") -> Bar:
        return self.inner.bar(self.names.get(stage, stage), total, unit)

    def done(self, stage: str) -> None:
        self.inner.done(self.names.get(stage, stage))

    def close(self) -> None:
        self.inner.close()


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def check_cancelled(cancelled: CancelCheck | None) -> None:
    """Raise :class:`Cancelled` if the caller's check says so."""
    if cancelled is not None and cancelled():
        raise Cancelled("cancelled")


def hooked(progress: Progress, on_progress: ProgressCallback | None,
           cancelled: CancelCheck | None) -> Progress:
    """``progress`` with every bar step also reported to ``on_progress`` and checked against
    ``cancelled`` (so a run stops within one step of a cancel); ``progress`` itself if neither.
    Steps may come from a run's frame threads, one at a time (``flowfill.parallel``); once a
    check has said stop (or raised), every later step stops without asking again."""
    if on_progress is None and cancelled is None:
        return progress
    return _HookedProgress(progress, on_progress, cancelled)


class _HookedProgress(Progress):
    def __init__(self, inner: Progress, on_progress: ProgressCallback | None,
                 cancelled: CancelCheck | None) -> None:
        super().__init__(enabled=False, total=inner.total)
        self.inner = inner
        self.on_progress = on_progress
        self.cancelled = cancelled
        self.stopped = False  # a check said so: every later step stops without asking again

    def bar(self, stage: str, total: int | None = None, unit: str = "f") -> Bar:
        if stage not in self._bars:
            self._bars[stage] = _HookedBar(self, stage, self.inner.bar(stage, total, unit),
                                           self.total if total is None else total)
        return self._bars[stage]

    def done(self, stage: str) -> None:
        self._bars.pop(stage, None)
        self.inner.done(stage)

    def close(self) -> None:
        self._bars.clear()
        self.inner.close()


class _HookedBar:
    def __init__(self, owner: _HookedProgress, stage: str, inner: Bar, total: int | None) -> None:
        self.owner, self.stage, self.inner, self.total = owner, stage, inner, total
        self.count = 0

    def update(self, n: int = 1) -> None:
        self.inner.update(n)
        self.count += n
        if self.owner.stopped:  # another thread's step was told to stop
            raise Cancelled("cancelled")
        try:
            if self.owner.on_progress is not None:
                self.owner.on_progress(self.stage, self.count, self.total)
            check_cancelled(self.owner.cancelled)
        except BaseException:  # Cancelled, or a host's own interrupt raised by its check
            self.owner.stopped = True
            raise

    def close(self) -> None:
        self.inner.close()
