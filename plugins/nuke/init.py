"""flowfill for Nuke, run at start-up (also on a render farm): the gizmo folder joins the
plug-in path.

Add this folder (flowfill's plugins/nuke) to NUKE_PATH, or put
``nuke.pluginAddPath("/path/to/flowfill/plugins/nuke")`` in ~/.nuke/init.py. Nuke then runs this
file, makes ``flowfill_nuke`` importable and, in the GUI, runs menu.py.
"""

import nuke

nuke.pluginAddPath("./gizmos")  # relative to this folder, as Nuke's init.py convention goes
