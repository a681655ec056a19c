"""``flowfill serve``: shots filled on demand for many clients, the engine loaded once.

Each client connection has a reader thread; a ``render`` runs on its own thread so that
``progress`` and ``cancel`` are answered while it works. Renders of all clients take turns on
one engine (one flow backend and edge net per set of flow options; the CPU has no room for two
fills at once, and the backends keep per-window state). A shot is a :class:`flowfill.Shot`
over the frames the client put: the server asks for frames it lacks (``need``) and keeps a
bounded number per shot. A malformed or failing request gets an error reply; only a broken
frame ends that one connection, never the server.
"""

from __future__ import annotations

import hmac
import itertools
import os
import secrets
import socket
import sys
import threading
import time
import traceback
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from flowfill import __version__
from flowfill.errors import Cancelled, InputError
from flowfill.flow import FlowEstimator
from flowfill.hops import edge_completer
from flowfill.options import Options
from flowfill.server import protocol
from flowfill.server.endpoint import connect, parse_tcp
from flowfill.shot import NeedFrames, Shot
from flowfill.window import flow_estimator

OPS = ("hello", "open", "frames_needed", "put", "render", "progress", "cancel", "close",
       "status", "shutdown")
PROGRESS_EVERY = 0.1
"""Seconds between pushed progress messages of one render (stage changes are sent at once)."""


class RequestError(Exception):
    """A request the server refuses: answered with ``code`` and a one-line message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(" ".join(message.split()))
        self.code = code


def _ranges(frames: list[int]) -> list[list[int]]:
    """Sorted frame numbers as inclusive [first, last] runs."""
    out: list[list[int]] = []
    for f in frames:
        if out and f == out[-1][1] + 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return out


def _field(header: dict, name: str, kind: type | tuple[type, ...]) -> object:
    value = header.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        what = getattr(kind, "__name__", str(kind))
        raise RequestError("bad-request", f"'{name}' is missing or not {what}")
    return value


def _error(code: str, message: str) -> dict:
    return {"ok": False, "code": code, "error": " ".join(message.split())}


class Engines:
    """Flow backends by their settings, built once and shared by every shot (the edge net is
    cached by ``flowfill.edges`` itself), and the one thread that renders with them.

    Renders of all clients queue for that thread: the backends keep per-window state, and one
    long-lived thread keeps torch's and OpenMP's thread pools warm (a new thread per render
    made each one build its own pool while the last one's workers still spun: +20-30% at
    432x240)."""

    def __init__(self) -> None:
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowfill-render")
        self._flows: dict[tuple, FlowEstimator] = {}
        self._guard = threading.Lock()

    def flow(self, options: Options) -> FlowEstimator:
        key = (options.flow, options.raft_weights, options.raft_iters, options.device,
               options.flow_max_side, options.flow_precision, options.flow_tone,
               options.nonlocal_frames + options.reference_frames)
        with self._guard:
            if key not in self._flows:
                self._flows[key] = flow_estimator(options)
                edge_completer(options)
            return self._flows[key]

    def __len__(self) -> int:
        return len(self._flows)


@dataclass
class ServedShot:
    """A client's shot: the frames it put (bounded), the Shot filling them, render state."""

    id: str
    width: int
    height: int
    first: int
    last: int
    channels: int
    mask_mode: str
    threshold: float
    capacity: int
    shot: Shot = field(init=False)
    frames: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=OrderedDict)
    pinned: set[int] = field(default_factory=set)
    cancel: threading.Event = field(default_factory=threading.Event)
    fraction: float = 0.0
    stage: str = ""
    rendering: bool = False

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        got = self.frames.get(self.first + i)
        if got is None:
            raise NeedFrames([i])
        return got

    def store(self, number: int, frame: np.ndarray, mask: np.ndarray) -> None:
        """Keep a frame; past the capacity drop the least recently used one the current render
        does not need and the scan has read."""
        self.frames[number] = (frame, mask)
        self.frames.move_to_end(number)
        if len(self.frames) <= self.capacity:
            return
        scanned = self.first + self.shot.scanned
        for old in list(self.frames):
            if len(self.frames) <= self.capacity:
                break
            if old not in self.pinned and old < scanned:
                del self.frames[old]

    def missing(self, index: int) -> list[int]:
        """Frame numbers a render of clip index ``index`` needs and the server lacks."""
        needed = [self.first + i for i in self.shot.frames_needed(index)]
        if self.shot.planned:
            self.pinned = set(needed)
        else:  # the scan reads each frame once: keep only those the render is likely to read
            # after it (the windows around the frame), or a long clip would all stay in memory
            reach = self.shot.options.window
            self.pinned = {f for f in needed if abs(f - self.first - index) < reach}
        return [f for f in needed if f not in self.frames]


