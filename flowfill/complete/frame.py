"""Flow completion for one frame: the flow mask, plus the ring where object-like flow is cut.

Built once per frame and reused for every flow that starts on it (to its neighbours and to the
non-local key frames), so the factorisations are paid once per frame.
"""

from __future__ import annotations

import numpy as np

from flowfill.complete.contamination import contaminated
from flowfill.complete.laplace import MembraneFill
from flowfill.masks import flow_mask


class FrameFlowFill:
    """Per frame: the flow mask, and the wider ring where object-like flow is also cut away."""

    def __init__(self, hole: np.ndarray, inner_px: int, outer_px: int) -> None:
        self.hole = hole
        self.inner = flow_mask(hole, inner_px)
        outer = flow_mask(hole, outer_px)
        self.ring = outer & ~self.inner
        self.outer_fill = MembraneFill(outer) if self.ring.any() else None
        self.inner_fill = MembraneFill(self.inner)

    def complete(self, flow: np.ndarray) -> np.ndarray:
        """The flow with the hole, and object-like flow in the ring, re-estimated by Laplace."""
        if self.outer_fill is None:
            return self.inner_fill(flow)[0]
        background = self.outer_fill(flow)[0]
        extra = contaminated(flow, self.hole, self.ring, background)
        if not extra.any():
            return self.inner_fill(flow)[0]
        return MembraneFill(self.inner | extra)(flow)[0]
