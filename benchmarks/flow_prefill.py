"""How much what a hole holds pulls the flow around it, with and without the prefill.

For each clip and mask case: DIS between neighbouring frames with the benchmark's blank in the
hole, as given, with each frame smoothed over its own hole (``flow.hole_fill``; what the
pipeline does between neighbours) and over both frames' holes (what it does for a distant
pair), against DIS on the clean frames: the mean end-point error in px inside the hole and in
rings around it. Prints a table.

    python benchmarks/flow_prefill.py [--clips sample,tennis] [--cases logo,text,blob]
"""

from __future__ import annotations

import argparse

import numpy as np

from flowfill.evaluate import benchmark
from flowfill.evaluate import clips as clipmod
from flowfill.flow.estimator import DISEstimator
from flowfill.flow.hole_fill import smooth_over
from flowfill.masks import dilate

RINGS = ((0, 0), (1, 4), (4, 8), (8, 16))  # (0, 0): the hole itself


def ring_errors(clip_name: str, case: str, a: int = 4) -> list[tuple[float, ...]]:
    """(as given, own hole, both holes) end-point errors against the clean frames' flow, per
    ring."""
    clip = clipmod.load_clip(clip_name, a + 8)
    holes = benchmark.case_masks(clip, case, 0)
    blank = np.where(holes[..., None], np.float32(0.5), clip.truth)
    b = a + 1
    est = DISEstimator()
    clean, _ = est.pair(clip.truth[a], clip.truth[b])
    raw, _ = est.pair(blank[a], blank[b])
    own, _ = est.pair(smooth_over(blank[a], holes[a]), smooth_over(blank[b], holes[b]))
    both = holes[a] | holes[b]
    union, _ = est.pair(smooth_over(blank[a], both), smooth_over(blank[b], both))
    out = []
    for lo, hi in RINGS:
        ring = holes[a] if not hi else dilate(holes[a], hi) & ~dilate(holes[a], lo)
        out.append(tuple(float(np.hypot(*(f - clean)[ring].T).mean()) for f in (raw, own, union)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="sample,tennis")
    parser.add_argument("--cases", default="logo,text,blob")
    args = parser.parse_args(argv)
    head = "  ".join(f"{'hole' if not hi else f'{lo}-{hi} px':>18}" for lo, hi in RINGS)
    print(f"{'clip':12s}{'case':8s}{head}   (px: as given / own hole / both holes)")
    for name in args.clips.split(","):
        for case in args.cases.split(","):
            cells = "  ".join("/".join(f"{v:.2f}" for v in e).rjust(18)
                              for e in ring_errors(name, case))
            print(f"{name:12s}{case:8s}{cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
