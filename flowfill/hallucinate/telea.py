"""Telea fast-marching inpainting (OpenCV): the baseline fill for pixels no frame saw."""

from __future__ import annotations

import cv2
import numpy as np


def fill(image: np.ndarray, mask: np.ndarray, device: str = "cpu", seed: int = 0,
         budget: float | None = None, progress: object = None) -> np.ndarray:
    """Fill ``mask`` (bool H x W) of ``image`` (float32 H x W x C) by Telea's method, radius 3.

    Works per channel in float32, so 16-bit and HDR values keep their precision and range;
    ``device``, ``seed``, ``budget`` and ``progress`` are accepted for the common fill
    interface (Telea is CPU-only and deterministic). Cost follows the hole: only a margin
    around its bounding box is processed.
    """
    out = image.copy()
    if not mask.any():
        return out
    ys, xs = np.nonzero(mask)
    margin = 8
    y0, y1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, mask.shape[0])
    x0, x1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, mask.shape[1])
    inner = mask[y0:y1, x0:x1]
    crop_mask = inner.astype(np.uint8)
    known = image[y0:y1, x0:x1][~inner]
    # OpenCV's float Telea is only well behaved on a 0..255 range: scale there and back, from
    # whatever range the picture has (a dark linear plate's 0..0.003 as much as HDR's 0..40)
    peak = float(np.abs(known).max()) if known.size else 0.0
    scale = 255.0 / peak if peak > 0 else 1.0
    for ch in range(image.shape[2]):
        crop = np.ascontiguousarray(image[y0:y1, x0:x1, ch], dtype=np.float32) * scale
        crop[inner] = 0.0
        res = cv2.inpaint(crop, crop_mask, 3, cv2.INPAINT_TELEA)
        out[y0:y1, x0:x1, ch][inner] = res[inner] / scale
    return out
