"""Edge completion and edge-guided flow completion, measured against the unmasked flow.

Usage: ``python benchmarks/edges.py [--synthetic N] [--weights PATH] [--out r.json]``

Two sets, neither seen in training:
- synthetic: layered motion at 432x240 from seeds the trainer never draws (>= 20000), holes
  of object, blob and scratch shapes;
- shared clips: DIS flows of the last 30% of frames of tennis, bmx-trees and running_car (the
  trainer used the first 60%), with holes of two shapes, the benchmark's moving blob and the
  clips' own object silhouettes, each placed two ways: as they come (the blob where its path
  takes it, the silhouette a third of the frame sideways, off its object; ``clips-as-placed``)
  and centred on a random motion boundary of the unmasked flow (``@edge``, ``clips@edge``:
  the holes edge completion is for; as placed, most holes lie on one smooth motion, where it
  can only do harm). Every hole is grown by the pipeline's flow-mask margin. The ground truth
  is the flow of the unmasked clip. ``in-place`` rows keep the silhouettes on their objects:
  there the truth inside is the removed object's own motion, which no completion can know
  (shown for completeness, pooled nowhere).

Per method: hole end-point error (mean over hole pixels, pooled), and for edges, precision and
recall inside the hole against Canny of the unmasked flow (1 px tolerance). Methods: Laplace
membrane; edge-guided with Canny-only edges (known edges stop at the hole); edge-guided with
edges completed by the net; the same with --edges auto's rule; and with the true edges (an
oracle, the ceiling for any edge completion).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

import numpy as np
import torch

from flowfill.complete import complete_flow
from flowfill.edges import EdgeCompleter, flow_edges
from flowfill.edges.canny import canny, canny_sigma
from flowfill.edges.complete import batch_magnitude, predict_region
from flowfill.edges.synthetic import layered_flow, random_hole
from flowfill.edges.train import precision_recall
from flowfill.evaluate import clips as clipmod
from flowfill.evaluate.masks import moving_blob
from flowfill.flow import DISEstimator
from flowfill.masks import flow_mask, scaled_px

H, W = 240, 432
HELD_FROM = 0.7
METHODS = ("laplace", "canny-only", "completed", "anchored", "auto", "oracle")


def truth_edges(flow: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Canny of the whole flow's magnitude, normalised like the net's input (known max)."""
    f = torch.as_tensor(flow).permute(2, 0, 1)[None]
    known = torch.as_tensor(~hole)[None, None]
    mag = batch_magnitude(f, known)
    return canny(mag, torch.ones_like(known), canny_sigma(hole.shape))[0, 0].numpy()


def synthetic_set(n: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``n`` held-apart synthetic (name, flow, hole) samples at 432x240."""
    out = []
    for i in range(n):
        rng = np.random.default_rng(20_000 + i)
        out.append(("synthetic", layered_flow(rng, H, W), random_hole(rng, H, W)))
    return out


def _shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by (dy, dx) pixels, what leaves the frame dropped (no wrap-around)."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[ys, xs] = mask[yd, xd]
    return out


def _onto_boundary(mask: np.ndarray, flow: np.ndarray, rng: np.random.Generator
                   ) -> np.ndarray | None:
    """``mask`` moved so its centre sits on a random motion boundary (Canny of the unmasked
    flow), or None when the flow has none."""
    ys, xs = np.nonzero(truth_edges(flow, np.zeros(mask.shape, bool)))
    if ys.size == 0:
        return None
    k = int(rng.integers(ys.size))
    cy, cx = (a.mean() for a in np.nonzero(mask))
    return _shift(mask, int(round(ys[k] - cy)), int(round(xs[k] - cx)))


def clip_set(step: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Held-apart DIS flows of the shared clips with blob and object-silhouette holes: placed
    as they come (blobs where the blob path takes them, silhouettes a third of the frame
    sideways), centred on a motion boundary (``@edge``), and silhouettes in place."""
    from pathlib import Path

    out = []
    est = DISEstimator(max_side=None)
    margin = scaled_px(15, (H, W))
    rng = np.random.default_rng(3)
    for name in ("tennis", "bmx-trees", "running_car"):
        clip = clipmod.load_clip(name)
        if clip is None:
            continue
        n = len(clip.frames)
        first = int(n * HELD_FROM)
        blobs = moving_blob(n, H, W, seed=7)
        mask_dir = Path(clipmod.shared_clips_dir()) / f"{name}_mask"
        objects = clipmod.load_mask_folder(mask_dir, n) if mask_dir.is_dir() else None
        for t in range(first, n - 1, step):
            flow, _ = est.pair(clip.frames[t], clip.frames[t + 1], t, t + 1)
            shapes = {"blob": blobs[t]}
            if objects is not None and objects[t].any():
                shapes["object"] = objects[t]
                out.append((f"{name}/in-place", flow, flow_mask(objects[t], margin)))
            for kind, shape in shapes.items():
                placed = shape if kind == "blob" else _shift(shape, 0, W // 3)
                if placed.any():
                    out.append((f"{name}/{kind}", flow, flow_mask(placed, margin)))
                centred = _onto_boundary(shape, flow, rng)
                if centred is not None and centred.any():
                    out.append((f"{name}/{kind}@edge", flow, flow_mask(centred, margin)))
    return out


def _keys(group: str) -> list[str]:
    """The rows a sample counts in: its own, its clip's, and the pooled clip sets."""
    if group == "synthetic":
        return [group]
    keys = [group, group.split("/")[0]]
    if "in-place" not in group:
        keys += ["clips", "clips@edge" if "@edge" in group else "clips-as-placed"]
    return keys


def run(samples: list[tuple[str, np.ndarray, np.ndarray]], net: EdgeCompleter,
        anchored: EdgeCompleter, auto: EdgeCompleter) -> dict[str, dict[str, list[float]]]:
    """Per group and method: summed hole EPE, hole pixel count and edge-match counts."""
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0] * 6))
    for group, flow, hole in samples:
        truth = truth_edges(flow, hole)
        region = predict_region(torch.as_tensor(hole)[None, None])[0, 0].numpy() > 0
        edges = {"laplace": None, "canny-only": flow_edges(flow, hole),
                 "completed": net(flow, hole), "anchored": anchored(flow, hole),
                 "auto": auto(flow, hole),
                 "oracle": np.where(region, truth, flow_edges(flow, hole))}
        for method, e in edges.items():
            filled = complete_flow(flow, hole, e)
            epe = np.linalg.norm(filled - flow, axis=-1)[hole]
            pr = (0, 0, 0, 0) if e is None else precision_recall(e, truth, region)
            for key in _keys(group):
                acc = stats[key][method]
                acc[0] += float(epe.sum())
                acc[1] += epe.size
                for k in range(4):
                    acc[2 + k] += pr[k]
    return stats


