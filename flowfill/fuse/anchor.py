"""The fill joined to the picture the output keeps around it, in the gradient domain.

The hole is the mask dilated (sources and the Poisson boundary avoid an object's fringe), but
the output replaces only the mask: the ring between the two keeps the frame's own pixels. The
fill was fused against the dilated hole's boundary, so where the propagated ring differs from
the frame's ring, a seam of colour or brightness would show at the mask's edge, and the whole
fill would carry the ring's error inward. Re-anchoring keeps the fill's gradients inside the
mask and takes its boundary from the kept pixels: the difference between the frame and the
fill along the mask's edge is spread into the mask as a membrane (Poisson image editing with
the fill as the guidance field), so the fill meets the picture exactly where the output joins
them. Only where the picture there is the picture: the colour of the object bled over a tight
mask's edge by chroma subsampling or a soft matte is not followed (:func:`steady_colour`).
"""

from __future__ import annotations

import cv2
import numpy as np

from flowfill.complete.laplace import MembraneFill
from flowfill.flow.prep import rec601_luma
from flowfill.fuse.kept import KeptSolvers
from flowfill.masks import box, mask_key

RINGS = 2
"""Rings beyond the rim (inside the hole) that its colour difference must show on too: JPEG and
H.264 colour reaches about two pixels past an edge (benchmarks/bleed.py)."""


def reanchor(fill: np.ndarray, frame: np.ndarray, mask: np.ndarray,
             cache: dict[bytes, MembraneFill] | KeptSolvers | None = None,
             in_place: bool = False, hole: np.ndarray | None = None) -> np.ndarray:
    """``fill`` (H x W x C) with a harmonic correction inside ``mask`` (H x W bool) that makes it
    meet ``frame`` (H x W x C) on the pixels just outside the mask (their colour difference only
    as far as the rings beyond them show it too: :func:`steady_colour`); unchanged outside the
    mask. ``cache``: the last factorisation, by mask, kept across calls (a still mask is
    factorised once; a moving one replaces it, so memory holds one at most), or a window's
    :class:`~flowfill.fuse.kept.KeptSolvers`, which keeps each mask's within its budget.
    ``in_place``:
    correct ``fill`` itself and return it (a whole-frame copy saved: at 1080p a fresh 25 MB
    array's page faults cost more than the copy). ``hole``: where the fill was made (H x W
    bool, the mask and its margin; None: everywhere), beyond which it is the frame itself and
    says nothing of a bleed."""
    if (fill.shape != frame.shape or fill.shape[:2] != mask.shape
            or (hole is not None and hole.shape != mask.shape)):
        raise ValueError(f"fill {fill.shape}, frame {frame.shape}, mask {mask.shape} and hole "
                         f"{None if hole is None else hole.shape} differ")
    if not mask.any() or mask.all():
        return fill
    crop = box(mask, 1 + RINGS)  # the crop keeps the mask's rim and the rings beyond it
    local = mask[crop]
    if local.all():  # the mask fills its box: its rim is the frame's edge, nothing to meet
        return fill
    key = mask_key(local)  # the mask where it lies in its box: a sliding mask keeps its key
    membrane = cache.get(key) if cache is not None else None
    if membrane is None:
        membrane = MembraneFill(local)
        if isinstance(cache, KeptSolvers):
            cache.keep(key, membrane, membrane.solver, membrane.system.n)
        elif cache is not None:
            cache.clear()
            cache[key] = membrane
    diff = steady_colour((frame[crop] - fill[crop]).astype(np.float32), local,
                         None if hole is None else hole[crop])
    diff[local] = 0.0  # only the rim outside the mask is read
    correction = membrane(diff)[0]
    out = fill if in_place else fill.copy()
    out[crop][local] += correction[local]
    return out


def steady_colour(diff: np.ndarray, mask: np.ndarray, hole: np.ndarray | None = None
                  ) -> np.ndarray:
    """The difference ``diff`` (frame minus fill, H x W x C) on the rim of ``mask`` with its
    colour limited by the ``RINGS`` rings further out: per channel, the colour part (a channel's
    difference minus the brightness difference) keeps the smallest of the rim's and each ring's
    mean beside it where all agree in sign, and none where they do not. Only the rings' pixels
    inside ``hole`` count (None: all); a ring with none beside a rim pixel (a thin part's
    narrow margin) does not limit it. The brightness difference and the other pixels are kept;
    under three channels, nothing changes.

    Why: delivery codecs store colour at half resolution (4:2:0) and mattes are soft, so the
    pixels just outside a tight mask carry some of the object's colour while their brightness
    stays sharp; anchoring the fill to them spread a tinted ghost of the object over the whole
    hole (the shipped demo's red ball left a pink disc). A seam of colour between fill and frame
    shows on every ring and is kept; a bleed fades within a pixel or two (RESULTS.md)."""
    if diff.ndim != 3 or diff.shape[2] < 3:
        return diff
    square = np.ones((3, 3), np.uint8)
    inner = cv2.dilate(mask.astype(np.uint8), square)
    ys, xs = np.nonzero((inner > 0) & ~mask)  # the rim
    colour = diff[..., :3] - rec601_luma(diff)[..., None]  # the brightness taken out
    here = colour[ys, xs]
    kept = here
    for reach in range(1, RINGS + 1):
        outer = cv2.dilate(inner, square)
        ring = (outer > 0) & (inner == 0)
        if hole is not None:
            ring &= hole
        ring = ring.astype(np.float32)
        side = 2 * reach + 1  # far enough from a rim pixel to reach this ring
        count = cv2.blur(ring, (side, side), borderType=cv2.BORDER_CONSTANT)[ys, xs]
        near = np.stack([cv2.blur(np.ascontiguousarray(colour[..., k] * ring), (side, side),
                                  borderType=cv2.BORDER_CONSTANT)[ys, xs] for k in range(3)],
                        axis=1) / np.maximum(count, 1e-6)[:, None]
        limited = np.where(kept * near > 0, np.sign(kept) * np.minimum(np.abs(kept),
                                                                         np.abs(near)), 0.0)
        kept = np.where((count > 0)[:, None], limited, kept)
        inner = outer
    out = diff.copy()
    out[ys, xs, :3] += kept - here
    return out
