"""Edge completion and edge-guided flow completion, measured against the unmasked flow.

Usage: ``python benchmarks/edges.py [--synthetic N] [--weights PATH] [--out r.json]``

Two sets, neither seen in training nor in calibration (``flowfill/edges/heldout.py``):
- synthetic: layered motion at 432x240 from seeds the trainer never draws (>= 20000), holes
  of object, blob and scratch shapes;
- shared clips: DIS flows of the last 30% of frames of tennis, bmx-trees and running_car (the
  trainer used the first 60%, calibration 60-70%), with holes of two shapes, the benchmark's
  moving blob and the clips' own object silhouettes, each placed two ways: as they come
  (``clips-as-placed``; most such holes lie on one smooth motion, where edges can only do
  harm) and centred on a random motion boundary of the unmasked flow (``clips@edge``: the
  holes edge completion is for). Every hole is grown by the pipeline's flow-mask margin. The
  ground truth is the flow of the unmasked clip. ``in-place`` rows keep the silhouettes on
  their objects: there the truth inside is the removed object's own motion, which no
  completion can know (shown for completeness, pooled nowhere).

Per method: hole end-point error (mean over hole pixels, pooled), and for edges, precision and
recall inside the hole against Canny of the unmasked flow (1 px tolerance). Methods: Laplace
membrane; edge-guided with Canny-only edges (known edges stop at the hole); with the net's
edges thresholded at the checkpoint's threshold (``complete_edges``); with the net's soft
edges at the calibrated softness (``completed``: what flowfill's fill uses); the same with
``--edges auto``'s rule; and with the true edges (an oracle, the ceiling for any edge
completion). The soft rows' precision and recall are those of the thresholded edges.
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
from flowfill.edges import EdgeCompleter
from flowfill.edges.complete import predict_region, soft_edges
from flowfill.edges.heldout import BENCHMARK, H, W, clip_samples, synthetic_samples, truth_edges
from flowfill.edges.synthetic import layered_flow
from flowfill.edges.train import precision_recall

METHODS = ("laplace", "canny-only", "thresholded", "completed", "auto", "oracle")


def _keys(group: str) -> list[str]:
    """The rows a sample counts in: its own, its clip's, and the pooled clip sets."""
    if group == "synthetic":
        return [group]
    keys = [group, group.split("/")[0]]
    if "in-place" not in group:
        keys += ["clips", "clips@edge" if "@edge" in group else "clips-as-placed"]
    return keys


def run(samples: list[tuple[str, np.ndarray, np.ndarray]], net: EdgeCompleter,
        auto: EdgeCompleter) -> dict[str, dict[str, list[float]]]:
    """Per group and method: summed hole EPE, hole pixel count and edge-match counts."""
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0] * 6))
    for group, flow, hole in samples:
        truth = truth_edges(flow, hole)
        region = predict_region(torch.as_tensor(hole)[None, None])[0, 0].numpy() > 0
        known, prob = net.probability(flow, hole)
        _, auto_prob = auto.probability(flow, hole)  # zero where auto skips the net
        thresholded = {k: np.where(region, region & (p >= net.threshold), known)
                       for k, p in (("net", prob), ("auto", auto_prob))}
        edges = {"laplace": None, "canny-only": known, "thresholded": thresholded["net"],
                 "completed": soft_edges(known, prob, hole, net.softness),
                 "auto": soft_edges(known, auto_prob, hole, net.softness),
                 "oracle": np.where(region, truth, known)}
        for method, e in edges.items():
            filled = complete_flow(flow, hole, e)
            epe = np.linalg.norm(filled - flow, axis=-1)[hole]
            shown = {"completed": thresholded["net"], "auto": thresholded["auto"]}.get(method, e)
            pr = (0, 0, 0, 0) if e is None else precision_recall(shown, truth, region)
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
    parser.add_argument("--softness", type=float, default=None,
                        help="softness of the soft edges (default: the checkpoint's)")
    parser.add_argument("--out", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    net = EdgeCompleter("cpu", args.weights, args.threshold, softness=args.softness)
    auto = EdgeCompleter("cpu", args.weights, args.threshold, need_context=True,
                         softness=args.softness)
    start = time.time()
    samples = (synthetic_samples(args.synthetic, 20_000)
               + clip_samples(BENCHMARK, args.clip_step, seed=3, blob_seed=7, in_place=True))
    stats = run(samples, net, auto)
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
    print(f"threshold {net.threshold:g}, softness {net.softness:g}")
    print(f"benchmark took {time.time() - start:.0f} s; torch threads {torch.get_num_threads()}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"sets": report, "seconds_per_flow": times}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
