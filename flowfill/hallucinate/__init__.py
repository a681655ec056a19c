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


__all__ = ["FILLS", "ITERATIVE", "get_fill"]
