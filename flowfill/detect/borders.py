"""The constant-colour border that stabilisation leaves around a warped frame, found per frame."""

from __future__ import annotations

import cv2
import numpy as np

TOLERANCE = 3 / 255
"""Default per-channel distance from the border colour that still counts as border: H.264 black
borders come back within 1-2 levels of 0, while noisy dark picture strays further."""

MAX_SHARE = 0.5
"""A 'border' over more of the frame than this is picture (a dark frame of a fade, a title on
black): no stabilisation leaves less than half the frame."""

MOST_INSIDE = 0.1
"""Largest share of a border region that may lie more than a pixel inside the convex outline of
the picture: a warped frame is convex, so its border lies outside."""

MIN_AREA = 4
"""Fewest pixels in a border region: a few dark pixels on the frame's edge are picture."""

_SQUARE = np.ones((3, 3), np.uint8)


def border_mask(frame: np.ndarray, colour: tuple[float, float, float] = (0.0, 0.0, 0.0),
                tolerance: float = TOLERANCE) -> np.ndarray:
    """Bool H x W, True = border: where a stabilised (warped) frame shows no picture.

    ``frame`` is float32 H x W x 3 (a 4th, alpha, channel is ignored) in [0, 1] scale, ``colour``
    the border's in the same scale. A pixel is *flat* when every channel is within ``tolerance``
    of ``colour``. The border is the flat pixels that see a frame edge along their row or column
    through flat pixels only (a warped frame is convex, so every pixel outside it does), in
    connected regions of at least ``MIN_AREA`` pixels that lie outside the convex outline of the
    rest, the picture: dark spots of a real picture at an edge (shadows, night) lie inside that
    outline and are no border. A frame that is mostly flat (a black frame of a fade) is all
    picture: its mask is empty.

    The mask then grows by one pixel (3 x 3) into the picture: a warped frame's outermost pixels
    are blends of picture and border (bilinear interpolation), right in neither, and are filled
    too.
    """
    rgb = np.ascontiguousarray(frame[:, :, :3], np.float32)
    low, high = [tuple(float(c) + d for c in colour) for d in (-tolerance, tolerance)]
    flat = cv2.inRange(rgb, low, high) > 0
    height, width = flat.shape
    cols, rows = np.arange(width), np.arange(height)[:, None]
    seen = ((cols < _lead(flat, 1)[:, None]) | (cols >= width - _lead(flat[:, ::-1], 1)[:, None])
            | (rows < _lead(flat, 0)) | (rows >= height - _lead(flat[::-1], 0)))
    share = np.count_nonzero(seen) / seen.size
    if share == 0 or share > MAX_SHARE:
        return np.zeros(flat.shape, bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(seen.view(np.uint8), connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    # more than a pixel inside the picture's outline, which the frame's own edge bounds too
    deep = cv2.erode(_outline(~seen), _SQUARE, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    inside = np.bincount(labels[seen & deep.view(bool)], minlength=count)
    keep = (area >= MIN_AREA) & (inside <= MOST_INSIDE * area)
    keep[0] = False  # label 0: the picture
    return cv2.dilate(keep[labels].view(np.uint8), _SQUARE).view(bool)


def _lead(flat: np.ndarray, axis: int) -> np.ndarray:
    """Length of the flat run at the start of each line of ``flat`` along ``axis``."""
    return np.where(flat.all(axis), flat.shape[axis], flat.argmin(axis))


def _outline(picture: np.ndarray) -> np.ndarray:
    """uint8 H x W, 1 inside the convex hull of ``picture``'s pixels (each row's ends suffice)."""
    rows = np.flatnonzero(picture.any(axis=1))
    first = picture[rows].argmax(axis=1)
    last = picture.shape[1] - 1 - picture[rows, ::-1].argmax(axis=1)
    points = np.concatenate([np.stack([first, rows], 1), np.stack([last, rows], 1)])
    hull = cv2.convexHull(points.astype(np.int32))
    return cv2.fillConvexPoly(np.zeros(picture.shape, np.uint8), hull, 1)
