"""Seconds per frame pair of each flow backend, as the pipeline runs them.

Usage: ``python benchmarks/flow_speed.py [--sizes 432x240,1920x1080] [--iters 20] [--pairs N]
[--devices cpu,cuda] [--weights-large PATH] [--weights-small PATH]``

A pair is both directions (a -> b and b -> a) through ``FlowEstimator.pair`` over a run of
consecutive frames keyed by index, so each frame's per-frame work (DIS: the grey proxy; RAFT: the
encoders) is paid once, as in the pipeline; the first pair is a warm-up and not counted. Frames
larger than the proxy (``--max-side``, default 1024) are estimated on it and the flow is
upsampled. Without ``--weights-*`` RAFT runs with random weights of the official architecture:
the arithmetic, hence the time, is the same as with ``raft-things.pth``. CUDA rows appear when a
GPU is present (fp32, and fp16 autocast).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from flowfill.flow import make_estimator
from flowfill.flow.raft_net import RAFTNet


def _frames(height: int, width: int, count: int, speed: int = 6) -> list[np.ndarray]:
    """A blurred random texture panning ``speed`` px per frame (float32 RGB in 0..1)."""
    rng = np.random.default_rng(0)
    big = rng.random((height, width + speed * count, 3)).astype(np.float32)
    big = cv2.GaussianBlur(big, (0, 0), 1.5)
    return [np.ascontiguousarray(big[:, speed * t:speed * t + width]) for t in range(count)]


def _random_weights(small: bool, folder: Path) -> Path:
    """A checkpoint of the official architecture with its default random initialisation."""
    torch.manual_seed(0)
    path = folder / ("raft-small-random.pth" if small else "raft-large-random.pth")
    torch.save({f"module.{k}": v for k, v in RAFTNet(small).state_dict().items()}, path)
    return path


def _time_pairs(estimator, frames: list[np.ndarray], device: str) -> float:
    """Mean seconds of ``pair`` over consecutive frames, the first pair not counted."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    estimator.clear()
    estimator.pair(frames[0], frames[1], 0, 1)  # warm-up (and the first frame's encoding)
    sync()
    start = time.perf_counter()
    for t in range(1, len(frames) - 1):
        estimator.pair(frames[t], frames[t + 1], t, t + 1)
    sync()
    return (time.perf_counter() - start) / (len(frames) - 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="432x240,1920x1080", help="WxH list")
    parser.add_argument("--iters", type=int, default=20, help="RAFT iterations")
    parser.add_argument("--pairs", type=int, default=2, help="timed pairs per row")
    parser.add_argument("--max-side", type=int, default=1024, help="proxy long side (0: full)")
    parser.add_argument("--devices", default=None, help="cpu,cuda (default: cpu, plus cuda if any)")
    parser.add_argument("--methods", default="dis,raft-small,raft", help="which backends")
    parser.add_argument("--weights-large", default=None, help="raft-things.pth (else random)")
    parser.add_argument("--weights-small", default=None, help="raft-small.pth (else random)")
    args = parser.parse_args(argv)
    devices = (args.devices.split(",") if args.devices
               else ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    print(f"flowfill flow speed on {platform.platform()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads, "
          f"GPU: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    print(f"RAFT iterations {args.iters}; proxy long side {args.max_side or 'full'}; "
          "seconds per pair = forward + backward, encoders once per frame")
    print(f"{'size':>10} {'proxy':>10} {'method':<11} {'device':<11} {'s/pair':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        weights = {True: args.weights_small or _random_weights(True, Path(tmp)),
                   False: args.weights_large or _random_weights(False, Path(tmp))}
        for width, height in sizes:
            frames = _frames(height, width, args.pairs + 2)
            for method in methods:
                for device in devices if method != "dis" else ["cpu"]:
                    variants = [("fp32", device)]
                    if device.startswith("cuda") and method != "dis":
                        variants.append(("fp16", f"{device} fp16"))
                    for precision, label in variants:
                        est = make_estimator(method, weights=str(weights[method == "raft-small"]),
                                             iters=args.iters, device=device,
                                             max_side=args.max_side or None,
                                             precision=precision, cache=4)
                        seconds = _time_pairs(est, frames, device)
                        side = args.max_side or max(width, height)
                        scale = min(1.0, side / max(width, height))
                        proxy = f"{round(width * scale)}x{round(height * scale)}"
                        print(f"{f'{width}x{height}':>10} {proxy:>10} {method:<11} {label:<11} "
                              f"{seconds:8.3f}", flush=True)
                        del est
                        if device.startswith("cuda"):
                            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
