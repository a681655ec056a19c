"""The render server (flowfill serve) through its Python client, against the library and CLI."""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import read_rgb, square_masks, synthetic_frames, write_rgb

import flowfill
from flowfill.server import protocol
from flowfill.server.client import Client, ServerError, shot

FLOWFILL = str(Path(sys.executable).parent / "flowfill")
OPTS = {"fill": "telea", "window": 5, "overlap": 2, "nonlocal_frames": 0, "edges": "off"}


def clip(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    frames = np.stack(synthetic_frames(n)).astype(np.float32) / 255
    return frames, np.stack(square_masks(n))


def start_server(folder: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """A ``flowfill serve`` process; returns it and its endpoint once it is listening."""
    ready = folder / "ready"
    args = [FLOWFILL, "serve", "--quiet", "--ready-file", str(ready), "--threads", "1", *extra]
    if "--tcp" not in extra:
        args += ["--socket", str(folder / "s.sock")]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read()}")
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return proc, ready.read_text().strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    proc, endpoint = start_server(folder)
    yield endpoint
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    assert not Path(endpoint).exists()  # the socket is removed on exit


@pytest.fixture(scope="module")
def expected():
    frames, masks = clip()
    return frames, masks, flowfill.remove(frames, masks, **OPTS)


@pytest.mark.parametrize("transport", ["socket", "shm"])
def test_any_order_equals_the_library(server, expected, transport):
    frames, masks, want = expected
    order = [7, 3, 0, 11, 1, 2, 4, 5, 6, 8, 9, 10]  # windows 0-4, 3-7, 6-10, 9-11
    with Client(server, transport=transport) as client, \
            shot(client, frames, masks, first=1001, options=OPTS) as render:
        got = {i: render(1001 + i) for i in order}
        assert client.shm == (transport == "shm")
    assert max(np.abs(got[i] - want[i]).max() for i in order) == 0.0


def test_equals_the_cli_and_alpha_passes_through(server, tmp_path):
    n = 10
    frames, masks = clip(n)
    for i in range(n):  # 16-bit PNGs in, float EXR out: no rounding on the way back
        write_rgb(tmp_path / f"f{i:03d}.png", (frames[i] * 65535).round().astype(np.uint16))
        write_rgb(tmp_path / f"m{i:03d}.png", masks[i].astype(np.uint8) * 255)
    opts = {**OPTS, "window": 6}
    cli = [FLOWFILL, "remove", str(tmp_path / "f%03d.png"), "--mask", str(tmp_path / "m%03d.png"),
           "--output", str(tmp_path / "out" / "o%03d.exr"), "--quiet", "--fill", "telea",
           "--window", "6", "--overlap", "2", "--nonlocal-frames", "0", "--edges", "off"]
    subprocess.run(cli, check=True)
    want = np.stack([read_rgb(tmp_path / "out" / f"o{i:03d}.exr") for i in range(n)])
    sixteen = np.stack([read_rgb(tmp_path / f"f{i:03d}.png") for i in range(n)])
    alpha = np.where(masks, 0.9, 0.0).astype(np.float32)[..., None]
    rgba = np.concatenate([sixteen.astype(np.float32) / 65535, alpha], axis=3)
    with Client(server) as client, shot(client, rgba, None, options=opts) as render:
        got = np.stack([render(i) for i in (5, 9, 0, 1, 2, 3, 4, 6, 7, 8)])
    got = got[np.argsort([5, 9, 0, 1, 2, 3, 4, 6, 7, 8])]
    assert np.abs(got[..., :3] - want).max() <= 1e-5
    assert np.array_equal(got[..., 3], rgba[..., 3])
    assert np.array_equal(got[~masks], rgba[~masks])


def test_window_is_filled_once_and_progress_is_pushed(server):
    frames, masks = clip(10)
    with Client(server) as client:
        sid = client.open_shot(48, 32, 0, 9, 3, "separate", {**OPTS, "window": 10})
        assert client.frames_needed(sid, 4) == [[0, 9]]
        seen: list[tuple[float, str]] = []
        fetch = lambda f: (frames[f], masks[f])  # noqa: E731
        client.render(sid, 4, fetch, lambda f, s: seen.append((f, s)), shape=(32, 48, 3))
        assert seen and seen[-1][0] == 1.0 and [f for f, _ in seen] == sorted(f for f, _ in seen)
        assert {"flow", "propagate", "done"} <= {s for _, s in seen}  # scanned during puts
        assert client.frames_needed(sid, 7) == [[7, 7]]  # the window's results are kept
        t0 = time.perf_counter()
        for f in range(10):
            client.render(sid, f, fetch, shape=(32, 48, 3))
        assert time.perf_counter() - t0 < 2.0  # transfers only, no second fill
        assert client.progress(sid)["rendering"] is False


def test_bad_requests_get_error_replies_and_the_server_lives(server):
    with Client(server) as client:
        for header, code in [
            ({"op": "nope"}, "bad-request"),
            ({"op": "put", "shot": "s999", "frame": 0}, "unknown-shot"),
            ({"op": "open", "width": 48, "height": 32, "first": 0, "last": 3,
              "options": {"fill": "magic"}}, "input"),
            ({"op": "open", "width": 48, "height": 32, "first": 0, "last": 3,
              "options": {"bogus": 1}}, "input"),
            ({"op": "open", "width": 48, "height": 32, "first": 5, "last": 3}, "bad-request"),
            ({"op": "open", "width": "wide", "height": 32, "first": 0, "last": 3}, "bad-request"),
        ]:
            with pytest.raises(ServerError) as err:
                client.call(header)
            assert err.value.code == code, header
        sid = client.open_shot(48, 32, 0, 3, 3, "separate", OPTS)
        layout = r"expected 24576 \(48x32x3 float32 \+ mask\)"
        with pytest.raises(ServerError, match="payload of 12 bytes, " + layout):
            client.call({"op": "put", "shot": sid, "frame": 0}, b"x" * 12)
        with pytest.raises(ServerError, match="outside the shot's range 0..3"):
            client.call({"op": "render", "shot": sid, "frame": 4})
        with pytest.raises(ServerError, match="shared memory"):
            client.call({"op": "put", "shot": sid, "frame": 0,
                         "shm": {"name": "/flowfill-does-not-exist"}})
        frames, masks = clip(4)
        bad = lambda f: (frames[f], masks[f][:16])  # noqa: E731 - a mask of the wrong size
        with pytest.raises(ServerError, match="frame 0: payload of 21504 bytes, " + layout):
            client.render(sid, 0, bad)
    # garbage on the wire ends that connection only
    raw = socket.socket(socket.AF_UNIX)
    raw.connect(server)
    raw.sendall(b"HTTP/1.1 GET /\r\n\r\n" + b"\0" * 16)
    header, _ = protocol.receive(raw)
    assert header["ok"] is False and header["code"] == "bad-request"
    try:
        assert raw.recv(1) == b""  # closed (or reset: the garbage was left unread)
    except ConnectionResetError:
        pass
    raw.close()
    raw = socket.socket(socket.AF_UNIX)  # no hello first
    raw.connect(server)
    protocol.send(raw, {"op": "status"})
    assert protocol.receive(raw)[0]["error"] == "send 'hello' first"
    protocol.send(raw, {"op": "hello", "version": 2})
    assert protocol.receive(raw)[0]["code"] == "version"
    raw.close()
    with Client(server) as client:
        assert client.status()["ok"]


def test_vanished_client_frees_its_shot_and_cancel_stops_a_render(server):
    frames, masks = clip(10)
    big = {**OPTS, "window": 10, "fill": "csa"}
    with Client(server) as watcher:
        quitter = Client(server)
        sid = quitter.open_shot(48, 32, 0, 9, 3, "separate", big)
        for f in range(10):
            quitter.put(sid, f, frames[f], masks[f])
        quitter.send({"op": "render", "shot": sid, "frame": 3})
        quitter.sock.shutdown(socket.SHUT_RDWR)  # gone mid-render
        quitter.close()
        deadline = time.monotonic() + 20
        while watcher.status()["shots"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.status()["shots"] == 0

        sid = watcher.open_shot(48, 32, 0, 9, 3, "separate", big)
        for f in range(10):
            watcher.put(sid, f, frames[f], masks[f])
        started = threading.Event()

        def on_progress(fraction, stage):
            if not started.is_set():
                started.set()
                watcher.cancel(sid)

        t0 = time.perf_counter()
        with pytest.raises(ServerError) as err:
            watcher.render(sid, 3, on_progress=on_progress)
        assert err.value.code == "cancelled" and time.perf_counter() - t0 < 10
        out = watcher.render(sid, 3, shape=(32, 48, 3))  # the shot is still usable
        assert np.abs(out - flowfill.remove(frames, masks, **big)[3]).max() == 0.0


def test_two_clients_at_once(server, expected):
    frames, masks, want = expected
    results: dict[int, dict[int, np.ndarray]] = {}
    errors: list[BaseException] = []

    def work(k: int, order: list[int]) -> None:
        try:
            with Client(server) as client, shot(client, frames, masks, options=OPTS) as render:
                results[k] = {i: render(i) for i in order}
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(0, list(range(12)))),
               threading.Thread(target=work, args=(1, list(range(11, -1, -1))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in (0, 1):
        assert max(np.abs(results[k][i] - want[i]).max() for i in range(12)) == 0.0


def test_tcp_needs_the_token_and_idle_server_exits(tmp_path):
    proc, ready = start_server(tmp_path, "--tcp", "127.0.0.1:0", "--idle-timeout", "2")
    endpoint, token = ready.split()
    assert endpoint.startswith("tcp://127.0.0.1:")
    assert os.stat(tmp_path / "ready").st_mode & 0o077 == 0
    with pytest.raises(ServerError) as err:
        Client(endpoint, token="wrong")
    assert err.value.code == "auth"
    frames, masks = clip(6)
    with Client(endpoint, token=token) as client, \
            shot(client, frames, masks, options=OPTS) as render:
        assert np.array_equal(render(2)[~masks[2]], frames[2][~masks[2]])
    assert proc.wait(timeout=30) == 0  # idle for 2 s: gone by itself


def test_endpoint_rules(tmp_path, monkeypatch):
    from flowfill.server.endpoint import default_socket, parse_tcp

    monkeypatch.setenv("FLOWFILL_SERVER", str(tmp_path / "x.sock"))
    assert default_socket() == str(tmp_path / "x.sock")
    monkeypatch.delenv("FLOWFILL_SERVER")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_socket() == str(tmp_path / "flowfill" / "server.sock")
    assert parse_tcp("tcp://127.0.0.1:9") == ("127.0.0.1", 9)
    with pytest.raises(ValueError, match="not a loopback"):
        parse_tcp("10.0.0.1:9")
    assert struct.calcsize("<4sIQ") == protocol.PREFIX.size == 16


def test_second_server_on_a_busy_socket_is_refused(server):
    done = subprocess.run([FLOWFILL, "serve", "--socket", server], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"flowfill: error: {server}: a server is already listening on this socket"]


def test_threshold_chooses_what_a_soft_matte_removes(server):
    frames, masks = clip(6)
    soft = np.where(masks, 0.3, 0.0).astype(np.float32)
    with Client(server) as client:
        fetch = lambda f: (frames[f], soft[f])  # noqa: E731
        low = client.open_shot(48, 32, 0, 5, 3, "separate", OPTS)
        assert np.array_equal(client.render(low, 2, fetch, shape=(32, 48, 3)), frames[2])
        high = client.call({"op": "open", "width": 48, "height": 32, "first": 0, "last": 5,
                            "channels": 3, "mask": "separate", "threshold": 0.2,
                            "options": OPTS})[0]["shot"]
        got = client.render(high, 2, fetch, shape=(32, 48, 3))
    assert np.abs(got - flowfill.remove(frames, masks, **OPTS)[2]).max() == 0.0
