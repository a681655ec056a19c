"""Mask preparation: the hole (dilated) and the flow mask, with dilations scaled to frame size."""

from __future__ import annotations

import cv2
import numpy as np

REFERENCE_SHORT_SIDE = 480  # FGVC's constants are tuned for about 480p


def scaled_px(px_at_480p: float, shape: tuple[int, int]) -> int:
    """A pixel distance given at 480p, scaled to a frame of ``shape`` (H, W), at least 1."""
    return max(1, int(px_at_480p * min(shape) / REFERENCE_SHORT_SIDE + 0.5))


def mask_key(*masks: np.ndarray) -> bytes:
    """A key that tells apart any two lists of bool masks (their bits and shapes): what a
    factorisation made for a mask is kept by."""
    parts = [np.int64(m.shape).tobytes() + np.packbits(m).tobytes() for m in masks]
    return b"|".join(parts)


def box(mask: np.ndarray, pad: int = 0) -> tuple[slice, slice]:
    """The bounding box of a non-empty bool ``mask`` (H x W) grown by ``pad`` on every side,
    within the frame, as (rows, columns) slices: the crop a per-hole solve works on."""
    ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    h, w = mask.shape
    return (slice(max(ys[0] - pad, 0), min(ys[-1] + pad + 1, h)),
            slice(max(xs[0] - pad, 0), min(xs[-1] + pad + 1, w)))


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow a bool mask by ``px`` pixels with a disc, so the fringe of the object goes too."""
    if px <= 0 or not mask.any():
        return mask.copy()
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    # nothing beyond the mask's box grown by px changes: dilate that crop only (a whole 1080p
    # frame is 10 ms of dilation, a small hole's box far less)
    crop = box(mask, px)
    out = np.zeros(mask.shape, bool)
    out[crop] = cv2.dilate(mask[crop].astype(np.uint8), kernel).astype(bool)
    return out


def hysteresis(seeds: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The 8-connected parts of ``region`` (bool H x W) that hold a pixel of ``seeds``: strong
    evidence grown through the weak evidence joined to it (Canny's edges, dust's specks)."""
    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[labels[seeds & region]] = True
    keep[0] = False  # the pixels outside the region
    return keep[labels]


def part_depths(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8-connected parts of ``mask`` (bool H x W) and how deep each reaches: (labels, int32
    H x W with 0 outside; per label, the largest distance of its pixels to the nearest pixel
    outside, float32, 0 for label 0). A scatter over the mask's pixels only: over the whole
    frame (or scipy's labelled maximum, which sorts it) it took 0.3-0.7 s a 1080p-2160p frame."""
    m8 = mask.astype(np.uint8)
    count, labels = cv2.connectedComponents(m8, connectivity=8)
    depth = cv2.distanceTransform(m8, cv2.DIST_L2, 3)
    inside = mask.ravel().astype(bool)
    deepest = np.zeros(count, dtype=np.float32)
    np.maximum.at(deepest, labels.ravel()[inside], depth.ravel()[inside])
    return labels, deepest


def dilate_by_thickness(mask: np.ndarray, px: int) -> np.ndarray:
    """Grow each connected part of ``mask`` by ``px`` or, where it is thin, by half its
    thickness (at least 1): an object's fringe (halo, blur, shadow) scales with the object; a
    scratch or a speck of dust has none, and a wide margin around it only swaps good picture for
    propagated guesses (on thin defects, 3 dB of hole-PSNR on ``running_car``)."""
    if px <= 0 or not mask.any():
        return mask.copy()
    # nothing beyond the mask's box grown by px (and the row of background a part's depth is
    # measured to) changes: worked on that crop (a 4K frame's small mask: 3 ms, not 75)
    crop = box(mask, px + 1)
    part = mask[crop]
    labels, deepest = part_depths(part)
    grow = np.zeros(deepest.size, dtype=int)
    grow[1:] = np.clip(np.round(deepest[1:] / 2), 1, px).astype(int)  # half the thickness
    grown = np.zeros_like(part, dtype=bool)
    for amount in np.unique(grow[1:]):
        grown |= dilate(grow[labels] == amount, int(amount))
    out = np.zeros_like(mask, dtype=bool)
    out[crop] = grown | part
    return out


def still_margins(masks: np.ndarray, holes: np.ndarray, reach: int) -> np.ndarray:
    """Which pixels of ``holes`` (N x H x W bool, each frame's mask grown by its margin, plus
    any pixel it may not read) are margin around a still part of ``masks`` (N x H x W bool):
    outside the mask, and farther than ``reach`` px from every pixel where the mask changes
    within the N frames. A mask that stays the same frame after frame marks an overlay (a logo,
    burnt-in text) or a defect on the lens, not an object in the scene: it has no motion blur,
    halo or shadow for a margin to keep out, and the picture right at its edge is the best
    there is to fill it from (on the benchmark's logos and text, 2-8 dB of hole-PSNR).
    Fewer than two frames show nothing still: no pixel is."""
    if masks.shape != holes.shape:
        raise ValueError(f"masks {masks.shape} and holes {holes.shape} differ")
    out = np.zeros_like(holes)
    if masks.shape[0] < 2 or not holes.any():
        return out
    # only the holes' pixels can answer, and only changes within reach of them matter: worked
    # on the holes' box grown by that reach (at 4K a window's whole frames took 0.27 s)
    crop = (slice(None), *box(holes.any(axis=0), reach + 2))
    m = masks[crop]
    changing = (m != m[:1]).any(axis=0)
    near_change = dilate(changing, reach + 1) if changing.any() else changing
    out[crop] = holes[crop] & ~m & ~near_change[None]
    return out


def flow_mask(hole: np.ndarray, px: int) -> np.ndarray:
    """The region whose flow is re-estimated: the hole grown by ``px``, with enclosed gaps filled.

    Flow next to a moving object is contaminated by the object's own motion (FGVC's 15 px at 480p).
    """
    return fill_holes(dilate(hole, px))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` (bool H x W) with every gap it encloses filled: the 4-connected parts of the
    rest that do not reach the frame's edge (``scipy.ndimage.binary_fill_holes``, exactly, by
    one labelling of the mask's box instead of dilations repeated until nothing changes)."""
    out = mask.copy()
    if not mask.any():
        return out
    rows, cols = box(mask)
    rest = np.pad(~mask[rows, cols], 1, constant_values=True)  # the box's outside reaches out
    _, labels = cv2.connectedComponents(rest.astype(np.uint8), connectivity=4)
    gaps = (labels != labels[0, 0]) & rest
    out[rows, cols] |= gaps[1:-1, 1:-1]
    return out
