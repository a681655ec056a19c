"""Ray scaling: seconds per frame of a 432x240 pan locally and on a local Ray cluster.

Prints, in one run:
  1. s/frame of ``flowfill remove`` (end to end: scan, fill, write) on this machine and with
     ``--ray local:W``, the speed-up and the efficiency (speed-up / W), and whether the two
     outputs are identical bit for bit;
  2. Ray's start-up cost: ``ray.init`` of a W-CPU local cluster, then W workers loading the
     engine (ready to fill);
  3. the per-window scheduling overhead: the round trip of an empty call to a worker, and the
     driver's wait for a real window beyond the worker's own time filling it;
  4. the same clip on W simulated nodes: a Ray cluster of W nodes of one CPU each on loopback
     addresses (``ray.cluster_utils.Cluster``, each node its own raylet and object store, as
     separate machines would have), driven with ``--ray ADDRESS``.
Both runs use ``--threads`` threads per process (default 1: one worker per CPU, and the local
run on one CPU too, so efficiency compares like with like). Frames are rendered from
``flowfill.evaluate.scenes.long_scene`` (the street pan with the ball to remove).

    python benchmarks/ray_scale.py                          # 240 frames, 2 workers
    python benchmarks/ray_scale.py --frames 48 --window 16 --overlap 4 -- --fill telea   # quick
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_clip(folder: Path, frames: int) -> tuple[Path, Path]:
    """The pan's frames and masks as PNG sequences under ``folder``."""
    from flowfill.evaluate.scenes import iter_frames, long_scene

    src, mask = folder / "in", folder / "mask"
    src.mkdir()
    mask.mkdir()
    for t, (rgb, hole) in enumerate(iter_frames(long_scene(frames), True)):
        cv2.imwrite(str(src / f"{t:05d}.png"), np.ascontiguousarray(rgb[..., ::-1]))
        cv2.imwrite(str(mask / f"{t:05d}.png"), hole.astype(np.uint8) * 255)
    return src, mask


def timed_run(args: list[str]) -> float:
    """Seconds one ``flowfill remove`` takes (in a fresh process, this checkout's flowfill)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flowfill", "remove", *args, "--quiet"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"flowfill failed: {done.stderr.strip()}")
    return seconds


def same_frames(a: Path, b: Path) -> bool:
    names = sorted(os.listdir(a))
    return names == sorted(os.listdir(b)) and all(
        np.array_equal(cv2.imread(str(a / n), cv2.IMREAD_UNCHANGED),
                       cv2.imread(str(b / n), cv2.IMREAD_UNCHANGED)) for n in names)


def overheads(src: Path, mask: Path, workers: int, threads: int, engine: list[str],
              calls: int = 50) -> dict[str, float]:
    """Ray's start-up, the empty-call round trip and a window's wait beyond its fill."""
    import ray

    from flowfill import __version__
    from flowfill.cli import build_parser, options_from_args
    from flowfill.devices import Threads
    from flowfill.dist.worker import Clip, WindowWorker
    from flowfill.plan import plan
    from flowfill.references import scan_clip

    args = build_parser().parse_args(["remove", str(src), "-m", str(mask), "-o", "x", *engine])
    options = options_from_args(args)
    clip = Clip(str(src), str(mask))
    found = scan_clip(clip.open, options)
    work = plan(found.areas, found.cuts, options).to_fill[0]
    counts = Threads(threads, threads)
    counts.apply()
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        out["init"] = time.perf_counter() - t0
        remote = ray.remote(num_cpus=1)(WindowWorker)
        t0 = time.perf_counter()
        actors = [remote.remote(clip, options, counts, __version__) for _ in range(workers)]
        ray.get([a.pid.remote() for a in actors])
        out["workers"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(calls):
            ray.get(actors[0].pid.remote())
        out["call"] = (time.perf_counter() - t0) / calls
        ray.get(actors[0].fill.remote(work))  # the first window warms the worker's caches
        t0 = time.perf_counter()
        ray.get(actors[0].fill.remote(work))
        remote_fill = time.perf_counter() - t0
    finally:
        ray.shutdown()
    here = WindowWorker(clip, options, counts, __version__)
    here.fill(work)  # warmed the same way
    t0 = time.perf_counter()
    here.fill(work)
    out["window"] = remote_fill - (time.perf_counter() - t0)
    out["window_frames"] = work.window.size
    return out


@contextmanager
def simulated_nodes(count: int) -> Iterator[str]:
    """A Ray cluster of ``count`` one-CPU nodes on loopback (127.0.0.2, .3, ...); its address."""
    from ray.cluster_utils import Cluster

    saved = os.environ.get("PYTHONPATH")  # the nodes' workers import this checkout's flowfill
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved) if p)
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "node_ip_address": "127.0.0.2", "include_dashboard": False})
    try:
        for k in range(1, count):
            cluster.add_node(num_cpus=1, node_ip_address=f"127.0.0.{2 + k}")
        cluster.wait_for_nodes()
        yield cluster.address
    finally:
        cluster.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--window", type=int, help="flowfill --window (default its own)")
    parser.add_argument("--overlap", type=int, help="flowfill --overlap (default its own)")
    parser.add_argument("engine", nargs="*", help="more flowfill options, after --")
    a = parser.parse_args(argv)
    engine = list(a.engine)
    if a.window:
        engine += ["--window", str(a.window)]
    if a.overlap is not None:
        engine += ["--overlap", str(a.overlap)]
    with tempfile.TemporaryDirectory(prefix="ray_scale-") as tmp:
        root = Path(tmp)
        src, mask = write_clip(root, a.frames)
        common = [str(src), "-m", str(mask), "--threads", str(a.threads), *engine]
        local = timed_run([*common, "-o", str(root / "local")])
        dist = timed_run([*common, "-o", str(root / "ray"), "--ray", f"local:{a.workers}"])
        same = same_frames(root / "local", root / "ray")
        with simulated_nodes(a.workers) as address:
            nodes = timed_run([*common, "-o", str(root / "nodes"), "--ray", address])
        same_nodes = same_frames(root / "local", root / "nodes")
        over = overheads(src, mask, a.workers, a.threads, engine)
    speed_up = local / dist
    print(f"clip: {a.frames} frames 432x240, {a.threads} thread(s) per process, "
          f"options: {' '.join(engine) or 'defaults'}")
    print(f"local:            {local / a.frames:.3f} s/frame ({local:.1f} s)")
    print(f"ray local:{a.workers}:     {dist / a.frames:.3f} s/frame ({dist:.1f} s, start-up "
          "included)")
    print(f"speed-up:         {speed_up:.2f}x; efficiency {speed_up / a.workers:.0%}; "
          f"outputs identical: {'yes' if same else 'NO'}")
    print(f"{a.workers} sim. nodes:    {nodes / a.frames:.3f} s/frame ({nodes:.1f} s); speed-up "
          f"{local / nodes:.2f}x, efficiency {local / nodes / a.workers:.0%}; outputs identical: "
          f"{'yes' if same_nodes else 'NO'}")
    print(f"ray start-up:     ray.init {over['init']:.1f} s, {a.workers} workers ready "
          f"(engine loaded) {over['workers']:.1f} s")
    print(f"per-window cost:  empty call {1000 * over['call']:.2f} ms; a "
          f"{over['window_frames']:.0f}-frame window waited {over['window']:+.2f} s beyond "
          "its fill (reading its frames, returning the values)")
    return 0 if same and same_nodes else 1


if __name__ == "__main__":
    sys.exit(main())
