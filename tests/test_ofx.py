"""The OpenFX plugin (plugins/ofx) loaded by the project's own test host (tests/ofx_host) and
rendering through a real ``flowfill serve``.

The plugin and the host are built with CMake into build/ofx (incrementally: a second run only
checks timestamps). No OpenFX host application runs here, so tests/ofx_host plays one: it
dlopens the bundle from its standard layout, provides the host suites, drives the actions and
reads and writes frames as FFIM files (a 24-byte header, then raw samples; see
tests/ofx_host/frames.h). Every test gets its own socket under tmp_path, and the plugin starts
the server there itself (FLOWFILL_EXECUTABLE is this environment's ``flowfill``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import hole_psnr, trivial_fills

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "ofx"
BUNDLE = BUILD / "flowfill.ofx.bundle"
BINARY = BUNDLE / "Contents" / "Linux-x86-64" / "flowfill.ofx"
HOST = BUILD / "ofx_host"
FLOWFILL = Path(sys.executable).parent / "flowfill"

FIRST, N, H, W = 1001, 24, 64, 96
# Cheap options with several windows (window boundaries are crossed), as both the plugin's
# parameters and the CLI's flags.
PARAMS = {"fill": "telea", "window": "10", "overlap": "3", "edges": "off"}
CLI_FLAGS = ["--fill", "telea", "--window", "10", "--overlap", "3", "--edges", "off",
             "--flow-tone", "display"]  # the plug-in's default Light, whatever the files hold
OUT_OF_ORDER = [1013, 1002, 1024, 1007, 1001, 1019, 1010, 1016, 1005, 1022, 1003, 1014, 1020,
                1008, 1011, 1023, 1004, 1017, 1009, 1015, 1021, 1006, 1018, 1012]


# ---- building --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ofx_build() -> Path:
    """Configure and build the bundle and the test host; fail loudly without the tools."""
    cmake, cxx = shutil.which("cmake"), shutil.which("g++") or shutil.which("c++")
    if cmake is None or cxx is None:
        pytest.fail("building the OpenFX plugin needs cmake and a C++17 compiler (g++) on PATH: "
                    "install them (apt-get install cmake g++)")
    # Configuring an existing build folder again takes a fraction of a second and makes sure
    # the test host is on; the build only recompiles what changed.
    steps = [[cmake, "-S", str(ROOT / "plugins" / "ofx"), "-B", str(BUILD),
              "-DCMAKE_BUILD_TYPE=Release", "-DFLOWFILL_OFX_TEST_HOST=ON"],
             [cmake, "--build", str(BUILD), "-j2"]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(step)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    assert BINARY.is_file() and HOST.is_file()
    return BUNDLE


# ---- frames ------------------------------------------------------------------------------------


def write_ffim(path: Path, image: np.ndarray) -> None:
    """An FFIM file: magic, version, width, height, channels, bytes per sample; samples."""
    image = np.ascontiguousarray(image)
    channels = 1 if image.ndim == 2 else image.shape[2]
    head = np.array([0x4D494646, 1, image.shape[1], image.shape[0], channels,
                     image.dtype.itemsize], "<u4")
    path.write_bytes(head.tobytes() + image.astype(image.dtype.newbyteorder("<")).tobytes())


def read_ffim(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    magic, version, w, h, c, size = np.frombuffer(raw[:24], "<u4")
    assert magic == 0x4D494646 and version == 1, path
    dtype = {1: np.dtype(np.uint8), 2: np.dtype("<u2"), 4: np.dtype("<f4")}[int(size)]
    return np.frombuffer(raw[24:], dtype).reshape(int(h), int(w), int(c))


def write_clip(folder: Path, images: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        write_ffim(folder / f"{FIRST + i}.ffim", image)
    return folder


def read_results(folder: Path) -> dict[int, np.ndarray]:
    return {int(p.stem): read_ffim(p) for p in folder.glob("*.ffim")}


def background() -> np.ndarray:
    """The clip's background alone (N x H x W x 3 float): what is behind the square."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:H, 0 : W + 2 * N].astype(np.float32)
    base = np.stack([0.5 + 0.3 * np.sin(xx / 5) * np.cos(yy / 7),
                     0.4 + 0.2 * np.cos(xx / 3 + yy / 11),
                     0.3 + 0.25 * np.sin((xx + yy) / 6)], axis=2)
    base = (base + rng.normal(0, 0.03, base.shape)).astype(np.float32)
    return np.stack([base[:, 2 * t : 2 * t + W] for t in range(N)])


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """24 frames of a textured background panning left with a red square moving right over it:
    float RGB (N x H x W x 3), the square's soft matte (N x H x W float: 1 inside, a 0.3 ring
    around, 0 elsewhere) and what is removed (matte > 0, as flowfill remove reads a mask)."""
    rgb = background()
    alpha = np.zeros((N, H, W), np.float32)
    for t in range(N):
        alpha[t, 19:37, 9 + 3 * t : 27 + 3 * t] = 0.3
        alpha[t, 20:36, 10 + 3 * t : 26 + 3 * t] = 1.0
    matte = alpha > 0
    rgb[alpha == 1] = (0.9, 0.1, 0.1)
    return rgb, alpha, matte


