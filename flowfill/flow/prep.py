"""Preparing frames for flow estimation and bringing flow back: range, proxy size, vectors."""

from __future__ import annotations

import cv2
import numpy as np

from flowfill.options import FLOW_TONES as TONES

# How frame values encode light fixes the one curve that takes them to flow's input: display
# (gamma-encoded video and images, 0..1: kept, values outside clipped) or linear (scene-linear
# light, e.g. EXR plates: x / (1 + x), which keeps highlights far above 1 apart). One curve for
# every frame of a run: a highlight in one frame never changes how that frame's other pixels
# look to the flow, as the per-frame choice it replaces did.


def check_tone(tone: str) -> str:
    if tone not in TONES:
        raise ValueError(f"unknown tone {tone!r}; choose display or linear")
    return tone


def tone_curve(values: np.ndarray, tone: str = "display") -> np.ndarray:
    """Float32 values in [0, 1] for flow from uint8 or float values (any shape), by ``tone``."""
    check_tone(tone)
    if values.dtype == np.uint8:
        return values.astype(np.float32) / np.float32(255.0)
    v = np.asarray(values, dtype=np.float32)
    if tone == "display":
        return np.clip(v, 0.0, 1.0)
    v = np.maximum(v, 0.0)
    return v / (1 + v)


def rec601_luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of RGB values (... x 3 or more channels; the first three are used)."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def to_unit_rgb(frame: np.ndarray, tone: str = "display") -> np.ndarray:
    """Float32 RGB in [0, 1] from uint8 or float frames, through the run's fixed tone curve."""
    return tone_curve(frame, tone)


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
