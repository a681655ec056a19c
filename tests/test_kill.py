"""SIGKILL at random points of a real `flowfill remove`, then `--resume`: the output equals an
uninterrupted run's and no hidden file is left (temporaries of the dead run included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import read_rgb, square_masks, synthetic_frames, write_rgb

FLOWFILL = str(Path(sys.executable).parent / "flowfill")
FLAGS = ["--fill", "telea", "--edges", "off", "--nonlocal-frames", "0", "--window", "4",
         "--overlap", "1", "--reference-frames", "0", "--quiet"]
N = 24


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """The input clip, its masks and an uninterrupted run's output frames."""
    root = tmp_path_factory.mktemp("kill")
    frames, masks = synthetic_frames(N, 48, 64), square_masks(N, 48, 64)
    for sub, images in (("in", frames), ("m", [m.astype(np.uint8) * 255 for m in masks])):
        (root / sub).mkdir()
        for i, image in enumerate(images):
            write_rgb(root / sub / f"{i:04d}.png", image)
    run = subprocess.run([FLOWFILL, "remove", str(root / "in"), "-m", str(root / "m"), "-o",
                          str(root / "ref"), *FLAGS], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    reference = {p.name: read_rgb(p) for p in sorted((root / "ref").iterdir())}
    assert len(reference) == N
    return root / "in", root / "m", reference


def hidden(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


@pytest.mark.parametrize("output", ["out", "out.avi"])
@pytest.mark.parametrize("seed", range(3))
def test_sigkill_then_resume_gives_the_uninterrupted_output(tmp_path, clip, seed, output):
    frames, masks, reference = clip
    rng = np.random.default_rng(seed)
    out = tmp_path / output
    args = [FLOWFILL, "remove", str(frames), "-m", str(masks), "-o", str(out), *FLAGS]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # a random point: after 0 to 3 of the 8 windows are on disk, plus up to 0.3 s (start-up,
    # mid-window, mid-write of the output); at least 4 windows are left, so it dies mid-run
    windows = int(rng.integers(0, 4))
    saved = tmp_path / f".{output}.flowfill-resume"
    deadline = time.monotonic() + 300
    while len(list(saved.glob("window-*.npz"))) < windows and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(float(rng.uniform(0.0, 0.3)))
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL  # it died mid-run, not after finishing
    run = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert hidden(tmp_path) == []  # the dead run's temporary and the resume folder: gone
    if output == "out":
        got = {p.name: read_rgb(p) for p in sorted(out.iterdir())}
        assert got.keys() == reference.keys()
        for name, image in reference.items():
            np.testing.assert_array_equal(got[name], image, err_msg=name)
    else:
        from flowfill.io import MovieSource

        back = np.stack(list(MovieSource(str(out))))
        want = np.stack(list(reference.values())).astype(np.float32) / 255
        np.testing.assert_array_equal(np.round(back * 255), np.round(want * 255))  # FFV1


def _catches_sigint(pid: int) -> bool:
    """Whether the process has a handler for SIGINT (Linux: the SigCgt mask in /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signal.SIGINT - 1) & 1)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_start_up_stops_a_child_started_with_sigint_ignored(tmp_path, clip):
    """A host (or a background shell) starts flowfill with SIGINT ignored and cancels at once:
    the handler is there before the engine loads, so the run stops with 130 and writes nothing.
    """
    frames, masks, _ = clip
    out = tmp_path / "out"
    args = [FLOWFILL, "remove", str(frames), "-m", str(masks), "-o", str(out), *FLAGS]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 60
    while not _catches_sigint(proc.pid):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    with open(f"/proc/{proc.pid}/maps") as maps:
        assert "libtorch" not in maps.read(), "the handler came only after the engine loaded"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "flowfill: interrupted; no output was written"
    assert "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == []


CHILD = """
import atexit, importlib.abc, os, signal, sys, time

class Slow(importlib.abc.MetaPathFinder):
    # an interrupt arrives while flowfill.cli (and with it torch) is being imported
    def find_spec(self, name, path=None, target=None):
        if name == "flowfill.cli":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.3)
        return None

sys.meta_path.insert(0, Slow())
atexit.register(lambda: print("cli loaded:", "flowfill.cli" in sys.modules, flush=True))
from flowfill.__main__ import main
sys.argv = ["flowfill", "--version"]
sys.exit(main())
"""


def test_ctrl_c_while_the_engine_loads_waits_for_the_import_to_finish():
    """An interrupt during the engine's import is held until the import is done, then ends the
    run with 130 (raised inside torch's import, in one of its C++ callbacks, it aborted the
    process: exit -6, seen on a host's cancel in CI)."""
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 130, run.stderr
    assert run.stderr.strip().splitlines()[-1] == "flowfill: interrupted; no output was written"
    assert "Traceback" not in run.stderr
    assert run.stdout.strip() == "cli loaded: True"
