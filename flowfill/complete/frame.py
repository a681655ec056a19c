"""Flow completion for one frame: the flow mask, plus the ring where object-like flow is cut.

Built once per frame and reused for every flow that starts on it (to its neighbours and to the
non-local key frames), so the factorisations are paid once per frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowfill.complete.contamination import contaminated
from flowfill.complete.laplace import MembraneFill
from flowfill.masks import flow_mask


class FrameFlowFill:
    """Per frame: the flow mask, and the wider ring where object-like flow is also cut away.

    ``edges``: an edge completer ``(flow, mask) -> edges`` (bool, or soft strength in [0, 1],
    e.g. :meth:`EdgeCompleter.strength`); without it the fill is the plain membrane.
    """

    def __init__(self, hole: np.ndarray, inner_px: int, outer_px: int,
                 edges: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> None:
        self.hole = hole
        self.edges = edges
        self.inner = flow_mask(hole, inner_px)
        outer = flow_mask(hole, outer_px)
        self.ring = outer & ~self.inner
        self.outer_fill = MembraneFill(outer) if self.ring.any() else None
        self.inner_fill = MembraneFill(self.inner)

    def complete(self, flow: np.ndarray, edges: bool = True) -> np.ndarray:
        """The flow with the hole, and object-like flow in the ring, re-estimated (cut at the
        flow's completed motion edges when an edge completer was given and ``edges``)."""
        fill, mask = self.inner_fill, self.inner
        if self.outer_fill is not None:
            background = self.outer_fill(flow)[0]
            extra = contaminated(flow, self.hole, self.ring, background)
            if extra.any():
                mask = self.inner | extra
                fill = MembraneFill(mask)
        if edges and self.edges is not None and not fill.empty and not fill.full:
            cut = self.edges(flow, mask)
            if np.any(cut[mask]):
                return MembraneFill(mask, cut)(flow)[0]
        return fill(flow)[0]
