"""A few membrane factorisations kept by their mask, so a mask that repeats is factorised once.

A still mask (a logo, a scratch, a stabilised border) gives every frame of a window the same
flow mask and the same wider ring, and both directions of a pair share them; the sparse LU of
that system is the dearest step of flow completion, so it is worth keeping. The cache is small
and least-recently-used: a moving mask gives a new system every frame and must not pile them up.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from flowfill.complete.laplace import MembraneFill
from flowfill.masks import mask_key


class MembraneCache:
    """Up to ``size`` plain (uncut) :class:`MembraneFill` s, looked up by their mask's pixels."""

    def __init__(self, size: int = 4) -> None:
        if size < 1:
            raise ValueError(f"MembraneCache size must be at least 1, got {size}")
        self.size = size
        self._fills: OrderedDict[bytes, MembraneFill] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __call__(self, mask: np.ndarray) -> MembraneFill:
        """The factorised membrane of ``mask`` (H x W bool), built on first use."""
        key = mask_key(mask)
        fill = self._fills.get(key)
        if fill is not None:
            self._fills.move_to_end(key)
            self.hits += 1
            return fill
        self.misses += 1
        fill = MembraneFill(mask)
        self._fills[key] = fill
        if len(self._fills) > self.size:
            self._fills.popitem(last=False)
        return fill
