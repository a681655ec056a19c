"""Flow completion for one frame: the flow mask, plus the ring where object-like flow is cut.

Built once per frame and reused for every flow that starts on it (to its neighbours and to the
non-local key frames). Each factorisation is made only when a flow needs it, and through a
shared :class:`MembraneCache` when one is given, so frames with the same mask share them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowfill.complete.cache import MembraneCache
from flowfill.complete.contamination import contaminated_at
from flowfill.complete.laplace import MembraneFill
from flowfill.masks import flow_mask


class FrameFlowFill:
    """Per frame: the flow mask, and the wider ring where object-like flow is also cut away.

    ``edges``: an edge completer ``(flow, mask) -> edges`` (bool, or soft strength in [0, 1],
    e.g. :meth:`EdgeCompleter.strength`); without it the fill is the plain membrane.
    """

    def __init__(self, hole: np.ndarray, inner_px: int, outer_px: int,
                 edges: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                 cache: MembraneCache | None = None) -> None:
        self.hole = hole
        self.edges = edges
        self.inner = flow_mask(hole, inner_px)
        self.outer = flow_mask(hole, outer_px)
        self.ring = self.outer & ~self.inner
        self._hole_idx, self._ring_idx = np.flatnonzero(hole), np.flatnonzero(self.ring)
        self.cache = cache
        self._inner_fill: MembraneFill | None = None
        self._outer_fill: MembraneFill | None = None

    def _shared(self, mask: np.ndarray) -> MembraneFill:
        return self.cache(mask) if self.cache is not None else MembraneFill(mask)

    @property
    def inner_fill(self) -> MembraneFill:
        """The plain membrane over the flow mask (factorised on first use)."""
        if self._inner_fill is None:
            self._inner_fill = self._shared(self.inner)
        return self._inner_fill

    @property
    def outer_fill(self) -> MembraneFill:
        """The plain membrane over the flow mask and its ring (factorised on first use)."""
        if self._outer_fill is None:
            self._outer_fill = self._shared(self.outer)
        return self._outer_fill

    def complete(self, flow: np.ndarray, edges: bool = True, joint: bool = True) -> np.ndarray:
        """The flow with the hole, and object-like flow in the ring, re-estimated (cut at the
        flow's completed motion edges when an edge completer was given and ``edges``).

        ``joint``: object-like flow in the ring joins the hole's unknowns (a factorisation of
        its own for this flow). Otherwise it takes the background membrane from beyond the
        ring and the hole is completed from the cleaned ring with the frame's one flow-mask
        factorisation: what a distant frame's flow gets, a fallback source when nearest-first
        (no factorisation per flow; issue 19)."""
        mask = self.inner
        if self._ring_idx.size:
            background = self.outer_fill(flow)[0]
            extra = contaminated_at(flow, self._hole_idx, self._ring_idx, background)
            if extra.any():
                if joint:
                    mask = self.inner | extra
                else:
                    flow = np.where(extra[..., None], background, flow)
        if edges and self.edges is not None and mask.any() and not mask.all():
            cut = self.edges(flow, mask)
            if np.any(cut[mask]):
                return MembraneFill(mask, cut)(flow)[0]
        fill = self.inner_fill if mask is self.inner else MembraneFill(mask)
        return fill(flow)[0]
