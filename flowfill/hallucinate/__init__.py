"""Fills for pixels that no frame saw, behind one interface:
``fill(image, mask, device, seed, budget=None, progress=None) -> image``.

``csa``: coherent patch attention (fast, keeps texture); ``dip``: Deep Image Prior; ``siren``:
a sine-activated coordinate network; ``telea``: OpenCV's fast marching (the baseline). Each
works on a crop around the hole, in float, deterministically for a seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowfill.hallucinate import dip, patch, siren, telea

FILLS: dict[str, Callable[..., np.ndarray]] = {
    "csa": patch.fill, "dip": dip.fill, "siren": siren.fill, "telea": telea.fill,
}
ITERATIVE = ("dip", "siren")
"""Fills that optimise a network per call: slow, so only keyframes get them (see window.py)."""


def get_fill(name: str) -> Callable[..., np.ndarray]:
    """The fill function called ``name`` (see ``FILLS``)."""
    return FILLS[name]


def edge_guided(fill: Callable[..., np.ndarray],
                edges: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
                ) -> Callable[..., np.ndarray]:
    """``fill`` guided by the picture's edges completed into the hole (``edges(image, mask)``:
    :meth:`flowfill.edges.image.ImageEdgeCompleter.guide`) where it can use them (the patch
    fill draws patches from the same side of an edge); else ``fill`` itself."""
    if edges is None or fill is not patch.fill:
        return fill

    def guided(image: np.ndarray, mask: np.ndarray, **kw: object) -> np.ndarray:
        return fill(image, mask, edges=edges(image, mask), **kw)

    return guided


__all__ = ["FILLS", "ITERATIVE", "edge_guided", "get_fill"]
