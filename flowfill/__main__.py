"""The ``flowfill`` program and ``python -m flowfill``: take Ctrl-C first, then load the CLI.

A host or a background shell may start the program with SIGINT ignored; the command line's own
handler comes only after the engine has been imported (seconds), and an interrupt sent before
then would be lost and the render finished. This module is all that loads before the handler.
"""

from __future__ import annotations

import signal
import sys
import threading

PROG = "flowfill"


def main() -> int:
    """Install Python's Ctrl-C handler, then run ``flowfill.cli.main``; 130 if interrupted."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        from flowfill.cli import main as cli_main
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no output was written", file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
