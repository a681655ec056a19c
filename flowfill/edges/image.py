"""The picture's own strong edges, continued through a hole (issue 16, item 2): EdgeConnect's
order for images, structure before texture.

The same gated net as the motion edges (``net.py``), trained by ``flowfill train-edges --kind
image`` on luminance instead of flow magnitude: its inputs are the luminance with the hole
painted white, Canny's edges of the luminance outside the hole, and the mask; its target is
Canny's edges of the whole picture. Canny's thresholds (``LOW``, ``HIGH``) are set on
luminance so that what is continued is a picture's structure (the border of a wall, a court
line, a horizon) rather than its grain. Synthetic pictures (``layered_image``) are layers of
random shapes, each with its own shading and grain, over a shaded background.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from flowfill.edges import thinning
from flowfill.edges.complete import EdgeCompleter
from flowfill.edges.synthetic import REFERENCE, random_shape

IMAGE_WEIGHTS = Path(__file__).resolve().parent / "weights" / "image_edge_net.pt"
"""The shipped image-edge weights (``flowfill train-edges --kind image``; IMAGE_MODEL_CARD.md)."""
LOW, HIGH = 0.06, 0.12
"""Canny's thresholds on luminance (0..1) at sigma 2: a step of about 0.1 starts an edge."""
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance (float32 H x W) of an H x W x C picture (0..1): one channel is itself,
    three or more use the first three (an alpha is ignored)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        return image
    if image.shape[2] < 3:
        return np.ascontiguousarray(image[..., 0])
    return np.ascontiguousarray(image[..., :3] @ LUMA)


def _shading(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random ramp (H x W) around a random level."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.normal(0, 0.3, 2) / max(h, w)
    return rng.uniform(0.05, 0.95) + gx * (xs - w / 2) + gy * (ys - h / 2)


def layered_image(rng: np.random.Generator, h: int, w: int, size: float | None = None
                  ) -> np.ndarray:
    """A random picture's luminance (float32 H x W, 0..1): a shaded background and one to six
    occluding shapes (blobs, polygons, bars such as lines and poles), each shaded and textured on
    its own, then blurred a little and given grain. ``size``: the frame height the shapes are
    drawn for (default ``h``)."""
    s = (size or h) / REFERENCE
    out = _shading(rng, h, w)
    for _ in range(int(rng.integers(1, 7))):
        shape = random_shape(rng, h, w, s)
        if not shape.any():
            continue
        layer = _shading(rng, h, w)
        if rng.random() < 0.5:  # a texture of its own
            grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0),
                                     rng.uniform(0.7, 2.5) * s)
            layer = layer + rng.uniform(0.01, 0.06) * grain / max(float(grain.std()), 1e-6)
        out = np.where(shape, layer, out)
    blur = rng.uniform(0, 1.2) * s
    if blur > 0.3:
        out = cv2.GaussianBlur(out.astype(np.float32), (0, 0), blur)
    out = out + rng.normal(0, rng.uniform(0.002, 0.02), out.shape)
    return np.clip(out, 0, 1).astype(np.float32)


MAX_DENSITY = 0.2
"""Share of the hole's pixels predicted as edge above which the net is taken to be unsure (a
textured or lettered picture: it paints a blob) and the hole gets no edges."""


class ImageEdgeCompleter(EdgeCompleter):
    """Callable ``(image, mask) -> edges`` (bool H x W): Canny's edges of the luminance outside
    the hole's one-pixel-grown region, the image-edge net's thresholded prediction inside it.
    ``image``: H x W x C (0..1) or H x W luminance. :meth:`guide` gives the edges the fills
    follow."""

    default_weights = IMAGE_WEIGHTS
    low, high = LOW, HIGH

    def guide(self, image: np.ndarray, mask: np.ndarray, whole: bool = True) -> np.ndarray:
        """The edges (bool H x W) a fill follows: the structure that runs through the hole.
        The prediction inside the hole, thinned to one-pixel lines (a boundary, not a band),
        and the known edges connected to it; none where the prediction covers more than
        ``MAX_DENSITY`` of the hole (the net's guess at a texture or lettering), and no known
        edge that does not lead into the hole (a texture's edges would fence patches in)."""
        edges = self(image, mask, whole)
        inside = edges & mask
        if not inside.any() or inside.sum() > MAX_DENSITY * mask.sum():
            return np.zeros_like(edges)
        thin = thinning.thin(inside)
        lines = thin | (edges & ~mask)
        _, labels = cv2.connectedComponents(lines.astype(np.uint8), connectivity=8)
        through = np.unique(labels[thin])
        return np.isin(labels, through[through > 0]) & lines

    def signal(self, data: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The luminance (the first channel when ``data`` has one, Rec. 709 of three or more)."""
        if data.shape[1] >= 3:
            weights = torch.as_tensor(LUMA, device=data.device).view(1, 3, 1, 1)
            return (data[:, :3] * weights).sum(1, keepdim=True)
        return data[:, :1]
