"""flowfill's menu in Nuke's Nodes toolbar (run by Nuke's GUI at start-up, after init.py)."""

import flowfill_nuke
import nuke

_menu = nuke.menu("Nodes").addMenu("flowfill")
_menu.addCommand("Remove (OFX)", flowfill_nuke.create_ofx_node,
                 tooltip="flowfill's OpenFX node (renders in the script; needs the OFX plug-in)")
_menu.addCommand("Remove (farm-safe gizmo)", flowfill_nuke.create_gizmo,
                 tooltip="renders Source and matte to EXR, runs flowfill remove, reads the result")
