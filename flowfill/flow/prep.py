"""Preparing frames for flow estimation and bringing flow back: range, proxy size, vectors."""

from __future__ import annotations

import cv2
import numpy as np


def to_unit_rgb(frame: np.ndarray) -> np.ndarray:
    """Float32 RGB in [0, 1] from uint8 or float frames; HDR highlights compressed, not clipped."""
    if frame.dtype == np.uint8:
        return frame.astype(np.float32) / 255.0
    rgb = np.maximum(np.asarray(frame, dtype=np.float32), 0)
    if rgb.max() > 1.0:  # scene-linear float: compress highlights (Reinhard) instead of clipping
        return rgb / (1.0 + rgb)
    return rgb


def proxy_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """(h, w) of the proxy on which flow is estimated: the long side at most ``max_side``."""
    if not max_side or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_proxy(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` (h, w) by area averaging (unchanged when already that size)."""
    if image.shape[:2] == size:
        return image
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def from_proxy(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A proxy flow (h x w x 2) resized to ``size`` (H, W) with its vectors scaled to match."""
    h, w = flow.shape[:2]
    if (h, w) == size:
        return flow
    out = cv2.resize(flow, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= size[1] / w
    out[..., 1] *= size[0] / h
    return out