class _Connection:
    """One client: its shots, its shared-memory blocks, at most one render in flight."""

    def __init__(self, server: Server, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.send_lock = threading.Lock()
        self.shots: dict[str, ServedShot] = {}
        self.blocks: dict[str, protocol.SharedBlock] = {}
        self.render_job: Future | None = None
        self.rendering = False
        self.greeted = False

    # -- replies ---------------------------------------------------------------------------

    def send(self, header: dict, payload: bytes | np.ndarray = b"") -> None:
        with self.send_lock:
            protocol.send(self.sock, header, payload)

    def reply(self, request: dict, payload: bytes | np.ndarray = b"", **fields: object) -> None:
        header: dict = {"ok": True, **fields}
        if "id" in request:
            header["id"] = request["id"]
        self.send(header, payload)

    def fail(self, request: dict, code: str, message: str) -> None:
        header = _error(code, str(message))
        if isinstance(request.get("id"), int):
            header["id"] = request["id"]
        self.send(header)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while True:
                try:
                    header, payload = protocol.receive(self.sock)
                except protocol.ProtocolError as err:
                    self.fail({}, "bad-request", str(err))
                    return
                self.dispatch(header, payload)
                if header.get("op") in ("hello", "shutdown") and not self.greeted:
                    return  # refused version or token: nothing more to say
                if header.get("op") == "shutdown":
                    return
        except (protocol.Closed, ConnectionError, OSError):
            pass  # the client went away: its shots go with it
        finally:
            self.finish()

    def dispatch(self, header: dict, payload: bytearray) -> None:
        op = header.get("op")
        try:
            if op not in OPS:
                raise RequestError("bad-request", f"unknown op {op!r}; known: {', '.join(OPS)}")
            if op != "hello" and not self.greeted:
                raise RequestError("bad-request", "send 'hello' first")
            getattr(self, f"op_{op}")(header, payload)
        except RequestError as err:
            self.fail(header, err.code, str(err))
        except InputError as err:
            self.fail(header, "input", str(err))
        except (protocol.Closed, ConnectionError):
            raise
        except Exception as err:  # a bug must not take the server down
            self.server.log(traceback.format_exc())
            self.fail(header, "internal", f"{type(err).__name__}: {err}")

    def finish(self) -> None:
        for served in self.shots.values():
            served.cancel.set()
        if self.render_job is not None:
            self.render_job.result()
        for served in self.shots.values():
            served.shot.close()
        self.shots.clear()
        for block in self.blocks.values():
            block.close()
        self.blocks.clear()
        try:
            self.sock.close()
        except OSError:
            pass
        self.server.left(self)

    # -- ops -------------------------------------------------------------------------------

    def op_hello(self, header: dict, payload: bytearray) -> None:
        version = _field(header, "version", int)
        if version > protocol.VERSION or version < 1:
            raise RequestError("version", f"this server speaks protocol {protocol.VERSION}, "
                                          f"the client asked for {version}: update flowfill")
        token = self.server.token
        if token is not None and not hmac.compare_digest(str(header.get("token", "")), token):
            raise RequestError("auth", "missing or wrong token")
        self.greeted = True
        self.reply(header, version=protocol.VERSION, server=f"flowfill {__version__}",
                   pid=os.getpid(), capabilities={
                       "shm": os.path.isdir("/dev/shm"), "alpha": True,
                       "mask": ["alpha", "separate"],
                       "options": sorted(Options.__dataclass_fields__),
                       "devices": self.server.devices(),
                   })

    def op_open(self, header: dict, payload: bytearray) -> None:
        width = _field(header, "width", int)
        height = _field(header, "height", int)
        first = _field(header, "first", int)
        last = _field(header, "last", int)
        channels = header.get("channels", 4)
        mask_mode = header.get("mask", "alpha")
        raw_options = header.get("options", {})
        threshold = header.get("threshold", 0.5)
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise RequestError("bad-request", "'threshold' must be a number")
        if width < 1 or height < 1:
            raise RequestError("bad-request", f"size {width}x{height} is empty")
        if last < first:
            raise RequestError("bad-request", f"frame range {first}..{last} is empty")
        if channels not in (3, 4):
            raise RequestError("bad-request", f"channels must be 3 or 4, not {channels!r}")
        if mask_mode not in ("alpha", "separate") or mask_mode == "alpha" and channels != 4:
            raise RequestError("bad-request", "mask must be 'separate', or 'alpha' with 4 channels")
        if not isinstance(raw_options, dict):
            raise RequestError("bad-request", "'options' must be an object")
        raw_options = {"device": self.server.device, **raw_options}
        try:
            options = Options.from_kwargs(**raw_options)
        except TypeError as err:
            raise InputError("options", str(err)) from None
        engine = self.server.engines.flow(options)
        shot_id = f"s{next(self.server.ids)}"
        served = ServedShot(shot_id, width, height, first, last, channels, mask_mode,
                            float(threshold), capacity=2 * options.window + options.overlap + 2)
        served.shot = Shot(last - first + 1, served.read, options, estimator=engine)
        self.shots[shot_id] = served
        self.reply(header, shot=shot_id, frames=last - first + 1)

    def _shot(self, header: dict) -> ServedShot:
        shot_id = header.get("shot")
        if shot_id not in self.shots:
            raise RequestError("unknown-shot", f"no shot {shot_id!r} is open on this connection")
        return self.shots[shot_id]

    def _frame(self, header: dict, served: ServedShot) -> int:
        number = _field(header, "frame", int)
        if not served.first <= number <= served.last:
            raise RequestError("bad-request", f"frame {number} is outside the shot's range "
                                              f"{served.first}..{served.last}")
        return number

    def _block(self, spec: object, nbytes: int) -> memoryview:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise RequestError("bad-request", "'shm' must be {\"name\": ..., \"offset\": ...}")
        name, offset = spec["name"], spec.get("offset", 0)
        if not isinstance(offset, int):
            raise RequestError("bad-request", "'shm.offset' must be an integer")
        try:
            block = self.blocks.get(name)
            if block is None or len(block.map) < offset + nbytes:
                if block is not None:
                    block.close()
                block = self.blocks[name] = protocol.SharedBlock(name)
            return block.view(offset, nbytes)
        except (OSError, ValueError) as err:
            raise RequestError("bad-request", f"shared memory: {err}") from None

    def op_frames_needed(self, header: dict, payload: bytearray) -> None:
        served = self._shot(header)
        number = self._frame(header, served)
        frames = [served.first + i for i in served.shot.frames_needed(number - served.first)]
        self.reply(header, ranges=_ranges(frames))

    def op_put(self, header: dict, payload: bytearray) -> None:
        served = self._shot(header)
        number = self._frame(header, served)
        pixels = served.width * served.height
        n_floats = pixels * served.channels + (pixels if served.mask_mode == "separate" else 0)
        if "shm" in header:
            data = np.frombuffer(self._block(header["shm"], n_floats * 4), np.float32).copy()
        else:
            if len(payload) != n_floats * 4:
                layout = f"{served.width}x{served.height}x{served.channels} float32"
                if served.mask_mode == "separate":
                    layout += " + mask"
                raise RequestError("bad-request", f"frame {number}: payload of {len(payload)} "
                                                  f"bytes, expected {n_floats * 4} ({layout})")
            data = np.frombuffer(payload, np.float32)
        frame = data[: pixels * served.channels].reshape(served.height, served.width,
                                                         served.channels)
        if served.mask_mode == "alpha":
            mask = frame[..., 3] > served.threshold
        else:
            mask = data[pixels * served.channels:].reshape(served.height, served.width)
            mask = mask > served.threshold
        served.store(number, frame, mask)
        if not served.shot.planned:
            served.shot.advance()  # the scan reads frames as they arrive, once each
        self.reply(header)

    def op_render(self, header: dict, payload: bytearray) -> None:
        served = self._shot(header)
        number = self._frame(header, served)
        if self.rendering:
            raise RequestError("busy", "a render is already running on this connection")
        if "shm" in header:
            self._block(header["shm"], served.width * served.height * served.channels * 4)
        missing = served.missing(number - served.first)
        if missing:
            self.reply(header, frame=number, need=_ranges(missing))
            return
        served.cancel.clear()
        self.rendering = True
        self.render_job = self.server.engines.worker.submit(self._render, header, served, number)

    def _render(self, header: dict, served: ServedShot, number: int) -> None:
        last_sent = [0.0, ""]

        def report(fraction: float, stage: str) -> None:
            served.fraction, served.stage = fraction, stage
            now = time.monotonic()
            if stage != last_sent[1] or now - last_sent[0] >= PROGRESS_EVERY:
                last_sent[:] = [now, stage]
                progress = {"op": "progress", "fraction": round(fraction, 4), "stage": stage}
                if "id" in header:
                    progress["id"] = header["id"]
                try:
                    self.send(progress)
                except OSError:
                    served.cancel.set()  # the client is gone

        served.rendering, served.fraction, served.stage = True, 0.0, "waiting"
        reply: dict = {"ok": True, "frame": number}
        payload: np.ndarray | bytes = b""
        try:
            started = time.perf_counter()
            out = served.shot.render(number - served.first, on_progress=report,
                                     cancelled=served.cancel.is_set)
            reply["seconds"] = round(time.perf_counter() - started, 6)
            out = np.ascontiguousarray(out, dtype=np.float32)
            reply["channels"] = served.channels
            if "shm" in header:
                view = self._block(header["shm"], out.nbytes)
                view[:] = memoryview(out).cast("B")
                reply["shm"] = True
            else:
                payload = out
        except NeedFrames:
            reply["need"] = _ranges(served.missing(number - served.first))
        except Cancelled:
            reply = _error("cancelled", f"render of frame {number} was cancelled")
        except InputError as err:
            reply = _error("input", str(err))
        except RequestError as err:
            reply = _error(err.code, str(err))
        except Exception as err:  # noqa: BLE001 - reported to the client, the server goes on
            self.server.log(traceback.format_exc())
            reply = _error("internal", f"{type(err).__name__}: {err}")
        served.rendering = False
        self.rendering = False  # before the reply: the client may send the next render at once
        if "id" in header:
            reply["id"] = header["id"]
        try:
            self.send(reply, payload)
        except OSError:
            pass  # the client is gone

    def op_progress(self, header: dict, payload: bytearray) -> None:
        served = self._shot(header)
        shot = served.shot
        self.reply(header, fraction=round(served.fraction, 4), stage=served.stage,
                   rendering=served.rendering, windows_filled=shot.windows_filled,
                   cuts=[served.first + c for c in shot.cuts] if shot.planned else None)

    def op_cancel(self, header: dict, payload: bytearray) -> None:
        self._shot(header).cancel.set()
        self.reply(header)

    def op_close(self, header: dict, payload: bytearray) -> None:
        served = self._shot(header)
        if served.rendering:
            served.cancel.set()
            if self.render_job is not None:
                self.render_job.result()
        served.shot.close()
        del self.shots[served.id]
        self.reply(header)

    def op_status(self, header: dict, payload: bytearray) -> None:
        self.reply(header, **self.server.status())

    def op_shutdown(self, header: dict, payload: bytearray) -> None:
        self.reply(header)
        self.server.shutdown()


class Server:
    """Listens on a Unix socket (or loopback TCP with a token) and serves shots until shut
    down, or until ``idle_timeout`` seconds pass with no client."""

    def __init__(self, socket_path: str | None = None, tcp: str | None = None,
                 device: str = "auto", idle_timeout: float | None = None,
                 log: bool = True) -> None:
        if (socket_path is None) == (tcp is None):
            raise ValueError("give exactly one of socket_path and tcp")
        self.socket_path = socket_path
        self.tcp = tcp
        self.device = device
        self.idle_timeout = idle_timeout
        self.token = secrets.token_hex(16) if tcp is not None else None
        self.engines = Engines()
        self.ids = itertools.count(1)
        self.started = time.monotonic()
        self._verbose = log
        self._connections: set[_Connection] = set()
        self._guard = threading.Lock()
        self._last_left = time.monotonic()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self.endpoint = ""

    def log(self, text: str) -> None:
        if self._verbose and sys.stderr is not None:
            print(text.rstrip(), file=sys.stderr, flush=True)

    def devices(self) -> list[str]:
        try:
            import torch
        except ImportError:
            return ["cpu"]
        return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

    def bind(self) -> str:
        """Open the listening socket; returns the endpoint text clients use."""
        if self.socket_path is not None:
            path = os.path.abspath(self.socket_path)
            folder = os.path.dirname(path)
            os.makedirs(folder, mode=0o700, exist_ok=True)
            if os.path.exists(path):
                try:
                    connect(path, timeout=1.0).close()
                except OSError:
                    os.unlink(path)  # a stale socket of a server that died
                else:
                    raise InputError(path, "a server is already listening on this socket")
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            os.chmod(path, 0o600)
            self.endpoint = path
        else:
            host, port = parse_tcp(self.tcp or "")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.socket(family, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            self.endpoint = f"tcp://{host}:{listener.getsockname()[1]}"
        listener.listen(16)
        listener.settimeout(0.5)
        self._listener = listener
        return self.endpoint

    def preload(self) -> None:
        """Load the default engine now, so the first client does not wait for it."""
        self.engines.flow(Options(device=self.device).validated())

    def serve_forever(self) -> None:
        if self._listener is None:
            self.bind()
        assert self._listener is not None
        try:
            while not self._stop.is_set():
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    if self._idle():
                        self.log("flowfill serve: idle, exiting")
                        break
                    continue
                except OSError:
                    if self._stop.is_set():
                        break
                    raise
                sock.settimeout(None)
                if sock.family != socket.AF_UNIX:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn = _Connection(self, sock)
                with self._guard:
                    self._connections.add(conn)
                threading.Thread(target=conn.run, daemon=True, name="flowfill-client").start()
        finally:
            self.close()

    def _idle(self) -> bool:
        with self._guard:
            busy = bool(self._connections)
        return (not busy and self.idle_timeout is not None
                and time.monotonic() - self._last_left > self.idle_timeout)

    def left(self, conn: _Connection) -> None:
        with self._guard:
            self._connections.discard(conn)
            self._last_left = time.monotonic()

    def status(self) -> dict:
        with self._guard:
            conns = list(self._connections)
        return {"clients": len(conns), "shots": sum(len(c.shots) for c in conns),
                "engines": len(self.engines), "uptime": round(time.monotonic() - self.started, 3)}

    def shutdown(self) -> None:
        """Stop accepting and cancel every render; ``serve_forever`` returns."""
        self._stop.set()
        with self._guard:
            conns = list(self._connections)
        for conn in conns:
            for served in conn.shots.values():
                served.cancel.set()

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            if self.socket_path is not None and os.path.exists(self.endpoint):
                try:
                    os.unlink(self.endpoint)
                except OSError:
                    pass
        with self._guard:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def write_ready_file(path: str, text: str) -> None:
    """Write ``text`` to ``path`` whole (temporary name, then rename), readable by us only."""
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, path)
