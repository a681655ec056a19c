"""Stabilisation benchmark: a handheld shake laid over each clip, taken out again by
``flowfill stabilise`` (fill mode), and the camera shake measured before and after."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowfill.evaluate.clips import EvalClip
from flowfill.evaluate.shake import shake_frames

BLACK = 2 / 255
"""A pixel darker than this in every channel, where the warp uncovered it, is a border left."""


@dataclass
class StabiliseResult:
    """Shake in and out (px RMS), what the warps uncovered, what is left black, and speed."""

    clip: str
    frames: int
    jitter_in: float
    jitter_out: float
    uncovered_percent: float
    black_left: int
    seconds: float

    @property
    def reduction(self) -> float:
        """How many times less shake the output has."""
        return self.jitter_in / max(self.jitter_out, 1e-9)

    def as_dict(self) -> dict[str, Any]:
        return {"clip": self.clip, "frames": self.frames, "jitter_in_px": self.jitter_in,
                "jitter_out_px": self.jitter_out, "reduction": self.reduction,
                "uncovered_percent": self.uncovered_percent, "black_left": self.black_left,
                "seconds_per_frame": self.seconds / max(self.frames, 1)}


def run_stabilise(clip: EvalClip, options: dict[str, Any], seed: int = 0,
                  bars: bool = False) -> StabiliseResult:
    """Shake ``clip``'s truth, stabilise it with flowfill (fill mode, ``options`` for the
    engine; ``bars``: its progress bars on stderr) and measure the shake of both (the same
    tracker measures each)."""
    from flowfill.options import Options
    from flowfill.progress import Progress
    from flowfill.stabilise.render import warp_frame
    from flowfill.stabilise.stream import measure_path, plan_warps, stabilised

    clip_seed = seed ^ (zlib.crc32(f"{clip.name}/shake".encode()) & 0xFFFF)
    shaky = shake_frames(clip.truth, seed=clip_seed, shift=0.03, degrees=1.0)
    t0 = time.perf_counter()
    path = measure_path(shaky)
    warps, _ = plan_warps(path, "fill")
    with Progress(enabled=bars, total=len(shaky)) as progress:
        out = np.stack(list(stabilised(shaky, warps, "fill", Options.from_kwargs(**options),
                                       progress=progress)))
    seconds = time.perf_counter() - t0
    uncovered = np.stack([warp_frame(f, w)[1] for f, w in zip(shaky, warps, strict=True)])
    black = uncovered & (out[..., :3] < BLACK).all(axis=-1)
    return StabiliseResult(clip.name, len(shaky), path.jitter(), measure_path(out).jitter(),
                           100.0 * float(uncovered.mean()), int(black.sum()), seconds)


HEADER = (f"{'clip':<12}{'n':>4}{'shake in px':>13}{'shake out px':>14}{'reduction':>11}"
          f"{'uncovered%':>12}{'black left':>12}{'s/frame':>9}")


def format_result(r: StabiliseResult) -> str:
    """One row of the stabilisation table."""
    return (f"{r.clip:<12}{r.frames:>4}{r.jitter_in:>13.2f}{r.jitter_out:>14.2f}"
            f"{r.reduction:>10.1f}x{r.uncovered_percent:>12.2f}{r.black_left:>12d}"
            f"{r.seconds / max(r.frames, 1):>9.3f}")
