"""What the render server costs on top of the engine, and what a warm server saves.

Prints, at 432x240 and 1080p, seconds per frame of the engine itself (``flowfill.Shot`` in this
process) against the same frames rendered through ``flowfill serve`` by the Python client over
the Unix socket and over shared memory, in order, as a host renders (medians of interleaved
runs); the overhead in percent: the client's wall time over the server's own filling time (what
the protocol and transfers add), and over the engine run in this process (which adds what a
second process changes);
and the round trip of a frame whose window is already filled (transfer and protocol only).
Then the time to the first frame of a new shot on a warm server against a cold
``flowfill remove`` of the same clip (a new process: imports, engine load, the whole clip).

    python benchmarks/server_overhead.py [--frames 10] [--sizes 432x240,1920x1080]

Figures go to benchmarks/RESULTS.md with the commit they were measured on. Not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import flowfill
from flowfill.options import cli_flags
from flowfill.server.client import Client

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT.parent / "shared" / "clips" / "tennis"
FLOWFILL = str(Path(sys.executable).parent / "flowfill")


def load_clip(n: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames of the shared tennis clip (or the sample clip) at ``size`` (w, h)."""
    folder = CLIP if CLIP.is_dir() else ROOT / "sample_clips" / "pan"
    mask_folder = Path(str(folder) + "_mask")
    names = sorted(p.name for p in folder.iterdir())[:n]
    masks_names = sorted(p.name for p in mask_folder.iterdir())[:n]
    frames = [cv2.resize(cv2.imread(str(folder / f))[:, :, ::-1], size,
                         interpolation=cv2.INTER_AREA).astype(np.float32) / 255 for f in names]
    masks = [cv2.resize(cv2.imread(str(mask_folder / m), cv2.IMREAD_GRAYSCALE), size,
                        interpolation=cv2.INTER_NEAREST) > 0 for m in masks_names]
    return np.stack(frames), np.stack(masks)


def start_server(folder: str) -> tuple[subprocess.Popen, str]:
    ready = Path(folder) / "ready"
    proc = subprocess.Popen([FLOWFILL, "serve", "--quiet", "--socket", f"{folder}/s.sock",
                             "--ready-file", str(ready)])
    while not ready.exists():
        if proc.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    return proc, ready.read_text().strip()


def engine_seconds(frames: np.ndarray, masks: np.ndarray, options: dict) -> float:
    shot = flowfill.Shot(len(frames), lambda i: (frames[i], masks[i]),
                         flowfill.Options(**options))
    t0 = time.perf_counter()
    for i in range(len(frames)):
        shot.render(i)
    return time.perf_counter() - t0


def server_seconds(endpoint: str, transport: str, frames: np.ndarray, masks: np.ndarray,
                   options: dict) -> tuple[float, float, float]:
    """Seconds for the clip in order through the server, the server's own filling time within
    them, and the round trip of a frame whose window is cached."""
    n, h, w, c = frames.shape
    with Client(endpoint, transport=transport) as client:
        sid = client.open_shot(w, h, 0, n - 1, c, "separate", options)

        def fetch(f: int) -> tuple[np.ndarray, np.ndarray]:
            return frames[f], masks[f]

        t0 = time.perf_counter()
        inside = 0.0
        for i in range(n):
            client.render(sid, i, fetch, shape=(h, w, c))
            inside += client.last_seconds
        total = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(n):
            client.render(sid, i, fetch, shape=(h, w, c))
        cached = (time.perf_counter() - t0) / n
        client.close_shot(sid)
    return total, inside, cached


def first_frame(endpoint: str, frames: np.ndarray, masks: np.ndarray, options: dict,
                folder: str) -> tuple[float, float]:
    """Warm server: seconds to the first frame of a new shot. Cold CLI: seconds for
    ``flowfill remove`` of the same frames (written as PNGs first, not timed)."""
    n, h, w, c = frames.shape
    with Client(endpoint) as client:
        sid = client.open_shot(w, h, 0, n - 1, c, "separate", options)
        t0 = time.perf_counter()
        client.render(sid, 0, lambda f: (frames[f], masks[f]), shape=(h, w, c))
        warm = time.perf_counter() - t0
        client.close_shot(sid)
    src, msk = Path(folder) / "src", Path(folder) / "msk"
    src.mkdir(exist_ok=True)
    msk.mkdir(exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(src / f"{i:04d}.png"), (frames[i][:, :, ::-1] * 255).round().astype(
            np.uint8))
        cv2.imwrite(str(msk / f"{i:04d}.png"), masks[i].astype(np.uint8) * 255)
    args = [FLOWFILL, "remove", str(src), "--mask", str(msk), "--output",
            f"{folder}/out/%04d.png", "--quiet", *cli_flags(options)]
    t0 = time.perf_counter()
    subprocess.run(args, check=True)
    return warm, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--sizes", default="432x240,1920x1080")
    parser.add_argument("--repeat", type=int, default=3,
                        help="interleaved runs of each route; the median is printed")
    args = parser.parse_args()
    options = {"window": args.frames, "overlap": min(10, args.frames // 2)}
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as folder:
        proc, endpoint = start_server(folder)
        try:
            print("| size | engine in process s/frame | socket s/frame (server's own) | "
                  "shm s/frame (server's own) | overhead over the server's own time, socket / "
                  "shm | against the engine in this process, socket / shm | cached frame, "
                  "socket / shm |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for size in args.sizes.split(","):
                w, h = (int(v) for v in size.split("x"))
                frames, masks = load_clip(args.frames, (w, h))
                runs: dict[str, list[float]] = {"engine": [], "socket": [], "shm": []}
                inside: dict[str, list[float]] = {"socket": [], "shm": []}
                cached: dict[str, list[float]] = {"socket": [], "shm": []}
                for _ in range(args.repeat):  # interleaved, so drifting load hits all three
                    runs["engine"].append(engine_seconds(frames, masks, options))
                    for transport in ("socket", "shm"):
                        total, own, per_frame = server_seconds(endpoint, transport, frames,
                                                               masks, options)
                        runs[transport].append(total)
                        inside[transport].append(own)
                        cached[transport].append(per_frame)
                n = args.frames
                med = {k: float(np.median(v)) / n for k, v in runs.items()}
                own = {k: float(np.median(v)) / n for k, v in inside.items()}
                wire = {k: float(np.median([(t - o) / n for t, o in zip(runs[k], inside[k],
                                                                          strict=True)]))
                        for k in inside}
                hit = {k: float(np.median(v)) * 1000 for k, v in cached.items()}
                print(f"| {w}x{h} | {med['engine']:.3f} | {med['socket']:.3f} "
                      f"({own['socket']:.3f}) | {med['shm']:.3f} ({own['shm']:.3f}) | "
                      f"{100 * wire['socket'] / own['socket']:.1f}% / "
                      f"{100 * wire['shm'] / own['shm']:.1f}% | "
                      f"{100 * (med['socket'] / med['engine'] - 1):+.1f}% / "
                      f"{100 * (med['shm'] / med['engine'] - 1):+.1f}% | "
                      f"{hit['socket']:.1f} / {hit['shm']:.1f} ms |")
            frames, masks = load_clip(args.frames, (432, 240))
            warm, cold = first_frame(endpoint, frames, masks, options, folder)
            print(f"\nfirst frame, 432x240, {args.frames}-frame shot: warm server {warm:.2f} s; "
                  f"cold `flowfill remove` of the clip {cold:.2f} s")
        finally:
            with Client(endpoint) as client:
                client.shutdown()
            proc.wait(timeout=30)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
