"""Thinning of a binary region to one-pixel lines (Zhang-Suen), with or without OpenCV contrib.

OpenCV's ``cv2.ximgproc.thinning`` lives in the contrib build; hosts such as ComfyUI or a GPU
image often carry the plain ``opencv-python`` instead, which shadows it. The numpy version
below computes the same lines (the tests compare the two pixel for pixel), so the image-edge
guide works either way.
"""

from __future__ import annotations

import cv2
import numpy as np


def thin(region: np.ndarray) -> np.ndarray:
    """One-pixel-wide skeleton (bool H x W) of ``region`` (bool H x W), Zhang-Suen's rule;
    pixels on the image's outer rows and columns are never removed, as in OpenCV."""
    ximgproc = getattr(cv2, "ximgproc", None)
    if ximgproc is not None:
        return ximgproc.thinning(region.astype(np.uint8) * 255) > 0
    return zhang_suen(region)


def zhang_suen(region: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning in numpy, each sub-iteration on the whole image at once."""
    img = region.astype(bool).copy()
    if img.shape[0] < 3 or img.shape[1] < 3:
        return img
    while True:
        before = img.copy()
        for step in (0, 1):
            c = img[1:-1, 1:-1]
            p2, p3, p4 = img[:-2, 1:-1], img[:-2, 2:], img[1:-1, 2:]
            p5, p6, p7 = img[2:, 2:], img[2:, 1:-1], img[2:, :-2]
            p8, p9 = img[1:-1, :-2], img[:-2, :-2]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            pairs = zip(ring[:-1], ring[1:], strict=True)
            changes = sum((~a & b).astype(np.uint8) for a, b in pairs)
            count = sum(p.astype(np.uint8) for p in ring[:-1])
            if step == 0:
                keep_a, keep_b = p2 & p4 & p6, p4 & p6 & p8
            else:
                keep_a, keep_b = p2 & p4 & p8, p2 & p6 & p8
            remove = c & (changes == 1) & (count >= 2) & (count <= 6) & ~keep_a & ~keep_b
            img[1:-1, 1:-1] = c & ~remove
        if np.array_equal(img, before):
            return img
