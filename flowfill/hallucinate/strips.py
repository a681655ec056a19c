"""Per-frame leftovers along the frame's edge filled by Telea, the rest by the chosen fill.

What no chain reached in a strip along the frame's edge (a stabilised frame's uncovered
border) has one side to continue from, and its bounding box is as wide as the frame: the patch
fill worked on the whole frame for a few pixels, a third of a long border shot's time, and
measured no better there than Telea's continuation of the one side (benchmarks/RESULTS.md,
issue 18). Keyframes keep the chosen fill: what they invent is carried to other frames.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowfill.edges.strips import edge_strips
from flowfill.hallucinate import telea


def strips_first(fill: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``fill`` with the hole's strips along the frame's edge (:func:`edge_strips`) filled
    first by Telea; the rest of the hole, if any, by ``fill`` after them."""
    if fill is telea.fill:
        return fill

    def filled(image: np.ndarray, mask: np.ndarray, **kw: object) -> np.ndarray:
        strips = edge_strips(mask)
        if not strips.any():
            return fill(image, mask, **kw)
        image = telea.fill(image, strips)
        rest = mask & ~strips
        return fill(image, rest, **kw) if rest.any() else image

    return filled
