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
from conftest import (
    _alive,
    _cmdline,
    _descendants,
    kill_once_saved,
    read_rgb,
    repo_env,
    watch,
    write_rgb,
)

from flowfill import cli
from flowfill.options import Options
from flowfill.plan import plan

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_clips"
RAY_THIRD = "127.0.0.4"
"""Loopback address of the node added, then removed, by the node-loss test."""
def flowfill_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flowfill", "remove", *args]


def run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          env=repo_env(), cwd=ROOT)
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
    proc = subprocess.Popen(flowfill_cmd(str(frames), "-m", str(masks), "-o",
                                         str(tmp_path / "ray"), *FAST, "--ray", cluster.address,
                                         "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=repo_env(), cwd=ROOT)
    killed = []

    def kill_a_filling_worker() -> bool:
        for pid in cluster.processes() - before:  # a worker the run started...
            if _cmdline(pid).startswith("ray::WindowWorker.fill"):  # ...inside a window
                time.sleep(0.2)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return True
        return False

    watch(proc, kill_a_filling_worker, every=0.02)
    _, err = proc.communicate(timeout=300)
    assert killed, "no worker was seen filling a window"
    assert proc.returncode == 0, err
    assert not _alive(killed[0])
    assert_identical(tmp_path / "ray", shots_local)


def test_a_node_removed_mid_run_changes_nothing(cluster, tmp_path):
    """A third node joins, the run puts a worker on it, and the node is removed while that
    worker fills a window: the window runs again on the workers left, the output is the same."""
    common = [str(SAMPLE / "pan"), "-m", str(SAMPLE / "pan_mask"), "--frames", "0:24", *FAST]
    run(flowfill_cmd(*common, "-o", str(tmp_path / "local")))
    node = cluster.cluster.add_node(num_cpus=1, node_ip_address=RAY_THIRD)
    cluster.cluster.wait_for_nodes()
    node_pids = {info.process.pid for infos in node.all_processes.values() for info in infos}
    # 8 windows, 3 workers with 2 windows each in flight: the third node's worker gets some
    proc = subprocess.Popen(flowfill_cmd(*common, "-o", str(tmp_path / "ray"), "--ray",
                                         cluster.address),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=repo_env(), cwd=ROOT)

    def remove_the_node_of_a_filling_worker() -> bool:
        for pid in _descendants(sorted(node_pids)):  # a worker on the third node...
            if _cmdline(pid).startswith("ray::WindowWorker.fill"):  # ...inside a window
                cluster.cluster.remove_node(node, allow_graceful=False)
                return True
        return False

    removed = watch(proc, remove_the_node_of_a_filling_worker, every=0.02)
    if not removed:
        cluster.cluster.remove_node(node, allow_graceful=False)
    _, err = proc.communicate(timeout=300)
    # until Ray has marked the removed node dead it still counts that node's CPU, and the next
    # run's pool asks for a worker too many (which now gets no window: the test below); the
    # next tests start from a settled cluster
    cluster.cluster.wait_for_nodes(timeout=120)
    cluster.wait_no_workers()
    assert removed, "no worker was seen filling a window on the third node"
    assert proc.returncode == 0, err
    assert "(1 lost, their windows run again)" in err
    assert not any(_alive(p) for p in node_pids)
    assert_identical(tmp_path / "ray", tmp_path / "local")


def test_a_killed_driver_resumes_with_only_the_missing_windows(cluster, shots, shots_local,
                                                               tmp_path):
    """``remove --ray`` killed once its first window is checkpointed; ``--resume`` computes
    only the windows not on disk and writes the local run's output."""
    frames, masks = shots
    out = tmp_path / "ray"
    args = flowfill_cmd(str(frames), "-m", str(masks), "-o", str(out), *FAST, "--ray",
                        cluster.address)
    proc = subprocess.Popen([*args, "--quiet"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=repo_env(), cwd=ROOT)
    checkpoint = tmp_path / ".ray.flowfill-resume"
    kill_once_saved(proc, checkpoint)
    cluster.wait_no_workers()  # the resumed run needs the CPUs the dead driver's workers held
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not out.exists()
    kept = sorted(int(p.stem.split("-")[1]) for p in checkpoint.glob("window-*.npz"))
    windows = len(plan(np.zeros(12), [6], Options(window=4, overlap=1).validated()).to_fill)
    done = run([*args, "--resume"])
    assert_identical(out, shots_local)
    assert f"cluster: {windows - len(kept)} windows computed by the workers" in done.stderr
    assert "frames taken from the interrupted run" in done.stderr
    assert not checkpoint.exists()


def test_workers_reserve_memory_by_resolution(cluster, shots):
    """Each worker reserves BASE + bytes per pixel x frames of a window (Ray's memory
    resource), so a node takes only the workers it can hold; a need beyond every node is
    capped at the largest with a warning."""
    from flowfill.devices import Threads
    from flowfill.dist.cluster import Target, connected
    from flowfill.dist.driver import WindowPool, worker_memory
    from flowfill.dist.worker import Clip

    frames, masks = shots
    options = Options(window=4, overlap=1, fill="telea", edges="off").validated()
    work = plan(np.zeros(12), [6], options)
    need = worker_memory((320, 180), options)
    assert need == 2**30 + 64 * 320 * 180 * (4 + options.reference_frames)
    cluster.wait_no_workers()  # none of an earlier test's still reserving memory
    with connected(Target(cluster.address)) as ray:
        free = ray.available_resources()["memory"]
        pool = WindowPool(ray, Clip(str(frames), str(masks), None, (320, 180)), work, 2,
                          Threads.here())
        try:
            assert pool.reserve == need
            ray.get([a.pid.remote() for a in pool.actors])  # both placed
            taken = free - ray.available_resources().get("memory", 0)
            assert taken == pytest.approx(2 * need, rel=0.01)
            pool._reserve(10**15)  # a frame no node can hold
            assert pool.reserve == max(n["Resources"]["memory"] for n in ray.nodes()
                                       if n["Alive"])
        finally:
            pool.close()


def test_windows_go_only_to_workers_that_started(cluster, shots):
    """A pool asked for more workers than the cluster can place (a dead node Ray still counts,
    CPUs another job holds): the worker that never starts is given no window, and every window
    is filled by the others. Before, it was given windows like the rest, and the run waited
    for them for ever."""
    import threading

    from flowfill.devices import Threads
    from flowfill.dist.cluster import Target, cluster_cpus, connected
    from flowfill.dist.driver import WindowPool
    from flowfill.dist.worker import Clip

    frames, masks = shots
    # 6 windows: two each in flight on three workers, so the unplaced one would get two
    options = Options(window=3, overlap=1, fill="telea", edges="off").validated()
    work = plan(np.zeros(12), [6], options)
    cluster.wait_no_workers()
    with connected(Target(cluster.address)) as ray:
        workers = cluster_cpus(ray) + 1  # one more than there are CPUs: it cannot be placed
        pool = WindowPool(ray, Clip(str(frames), str(masks)), work, workers, Threads.here())
        filled: dict[int, object] = {}

        def fill_all() -> None:
            for w in work.to_fill:
                filled[w.window.start] = pool.fill(w.window, [])

        try:
            runner = threading.Thread(target=fill_all, daemon=True)
            runner.start()
            runner.join(timeout=180)
            assert not runner.is_alive(), (f"{len(filled)} of {len(work.to_fill)} windows "
                                           "filled in 180 s: they wait on a worker never placed")
            assert len(pool.actors) == workers and sum(pool.ready) == workers - 1
            assert pool.busy[pool.ready.index(False)] == 0
            assert pool.computed == len(work.to_fill) > 2 * (workers - 1) and pool.lost == 0
        finally:
            pool.close()


def test_an_input_error_in_a_worker_is_raised_as_it_is(cluster, shots, tmp_path):
    """A frame that became unreadable after the driver's scan: the worker's InputError comes
    back to the driver as the one-line error it is (Ray retries lost workers, not this)."""
    from flowfill.devices import Threads
    from flowfill.dist.cluster import Target, connected
    from flowfill.dist.driver import WindowPool
    from flowfill.dist.worker import Clip
    from flowfill.errors import InputError

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


def test_a_worker_reads_only_its_frames_of_an_image_sequence(shots, tmp_path):
    """A window late in an image sequence is read without decoding the frames before it (an
    unreadable earlier frame does not stop it), and equals what reading in order gives."""
    from flowfill.dist.worker import Clip, read_items
    from flowfill.errors import InputError

    frames, masks = shots
    broken = tmp_path / "in"
    broken.mkdir()
    for p in frames.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    (broken / "0001.png").write_bytes(b"not a png")  # (frame 0 is opened for the clip's size)
    options = Options(window=4, overlap=1).validated()
    got = read_items(Clip(str(broken), str(masks)), {8, 9, 11}, options)
    want = read_items(Clip(str(frames), str(masks)), {8, 9, 11}, options)
    assert sorted(got) == [8, 9, 11]
    for t in got:
        assert np.array_equal(got[t].frame, want[t].frame)
        assert np.array_equal(got[t].mask, want[t].mask)
        assert np.array_equal(got[t].hole, want[t].hole)
    with pytest.raises(InputError, match="0001.png"):
        read_items(Clip(str(broken), str(masks)), {1, 2}, options)


def test_a_quiet_run_on_a_local_cluster_prints_nothing(cluster, tmp_path, monkeypatch):
    """``--ray local:1 --quiet``: Ray's start-up notice (token authentication) is silenced too,
    and the output is written; ``local`` starts its own cluster even where RAY_ADDRESS names
    another (here the session's)."""
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    done = run(flowfill_cmd(str(SAMPLE / "pan"), "-m", str(SAMPLE / "pan_mask"), "--frames",
                            "0:6", *FAST, "-o", str(tmp_path / "out"), "--ray", "local:1",
                            "--quiet"))
    assert done.stderr == "" and done.stdout == ""
    assert len(os.listdir(tmp_path / "out")) == 6


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
