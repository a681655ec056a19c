"""flowfill for ComfyUI: a custom-node package with one node, ``flowfill Remove``.

Install: copy or link this folder into ``ComfyUI/custom_nodes/`` (name it e.g.
``comfyui-flowfill``, never ``flowfill``, which would shadow the library) and install flowfill
into ComfyUI's Python. See flowfill's plugins/README.md.
"""

from .nodes import FlowfillRemove

NODE_CLASS_MAPPINGS = {"FlowfillRemove": FlowfillRemove}
NODE_DISPLAY_NAME_MAPPINGS = {"FlowfillRemove": "flowfill Remove"}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
