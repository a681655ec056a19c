"""``flowfill serve``: its options and the command that runs the server."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from flowfill.errors import InputError

DESCRIPTION = """\
Run the render server: one process that keeps the engine loaded (flow backend,
edge net, fills, torch device) and fills frames for any number of clients —
the OpenFX plugin in Nuke, Resolve or Natron, the Nuke tools, scripts. Local
only: a Unix socket by default, or loopback TCP with a token. The protocol is
plugins/PROTOCOL.md. Plugins start a server themselves when none answers."""


def add_serve_parser(commands: argparse._SubParsersAction) -> None:
    """Declare ``flowfill serve`` and its options."""
    from flowfill.server.endpoint import default_socket

    sv = commands.add_parser("serve", help="run the render server that host plugins talk to",
                             description=DESCRIPTION,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    where = sv.add_mutually_exclusive_group()
    where.add_argument("--socket", metavar="PATH", default=None,
                       help=f"Unix socket to listen on (default $FLOWFILL_SERVER or "
                            f"{default_socket()})")
    where.add_argument("--tcp", metavar="HOST:PORT", default=None,
                       help="listen on loopback TCP instead (port 0: any free one); clients "
                            "need the token written to --ready-file")
    sv.add_argument("--ready-file", metavar="FILE", default=None,
                    help="write the endpoint (and the TCP token) here once listening")
    sv.add_argument("--idle-timeout", type=float, default=None, metavar="S",
                    help="exit after S seconds with no client (default: run until stopped)")
    sv.add_argument("--device", default="auto", metavar="DEV",
                    help="default torch device of shots: auto, cpu, cuda, cuda:N (default auto)")
    sv.add_argument("--threads", type=int, default=None, metavar="N",
                    help="torch and OpenCV threads (default: their own choice)")
    sv.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")


def serve_command(args: argparse.Namespace) -> int:
    """Run ``flowfill serve`` until shut down (a client's ``shutdown``, SIGTERM, Ctrl-C, or
    the idle timeout)."""
    from flowfill.cli import check_device
    from flowfill.pipeline import bound_heap
    from flowfill.server.endpoint import default_socket
    from flowfill.server.server import Server, write_ready_file

    check_device(args.device)
    if args.idle_timeout is not None and args.idle_timeout <= 0:
        raise InputError("--idle-timeout", "must be positive")
    if args.threads is not None:
        if args.threads < 1:
            raise InputError("--threads", "must be at least 1")
        import cv2
        import torch

        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    bound_heap()  # the server is its own process: the allocator settings are ours to make
    socket_path = None if args.tcp else (args.socket or default_socket())
    server = Server(socket_path=socket_path, tcp=args.tcp, device=args.device,
                    idle_timeout=args.idle_timeout, log=not args.quiet)
    server.preload()  # listening means ready: the first client does not wait for the engine
    try:
        endpoint = server.bind()
    except OSError as err:
        raise InputError(socket_path or args.tcp, f"cannot listen: {err.strerror or err}") from None
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    if args.ready_file:
        write_ready_file(args.ready_file, endpoint + (f" {server.token}" if server.token else ""))
    if not args.quiet:
        print(f"flowfill serve: listening on {endpoint}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.close()
    # The socket is gone and every client answered: skip the interpreter's slow teardown
    # (torch's takes seconds), so a host waiting for the server to exit is not kept waiting.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
