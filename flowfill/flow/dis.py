"""Dense inverse search optical flow (OpenCV), the CPU default."""

from __future__ import annotations

import cv2
import numpy as np

from flowfill.flow.prep import tone_curve


def to_gray8(frame: np.ndarray, tone: str = "display") -> np.ndarray:
    """8-bit luma of an RGB frame for flow estimation, through the run's fixed tone curve
    (``flowfill.options.FLOW_TONES``)."""
    if frame.dtype == np.uint8:
        frame = frame.astype(np.float32) / np.float32(255.0)
    luma = tone_curve(frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114, tone)
    return np.clip(luma * 255.0 + 0.5, 0, 255).astype(np.uint8)


class DISFlow:
    """DIS flow with the medium preset; one instance serves all pairs of a run."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM) -> None:
        self._dis = cv2.DISOpticalFlow_create(preset)

    def __call__(self, gray_a: np.ndarray, gray_b: np.ndarray) -> np.ndarray:
        """Flow from ``gray_a`` to ``gray_b`` on a's grid, float32 H x W x 2 (dx, dy) in pixels."""
        return self._dis.calc(gray_a, gray_b, None)
