"""The ``flowfill`` program and ``python -m flowfill``: take Ctrl-C first, then load the CLI.

A host or a background shell may start the program with SIGINT ignored; the command line's own
handler comes only after the engine has been imported (seconds), and an interrupt sent before
then would be lost and the render finished. This module is all that loads before the handler.
While the engine loads, an interrupt is held and acted on once the import is done: raised in
the middle of torch's import, inside one of its C++ callbacks, it aborted the process
(``std::terminate``, exit -6) instead of ending it with 130.
"""

from __future__ import annotations

import signal
import sys
import threading

PROG = "flowfill"


def _interrupted() -> int:
    print(f"{PROG}: interrupted; no output was written", file=sys.stderr)
    return 130


def main() -> int:
    """Hold Ctrl-C while ``flowfill.cli`` loads, then run its ``main`` under Python's own
    handler; 130 if interrupted."""
    held: list[int] = []
    own_thread = threading.current_thread() is threading.main_thread()
    if own_thread:
        signal.signal(signal.SIGINT, lambda signum, _frame: held.append(signum))
    try:
        from flowfill.cli import main as cli_main
    except KeyboardInterrupt:
        return _interrupted()
    finally:
        if own_thread:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        return _interrupted()
    try:
        return cli_main()
    except KeyboardInterrupt:  # in the instant before cli.main's own ``try``
        return _interrupted()


if __name__ == "__main__":
    sys.exit(main())
