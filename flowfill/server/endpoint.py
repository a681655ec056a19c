"""Where the render server listens: a Unix socket by default, loopback TCP as the fallback."""

from __future__ import annotations

import os
import socket
import tempfile


def default_socket() -> str:
    """``$FLOWFILL_SERVER`` if it names a path; else the per-user default socket path."""
    env = os.environ.get("FLOWFILL_SERVER", "")
    if env and not env.startswith("tcp://"):
        return env
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "flowfill", "server.sock")
    return os.path.join(tempfile.gettempdir(), f"flowfill-{os.getuid()}", "server.sock")


def parse_tcp(address: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` or ``HOST:PORT`` as (host, port); only loopback hosts are allowed."""
    text = address.removeprefix("tcp://")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"not a HOST:PORT address: {address!r}")
    host = host.strip("[]") or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        raise ValueError(f"{host} is not a loopback address: the server is local only")
    return host, int(port)


def connect(endpoint: str, timeout: float | None = 10.0) -> socket.socket:
    """A connected socket to ``endpoint`` (a socket path, or tcp://HOST:PORT)."""
    if endpoint.startswith("tcp://"):
        host, port = parse_tcp(endpoint)
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(endpoint)
        except OSError:
            sock.close()
            raise
    sock.settimeout(None)
    return sock
