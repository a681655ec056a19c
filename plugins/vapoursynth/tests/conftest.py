"""Fixtures for the VapourSynth filter's tests: a render server, the sample clip, the CLI's answer.

These tests run in VapourSynth's Python (3.12+), which has no flowfill and no torch: the
filter is a client of ``flowfill serve``. ``$FLOWFILL_EXECUTABLE`` names the ``flowfill``
command of an environment that has flowfill (tests/test_vapoursynth.py sets it to the project's
own); the CLI reference and the server both run from there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "sample_clips"
BIN = Path(sys.executable).parent

OPTIONS = {"window": 8, "overlap": 2, "nonlocal_frames": 0, "edges": "off"}
"""Small windows (30 frames: 5 windows, overlaps cross-faded) and the cheaper stages off."""


def flowfill_command() -> str:
    """The ``flowfill`` command of the environment that has the engine (must be given)."""
    exe = os.environ.get("FLOWFILL_EXECUTABLE", "")
    if not exe or not os.access(exe, os.X_OK):
        raise RuntimeError("set FLOWFILL_EXECUTABLE to the flowfill command of an environment "
                           "with flowfill installed (tests/test_vapoursynth.py does)")
    return exe


def cli_flags(options: dict[str, object]) -> list[str]:
    """``{"nonlocal_frames": 0}`` as ``["--nonlocal-frames", "0"]``."""
    flags: list[str] = []
    for name, value in options.items():
        flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


def run_cli(frames: Path, masks: Path, out: Path, options: dict[str, object]) -> np.ndarray:
    """Run ``flowfill remove`` into float EXR files and read them back (N x H x W x 3 float32)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [flowfill_command(), "remove", str(frames), "--mask", str(masks),
           "--output", str(out / "%05d.exr"), "--quiet", *cli_flags(options)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return read_exrs(out)


def read_exrs(folder: Path) -> np.ndarray:
    """Float EXR frames of a folder, sorted, as RGB float32 (flowfill writes EXR as float32)."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    out = []
    for path in sorted(folder.glob("*.exr")):
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert pixels is not None and pixels.dtype == np.float32, path
        out.append(pixels[:, :, ::-1])
    return np.stack(out)


def read_pngs(folder: Path, grey: bool = False) -> np.ndarray:
    """The PNGs of a folder, sorted: RGB uint8 N x H x W x 3 (or grey N x H x W)."""
    flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    pixels = [cv2.imread(str(p), flag) for p in sorted(folder.glob("*.png"))]
    return np.stack(pixels if grey else [p[:, :, ::-1] for p in pixels])


class Server:
    """``flowfill serve`` on a private socket, as a child of the test (so its peak memory can
    be read when it exits)."""

    def __init__(self, folder: Path) -> None:
        self.socket = str(folder / "server.sock")
        ready = folder / "ready"
        self.log = folder / "server.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [flowfill_command(), "serve", "--socket", self.socket, "--ready-file",
                 str(ready), "--threads", "2", "--quiet"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 300
        while not ready.exists():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "the server did not start: " + self.log.read_text()
            time.sleep(0.05)

    def stop(self) -> int:
        """Stop the server; its peak resident memory in KiB."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return usage.ru_maxrss


@pytest.fixture(scope="session", autouse=True)
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One render server for the session; ``$FLOWFILL_SERVER`` points the filter (and vspipe,
    which inherits the environment) at it."""
    running = Server(tmp_path_factory.mktemp("server"))
    before = os.environ.get("FLOWFILL_SERVER")
    os.environ["FLOWFILL_SERVER"] = running.socket
    try:
        yield running
    finally:
        if before is None:
            os.environ.pop("FLOWFILL_SERVER", None)
        else:
            os.environ["FLOWFILL_SERVER"] = before
        running.stop()


@pytest.fixture(scope="session")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """The sample clip (30 frames, 320x180, RGB uint8) and its masks (uint8, 0 or 255)."""
    return read_pngs(SAMPLE / "pan"), read_pngs(SAMPLE / "pan_mask", grey=True)


@pytest.fixture(scope="session")
def cli_reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """What ``flowfill remove`` writes for the sample clip with OPTIONS (float32 EXR)."""
    out = tmp_path_factory.mktemp("cli")
    return run_cli(SAMPLE / "pan", SAMPLE / "pan_mask", out, OPTIONS)


@pytest.fixture(scope="session")
def vs_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for vspipe: VapourSynth configured for this venv's Python in a private
    config folder (``vapoursynth config`` would otherwise write to ~/.config)."""
    config = tmp_path_factory.mktemp("vsconfig")
    env = dict(os.environ, XDG_CONFIG_HOME=str(config))
    done = subprocess.run([str(BIN / "vapoursynth"), "config"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "successfully" in done.stdout, done.stdout + done.stderr
    return env
