"""Line defects that let the picture through: the picture taken back from under them.

A film scratch is rarely opaque: where a line lays a share ``a`` of white (or black) ``c`` over
the picture ``T``, the frame holds ``(1 - a) T + a c``, so it still carries the picture, its
detail and its grain, dimmed. The fill predicts ``T`` from the other frames, but only up to its
own error and without this frame's grain. Along a line the share changes slowly (a scratch fades
along its length), so ``a`` read off frame and fill at each pixel and taken as the median along
the line's columns is robust to the fill's error, and undoing the overlay with it gives back the
frame's own picture. Where the line is nearly opaque the fill stays. Only the mask's line-shaped
parts are unveiled; a speck of dust is too small to learn its share from.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from flowfill.flow.prep import rec601_luma

LINE_RATIO = 4.0
"""A part of the mask is a line when its height is at least this many times its mean width
(height squared over area): a scratch's mask is tens of rows long and a few pixels wide."""
RADIUS_SHARE = 1 / 30
"""Rows each way along a line (as a share of the frame's height, at least ``MIN_RADIUS``) over
which the overlay's share is taken as a median: 8 rows at 240."""
MIN_RADIUS = 4
SAMPLES = 8
"""Values each way a run's median reads at most: longer runs are read as means of a few rows."""
OPAQUE = 0.7
"""Overlay share from which the fill is kept: dividing by ``1 - a`` would multiply the error of
``a`` more than the fill errs."""
SOFT = 0.2
"""Shares from ``OPAQUE - SOFT`` to ``OPAQUE`` blend from the unveiled picture to the fill."""
STEP = 0.15
"""Medians of a column's runs above and below a pixel that differ by more than this straddle a
line's end (beyond it, nothing was laid over the picture)."""
BIAS = 0.06
"""A line whose frame the overlay leaves unexplained by more than this (median, in level or in
a channel's tint, where the frame differs from the fill most) was no white or black overlay,
and keeps the fill: on the archival benchmark's scratches it is at most 0.024."""


