"""Canny edges of the flow magnitude, in torch (kornia filters) so they run on the flow's device.

As FGVC (docs/METHOD.md §2.1) the magnitude is smoothed, differentiated by Sobel, thinned by
non-maximum suppression and thresholded with hysteresis, and nothing is found in or next to the
hole. Unlike FGVC the magnitude is normalised over the *known* region only (the removed object's
speed must not decide which background edges are strong enough), the smoothing is normalised
over known pixels (the hole does not bleed into it), and sigma and the thresholds scale with
frame size so the same motion boundary is found at 240p and at 4K.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from kornia.filters import gaussian_blur2d, spatial_gradient

from flowfill.masks import REFERENCE_SHORT_SIDE, hysteresis

SIGMA_AT_480P = 2.0
LOW, HIGH = 0.1, 0.2
"""skimage's float defaults (FGVC's thresholds) on the unnormalised Sobel magnitude, at sigma 2."""
QUANT = 2.0 ** 14
"""Gradients are rounded to this many steps per unit before thinning (see canny)."""
MIN_SPEED = 1.0
"""Magnitudes are divided by at least this many pixels, so a nearly still shot's noise is not
blown up into edges (ProPainter's rule)."""


def canny_sigma(shape: tuple[int, int]) -> float:
    """FGVC's sigma 2 at 480p, scaled with the short side (at least 1 pixel)."""
    return max(1.0, SIGMA_AT_480P * min(shape) / REFERENCE_SHORT_SIDE)


def normalised_magnitude(flow: np.ndarray | torch.Tensor, known: np.ndarray | torch.Tensor
                         ) -> torch.Tensor:
    """|flow| divided by its maximum over ``known`` pixels (at least MIN_SPEED): H x W float32.

    Takes numpy or torch; returns a tensor on the flow's device. Hole values may exceed 1.
    """
    flow = torch.as_tensor(flow, dtype=torch.float32)
    known = torch.as_tensor(known, device=flow.device)
    mag = torch.linalg.vector_norm(flow, dim=-1)
    top = mag[known].max() if bool(known.any()) else mag.new_tensor(0.0)
    return mag / torch.clamp(top, min=MIN_SPEED)


def _odd(n: float) -> int:
    k = int(math.ceil(n))
    return k + 1 - k % 2


def _nonmax(mag: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Keep pixels whose gradient magnitude is a maximum along the gradient (4 directions);
    of two equal neighbours across the edge only one survives, so a step is one pixel thin."""
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180.0
    sector = torch.div(angle + 22.5, 45.0, rounding_mode="floor").long() % 4
    pad = F.pad(mag, (1, 1, 1, 1), mode="replicate")
    h, w = mag.shape[-2:]

    def at(dy: int, dx: int) -> torch.Tensor:
        return pad[..., 1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w]

    # sector 0: gradient along x; 1: along +45 deg (y down); 2: along y; 3: along -45 deg
    pairs = (((0, 1), (0, -1)), ((1, 1), (-1, -1)), ((1, 0), (-1, 0)), ((1, -1), (-1, 1)))
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for s, (a, b) in enumerate(pairs):
        keep |= (sector == s) & (mag > at(*a)) & (mag >= at(*b))  # a tie keeps one
    return keep


def _hysteresis(strong: torch.Tensor, weak: torch.Tensor, check_every: int = 8) -> torch.Tensor:
    """Weak pixels 8-connected to a strong one: on the CPU by labelling the weak pixels'
    8-connected components (one pass), elsewhere by repeated dilation until nothing changes.
    Both give exactly the same set; dilation takes as many steps as the longest weak chain,
    which along a hole at the frame edge made it most of Canny's time on the CPU."""
    if strong.device.type == "cpu":
        return _hysteresis_labels(strong, weak)
    edges = strong & weak
    weak_f = weak.float()
    cur = edges.float()
    while True:
        before = cur
        for _ in range(check_every):
            cur = F.max_pool2d(cur, 3, stride=1, padding=1) * weak_f
        if torch.equal(cur, before):
            return cur.bool()


def _hysteresis_labels(strong: torch.Tensor, weak: torch.Tensor) -> torch.Tensor:
    """:func:`_hysteresis` by connected-component labelling (CPU tensors, any leading dims)."""
    weak_np = weak.numpy().astype(np.uint8)
    seed = (strong & weak).numpy()
    out = np.zeros(weak_np.shape, bool)
    flat_w = weak_np.reshape(-1, *weak_np.shape[-2:])
    flat_s = seed.reshape(-1, *seed.shape[-2:])
    flat_o = out.reshape(-1, *out.shape[-2:])
    for i in range(flat_w.shape[0]):
        if flat_s[i].any():
            flat_o[i] = hysteresis(flat_s[i], flat_w[i].astype(bool))
    return torch.from_numpy(out)


def canny(image: torch.Tensor, valid: torch.Tensor, sigma: float,
          low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """Canny edges (bool B x 1 x H x W) of ``image`` (B x 1 x H x W) using only ``valid`` pixels.

    Thresholds are given for sigma 2 on the unnormalised Sobel magnitude (skimage's scale) and
    scaled by 2 / sigma, so a step of a given height is found at any smoothing.
    """
    valid_f = valid.float()
    k = _odd(4 * sigma + 1)
    blur = gaussian_blur2d(image * valid_f, (k, k), (sigma, sigma), border_type="reflect")
    weight = gaussian_blur2d(valid_f, (k, k), (sigma, sigma), border_type="reflect")
    smooth = blur / weight.clamp_min(1e-6)
    grad = spatial_gradient(smooth, mode="sobel", normalized=False)  # B x 1 x 2 x H x W
    # Rounded to 2^-14 so ties along a straight step stay exact ties whatever the batch size
    # or device's summation order (NMS keeps both or neither, identically everywhere).
    gx = torch.round(grad[:, :, 0] * QUANT) / QUANT
    gy = torch.round(grad[:, :, 1] * QUANT) / QUANT
    mag = torch.round(torch.sqrt(gx * gx + gy * gy) * QUANT) / QUANT
    inner = -F.max_pool2d(-valid_f, 3, stride=1, padding=1)  # valid eroded by one pixel
    inner[..., 0, :] = 0
    inner[..., -1, :] = 0
    inner[..., :, 0] = 0
    inner[..., :, -1] = 0
    scale = SIGMA_AT_480P / sigma
    cand = _nonmax(mag, gx, gy) & (inner > 0.5)
    return _hysteresis(cand & (mag >= high * scale), cand & (mag >= low * scale))


def flow_edges(flow: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor,
               device: str | torch.device = "cpu", sigma: float | None = None) -> np.ndarray:
    """Canny edges of the normalised flow magnitude outside ``mask`` (bool H x W numpy).

    ``flow``: H x W x 2; ``mask``: bool H x W, True = hole (nothing is found in or beside it).
    """
    flow_t = torch.as_tensor(np.asarray(flow) if not torch.is_tensor(flow) else flow,
                             dtype=torch.float32).to(device)
    mask_t = torch.as_tensor(np.asarray(mask) if not torch.is_tensor(mask) else mask
                             ).to(device).bool()
    known = ~mask_t
    mag = normalised_magnitude(flow_t, known)
    sig = canny_sigma(tuple(mag.shape)) if sigma is None else sigma
    edges = canny(mag[None, None], known[None, None], sig)
    return edges[0, 0].cpu().numpy()
