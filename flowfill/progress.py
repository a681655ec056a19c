"""Progress bars, one per stage, that ``--quiet`` silences."""

from __future__ import annotations

import sys
from typing import Protocol


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


class _NullBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass
