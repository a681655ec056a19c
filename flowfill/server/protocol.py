"""Message framing of the render server: magic, lengths, a JSON header, a raw payload.

See ``plugins/PROTOCOL.md``. Both sides use :func:`send` and :func:`receive`; pixels travel as
float32 rows top to bottom, channels interleaved, in the payload or in a shared-memory block.
"""

from __future__ import annotations

import json
import mmap
import os
import socket
import struct

import numpy as np

VERSION = 1
MAGIC = b"FFS1"
PREFIX = struct.Struct("<4sIQ")
MAX_HEADER = 1 << 20


class ProtocolError(Exception):
    """A malformed message: the connection cannot be trusted any more."""


class Closed(Exception):
    """The peer closed the connection."""


def send(sock: socket.socket, header: dict, payload: bytes | memoryview | np.ndarray = b"") -> None:
    """Send one message (the caller serialises concurrent senders)."""
    body = json.dumps(header, separators=(",", ":")).encode()
    data = memoryview(np.ascontiguousarray(payload)).cast("B") if isinstance(
        payload, np.ndarray) else memoryview(payload).cast("B")
    sock.sendall(PREFIX.pack(MAGIC, len(body), data.nbytes) + body)
    if data.nbytes:
        sock.sendall(data)


def _exactly(sock: socket.socket, n: int, into: bytearray | None = None) -> bytearray:
    buf = into if into is not None else bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise Closed("connection closed")
        got += k
    return buf


def receive(sock: socket.socket, max_payload: int = 1 << 34) -> tuple[dict, bytearray]:
    """Read one message: its header (a dict) and payload; ProtocolError if malformed."""
    magic, n_header, n_payload = PREFIX.unpack(_exactly(sock, PREFIX.size))
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    if n_header > MAX_HEADER:
        raise ProtocolError(f"header of {n_header} bytes is over the {MAX_HEADER} limit")
    if n_payload > max_payload:
        raise ProtocolError(f"payload of {n_payload} bytes is over the {max_payload} limit")
    try:
        header = json.loads(bytes(_exactly(sock, n_header)).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    payload = _exactly(sock, n_payload) if n_payload else bytearray()
    return header, payload


class SharedBlock:
    """A POSIX shared-memory object of the client's, mapped by name (never created or unlinked
    here: the client owns it)."""

    def __init__(self, name: str) -> None:
        if not name.startswith("/flowfill-") or "/" in name[1:] or len(name) > 250:
            raise ValueError(f"shared-memory name {name!r} must look like /flowfill-NAME")
        fd = os.open(f"/dev/shm/{name[1:]}", os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                raise ValueError(f"shared-memory object {name} is empty")
            self.map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.name = name

    def view(self, offset: int, nbytes: int) -> memoryview:
        if offset < 0 or offset + nbytes > len(self.map):
            raise ValueError(f"shared-memory object {self.name} holds {len(self.map)} bytes, "
                             f"{nbytes} at offset {offset} do not fit")
        return memoryview(self.map)[offset: offset + nbytes]

    def close(self) -> None:
        try:
            self.map.close()
        except BufferError:  # a view is still alive; the mapping goes with it
            pass
