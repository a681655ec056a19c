"""A frame's hole smoothed over before flow is estimated on it.

Whatever sits in the hole (a logo, burnt-in text, the benchmark's grey blank, an object) is
no part of the background whose motion the fill needs. Left in, a static logo's sharp edges
pull the flow around it towards zero (an object's, towards its own motion), well past the flow
mask's margin, and the completion then interpolates that error into the hole. Filled with a
smooth guess from the pixels around it, the hole has no texture of its own: the flow's
regularisation carries the surrounding motion across it (RESULTS.md, issue 16).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

_MIN_SIDE = 4
"""The push-pull pyramid stops when its short side would fall below this."""

_MARGIN = 24
"""Known pixels kept around the hole's bounding box (proxy pixels; more for a larger hole)."""


def smooth_over(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``image`` (H x W [x C], float) with the pixels under ``hole`` (H x W bool) replaced by a
    push-pull fill of the known pixels: each level averages the known values of the one below,
    weighted by how much of it was known, and the hole takes the coarsest level that covers it,
    blended upwards. Linear in the pixel count; the known pixels are returned unchanged."""
    if image.shape[:2] != hole.shape:
        raise ValueError(f"hole {hole.shape} does not match image {image.shape[:2]}")
    if not hole.any():
        return image
    if hole.all():
        return image  # nothing known to fill from: the flow sees the frame as it is
    ys, xs = np.nonzero(hole)
    h, w = hole.shape
    margin = max(_MARGIN, int(np.ptp(ys) + np.ptp(xs)) // 4)
    y0, y1 = max(0, ys.min() - margin), min(h, ys.max() + 1 + margin)
    x0, x1 = max(0, xs.min() - margin), min(w, xs.max() + 1 + margin)
    out = np.array(image, dtype=np.float32, copy=True)
    crop = (slice(y0, y1), slice(x0, x1))
    out[crop] = _push_pull(out[crop], hole[crop], lambda: out[~hole].mean(axis=0))
    return out.astype(image.dtype, copy=False)


def _push_pull(img: np.ndarray, hole: np.ndarray,
               known_mean: Callable[[], np.ndarray]) -> np.ndarray:
    """The push-pull fill of ``img``'s ``hole`` (``known_mean``: the frame's mean known value,
    asked for only by a hole wider than the coarsest level)."""
    weight = (~hole).astype(np.float32)
    nums, dens = [img * _expand(weight, img)], [weight]
    while min(dens[-1].shape[:2]) // 2 >= _MIN_SIDE:
        nums.append(cv2.pyrDown(nums[-1]))
        dens.append(cv2.pyrDown(dens[-1]))
    value = _ratio(nums[-1], dens[-1], img)
    empty = dens[-1] <= 1e-6
    if empty.any():  # a hole wider than the coarsest level: its mean known value
        value[empty] = known_mean()
    for num, den in zip(reversed(nums[:-1]), reversed(dens[:-1]), strict=True):
        size = (den.shape[1], den.shape[0])
        coarse = cv2.pyrUp(value, dstsize=size)
        coarse = coarse.reshape(num.shape)
        here = _ratio(num, den, img)
        trust = _expand(np.clip(den * 2.0, 0.0, 1.0), img)  # half known: this level decides
        value = trust * here + (1.0 - trust) * coarse
    out = img.copy()
    out[hole] = value[hole]
    return out


def _expand(weight: np.ndarray, like: np.ndarray) -> np.ndarray:
    return weight[..., None] if like.ndim == 3 else weight


def _ratio(num: np.ndarray, den: np.ndarray, like: np.ndarray) -> np.ndarray:
    d = _expand(den, like)
    return np.where(d > 1e-6, num / np.maximum(d, 1e-6), 0.0).astype(np.float32)
