"""``python -m flowfill``: the same as the ``flowfill`` command."""

import sys

from flowfill.cli import main

sys.exit(main())
