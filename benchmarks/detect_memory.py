"""Peak memory and speed of `--mask auto` detection on long clips: is it bounded by the clip?

Streams a synthetic 432x240 shot of N frames (a pan back and forth across a textured picture,
dust specks and a scratch painted on the fly, nothing held) through ``detect_defects`` in a fresh
process per N, and prints seconds per frame and the peak resident memory of each run.

    python benchmarks/detect_memory.py [--frames 100,1000] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

W, H = 432, 240


def frames(n: int, seed: int = 0):
    """N frames of a pan back and forth across a smooth random picture (of a fixed size, so the
    stream's own memory does not grow with N), with dust and a scratch on them."""
    import cv2

    rng = np.random.default_rng(seed)
    span = 4 * 150  # the pan turns every 150 frames
    big = np.zeros((H + 40, W + span, 3), np.float32)
    for sigma, weight in ((12.0, 0.6), (3.0, 0.3), (1.0, 0.1)):
        noise = rng.random(big.shape).astype(np.float32)
        big += weight * cv2.GaussianBlur(noise, (0, 0), sigma)
    big = (big - big.min()) / (big.max() - big.min()) * 0.7 + 0.15
    yy, xx = np.mgrid[0:H, 0:W]
    for t in range(n):
        x = (4 * t) % (2 * span)
        x = x if x <= span else 2 * span - x
        frame = big[20:20 + H, x:x + W].copy()
        for _ in range(int(rng.integers(1, 5))):  # dust, one frame each
            cx, cy, r = rng.uniform(10, W - 10), rng.uniform(10, H - 10), rng.uniform(2, 6)
            frame[np.hypot(xx - cx, yy - cy) <= r] = rng.choice([0.03, 0.97])
        if (t // 20) % 2:  # a scratch on every other stretch of 20 frames
            x = int(100 + 3 * np.sin(t / 7))
            frame[10:230, x:x + 2] = 0.9
        yield frame


def run_one(n: int) -> dict[str, float]:
    """Detect on an n-frame stream in this process; seconds per frame and peak RSS."""
    from flowfill.detect.defects import detect_defects

    t0 = time.perf_counter()
    flagged = 0
    for mask in detect_defects(frames(n)):
        flagged += int(mask.sum())
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB on Linux
    return {"frames": n, "seconds_per_frame": seconds / n, "peak_mb": peak,
            "flagged_percent": 100 * flagged / (n * W * H)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default="100,1000", help="clip lengths, comma-separated")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV/BLAS threads")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        import cv2

        cv2.setNumThreads(args.threads)
        print(json.dumps(run_one(args.one)))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    print(f"{'frames':>7}{'s/frame':>10}{'peak MB':>9}{'flagged %':>11}")
    for n in (int(v) for v in args.frames.split(",")):
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--threads",
                              str(args.threads)], capture_output=True, text=True, env=env,
                             check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['frames']:>7}{r['seconds_per_frame']:>10.4f}{r['peak_mb']:>9.0f}"
              f"{r['flagged_percent']:>11.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