def timing(net: EdgeCompleter) -> dict[str, float]:
    """Seconds per flow of edge completion at 432x240: a typical hole, and the whole frame."""
    rng = np.random.default_rng(5)
    flow = layered_flow(rng, H, W)
    hole = np.zeros((H, W), bool)
    hole[80:160, 150:260] = True
    whole = np.ones((H, W), bool)
    whole[:2] = whole[-2:] = False
    whole[:, :2] = whole[:, -2:] = False
    out = {}
    for name, m in (("hole 80x110", hole), ("whole frame", whole)):
        net(flow, m)
        t = time.perf_counter()
        for _ in range(5):
            net(flow, m)
        out[name] = (time.perf_counter() - t) / 5
    x = torch.rand(1, 3, H, W)
    with torch.inference_mode():
        net.net(x)
        t = time.perf_counter()
        for _ in range(5):
            net.net(x)
    out["net alone, 432x240"] = (time.perf_counter() - t) / 5
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", type=int, default=60, help="synthetic samples (60)")
    parser.add_argument("--clip-step", type=int, default=2, help="every Nth held-apart pair")
    parser.add_argument("--weights", default=None, help="edge-net checkpoint (default shipped)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="edge probability threshold (default: the checkpoint's)")
    parser.add_argument("--out", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    net = EdgeCompleter("cpu", args.weights, args.threshold)
    auto = EdgeCompleter("cpu", args.weights, args.threshold, need_context=True)
    start = time.time()
    samples = synthetic_set(args.synthetic) + clip_set(args.clip_step)
    anchored = EdgeCompleter("cpu", args.weights, args.threshold, anchored=True)
    stats = run(samples, net, anchored, auto)
    counts: dict[str, int] = defaultdict(int)
    for group, *_ in samples:
        for key in _keys(group):
            counts[key] += 1
    print(f"{'set':<22}{'n':>4}  {'method':<11}{'hole EPE':>9}{'vs Laplace':>11}"
          f"{'edge P':>8}{'edge R':>8}")
    report: dict[str, dict] = {}
    pooled = ("synthetic", "clips", "clips@edge", "clips-as-placed")
    order = list(pooled) + sorted(k for k in stats if k not in pooled)
    for key in order:
        if key not in stats:
            continue
        n = counts[key]
        base = stats[key]["laplace"][0] / max(stats[key]["laplace"][1], 1)
        report[key] = {}
        for method in METHODS:
            acc = stats[key][method]
            epe = acc[0] / max(acc[1], 1)
            prec = acc[2] / acc[3] if acc[3] else float("nan")
            rec = acc[4] / acc[5] if acc[5] else float("nan")
            if method == "laplace":
                prec = rec = float("nan")
            change = 100 * (epe / base - 1) if base > 0 else 0.0
            report[key][method] = {"epe": epe, "change_pct": change, "precision": prec,
                                   "recall": rec, "n": n}
            print(f"{key:<22}{n:>4}  {method:<11}{epe:>9.3f}{change:>+10.1f}%"
                  f"{prec:>8.2f}{rec:>8.2f}")
        print()
    times = timing(net)
    for k, v in times.items():
        print(f"edge completion, {k}: {1000 * v:.1f} ms per flow")
    print(f"benchmark took {time.time() - start:.0f} s; torch threads {torch.get_num_threads()}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"sets": report, "seconds_per_flow": times}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
