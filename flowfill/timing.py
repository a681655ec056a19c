"""Seconds per pipeline stage, summed over a run, for the summary line and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

STAGES = ("flow", "completion", "propagation", "fusion", "hallucination")
"""The stages timed inside a window, in pipeline order; the rest of a run is reading, writing,
mask preparation and stitching."""


@dataclass
class StageClock:
    """Accumulates wall time per named stage; ``with clock("flow"): ...``."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._add(stage, time.perf_counter() - t0)

    def _add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def add(self, seconds: dict[str, float], scale: float = 1.0) -> None:
        """Add another clock's ``seconds`` times ``scale`` (work timed on several threads at
        once, scaled down to the wall time it took: ``flowfill.parallel``)."""
        for stage, value in seconds.items():
            self._add(stage, value * scale)

    def shares(self, total: float) -> dict[str, float]:
        """Each stage's fraction of ``total`` seconds, plus ``other`` for the remainder."""
        out = {k: v / total for k, v in self.seconds.items()} if total > 0 else {}
        if total > 0:
            out["other"] = max(0.0, 1.0 - sum(out.values()))
        return out
