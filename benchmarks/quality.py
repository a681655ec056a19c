"""Quality/speed benchmark of flowfill against per-frame Telea (see flowfill.evaluate.benchmark).

Usage: ``python benchmarks/quality.py [--clips ...] [--cases ...] [--frames N] [--out r.json]``.
"""

from __future__ import annotations

import sys

from flowfill.evaluate.benchmark import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
