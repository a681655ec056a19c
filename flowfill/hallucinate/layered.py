"""The fill of pixels no frame saw (issue 16): a smooth base from each frame's own rim, plus
one invented detail layer that moves with the background.

A fill invented once and carried along the completed flow drifts with whatever moves next to
the hole, and a texture fill made per frame flickers. Here each frame's unseen pixels take the
smooth interpolation of that frame's rim (:mod:`flowfill.hallucinate.smooth`: it follows the
lighting and anything passing, and joins the rim without a seam), and their detail (the high
frequencies of the chosen fill on one anchor frame, where the texture and grain of the
surroundings are copied) is read through the background's motion from the anchor, so it holds
still on a still shot and travels with a pan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from flowfill.flow.homography import apply
from flowfill.hallucinate import smooth
from flowfill.hallucinate.region import blur
from flowfill.masks import dilate
from flowfill.propagate.rim import rim_range

DETAIL_SIGMA = 2.0
"""Scale (px at 240p, grown with the frame) below which the invented fill's detail is kept;
above it the smooth base decides (measured on issue 16's still-shot cases, RESULTS.md)."""


RIM = 4
"""Width of the ring around the hole (px at 240p) whose detail strength the invented detail
is brought to."""
MAX_GAIN = 2.0
"""At most this factor up or down."""
STRUCTURE_SIGMA = 3.0
"""Scale (px at 240p) down to which a regular texture's structure is kept from the fill."""
PATTERN_MARGIN = 0.8
"""The fill's structure is kept only where its error on the ring is below this share of the
layered fill's."""
STROKE_SLACK = 0.02
"""In a stroke (a thin part of the region) the fill keeps within the colours of the picture in
reach, widened by this much (0..1) each way: room for grain-sized detail. Clipped exactly, the
real logo on the still shot kept too little of its texture (RESULTS.md)."""


@dataclass
class Detail:
    """An anchor frame's invented detail: its high frequencies (h x w x C, zero outside what
    it invented, whose top-left pixel is the anchor's ``origin`` (x, y)), and the scale below
    which a frame's smooth base is blurred before the detail is added (None: the base is kept
    as it is)."""

    high: np.ndarray
    blur_base: float | None = None
    origin: tuple[int, int] = (0, 0)

    def cropped(self, pad: int = 2) -> Detail:
        """The same detail held only over what was invented (and ``pad`` px of zeros around,
        for the cubic interpolation): kept for a whole shot, it need not be frame-sized."""
        ys, xs = np.nonzero(np.any(self.high != 0, axis=2))
        if not len(ys):
            return Detail(self.high[:0, :0], self.blur_base, self.origin)
        h, w = self.high.shape[:2]
        y0, x0 = max(int(ys.min()) - pad, 0), max(int(xs.min()) - pad, 0)
        y1, x1 = min(int(ys.max()) + pad + 1, h), min(int(xs.max()) + pad + 1, w)
        return Detail(self.high[y0:y1, x0:x1].copy(), self.blur_base,
                      (self.origin[0] + x0, self.origin[1] + y0))


def _high(image: np.ndarray, sigma: float) -> np.ndarray:
    return image - blur(image, sigma)


def _gain(high: np.ndarray, base: np.ndarray, mask: np.ndarray, rim_px: int,
          sigma: float) -> float:
    """The factor that brings ``high`` (the filled picture's high frequencies) inside ``mask``
    to their strength in a ring around it, less what the smooth ``base`` already carries there
    (across a thin hole the thin plate carries the rim's edges on), within :data:`MAX_GAIN`
    either way."""
    ring = dilate(mask, rim_px) & ~mask
    own = float(np.mean(high[mask] ** 2))
    want = (float(np.mean(high[ring] ** 2))
            - float(np.mean(_high(base, sigma)[mask] ** 2)))
    if own <= 0:
        return 1.0
    return float(np.clip(np.sqrt(max(want, 0.0) / own), 1.0 / MAX_GAIN, MAX_GAIN))


def _patterned(image: np.ndarray, mask: np.ndarray, fill: Callable[..., np.ndarray],
               sigma: float, rim_px: int, **fill_kw: object) -> bool:
    """Whether the fill's own structure should be kept (a regular texture it continues) rather
    than only its detail on the smooth base: both are tried on the hole grown by a ring of known
    pixels, and the fill's structure is kept where it predicts that ring clearly better."""
    big = dilate(mask, rim_px)
    ring = big & ~mask
    if not ring.any() or big.all():
        return False
    copied = fill(image, big, **fill_kw).astype(np.float32)
    smooth_base = smooth.fill(image, big).astype(np.float32)
    layered = smooth_base + _high(copied, sigma)
    kept = blur(smooth_base, STRUCTURE_SIGMA * sigma / DETAIL_SIGMA) + _high(
        copied, STRUCTURE_SIGMA * sigma / DETAIL_SIGMA)

    def error(x: np.ndarray) -> float:
        return float(np.mean((x - image)[ring] ** 2))

    return error(kept) < PATTERN_MARGIN * error(layered)


def calmest(frames: list[np.ndarray], masks: list[np.ndarray], ring_px: int) -> int:
    """Which of several frames of a shot (H x W x 3, with their masks) to invent the shared
    detail on: the one whose ring around the masks is nearest the per-pixel median of all the
    rings, so that someone passing by the hole in that frame is not copied into every frame's
    fill; the first on a tie (two frames, or no ring)."""
    if len(frames) < 3:
        return 0
    union = np.logical_or.reduce(masks)
    ring = dilate(union, ring_px) & ~union
    if not ring.any():
        return 0
    rings = np.stack([f[ring] for f in frames])
    median = np.median(rings, axis=0)
    return int(np.argmin(np.abs(rings - median).mean(axis=(1, 2))))


def detail_layer(image: np.ndarray, mask: np.ndarray, fill: Callable[..., np.ndarray],
                 try_structure: bool = True, **fill_kw: object) -> Detail:
    """The detail that ``fill`` invents in ``mask`` of ``image`` (the anchor frame's, read by
    every frame of the window).

    Usually its high frequencies, brought to the strength of the picture's own around the mask:
    a patch fill's detail varies from frame to frame (it copies a flat patch here, a busy one
    there), and where it copies the wrong thing its coarse structure costs more than the smooth
    base's. Where the fill clearly continues a regular texture (it predicts a ring of known
    pixels better, :func:`_patterned`; only tried with ``try_structure``), its structure down to
    :data:`STRUCTURE_SIGMA` is kept.
    """
    scale = max(1.0, min(mask.shape) / 240.0)
    sigma = DETAIL_SIGMA * scale
    rim_px = max(1, round(RIM * scale))
    filled = fill(image, mask, **fill_kw).astype(np.float32)
    if try_structure and _patterned(image, mask, fill, sigma, rim_px, **fill_kw):
        wide = STRUCTURE_SIGMA * scale
        return Detail(np.where(mask[..., None], _high(filled, wide), np.float32(0)), wide)
    high = _high(filled, sigma)
    gain = _gain(high, smooth.fill(image, mask).astype(np.float32), mask, rim_px, sigma)
    return Detail(np.where(mask[..., None], gain * high, np.float32(0)).astype(np.float32))


def fill_unseen(image: np.ndarray, mask: np.ndarray, detail: Detail | None,
                to_anchor: np.ndarray | None, edges: np.ndarray | None = None) -> np.ndarray:
    """``image`` with ``mask`` filled by the smooth fill of its rim (cut at ``edges``, the
    picture's edges completed into the hole, when given) plus ``detail`` (the anchor's) read at
    each pixel's place in the anchor, ``to_anchor`` (3 x 3, this frame's pixels onto the
    anchor's). No detail where either is None, nor where a pixel lands outside what the anchor
    invented (the layer is zero there)."""
    if not mask.any():
        return image.copy()
    thin = smooth.thin_parts(mask)  # the thin plate's parts, and the strokes clipped below
    out = smooth.fill(image, mask, edges=edges, thin=thin)
    if detail is None or to_anchor is None:
        return out
    if detail.blur_base is not None:
        out = np.where(mask[..., None], blur(out, detail.blur_base), out)
    high = detail.high
    if not high.size:
        return out
    ys, xs = np.nonzero(mask)
    ax, ay = apply(to_anchor, xs.astype(np.float64), ys.astype(np.float64))
    maps = ((ax - detail.origin[0]).astype(np.float32)[None],
            (ay - detail.origin[1]).astype(np.float32)[None])
    sampled = np.stack([cv2.remap(np.ascontiguousarray(high[..., c]), *maps, cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)[0]
                        for c in range(high.shape[2])], -1)
    out[ys, xs] = out[ys, xs] + sampled.astype(out.dtype)
    # a stroke is all rim: nothing it holds may leave the range of the picture beside it
    if not thin.any():
        return out
    reach = int(np.ceil(smooth.thin_radius(mask.shape))) + 1
    idx = np.flatnonzero(thin)
    floor, ceiling = rim_range(image, ~mask, idx, reach)  # +-inf where nothing is in reach
    ys, xs = np.divmod(idx, mask.shape[1])
    out[ys, xs] = np.clip(out[ys, xs], floor - STROKE_SLACK, ceiling + STROKE_SLACK)
    return out
