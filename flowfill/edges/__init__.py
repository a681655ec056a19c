"""Flow edges: Canny on the flow magnitude, and the gated net that completes them in the hole."""

from flowfill.edges.canny import canny, flow_edges
from flowfill.edges.complete import EdgeCompleter, complete_edges, load_edge_net

__all__ = ["EdgeCompleter", "canny", "complete_edges", "flow_edges", "load_edge_net"]
