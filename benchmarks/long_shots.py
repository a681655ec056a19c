"""Long shots and large frames: peak memory against clip length, seconds per frame against size.

Prints, in one run (each measurement in a freshly spawned Python, so peaks are its own):
  1. peak memory of ``remove_stream`` on 100 / 400 / 1,600-frame 432x240 pans (frames and masks
     generated lazily, scored as they come out) - flat when memory does not follow clip length;
  2. seconds per frame and the share of each stage at 432x240, 1080p and 2160p;
  3. a 1080p clip of 300 frames end to end: peak memory and speed.
Stage shares come from ``Stats.clock``; "other" is mask preparation, stitching, input and
scoring. ``--device`` picks CPU or CUDA (say which in results). Run with ``--help``.

    python benchmarks/long_shots.py                     # everything (about 40 min on 2 cores)
    python benchmarks/long_shots.py --lengths 100 --sizes 432x240 --long-1080 0   # quick
    python benchmarks/long_shots.py --lengths "" --long-1080 0 --speed-frames 24,8,5  # issue 19
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
from option_sets import option_sets

MB = 1024 * 1024


PERIOD = 70
"""Frames per cycle of the disc's motion: the default window stride (80 - 10), so every window
does the same work and only the clip's length changes between the memory runs."""


def blob_mask(t: int, n: int, h: int, w: int) -> np.ndarray:
    """A disc of radius h/10 swinging across the frame and back every PERIOD frames while
    drifting up and down twice as often: the same motion whatever the clip's length."""
    cx = w * (0.5 + 0.35 * np.sin(2 * np.pi * t / PERIOD))
    cy = h * (0.5 + 0.15 * np.sin(4 * np.pi * t / PERIOD))
    yy, xx = np.ogrid[0:h, 0:w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= (h / 10) ** 2


def run_clip(n: int, w: int, h: int, options: dict[str, Any]) -> dict[str, Any]:
    """Stream an n-frame w x h pan through flowfill with a moving disc removed."""
    import flowfill
    from flowfill.evaluate import memory, scenes
    from flowfill.evaluate.metrics import composite, hole_psnr, to_uint8
    from flowfill.pipeline import bound_heap, give_back_memory

    bound_heap()  # what remove_stream does first, done before the baseline is taken
    if str(options.get("device", "cpu")).startswith("cuda"):
        import torch

        torch.zeros(1, device=options["device"])  # the CUDA context, made before the clock runs

    spec = scenes.long_scene(n, w, h)
    scenes.render_frame(spec, 0, with_object=False)  # canvases built before measuring
    pending: dict[int, np.ndarray] = {}
    masks: dict[int, np.ndarray] = {}
    spent = {"input": 0.0, "score": 0.0}

    def frames():
        for t in range(n):
            t0 = time.perf_counter()
            pending[t] = scenes.render_frame(spec, t, with_object=False)[0]
            spent["input"] += time.perf_counter() - t0
            yield pending[t].astype(np.float32) / np.float32(255)

    def holes():
        for t in range(n):
            masks[t] = blob_mask(t, n, h, w)
            yield masks[t]

    give_back_memory()  # the harness's freed temporaries out of the baseline
    before = memory.current_rss()
    memory.reset_peak()
    stats = flowfill.Stats()
    scores = []
    t0 = time.perf_counter()
    opts = flowfill.Options.from_kwargs(**options)
    for t, out in enumerate(flowfill.remove_stream(frames(), holes(), opts, stats=stats)):
        t1 = time.perf_counter()
        truth, mask = pending.pop(t), masks.pop(t)
        scores.append(hole_psnr(composite(to_uint8(out), truth, mask), truth, mask))
        spent["score"] += time.perf_counter() - t1
    seconds = time.perf_counter() - t0 - spent["input"] - spent["score"]
    peak = memory.peak_rss()
    return {"gpu_peak_mb": _gpu_peak_mb(), "frames": n, "size": f"{w}x{h}", "seconds": seconds,
            "s_per_frame": seconds / n, "peak_mb": peak / MB, "rss_before_mb": (before or 0) / MB,
            "increase_mb": (peak - (before or 0)) / MB, "hole_psnr": float(np.nanmean(scores)),
            "stages": stats.clock.shares(seconds), "keyframes": stats.keyframes}


def _gpu_peak_mb() -> float | None:
    """Peak CUDA memory allocated by torch in this process (MB), None when CUDA was not used."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda.max_memory_allocated() / MB


def isolated(n: int, w: int, h: int, options: dict[str, Any]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(run_clip, n, w, h, options).result()


def _stages(r: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in r["stages"].items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", default="100,400,1600",
                        help="clip lengths of the memory run at 432x240 (comma list)")
    parser.add_argument("--sizes", default="432x240,1920x1080,3840x2160",
                        help="frame sizes of the speed run (comma list of WxH)")
    parser.add_argument("--speed-frames", default="12",
                        help="frames per clip in the speed run: one count for every size, or "
                             "one per size (comma list, e.g. 24,8,5)")
    parser.add_argument("--long-1080", type=int, default=300, metavar="N",
                        help="frames of the 1080p end-to-end run (0: skip)")
    parser.add_argument("--device", default="cpu", help="torch device for torch stages")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="any other flowfill.Options field, e.g. --set flow=raft "
                             "--set raft_weights=raft-things.pth (repeatable)")
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    options: dict[str, Any] = {"device": args.device, **option_sets(args.set)}
    report: dict[str, Any] = {"machine": f"{platform.machine()}, "
                              f"{multiprocessing.cpu_count()} cores", "device": args.device}
    report["options"] = options
    print(f"# long shots ({report['machine']}, options {options})")

    lengths = [int(x) for x in args.lengths.split(",") if x]
    if lengths:
        print("\n## peak memory against clip length (432x240, moving disc, defaults)")
        print(f"{'frames':>7} {'peak MB':>8} {'+MB':>7} {'s/frame':>8} {'hPSNR':>6}")
        runs = []
        for n in lengths:
            r = isolated(n, 432, 240, options)
            runs.append(r)
            print(f"{n:>7} {r['peak_mb']:>8.0f} {r['increase_mb']:>7.0f} "
                  f"{r['s_per_frame']:>8.3f} {r['hole_psnr']:>6.2f}", flush=True)
        inc = [r["increase_mb"] for r in runs]
        spread = max(inc) / min(inc) - 1 if min(inc) > 0 else float("nan")
        print(f"increase spread (max/min - 1): {spread:.1%}")
        report["memory"] = {"runs": runs, "spread": spread}

    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",") if s]
    if sizes:
        counts = [int(x) for x in args.speed_frames.split(",")]
        if len(counts) == 1:
            counts *= len(sizes)
        if len(counts) != len(sizes) or min(counts) < 2:
            parser.error("--speed-frames: one count (2 or more) for all sizes or one per size")
        print(f"\n## seconds per frame against size ({args.speed_frames} frames, moving disc)")
        report["speed"] = []
        for (w, h), n in zip(sizes, counts, strict=True):
            r = isolated(n, w, h, options)
            report["speed"].append(r)
            gpu = "" if r["gpu_peak_mb"] is None else f", GPU peak {r['gpu_peak_mb']:.0f} MB"
            print(f"{w}x{h} ({n} frames): {r['s_per_frame']:.3f} s/frame, "
                  f"peak {r['peak_mb']:.0f} MB{gpu}, hPSNR {r['hole_psnr']:.2f}; {_stages(r)}",
                  flush=True)

    if args.long_1080:
        print(f"\n## 1080p, {args.long_1080} frames end to end")
        r = isolated(args.long_1080, 1920, 1080, options)
        report["long_1080"] = r
        print(f"{r['frames']} frames: peak {r['peak_mb']:.0f} MB (+{r['increase_mb']:.0f}), "
              f"{r['s_per_frame']:.2f} s/frame, {r['seconds'] / 60:.1f} min, "
              f"hPSNR {r['hole_psnr']:.2f}; {_stages(r)}", flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