@pytest.fixture(scope="module")
def rgba(clip) -> np.ndarray:
    """The clip as float RGBA with the matte in alpha (the Filter context's input)."""
    rgb, alpha, _ = clip
    return np.concatenate([rgb, alpha[..., None]], axis=3)


def cli_on(rgba: np.ndarray, folder: Path, ext: str) -> np.ndarray:
    """``flowfill remove`` on RGBA frames (matte in alpha) written as ``ext`` files in
    ``folder``; its output frames, RGB as the files hold them."""
    for i in range(N):
        assert cv2.imwrite(str(folder / f"in.{FIRST + i:04d}.{ext}"), rgba[i][:, :, [2, 1, 0, 3]])
    out = folder / "out"
    done = subprocess.run([str(FLOWFILL), "remove", str(folder / f"in.%04d.{ext}"), "--mask",
                           "alpha", "--output", str(out / f"out.%04d.{ext}"), "--quiet",
                           *CLI_FLAGS], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return np.stack([cv2.imread(str(out / f"out.{FIRST + i:04d}.{ext}"),
                                cv2.IMREAD_UNCHANGED)[:, :, 2::-1] for i in range(N)])


@pytest.fixture(scope="module")
def reference(rgba, tmp_path_factory) -> np.ndarray:
    """``flowfill remove`` on the clip written as float RGBA EXR (matte in alpha)."""
    out = cli_on(rgba, tmp_path_factory.mktemp("cli"), "exr").astype(np.float32)
    # what the plugin is held to is itself filled: the background behind the square at 26-38
    # dB per frame, 32.7 on average; the frame's mean colour 15.6-16.1, Telea 17.4-21.5 (19.1)
    bg, matte = background(), rgba[..., 3] > 0
    ours = [hole_psnr(out[t], bg[t], matte[t]) for t in range(N)]
    telea = [hole_psnr(trivial_fills(rgba[t, ..., :3], matte[t])["telea"], bg[t], matte[t])
             for t in range(N)]
    assert min(ours) > 18 and np.mean(ours) > np.mean(telea) + 5, (ours, telea)
    return out


@pytest.fixture(scope="module")
def clip16(rgba, tmp_path_factory) -> tuple[np.ndarray, np.ndarray]:
    """The clip quantised to 16-bit RGBA (matte in alpha), and ``flowfill remove`` on it
    written as 16-bit PNG (its output: 16-bit PNG, RGB)."""
    q16 = np.round(rgba * 65535).astype(np.uint16)
    out = cli_on(q16, tmp_path_factory.mktemp("cli16"), "png")
    assert out.dtype == np.uint16
    return q16, out


# ---- running the host ---------------------------------------------------------------------------


class Run:
    """What one run of the test host printed."""

    def __init__(self, returncode: int, lines: list[str], seconds: float) -> None:
        self.returncode, self.lines, self.seconds = returncode, lines, seconds
        self.renders: list[dict] = []
        self.needed: dict[int, list[tuple[int, int]]] = {}
        for line in lines:
            if line.startswith("RENDER "):
                fields = dict(f.split("=", 1) for f in line.split()[1:])
                fields["frame"] = int(fields["frame"])
                self.renders.append(fields)
            elif line.startswith("FRAMES_NEEDED "):
                frame = int(re.search(r"frame=(-?\d+)", line).group(1))
                spans = re.search(r"Source=(\S+)", line).group(1)
                self.needed[frame] = [(int(a), int(b))
                                      for a, b in re.findall(r"\[(-?\d+),(-?\d+)\]", spans)]

    def statuses(self) -> list[tuple[int, str]]:
        return [(r["frame"], r["status"]) for r in self.renders]

    def messages(self) -> list[str]:
        return [line for line in self.lines if line.startswith("MESSAGE ")]

    def __repr__(self) -> str:
        shown = [line for line in self.lines if not line.startswith("PROGRESS")]
        return f"exit {self.returncode}:\n" + "\n".join(shown[-40:])


def host_env(socket: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "FLOWFILL_SERVER": str(socket), "FLOWFILL_EXECUTABLE": str(FLOWFILL)}
    env.pop("FLOWFILL_TRANSPORT", None)
    env.update(extra)
    return env


def host_args(bundle: Path, source: Path, out: Path | None, frames: list[int] | str = "all",
              params: dict[str, str] = PARAMS, *more: str) -> list[str]:
    args = [str(HOST), str(bundle), "--source", str(source), "--strict-frames",
            "--frames", frames if isinstance(frames, str) else ",".join(map(str, frames))]
    if out is not None:
        args += ["--out", str(out)]
    for name, value in params.items():
        args += ["--param", f"{name}={value}"]
    return args + list(more)


def run_host(args: list[str], env: dict[str, str], timeout: float = 120) -> Run:
    start = time.monotonic()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    run = Run(done.returncode, done.stdout.splitlines(), time.monotonic() - start)
    assert done.returncode >= 0, f"the host crashed (signal {-done.returncode}): {done.stderr}"
    assert not any(line.startswith(("MISUSE", "OUT_OF_FRAMES_NEEDED")) for line in run.lines), run
    return run


def stop_server(endpoint: str, token: str | None = None) -> None:
    """Shut down a server left at ``endpoint`` (auto-started ones idle for 15 minutes)."""
    from flowfill.server.client import Client

    try:
        with Client(endpoint, token=token, timeout=5) as client:
            pid = int(client.info["pid"])
            client.shutdown()
    except OSError:
        return
    # It has stopped serving once it answers; the interpreter's own exit then takes seconds.
    for _ in range(20):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def socket_path(tmp_path):
    """A socket path of this test's own; whatever server ends up there is stopped after."""
    path = tmp_path / "srv" / "server.sock"
    yield path
    stop_server(str(path))


def start_server(*args: str, ready: Path) -> subprocess.Popen:
    proc = subprocess.Popen([str(FLOWFILL), "serve", "--quiet", "--ready-file", str(ready),
                             "--idle-timeout", "120", *args])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "flowfill serve exited at start"
        assert time.monotonic() < deadline, "flowfill serve did not get ready in 60 s"
        time.sleep(0.05)
    return proc


def assert_matches(results: dict[int, np.ndarray], reference: np.ndarray, frames) -> None:
    for f in frames:
        diff = np.abs(results[f][:, :, :3] - reference[f - FIRST]).max()
        assert diff <= 1e-5, f"frame {f}: max abs difference {diff} from flowfill remove"


# ---- tests --------------------------------------------------------------------------------------


def test_plugin_describes_itself(ofx_build):
    """One plugin, an image effect in the Filter and General contexts, float/16/8-bit, temporal
    access, sequential render preferred, a Mask clip marked as an optional mask, the options."""
    run = run_host([str(HOST), str(ofx_build), "--describe-only"], os.environ.copy())
    assert run.returncode == 0, run
    text = "\n".join(run.lines)
    assert "PLUGIN count=1 id=org.flowfill.Remove" in text
    describe = next(line for line in run.lines if line.startswith("DESCRIBE"))
    assert 'label="flowfill Remove" group="flowfill"' in describe
    assert "contexts=OfxImageEffectContextFilter,OfxImageEffectContextGeneral" in describe
    assert "depths=OfxBitDepthFloat,OfxBitDepthShort,OfxBitDepthByte" in describe
    assert "temporal=1 sequential=2" in describe
    general = next(line for line in run.lines if line.startswith("CONTEXT General"))
    assert "Mask(OfxImageComponentAlpha|OfxImageComponentRGBA|OfxImageComponentRGB,optional,mask," \
           "temporal)" in general
    assert "Source(OfxImageComponentRGBA|OfxImageComponentRGB,temporal)" in general
    for param in ("fill:Choice(csa|dip|siren|telea)", "dilate:Integer", "grow:Integer",
                  "window:Integer", "overlap:Integer", "flow:Choice(dis|raft|raft-small)",
                  "light:Choice(display|linear)",
                  "raftWeights:String", "edges:Choice(auto|on|off)",
                  "device:Choice(auto|cpu|cuda)", "matteThreshold:Double",
                  "moreOptions:String", "server:String"):
        assert param in general
    nm = subprocess.run(["nm", "-D", "--defined-only", str(BINARY)], capture_output=True,
                        text=True)
    if nm.returncode == 0:
        # Nothing else leaves the binary: no C++ runtime or template symbol a host could
        # interpose on (or take from us).
        exported = {line.split()[-1] for line in nm.stdout.splitlines()}
        assert exported == {"OfxGetNumberOfPlugins", "OfxGetPlugin"}, exported


def test_filter_context_in_order_and_out_of_order_match_cli(ofx_build, rgba, reference,
                                                             socket_path, tmp_path):
    """Source alpha is the (soft) matte. All 24 frames in order (pixels over the socket), then
    in a shuffled order on a new connection (shared memory): both equal flowfill remove; alpha
    comes back as it went in; every frame the server read was in the GetFramesNeeded answer."""
    source = write_clip(tmp_path / "src", rgba)

    in_order = run_host(host_args(ofx_build, source, tmp_path / "a"),
                        host_env(socket_path, FLOWFILL_TRANSPORT="socket"))
    assert in_order.returncode == 0, in_order
    assert in_order.statuses() == [(f, "OK") for f in range(FIRST, FIRST + N)]
    # Before the first scan the server needs the whole clip; later only the frame's windows.
    assert in_order.needed[FIRST] == [(FIRST, FIRST + N - 1)]
    assert all(hi - lo < 20 for f in range(FIRST + 1, FIRST + N) for lo, hi in in_order.needed[f])
    results = read_results(tmp_path / "a")
    assert_matches(results, reference, range(FIRST, FIRST + N))
    for f, image in results.items():
        assert np.array_equal(image[:, :, 3], rgba[f - FIRST, :, :, 3])

    shuffled = run_host(host_args(ofx_build, source, tmp_path / "b", OUT_OF_ORDER),
                        host_env(socket_path, FLOWFILL_TRANSPORT="shm"))
    assert shuffled.returncode == 0, shuffled
    assert shuffled.statuses() == [(f, "OK") for f in OUT_OF_ORDER]
    assert_matches(read_results(tmp_path / "b"), reference, OUT_OF_ORDER)


def test_general_context_mask_clip_keeps_alpha(ofx_build, clip, rgba, reference, socket_path,
                                               tmp_path):
    """The matte comes from the optional Mask clip (single channel); the Source's own alpha,
    arbitrary values, comes back bit for bit. Images with a non-zero origin and padded rows.
    Without a Mask clip the matte is the Source's alpha; Matte threshold keeps a soft edge."""
    rgb, soft, _ = clip
    alpha = np.random.default_rng(3).random((N, H, W, 1), dtype=np.float32)
    source = write_clip(tmp_path / "src", np.concatenate([rgb, alpha], axis=3))
    masks = write_clip(tmp_path / "mask", soft)
    frames = [1012, 1003, 1024]
    run = run_host(host_args(ofx_build, source, tmp_path / "out", frames, PARAMS, "--context",
                             "general", "--mask", str(masks), "--origin", "-7,5",
                             "--row-pad", "36"), host_env(socket_path))
    assert run.returncode == 0, run
    assert run.statuses() == [(f, "OK") for f in frames]
    results = read_results(tmp_path / "out")
    assert_matches(results, reference, frames)
    for f in frames:
        assert np.array_equal(results[f][:, :, 3], alpha[f - FIRST, :, :, 0])

    # Without a Mask clip the General context takes the matte from the Source's alpha.
    source = write_clip(tmp_path / "src2", rgba)
    run = run_host(host_args(ofx_build, source, tmp_path / "out2", [1012], PARAMS, "--context",
                             "general"), host_env(socket_path))
    assert run.returncode == 0, run
    assert_matches(read_results(tmp_path / "out2"), reference, [1012])

    # Matte threshold 0.5: the 0.3 ring around the square is kept, the square is filled.
    run = run_host(host_args(ofx_build, source, tmp_path / "out3", [1012],
                             {**PARAMS, "matteThreshold": "0.5"}), host_env(socket_path))
    assert run.returncode == 0, run
    image, ring = read_results(tmp_path / "out3")[1012], soft[11] == np.float32(0.3)
    assert np.array_equal(image[ring], rgba[11][ring])
    # the background in it: 37.8 dB; the frame's mean colour 15.6, Telea 18.9, black 8.6
    assert hole_psnr(image[..., :3], background()[11], soft[11] == 1) > 28


def test_integer_depths_exact_outside_the_mask(ofx_build, clip, clip16, reference,
                                              socket_path, tmp_path):
    """16-bit frames (over the Unix socket) come back bit for bit outside the matte, alpha
    included, and equal to flowfill remove on 16-bit PNGs inside it; 8-bit frames (over
    loopback TCP with the token) come back bit for bit outside the matte, filled inside."""
    rgb, alpha, matte = clip
    q16, cli16 = clip16
    source = write_clip(tmp_path / "src16", q16)
    frames = [1001, 1012, 1024]
    run = run_host(host_args(ofx_build, source, tmp_path / "out16", frames),
                   host_env(socket_path))
    assert run.returncode == 0, run
    results = read_results(tmp_path / "out16")
    for f in frames:
        image, i = results[f], f - FIRST
        assert image.dtype == np.uint16
        assert np.array_equal(image[~matte[i]], q16[i][~matte[i]])
        assert np.array_equal(image[..., 3], q16[i][..., 3])
        diff = np.abs(image[..., :3].astype(int) - cli16[i].astype(int)).max()
        assert diff <= 1, f"frame {f}: {diff} code values from flowfill remove on 16-bit PNG"

    q8 = np.round(np.concatenate([rgb, alpha[..., None]], axis=3) * 255).astype(np.uint8)
    source = write_clip(tmp_path / "src8", q8)
    ready = tmp_path / "tcp.ready"
    server = start_server("--tcp", "127.0.0.1:0", ready=ready)
    try:
        endpoint, token = ready.read_text().split()
        assert endpoint.startswith("tcp://127.0.0.1:")
        params = {**PARAMS, "server": endpoint}
        run = run_host(host_args(ofx_build, source, tmp_path / "out8", [1012], params),
                       host_env(socket_path, FLOWFILL_SERVER_TOKEN=token,
                                FLOWFILL_TRANSPORT="socket"))
        assert run.returncode == 0, run
        image = read_results(tmp_path / "out8")[1012]
        keep = ~matte[11]
        assert image.dtype == np.uint8 and np.array_equal(image[keep], q8[11][keep])
        # Filled: the red square is gone (8-bit input fills a little differently from float).
        assert np.abs(image[matte[11]][:, :3] / 255.0 - reference[11][matte[11]]).mean() < 0.1

        wrong = run_host(host_args(ofx_build, source, None, [1012], params),
                         host_env(socket_path, FLOWFILL_SERVER_TOKEN="not-the-token"))
        assert wrong.statuses() == [(1012, "FAILED")]
        assert "token" in " ".join(wrong.messages())
    finally:
        stop_server(endpoint, token)
        server.wait(timeout=30)


def test_server_killed_mid_render_fails_that_render_and_the_next_restarts_it(
        ofx_build, rgba, reference, socket_path, tmp_path):
    """A server that dies during a render: that render fails with a message (no crash, no
    hang); the next render starts a new server at the same socket and succeeds."""
    source = write_clip(tmp_path / "src", rgba)
    socket_path.parent.mkdir(mode=0o700)
    server = start_server("--socket", str(socket_path), ready=tmp_path / "ready")
    host = subprocess.Popen(host_args(ofx_build, source, tmp_path / "out", [1012, 1013]),
                            env=host_env(socket_path), stdout=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in host.stdout:
            lines.append(line.rstrip("\n"))
            # Past 0.5 the transfer is over and the server is filling the window.
            progress = re.match(r"PROGRESS frame=1012 value=([\d.]+)", line)
            if progress and float(progress.group(1)) > 0.5 and server.poll() is None:
                server.kill()
        returncode = host.wait(timeout=120)
    finally:
        if host.poll() is None:
            host.kill()
        server.wait(timeout=30)
    run = Run(returncode, lines, 0)
    assert server.returncode == -signal.SIGKILL
    assert returncode == 1, run
    assert run.statuses() == [(1012, "FAILED"), (1013, "OK")], run
    message = run.messages()[0]
    assert "lost the render server" in message and str(socket_path) in message
    assert "MESSAGE_CLEARED" in lines  # the error goes once a render works again
    assert_matches(read_results(tmp_path / "out"), reference, [1013])


def test_abort_stops_the_render_and_the_server_keeps_serving(ofx_build, rgba, reference,
                                                            socket_path, tmp_path):
    """The host's abort() turns true during the server's work (the first progress update after
    the 24 of the transfer): the plugin cancels, the render returns promptly with a failed
    status; the same frame then renders normally and the server still answers other clients.
    An abort during the transfer stops it between frames."""
    from flowfill.server.client import Client

    source = write_clip(tmp_path / "src", rgba)
    run = run_host(host_args(ofx_build, source, tmp_path / "out", [1012, 1012], PARAMS,
                             "--abort-after", str(N + 1)), host_env(socket_path))
    assert run.returncode == 1, run
    assert run.statuses() == [(1012, "ABORTED"), (1012, "OK")], run
    aborted = run.renders[0]
    assert aborted["code"] == "1" and float(aborted["abort_latency"]) < 5.0
    assert not run.messages()  # an abort is the user's doing: no error message
    assert_matches(read_results(tmp_path / "out"), reference, [1012])
    with Client(str(socket_path)) as client:
        assert client.status()["ok"]

    run = run_host(host_args(ofx_build, source, None, [1005], PARAMS, "--abort-after", "3"),
                   host_env(socket_path))
    assert run.statuses() == [(1005, "ABORTED")], run
    assert float(run.renders[0]["abort_latency"]) < 2.0
    assert sum(line.startswith("PROGRESS frame=") for line in run.lines) == 3


@pytest.mark.parametrize("case", ["missing", "exits", "not-on-path"])
def test_no_server_and_no_executable_fails_with_a_message(ofx_build, rgba, tmp_path, case):
    """Nothing listens and no server can be started: GetFramesNeeded falls back to the window
    around the frame, and the render fails at once with one line naming the socket and the
    remedy (the message suite's plain message when the host has no persistent messages)."""
    source = write_clip(tmp_path / "src", rgba[:3])
    socket = tmp_path / "srv" / "server.sock"
    env = host_env(socket)
    if case == "missing":
        env["FLOWFILL_EXECUTABLE"] = str(tmp_path / "nowhere" / "flowfill")
    elif case == "exits":
        env["FLOWFILL_EXECUTABLE"] = shutil.which("false") or "/bin/false"
    else:
        del env["FLOWFILL_EXECUTABLE"]
        env["PATH"] = str(tmp_path / "empty")
    more = ["--no-persistent-messages"] if case == "exits" else []
    run = run_host(host_args(ofx_build, source, tmp_path / "out", [1002], PARAMS, *more), env,
                   timeout=60)
    assert run.returncode == 1, run
    assert run.statuses() == [(1002, "FAILED")]
    assert run.needed[1002] == [(1001, 1003)]
    assert run.seconds < 20
    [message] = run.messages()
    assert f"persistent={0 if more else 1}" in message
    assert str(socket) in message and "FLOWFILL_EXECUTABLE" in message
    assert {"missing": "No such file", "exits": "exited at start",
            "not-on-path": "not found on PATH"}[case] in message
    assert not (tmp_path / "out" / "1002.ffim").exists()
