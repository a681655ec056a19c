"""Flow completion inside the hole (Laplace membrane, with optional edge guidance)."""

from flowfill.complete.cache import MembraneCache
from flowfill.complete.frame import FrameFlowFill
from flowfill.complete.laplace import MembraneFill, complete_flow, complete_flows

__all__ = ["FrameFlowFill", "MembraneCache", "MembraneFill", "complete_flow", "complete_flows"]