def line_parts(mask: np.ndarray, ratio: float = LINE_RATIO
               ) -> tuple[np.ndarray, list[tuple[int, tuple[slice, slice]]]]:
    """(labels, lines): the 8-connected parts of ``mask`` (bool H x W) and, for those that are
    lines (at least ``ratio`` times as tall as they are wide on average), (label, box)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8),
                                                               connectivity=8)
    lines = []
    for k in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[k])
        if h * h >= ratio * area:
            lines.append((k, (slice(y, y + h), slice(x, x + w))))
    return labels, lines


def column_median(values: np.ndarray, radius: int) -> np.ndarray:
    """Each pixel's median of its column of ``values`` (h x w, NaN where unknown) over the run
    of ``2 radius + 1`` rows centred on it, ignoring NaN (NaN where none is known); where the
    runs ending and starting at it differ by more than ``STEP`` (a line's end), the median of
    the three nearest its own value, so rows beyond the end do not get the line's share. Runs
    longer than ``2 SAMPLES + 1`` rows are read as that many means of a few rows each (the
    share changes slowly; a median of them is as steady as the whole run's, for less work)."""
    h = values.shape[0]
    stride = max(1, radius // SAMPLES)
    k = 2 * radius // stride  # the pixel's own row in the stack
    half = k // 2
    reach = k * stride
    if stride == 1:
        padded = np.pad(values, ((reach, reach), (0, 0)), constant_values=np.nan)
        stack = np.stack([padded[reach + d:reach + d + h] for d in range(-reach, reach + 1)])
    else:  # each sample the mean of the rows between it and the next
        stack = _block_means(values, range(-reach, reach + 1, stride), stride)
    runs = np.stack([_nanmedian(stack[k - half:k + half + 1]), _nanmedian(stack[:k + 1]),
                     _nanmedian(stack[k:])])  # centred first, then ending and starting at it
    off = np.abs(runs - values)
    off[np.isnan(off)] = np.inf
    pick = np.argmin(off, axis=0)  # the centred run where the pixel's own value is unknown
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        step = (np.nanmax(runs, axis=0) - np.nanmin(runs, axis=0)) > STEP
    return np.where(step, np.take_along_axis(runs, pick[None], axis=0)[0], runs[0])


def _block_means(values: np.ndarray, offsets: range, size: int) -> np.ndarray:
    """For each of ``offsets`` and each pixel of ``values`` (h x w, NaN unknown), the mean of
    the known values of its column in the ``size`` rows centred that many rows away (NaN where
    none is known): len(offsets) x h x w."""
    h, w = values.shape
    known = ~np.isnan(values)
    total = np.zeros((h + 1, w))
    np.cumsum(np.where(known, values, 0.0), axis=0, dtype=np.float64, out=total[1:])
    count = np.zeros((h + 1, w), np.int64)
    np.cumsum(known, axis=0, out=count[1:])
    out = np.empty((len(offsets), h, w), values.dtype)
    for i, offset in enumerate(offsets):
        rows = np.arange(h) + offset - size // 2
        start, stop = np.clip(rows, 0, h), np.clip(rows + size, 0, h)
        n = count[stop] - count[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = np.where(n > 0, (total[stop] - total[start]) / n, np.nan)
    return out


def _nanmedian(stack: np.ndarray) -> np.ndarray:
    """The median over the first axis ignoring NaN (NaN where all are), as ``np.nanmedian``
    gives it, by one sort (NaN sorts last) instead of its slow path for many short columns."""
    ordered = np.sort(stack, axis=0)
    count = np.count_nonzero(~np.isnan(stack), axis=0)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]
    return np.where(count > 0, np.mean([low, high], axis=0), np.nan).astype(stack.dtype)


def unveil_lines(frame: np.ndarray, mask: np.ndarray, values: np.ndarray,
                 valid: np.ndarray | None = None, radius: int | None = None) -> np.ndarray:
    """``values`` (the fill of ``mask``'s pixels, m x 3, in ``frame``'s order of them) with the
    pixels of the mask's line-shaped parts recovered from ``frame`` (H x W x 3 or 4) by undoing
    a white or black overlay whose share is estimated along the line; the rest unchanged.
    ``valid`` (H x W) marks the frame's usable pixels (NaN and Inf ones are not read)."""
    mask = np.asarray(mask, dtype=bool)
    values = np.asarray(values)
    if values.size == 0 or not mask.any():
        return values
    labels, lines = line_parts(mask)
    if not lines:
        return values
    if radius is None:
        radius = max(MIN_RADIUS, int(round(RADIUS_SHARE * mask.shape[0])))
    out = values.copy()
    row_start = np.concatenate([[0], np.cumsum(np.count_nonzero(mask, axis=1))])
    for k, crop in lines:
        part = labels[crop] == k
        if valid is not None:
            part &= np.asarray(valid, bool)[crop]
        if not part.any():
            continue
        # each pixel's place in values: the mask's pixels in raster order
        ys, xs = crop
        left = np.count_nonzero(mask[ys, :xs.start], axis=1) + row_start[ys.start:ys.stop]
        rows = (left[:, None] + np.cumsum(mask[crop], axis=1) - 1)[part]
        seen = np.asarray(frame[crop][..., :3], np.float32)[part]
        fill = out[rows].astype(np.float32)
        out[rows] = _unveil(seen, fill, part, radius).astype(out.dtype)
    return out


def _unveil(seen: np.ndarray, fill: np.ndarray, part: np.ndarray, radius: int) -> np.ndarray:
    """One line's pixels (``seen`` in the frame, ``fill`` predicted, n x 3, in ``part``'s
    order): the overlay's colour from the line's side of the fill, its share per pixel by
    projecting frame minus fill onto colour minus fill, taken as the column median, undone."""
    bright = float(rec601_luma(seen - fill).sum()) > 0
    colour = max(1.0, float(seen.max())) if bright else min(0.0, float(seen.min()))
    towards = colour - fill
    power = (towards * towards).sum(axis=1)
    share = np.full(part.shape, np.nan, np.float32)
    share[part] = np.where(power > 1e-6, ((seen - fill) * towards).sum(axis=1)
                           / np.maximum(power, 1e-6), np.nan)
    share = column_median(share, radius)[part]
    share = np.clip(np.where(np.isfinite(share), share, 1.0), 0.0, 1.0)[:, None]
    if not _overlay(seen, fill, share, colour):
        return fill
    picture = (seen - share * colour) / np.maximum(1.0 - share, 1.0 - OPAQUE)
    picture = np.clip(picture, min(0.0, float(seen.min())), max(1.0, float(seen.max())))
    weight = np.clip((OPAQUE - share) / SOFT, 0.0, 1.0)
    return weight * picture + (1.0 - weight) * fill


def _overlay(seen: np.ndarray, fill: np.ndarray, share: np.ndarray, colour: float) -> bool:
    """Whether white or black laid over the fill by ``share`` (n x 1) explains the line
    (``seen``, n x 3) where it differs from the fill most (the half that differs more): what is
    left unexplained there is the fill's error and the grain, with no tint or level of its own
    (a coloured scratch, an object masked with --unveil on, leaves one)."""
    left = seen - (1.0 - share) * fill - share * colour
    differ = np.abs(seen - fill).max(axis=1)
    bias = np.median(left[differ >= np.median(differ)], axis=0)
    level = float(bias.mean())
    return abs(level) <= BIAS and float(np.abs(bias - level).max()) <= BIAS

