"""Seconds per frame of the propagation and fusion stages: numpy against torch (CPU, and CUDA
when present), on one round of a synthetic window.

    python benchmarks/torch_stages.py [--frames 20] [--sizes 432x240,1920x1080] [--hole 0.08]
                                      [--poisson-frames 2] [--threads N]

The window: a blurred-noise texture panning 3 px per frame, with a smooth sub-pixel wobble in
the hops, and an elliptical hole (``--hole`` of the frame) crossing it. Both sweeps run over
every frame, then gather (two candidates) on every frame; the Poisson solve runs on
``--poisson-frames`` frames from the middle of the window (the numpy solve is the slow part at
1080p). Each backend works on its own outputs, as a pipeline would; the last columns give the
largest difference from numpy of the gathered colours and of the solved colours. Torch rows
are named device/precision of the Poisson solve (64: float64, 32: float32; sweeps and gather
are the same code in both, timed once). Inputs are put on the device beforehand (transfers are
not timed); CUDA is synchronised before each reading and everything is warmed up first. Torch
gets one CPU thread by default, as numpy uses one core for these stages.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowfill.fuse import poisson_fill, poisson_fill_torch  # noqa: E402
from flowfill.propagate import (  # noqa: E402
    Hops,
    gather,
    gather_torch,
    hops_to_torch,
    sweep,
    sweep_torch,
)

SPEED = 3
ALPHA = 0.7  # the default blending scale (options.alpha)


def synthetic_window(n: int, h: int, w: int, hole: float, seed: int = 0):
    """Frames (n x h x w x 3), hole masks, and hops to the previous and next frame."""
    rng = np.random.default_rng(seed)
    big = cv2.GaussianBlur(rng.random((h, w + SPEED * n, 3)).astype(np.float32), (0, 0), 2.0)
    frames = np.stack([big[:, SPEED * t : SPEED * t + w] for t in range(n)])
    b = 0.2 * h
    a = hole * h * w / (np.pi * b)
    yy, xx = np.mgrid[0:h, 0:w]
    masks = np.stack([((xx - (0.3 * w + 0.4 * w * t / max(n - 1, 1))) / a) ** 2
                      + ((yy - 0.5 * h) / b) ** 2 <= 1 for t in range(n)])
    wobble = cv2.resize(rng.normal(0, 0.3, (4, 6, 2)).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    to_prev, to_next = {}, {}
    for t in range(n):
        idx = np.flatnonzero(masks[t])
        for hops, sign, ok in ((to_prev, 1, t > 0), (to_next, -1, t < n - 1)):
            if ok:
                flow = (np.array([sign * SPEED, 0], np.float32)
                        + wobble.reshape(-1, 2)[idx]).astype(np.float32)
                err = rng.gamma(1.0, 0.3, idx.size).astype(np.float32)
                hops[t] = Hops(idx, flow, err, err < 1.5)
    return frames, masks, to_prev, to_next


def _filled_masks(idx, found, shape):
    filled = np.zeros(shape[0] * shape[1], bool)
    filled[idx[found]] = True
    excluded = np.zeros(shape[0] * shape[1], bool)
    excluded[idx[~found]] = True
    return filled.reshape(shape), excluded.reshape(shape)


def run_numpy(frames, masks, to_prev, to_next, solve_at):
    """Seconds per frame of each stage, the gathered colours and the solutions."""
    n, h, w, _ = frames.shape
    holes = {t: np.flatnonzero(masks[t]) for t in range(n)}
    known = ~masks
    t0 = time.perf_counter()
    back = sweep((h, w), range(n), holes, to_prev)
    ahead = sweep((h, w), range(n - 1, -1, -1), holes, to_next)
    t1 = time.perf_counter()
    gathered = {t: gather([back[t], ahead[t]], frames, known, ALPHA) for t in range(n)}
    t2 = time.perf_counter()
    solved = {}
    for t in solve_at:
        g = gathered[t]
        filled, excluded = _filled_masks(g.idx, g.found, (h, w))
        solved[t] = poisson_fill(frames[t], filled, excluded, g.colour, g.step, g.step_ok)
    t3 = time.perf_counter()
    times = ((t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / max(len(solve_at), 1))
    return times, {t: g.colour for t, g in gathered.items()}, solved


def run_torch(frames, masks, to_prev, to_next, solve_at, device, dtypes):
    """As :func:`run_numpy` on ``device``, inputs moved there first (not timed), the Poisson
    solve once per working precision in ``dtypes``: (sweep, gather), colours, {dtype: (poisson,
    solutions)}."""
    n, h, w, _ = frames.shape
    dev = torch.device(device)
    holes = {t: torch.from_numpy(np.flatnonzero(masks[t])).to(dev) for t in range(n)}
    tp = {t: hops_to_torch(x, dev) for t, x in to_prev.items()}
    tn = {t: hops_to_torch(x, dev) for t, x in to_next.items()}
    stack = torch.from_numpy(frames).to(dev)
    known = torch.from_numpy(~masks).to(dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def solve(t, g, dtype, maxiter=2000):
        filled = torch.zeros(h * w, dtype=torch.bool, device=dev)
        filled[g.idx[g.found]] = True
        excluded = torch.zeros(h * w, dtype=torch.bool, device=dev)
        excluded[g.idx[~g.found]] = True
        return poisson_fill_torch(stack[t], filled.view(h, w), excluded.view(h, w), g.colour,
                                  g.step, g.step_ok, maxiter=maxiter, dtype=dtype)

    # warm-up (kernels, allocator): the stages on one frame, a few CG iterations per precision
    t = solve_at[0]
    wb = sweep_torch((h, w), range(n), holes, tp)
    wa = sweep_torch((h, w), range(n - 1, -1, -1), holes, tn)
    g = gather_torch([wb[t], wa[t]], stack, known, ALPHA)
    for dtype in dtypes:
        solve(t, g, dtype, maxiter=10)
    sync()
    t0 = time.perf_counter()
    back = sweep_torch((h, w), range(n), holes, tp)
    ahead = sweep_torch((h, w), range(n - 1, -1, -1), holes, tn)
    sync()
    t1 = time.perf_counter()
    gathered = {t: gather_torch([back[t], ahead[t]], stack, known, ALPHA) for t in range(n)}
    sync()
    t2 = time.perf_counter()
    solves = {}
    for dtype in dtypes:
        t3 = time.perf_counter()
        solved = {t: solve(t, gathered[t], dtype) for t in solve_at}
        sync()
        solves[dtype] = ((time.perf_counter() - t3) / max(len(solve_at), 1),
                         {t: s.cpu().numpy() for t, s in solved.items()})
    return ((t1 - t0) / n, (t2 - t1) / n), {t: g.colour.cpu().numpy()
                                            for t, g in gathered.items()}, solves


def _max_diff(ref: dict, out: dict) -> float:
    return max((float(np.abs(ref[t] - out[t]).max()) for t in ref if ref[t].size), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--sizes", default="432x240,1920x1080", help="WxH,WxH,...")
    parser.add_argument("--hole", type=float, default=0.08, help="hole area / frame area")
    parser.add_argument("--poisson-frames", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (numpy runs these stages on one core; 0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", {torch.cuda.get_device_name()}" if "cuda" in devices else ", no CUDA"))
    print(f"{'size':>10} {'backend':>9} {'hole px':>8} {'sweep':>9} {'gather':>9} "
          f"{'poisson':>9} {'d gather':>9} {'d poisson':>9}   (s/frame)")
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        frames, masks, to_prev, to_next = synthetic_window(args.frames, h, w, args.hole)
        hole_px = int(masks.sum() / args.frames)
        solve_at = list(range(args.frames // 2, args.frames))[: max(args.poisson_frames, 1)]
        ref_times, ref_colour, ref_solved = run_numpy(frames, masks, to_prev, to_next, solve_at)
        rows = [("numpy", *ref_times, 0.0, 0.0)]
        for dev in devices:
            (ts, tg), colour, solves = run_torch(frames, masks, to_prev, to_next, solve_at, dev,
                                                 (torch.float64, torch.float32))
            for dtype, (tps, solved) in solves.items():
                name = f"{dev}/{str(dtype)[-2:]}"
                rows.append((name, ts, tg, tps, _max_diff(ref_colour, colour),
                             _max_diff(ref_solved, solved)))
        for name, ts, tg, tps, dg, dp in rows:
            print(f"{size:>10} {name:>9} {hole_px:>8} {ts:9.4f} {tg:9.4f} {tps:9.4f} "
                  f"{dg:9.1e} {dp:9.1e}", flush=True)


if __name__ == "__main__":
    main()
