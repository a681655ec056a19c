"""Flow edges: Canny on the flow magnitude, and the gated net that completes them in the hole;
the same net trained on pictures continues an image's own edges (``image.py``)."""

from flowfill.edges.canny import canny, flow_edges
from flowfill.edges.complete import EdgeCompleter, complete_edges, load_edge_net
from flowfill.edges.image import ImageEdgeCompleter

__all__ = ["EdgeCompleter", "ImageEdgeCompleter", "canny", "complete_edges", "flow_edges",
           "load_edge_net"]
