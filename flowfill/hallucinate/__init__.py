"""Fills for pixels that no frame saw, behind one interface: fill(image, mask, device, seed)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowfill.hallucinate import telea

FILLS: dict[str, Callable[..., np.ndarray]] = {"telea": telea.fill}


def get_fill(name: str) -> Callable[..., np.ndarray]:
    """The fill function called ``name`` (see ``FILLS``)."""
    return FILLS[name]


__all__ = ["FILLS", "get_fill"]
