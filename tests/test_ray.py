"""`flowfill remove --ray` on a two-node Ray cluster started here on loopback: the output equals
the local run's bit for bit (one shot, several shots, a worker killed mid-window).

Ray is a test dependency (``pip install -e '.[test,ray]'``): these tests fail, never skip,
when it is missing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import RAY_FAST as FAST
from conftest import _alive, _cmdline, read_rgb, write_rgb

from flowfill import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_clips"
def flowfill_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowfill", "remove", *args]


def run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done


def frames_of(folder: Path) -> dict[str, np.ndarray]:
    found = {p.name: read_rgb(p) for p in sorted(folder.iterdir())}
    assert found
    return found


def assert_identical(got: Path, want: Path) -> None:
    a, b = frames_of(got), frames_of(want)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> tuple[Path, Path]:
    """Two shots from the sample clip: its first 6 frames, then a hard cut to 6 of its frames
    turned around and inverted (as tests/test_shot.py cuts), with their masks."""
    root = tmp_path_factory.mktemp("shots")
    (root / "in").mkdir()
    (root / "m").mkdir()
    for t in range(12):
        src = t if t < 6 else 12 + t
        frame = read_rgb(SAMPLE / "pan" / f"{src:05d}.png")
        mask = read_rgb(SAMPLE / "pan_mask" / f"{src:05d}.png")
        if t >= 6:
            frame, mask = 255 - frame[:, ::-1], mask[:, ::-1]
        write_rgb(root / "in" / f"{t:04d}.png", np.ascontiguousarray(frame))
        write_rgb(root / "m" / f"{t:04d}.png", np.ascontiguousarray(mask))
    return root / "in", root / "m"


@pytest.fixture(scope="module")
def shots_local(shots, tmp_path_factory) -> Path:
    frames, masks = shots
    out = tmp_path_factory.mktemp("local") / "out"
    done = run(flowfill_cmd(str(frames), "-m", str(masks), "-o", str(out), *FAST))
    assert "shot cuts: 1 (at frames 6)" in done.stderr  # the cut is there to be respected
    return out


def test_sample_clip_on_the_cluster_equals_the_local_run(cluster, tmp_path):
    common = [str(SAMPLE / "pan"), "-m", str(SAMPLE / "pan_mask"), "--frames", "0:10", *FAST]
    run(flowfill_cmd(*common, "-o", str(tmp_path / "local"), "--quiet"))
    done = run(flowfill_cmd(*common, "-o", str(tmp_path / "ray"), "--ray", cluster.address))
    assert_identical(tmp_path / "ray", tmp_path / "local")
    assert "10 frames" in done.stderr and "wrote" in done.stderr  # the summary, as locally
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporaries left


def test_several_shots_on_the_cluster_equal_the_local_run(cluster, shots, shots_local, tmp_path):
    frames, masks = shots
    done = run(flowfill_cmd(str(frames), "-m", str(masks), "-o", str(tmp_path / "ray"), *FAST,
                            "--ray", cluster.address))
    assert "shot cuts: 1 (at frames 6)" in done.stderr
    assert_identical(tmp_path / "ray", shots_local)


def test_a_worker_killed_mid_window_changes_nothing(cluster, shots, shots_local, tmp_path):
    frames, masks = shots
    before = cluster.processes()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen(flowfill_cmd(str(frames), "-m", str(masks), "-o",
                                         str(tmp_path / "ray"), *FAST, "--ray", cluster.address,
                                         "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    killed = None
    try:
        deadline = time.monotonic() + 300
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            for pid in cluster.processes() - before:  # a worker the run started...
                if _cmdline(pid).startswith("ray::WindowWorker.fill"):  # ...inside a window
                    time.sleep(0.2)
                    os.kill(pid, signal.SIGKILL)
                    killed = pid
                    break
            time.sleep(0.02)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert killed is not None, "no worker was seen filling a window"
    assert proc.returncode == 0, err
    assert not _alive(killed)
    assert_identical(tmp_path / "ray", shots_local)


def test_an_input_error_in_a_worker_is_raised_as_it_is(cluster, shots, tmp_path):
    """A frame that became unreadable after the driver's scan: the worker's InputError comes
    back to the driver as the one-line error it is (Ray retries lost workers, not this)."""
    from flowfill.devices import Threads
    from flowfill.dist.cluster import Target, connected
    from flowfill.dist.driver import WindowPool
    from flowfill.dist.worker import Clip
    from flowfill.errors import InputError
    from flowfill.options import Options
    from flowfill.plan import plan

    frames, masks = shots
    broken = tmp_path / "in"
    broken.mkdir()
    for p in frames.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    (broken / "0002.png").write_bytes(b"not a png")
    options = Options(window=4, overlap=1, fill="telea", edges="off").validated()
    work = plan(np.zeros(12), [6], options)
    with connected(Target(cluster.address)) as ray:
        pool = WindowPool(ray, Clip(str(broken), str(masks)), work, 1, Threads.here())
        try:
            with pytest.raises(InputError, match="0002.png"):
                pool.fill(work.works[0].window, [])
        finally:
            pool.close()


def test_without_ray_the_option_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    code = cli.main(["remove", str(SAMPLE / "pan"), "-m", str(SAMPLE / "pan_mask"),
                              "-o", str(tmp_path / "out"), "--ray", "local:2"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'flowfill[ray]'" in err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("target", ["local:0", "local:x", ""])
def test_a_bad_target_is_one_line(capsys, tmp_path, target):
    code = cli.main(["remove", str(SAMPLE / "pan"), "-m", str(SAMPLE / "pan_mask"),
                              "-o", str(tmp_path / "out"), "--ray", target])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--ray" in err
    assert not os.listdir(tmp_path)
