"""Optical flow backends and the forward-backward consistency check."""

from __future__ import annotations

import numpy as np

from flowfill.flow.consistency import round_trip
from flowfill.flow.dis import DISFlow, to_gray8

__all__ = ["DISFlow", "estimate", "round_trip", "to_gray8"]


def estimate(frame_a: np.ndarray, frame_b: np.ndarray, method: str = "dis") -> np.ndarray:
    """Flow from ``frame_a`` to ``frame_b`` (H x W x 3 RGB, uint8 or float), H x W x 2 (dx, dy)."""
    if method != "dis":
        raise ValueError(f"unknown flow method {method!r}")

    def gray(f: np.ndarray) -> np.ndarray:
        f = f.astype(np.float32) / 255.0 if f.dtype == np.uint8 else f.astype(np.float32)
        return to_gray8(f)

    return DISFlow()(gray(frame_a), gray(frame_b))
