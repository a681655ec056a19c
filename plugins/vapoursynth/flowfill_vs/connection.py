"""One connection from a VapourSynth script to flowfill's render server (plugins/PROTOCOL.md).

The filter's Python (3.12+, where VapourSynth's wheels are) needs no torch: the engine runs in
``flowfill serve``, in whatever Python flowfill is installed in, and keeps it loaded between
scripts. This module speaks the protocol with the standard library and numpy only, and starts a
server when none answers at the endpoint (the same place and the same way the OpenFX plugin
does: ``flowfill serve --socket PATH --idle-timeout 900``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable

import numpy as np

PROTOCOL_VERSION = 1
_MAGIC = b"FFS1"
_PREFIX = struct.Struct("<4sIQ")
IDLE_TIMEOUT = 900
"""Seconds an auto-started server waits for a client before it exits."""
START_TIMEOUT = 300.0
"""Seconds to wait for an auto-started server to listen (it loads torch and the engine)."""

Fetch = Callable[[int], tuple[np.ndarray, np.ndarray]]
"""``fetch(n)`` -> (frame n as float32 H x W x 3, its mask as float32 H x W, 1 = remove)."""


class ServerError(Exception):
    """The server refused a request: ``code`` as in PROTOCOL.md, and its one-line message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def endpoint() -> str:
    """Where the server listens: ``$FLOWFILL_SERVER`` (a socket path or tcp://HOST:PORT), else
    the per-user default socket that ``flowfill serve`` also uses."""
    env = os.environ.get("FLOWFILL_SERVER", "")
    if env:
        return env
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "flowfill", "server.sock")
    return os.path.join(tempfile.gettempdir(), f"flowfill-{os.getuid()}", "server.sock")


def executable() -> str:
    """The ``flowfill`` command that starts a server: ``$FLOWFILL_EXECUTABLE`` or PATH."""
    name = os.environ.get("FLOWFILL_EXECUTABLE") or "flowfill"
    found = name if os.sep in name else shutil.which(name)
    if not found or not os.access(found, os.X_OK):
        raise ServerError("start", f"no render server answers and the flowfill command {name!r} "
                                   "was not found: install flowfill (any Python with torch) and "
                                   "put its flowfill on PATH, set FLOWFILL_EXECUTABLE=/path/to/"
                                   "flowfill, or run `flowfill serve` yourself")
    return found


