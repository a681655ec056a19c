"""The fill joined to the picture the output keeps around it, in the gradient domain.

The hole is the mask dilated (sources and the Poisson boundary avoid an object's fringe), but
the output replaces only the mask: the ring between the two keeps the frame's own pixels. The
fill was fused against the dilated hole's boundary, so where the propagated ring differs from
the frame's ring, a seam of colour or brightness would show at the mask's edge, and the whole
fill would carry the ring's error inward. Re-anchoring keeps the fill's gradients inside the
mask and takes its boundary from the kept pixels: the difference between the frame and the
fill along the mask's edge is spread into the mask as a membrane (Poisson image editing with
the fill as the guidance field), so the fill meets the picture exactly where the output joins
them.
"""

from __future__ import annotations

import numpy as np

from flowfill.complete.laplace import MembraneFill
from flowfill.masks import box


def reanchor(fill: np.ndarray, frame: np.ndarray, mask: np.ndarray,
             cache: dict[bytes, MembraneFill] | None = None,
             in_place: bool = False) -> np.ndarray:
    """``fill`` (H x W x C) with a harmonic correction inside ``mask`` (H x W bool) that makes it
    meet ``frame`` (H x W x C) on the pixels just outside the mask; unchanged outside the mask.
    ``cache``: the last factorisation, by mask, kept across calls (a still mask is factorised
    once; a moving one replaces it, so memory holds one at most). ``in_place``: correct
    ``fill`` itself and return it (a whole-frame copy saved: at 1080p a fresh 25 MB array's
    page faults cost more than the copy)."""
    if fill.shape != frame.shape or fill.shape[:2] != mask.shape:
        raise ValueError(f"fill {fill.shape}, frame {frame.shape} and mask {mask.shape} differ")
    if not mask.any() or mask.all():
        return fill
    crop = box(mask, 1)  # the crop keeps the mask's rim
    local = mask[crop]
    if local.all():  # the mask fills its box: its rim is the frame's edge, nothing to meet
        return fill
    key = local.tobytes() + np.int64(local.shape).tobytes()
    membrane = cache.get(key) if cache is not None else None
    if membrane is None:
        membrane = MembraneFill(local)
        if cache is not None:
            cache.clear()
            cache[key] = membrane
    diff = (frame[crop] - fill[crop]).astype(np.float32)
    diff[local] = 0.0  # only the rim outside the mask is read
    correction = membrane(diff)[0]
    out = fill if in_place else fill.copy()
    out[crop][local] += correction[local]
    return out
