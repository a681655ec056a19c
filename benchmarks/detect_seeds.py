"""The archival benchmark's detection scores over several seeds: is a figure the detector's or
the draw's?

Each seed paints other defects, another ball path and other grain on the same clips
(``flowfill evaluate --archival --seed N`` fills them too; this only detects and scores, a few
minutes a seed). Prints each row, each seed's means (dust recall of specks of 4 px and more,
precision, scratch recall, the ball's largest and summed share taken, the largest share of
pixels flagged on a defect-free row) and, over the seeds, the mean and the worst of each.

    python benchmarks/detect_seeds.py [--seeds 0-4] [--clips tennis,bmx-trees,running_car,sample]
        [--frames 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from flowfill.evaluate import archival
from flowfill.evaluate.clips import load_clip

COLUMNS = ("dust", "prec", "scratch", "ball max", "ball sum", "free max")


def seed_list(text: str) -> list[int]:
    """``0-4`` or ``0,2,5`` as a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def one_seed(names: list[str], frames: int, seed: int) -> tuple[np.ndarray, float]:
    """Per-seed means (in ``COLUMNS``' order) and seconds of detection per frame; prints each
    row."""
    rows = []
    seconds = counted = 0.0
    for name in names:
        clip = load_clip(name, frames)
        for variant in archival.VARIANTS:
            case = archival.detect_case(clip, variant, seed)
            seconds += case.seconds
            counted += len(case.truth)
            s, free = case.scores, case.clean_false
            rows.append((s.dust_recall, s.precision, s.scratch_recall, s.ball_percent, free))
            print(f"  seed {seed} {name:12s} {variant:7s} dust {s.dust_recall:.3f} "
                  f"prec {s.precision:.3f} scratch {s.scratch_recall:.3f} "
                  f"ball {s.ball_percent:.2f}% free {free:.3f}%", flush=True)
    r = np.array(rows, np.float64)
    means = np.array([np.nanmean(r[:, 0]), np.nanmean(r[:, 1]), np.nanmean(r[:, 2]),
                      r[:, 3].max(), r[:, 3].sum(), r[:, 4].max()])
    return means, seconds / max(counted, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-4", help="seeds, as 0-4 or 0,2,5")
    parser.add_argument("--clips", default="tennis,bmx-trees,running_car,sample")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    names = args.clips.split(",")
    table = []
    start = time.perf_counter()
    for seed in seed_list(args.seeds):
        means, per_frame = one_seed(names, args.frames, seed)
        table.append(means)
        print(f"seed {seed}: " + "  ".join(f"{c} {v:.4f}" for c, v in zip(COLUMNS, means,
                                                                           strict=True))
              + f"  detection {per_frame:.4f} s/frame", flush=True)
    t = np.array(table)
    worst = [t[:, 0].min(), t[:, 1].min(), t[:, 2].min(), t[:, 3].max(), t[:, 4].max(),
             t[:, 5].max()]
    print("mean:   " + "  ".join(f"{c} {v:.4f}" for c, v in zip(COLUMNS, t.mean(axis=0),
                                                                  strict=True)))
    print("worst:  " + "  ".join(f"{c} {v:.4f}" for c, v in zip(COLUMNS, worst, strict=True)))
    print(f"{len(table)} seeds in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