class Connection:
    """A connection holding one shot at a time; requests are sent one after another (the
    caller serialises threads), replies read in order, progress pushes skipped."""

    def __init__(self, where: str | None = None, *, start: bool = True) -> None:
        self.where = where or endpoint()
        self.sock = _connect_or_start(self.where, start)
        self._next_id = 0
        hello: dict = {"op": "hello", "version": PROTOCOL_VERSION, "client": "flowfill_vs 0.1.0"}
        token = os.environ.get("FLOWFILL_SERVER_TOKEN")
        if token:
            hello["token"] = token
        try:
            self.info = self.call(hello)[0]
        except BaseException:
            self.sock.close()
            raise

    # -- framing --------------------------------------------------------------------------

    def call(self, header: dict, payload: bytes | np.ndarray = b"") -> tuple[dict, bytearray]:
        """Send a request and return its reply (header, payload); ServerError on ``ok: false``."""
        self._next_id += 1
        header = {**header, "id": self._next_id}
        body = json.dumps(header).encode()
        data = memoryview(np.ascontiguousarray(payload)).cast("B") if isinstance(
            payload, np.ndarray) else memoryview(payload)
        self.sock.sendall(_PREFIX.pack(_MAGIC, len(body), data.nbytes) + body)
        if data.nbytes:
            self.sock.sendall(data)
        while True:
            reply, blob = self._receive()
            if reply.get("op") == "progress" or reply.get("id") != self._next_id:
                continue
            if not reply.get("ok"):
                raise ServerError(str(reply.get("code", "internal")), str(reply.get("error")))
            return reply, blob

    def _receive(self) -> tuple[dict, bytearray]:
        magic, n_header, n_payload = _PREFIX.unpack(self._read(_PREFIX.size))
        if magic != _MAGIC:
            raise ServerError("protocol", f"the server at {self.where} does not speak the "
                                          "flowfill protocol")
        header = json.loads(self._read(n_header))
        return header, self._read(n_payload) if n_payload else bytearray()

    def _read(self, n: int) -> bytearray:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = self.sock.recv_into(view[got:], n - got)
            if k == 0:
                raise ServerError("closed", f"the render server at {self.where} closed the "
                                            "connection (see its log)")
            got += k
        return buf  # not copied: a 4K frame is 100 MB

    # -- the shot -------------------------------------------------------------------------

    def open_shot(self, width: int, height: int, count: int, options: dict) -> str:
        """Open a shot of ``count`` RGB frames with separate masks; returns its id."""
        reply, _ = self.call({"op": "open", "width": width, "height": height, "first": 0,
                              "last": count - 1, "channels": 3, "mask": "separate",
                              "options": options})
        return str(reply["shot"])

    def render(self, shot: str, n: int, shape: tuple[int, int], fetch: Fetch) -> np.ndarray:
        """Frame ``n`` filled (float32 H x W x 3); frames the server lacks come from ``fetch``."""
        height, width = shape
        while True:
            reply, blob = self.call({"op": "render", "shot": shot, "frame": n})
            if "need" not in reply:
                return np.frombuffer(blob, np.float32).reshape(height, width, 3)
            for first, last in reply["need"]:
                for f in range(first, last + 1):
                    rgb, mask = fetch(f)
                    data = np.concatenate([np.asarray(rgb, np.float32).reshape(-1),
                                           np.asarray(mask, np.float32).reshape(-1)])
                    self.call({"op": "put", "shot": shot, "frame": f}, data)

    def progress(self, shot: str) -> dict:
        """The shot's state as the server reports it (``windows_filled``, ``cuts``...)."""
        return self.call({"op": "progress", "shot": shot})[0]

    def close(self) -> None:
        """Drop the connection; the server frees its shot."""
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reaching a server --------------------------------------------------------------------


def _connect(where: str, timeout: float = 10.0) -> socket.socket:
    if where.startswith("tcp://"):
        host, _, port = where.removeprefix("tcp://").rpartition(":")
        sock = socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(where)
        except OSError:
            sock.close()
            raise
    sock.settimeout(None)
    return sock


def _connect_or_start(where: str, start: bool) -> socket.socket:
    try:
        return _connect(where)
    except OSError as err:
        if not start or where.startswith("tcp://"):
            reason = err.strerror or err
            raise ServerError("connect", f"no render server answers at {where} ({reason}); "
                                         "start one with `flowfill serve`") from None
    folder = os.path.dirname(where)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with open(where + ".lock", "w") as lock:  # one starter at a time, across processes
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(OSError):
            return _connect(where)  # another script started one meanwhile
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where)  # a socket nobody listens on: left by a server that died
        _start(where)
        return _connect(where)


def _start(where: str) -> None:
    """Start ``flowfill serve`` on ``where`` in its own session and wait until it listens."""
    ready, log_path = where + ".ready", where + ".log"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ready)
    command = [executable(), "serve", "--socket", where, "--idle-timeout", str(IDLE_TIMEOUT),
               "--ready-file", ready]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT
    while not os.path.exists(ready):
        if proc.poll() is not None:
            with open(log_path) as log:
                tail = log.read().strip().splitlines()[-1:] or ["(no output)"]
            raise ServerError("start", f"`{' '.join(command)}` exited with {proc.returncode}: "
                                       f"{tail[0]} (log: {log_path})")
        if time.monotonic() > deadline:
            proc.kill()
            raise ServerError("start", f"the render server did not listen within "
                                       f"{START_TIMEOUT:.0f} s (log: {log_path})")
        time.sleep(0.05)
