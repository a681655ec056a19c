"""The Python side of the render server's protocol (tests, benchmarks, scripts, Nuke tools)."""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker, shared_memory

import numpy as np

from flowfill import __version__
from flowfill.server import protocol
from flowfill.server.endpoint import connect, default_socket

Fetch = Callable[[int], tuple[np.ndarray, "np.ndarray | None"]]
"""``fetch(frame_number)`` -> (frame float32 H x W x C, mask H x W or None in alpha mode)."""


class ServerError(Exception):
    """An error reply: ``code`` as in PROTOCOL.md and the server's one-line message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Block:
    """A shared-memory object this client owns (created, sized, unlinked here)."""

    _names = itertools.count()

    def __init__(self, nbytes: int) -> None:
        name = f"flowfill-{os.getpid()}-{id(self):x}-{next(self._names)}"
        self.shm = shared_memory.SharedMemory(name=name, create=True, size=nbytes)
        self.name = "/" + name

    def spec(self) -> dict:
        return {"name": self.name, "offset": 0}

    def close(self) -> None:
        self.shm.close()
        try:
            self.shm.unlink()
        except FileNotFoundError:
            pass
        else:
            return
        try:  # already gone: keep the tracker from warning about it at exit
            resource_tracker.unregister(self.shm._name, "shared_memory")  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001
            pass


class Client:
    """One connection to a render server. ``transport`` 'socket' sends pixels in the messages,
    'shm' through a shared-memory block (falls back to the socket where the server has none).
    """

    def __init__(self, endpoint: str | None = None, token: str | None = None,
                 transport: str = "socket", timeout: float | None = 10.0) -> None:
        endpoint = endpoint or os.environ.get("FLOWFILL_SERVER") or default_socket()
        if token is None:
            token = os.environ.get("FLOWFILL_SERVER_TOKEN")
        self.endpoint = endpoint
        self.sock: socket.socket = connect(endpoint, timeout)
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._block: _Block | None = None
        self.last_seconds = 0.0
        hello = {"op": "hello", "version": protocol.VERSION, "client": f"flowfill {__version__}"}
        if token:
            hello["token"] = token
        try:
            self.info = self.call(hello)[0]
        except BaseException:
            self.sock.close()
            raise
        self.shm = transport == "shm" and bool(self.info["capabilities"].get("shm"))

    # -- plumbing --------------------------------------------------------------------------

    def send(self, header: dict, payload: bytes | np.ndarray = b"") -> int:
        """Send a request (thread-safe); returns its id."""
        header = {**header, "id": header.get("id", next(self._ids))}
        with self._send_lock:
            protocol.send(self.sock, header, payload)
        return header["id"]

    def wait(self, request_id: int,
             on_progress: Callable[[float, str], None] | None = None) -> tuple[dict, bytearray]:
        """Read messages until the reply to ``request_id``; progress pushes go to the callback,
        replies to other requests (a cancel sent meanwhile) are dropped."""
        while True:
            header, payload = protocol.receive(self.sock)
            if header.get("op") == "progress":
                if on_progress is not None and header.get("id") == request_id:
                    on_progress(float(header["fraction"]), str(header.get("stage", "")))
                continue
            if header.get("id") != request_id:
                continue
            if not header.get("ok"):
                raise ServerError(header.get("code", "internal"), header.get("error", ""))
            return header, payload

    def call(self, header: dict, payload: bytes | np.ndarray = b"") -> tuple[dict, bytearray]:
        return self.wait(self.send(header, payload))

    def _shared(self, nbytes: int) -> _Block:
        if self._block is None or self._block.shm.size < nbytes:
            if self._block is not None:
                self._block.close()
            self._block = _Block(nbytes)
        return self._block

    # -- requests --------------------------------------------------------------------------

    def open_shot(self, width: int, height: int, first: int, last: int, channels: int = 3,
                  mask: str = "separate", options: dict | None = None) -> str:
        """Open a shot of frames ``first..last``; returns its id."""
        reply, _ = self.call({"op": "open", "width": width, "height": height, "first": first,
                              "last": last, "channels": channels, "mask": mask,
                              "options": options or {}})
        return reply["shot"]

    def frames_needed(self, shot: str, frame: int) -> list[list[int]]:
        return self.call({"op": "frames_needed", "shot": shot, "frame": frame})[0]["ranges"]

    def put(self, shot: str, frame: int, pixels: np.ndarray,
            mask: np.ndarray | None = None) -> None:
        """Hand over one frame (H x W x C float32, rows top to bottom) and, in 'separate' mask
        mode, its mask (H x W; above 0.5 = remove)."""
        data = np.ascontiguousarray(pixels, dtype=np.float32).reshape(-1)
        if mask is not None:
            data = np.concatenate([data, np.asarray(mask, dtype=np.float32).reshape(-1)])
        header = {"op": "put", "shot": shot, "frame": frame}
        if self.shm:
            block = self._shared(data.nbytes)
            np.frombuffer(block.shm.buf, np.float32, data.size)[:] = data
            header["shm"] = block.spec()
            self.call(header)
        else:
            self.call(header, data)

    def render(self, shot: str, frame: int, fetch: Fetch | None = None,
               on_progress: Callable[[float, str], None] | None = None,
               shape: tuple[int, int, int] | None = None) -> np.ndarray:
        """Frame ``frame`` filled (H x W x C float32). When the server needs frames it lacks,
        ``fetch`` supplies them (without it, ServerError 'need'). ``shape`` (H, W, C) is
        required with the shm transport. ``self.last_seconds``: the server's own time
        filling the frame (without transfers), for benchmarks."""
        while True:
            header = {"op": "render", "shot": shot, "frame": frame}
            block = None
            if self.shm:
                if shape is None:
                    raise ValueError("shape is needed with the shm transport")
                block = self._shared(int(np.prod(shape)) * 4)
                header["shm"] = block.spec()
            reply, payload = self.wait(self.send(header), on_progress)
            if "need" in reply:
                if fetch is None:
                    raise ServerError("need", f"the server needs frames {reply['need']}")
                for a, b in reply["need"]:
                    for f in range(a, b + 1):
                        pixels, mask = fetch(f)
                        self.put(shot, f, pixels, mask)
                continue
            self.last_seconds = float(reply.get("seconds", 0.0))
            if block is not None:
                assert shape is not None
                return np.frombuffer(block.shm.buf, np.float32, int(np.prod(shape))).reshape(
                    shape).copy()
            out = np.frombuffer(payload, np.float32)
            return out.reshape(-1, 1) if shape is None else out.reshape(shape)

    def progress(self, shot: str) -> dict:
        return self.call({"op": "progress", "shot": shot})[0]

    def cancel(self, shot: str) -> None:
        """Ask for the shot's running render to stop (safe from another thread; the reply is
        read by whoever waits on the connection)."""
        self.send({"op": "cancel", "shot": shot})

    def close_shot(self, shot: str) -> None:
        self.call({"op": "close", "shot": shot})

    def status(self) -> dict:
        return self.call({"op": "status"})[0]

    def shutdown(self) -> None:
        self.call({"op": "shutdown"})

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            if self._block is not None:
                self._block.close()
                self._block = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def shot(client: Client, frames: np.ndarray, masks: np.ndarray | None, first: int = 0,
         options: dict | None = None) -> Iterator[Callable[[int], np.ndarray]]:
    """Open a shot over in-memory ``frames`` (N x H x W x C) and ``masks`` (N x H x W, or None
    for the alpha channel); yields ``render(frame_number)``; closes the shot after."""
    n, h, w, c = frames.shape
    mode = "alpha" if masks is None else "separate"
    shot_id = client.open_shot(w, h, first, first + n - 1, c, mode, options)

    def fetch(f: int) -> tuple[np.ndarray, np.ndarray | None]:
        return frames[f - first], None if masks is None else masks[f - first]

    try:
        yield lambda f: client.render(shot_id, f, fetch, shape=(h, w, c))
    finally:
        client.close_shot(shot_id)
