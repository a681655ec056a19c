"""The part of a frame a fill works on: a crop around the hole with a margin of known pixels,
normalised to 0..1 per channel and, when large, reduced to a proxy. Every fill runs through
:func:`fill_on_crop`, so its cost follows the hole, not the frame, and 16-bit or HDR frames
come back in their own range."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

MIN_MARGIN = 12
"""Known pixels kept around the hole's bounding box at least (more for large holes)."""


def crop_box(mask: np.ndarray, margin_share: float = 0.75, min_margin: int = MIN_MARGIN
             ) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the hole's bounding box grown by ``margin_share`` of its size (at least
    ``min_margin`` pixels), within the frame."""
    h, w = mask.shape
    ys = np.flatnonzero(mask.any(1))
    xs = np.flatnonzero(mask.any(0))
    my = max(min_margin, int(round(margin_share * (ys[-1] - ys[0] + 1))))
    mx = max(min_margin, int(round(margin_share * (xs[-1] - xs[0] + 1))))
    return (max(ys[0] - my, 0), min(ys[-1] + 1 + my, h), max(xs[0] - mx, 0),
            min(xs[-1] + 1 + mx, w))


def resize(image: np.ndarray, size: tuple[int, int], interpolation: int) -> np.ndarray:
    """cv2.resize to (h, w) that keeps a trailing channel axis for any channel count."""
    h, w = size
    chans = [cv2.resize(np.ascontiguousarray(image[..., c]), (w, h), interpolation=interpolation)
             for c in range(image.shape[2])]
    return np.stack(chans, axis=-1)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """cv2.GaussianBlur of each channel of an H x W x C image (any channel count), up to four
    channels a call: one call on an RGB frame is 2-3.6x quicker than three (RESULTS.md, issue
    19), within float32 rounding of them."""
    parts = [cv2.GaussianBlur(np.ascontiguousarray(image[..., c:c + 4]), (0, 0), sigma)
             for c in range(0, image.shape[2], 4)]
    parts = [p.reshape(*image.shape[:2], -1) for p in parts]  # cv2 drops a single channel's axis
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


Solver = Callable[[np.ndarray, np.ndarray], np.ndarray]


def fill_on_crop(image: np.ndarray, mask: np.ndarray, solve: Solver, max_side: int | None,
                 margin_share: float = 0.75, extra: np.ndarray | None = None) -> np.ndarray:
    """Fill ``mask`` of ``image`` (H x W x C float) by ``solve(crop, hole) -> crop``, or
    ``solve(crop, hole, extra_crop)`` when ``extra`` (H x W x S float, known everywhere, such
    as a side-of-edge embedding) is given: it is cropped and resized alongside.

    ``solve`` sees a crop normalised to 0..1 per channel over its known pixels (H' x W' x C
    float32) and its hole (bool), at most ``max_side`` pixels on its long side (a proxy,
    area-averaged; a proxy pixel is hole if any pixel under it is), and returns the crop with
    the hole filled; the result is brought back to full size (cubic), clipped to the known
    range and written into the hole only.
    """
    out = image.copy()
    if not mask.any():
        return out
    y0, y1, x0, x1 = crop_box(mask, margin_share)
    crop = image[y0:y1, x0:x1].astype(np.float32)
    hole = mask[y0:y1, x0:x1]
    known = crop[~hole]
    if known.size == 0:  # nothing to learn from: the crop's own mean (zero) is all there is
        out[y0:y1, x0:x1][hole] = 0.0
        return out
    lo, hi = known.min(0), known.max(0)
    span = np.maximum(hi - lo, 1e-6)
    norm = (crop - lo) / span
    norm[hole] = 0.0
    side = None if extra is None else np.ascontiguousarray(extra[y0:y1, x0:x1], np.float32)
    h, w = hole.shape
    scale = 1.0 if max_side is None else min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(8, round(h * scale)), max(8, round(w * scale)))
        small = resize(norm, size, cv2.INTER_AREA)
        small_hole = resize(hole[..., None].astype(np.float32), size, cv2.INTER_AREA)[..., 0] > 0
        # hole pixels of the proxy carry no colour (their area average mixed in the zeros)
        small[small_hole] = 0.0
        filled = (solve(small, small_hole) if side is None else
                  solve(small, small_hole, resize(side, size, cv2.INTER_AREA)))
        filled = resize(filled.astype(np.float32), (h, w), cv2.INTER_CUBIC)
    else:
        filled = solve(norm, hole) if side is None else solve(norm, hole, side)
    result = np.clip(filled, 0.0, 1.0) * span + lo
    out[y0:y1, x0:x1][hole] = result[hole].astype(out.dtype)
    return out
