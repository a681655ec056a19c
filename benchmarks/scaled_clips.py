"""Real picture at 1080p and 4K: the shared clips scaled up, holes blanked, hole PSNR per case.

The shared clips are 432x240 (and the sample 320x180); what changes only above the flow's proxy
(1024 px: the first round on the proxy, distant pairs' alignment) has no real truth at those
sizes. Each clip and case of ``flowfill evaluate`` is scaled up bicubically (masks by nearest
pixel), the hole blanked to grey, filled by ``remove_stream`` in this process, and scored
inside the hole against the scaled truth. Same code, same numbers: compare two commits by
running this with each on the path (``PYTHONPATH=...``).

    python benchmarks/scaled_clips.py                                 # 5 cases at 1920 px
    python benchmarks/scaled_clips.py --width 3840 --frames 8 --cases tennis:blob
    python benchmarks/scaled_clips.py --set first_round_proxy=false   # any Options field
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import cv2
import numpy as np
from option_sets import option_sets

DEFAULT_CASES = ("tennis:blob,tennis:parked,bmx-trees:blob,running_car:blob,"
                 "running_car:parked")


def scale_case(name: str, case: str, frames: int, width: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The blanked input, the truth (float32 N x H x W x 3) and the holes of ``case`` on
    ``name`` scaled to ``width`` px wide (height even); None when the clip is missing."""
    from flowfill.evaluate import clips as clipmod
    from flowfill.evaluate.benchmark import case_inputs, case_masks

    clip = clipmod.load_clip(name, frames)
    if clip is None:
        return None
    _, truth = case_inputs(clip, case)
    holes = case_masks(clip, case, 0)
    if holes is None:
        return None
    n = min(frames, len(truth), len(holes))
    h0, w0 = truth.shape[1:3]
    size = (width, int(round(h0 * width / w0 / 2) * 2))
    big = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_CUBIC).clip(0, 1)
                    for f in truth[:n]]).astype(np.float32)
    masks = np.stack([cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
                      for m in holes[:n]])
    return np.where(masks[..., None], np.float32(0.5), big), big, masks


def run_case(name: str, case: str, frames: int, width: int, options: dict[str, Any]
             ) -> dict[str, Any] | None:
    """Fill one scaled case and score it: hole PSNR (dB, mean over frames) and s/frame."""
    import flowfill
    from flowfill.evaluate.metrics import composite, hole_psnr, to_uint8

    made = scale_case(name, case, frames, width)
    if made is None:
        return None
    blank, truth, masks = made
    opts = flowfill.Options.from_kwargs(**options)
    t0 = time.perf_counter()
    outs = list(flowfill.remove_stream(iter(blank), iter(masks), opts))
    seconds = (time.perf_counter() - t0) / len(outs)
    truth8 = to_uint8(truth)
    scores = [hole_psnr(composite(to_uint8(o), t, m), t, m)
              for o, t, m in zip(outs, truth8, masks, strict=True)]
    return {"clip": name, "case": case, "size": f"{truth.shape[2]}x{truth.shape[1]}",
            "frames": len(outs), "hole_psnr": float(np.nanmean(scores)), "s_per_frame": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=DEFAULT_CASES,
                        help="comma list of clip:case (cases as flowfill evaluate's)")
    parser.add_argument("--width", type=int, default=1920, help="width scaled to (px)")
    parser.add_argument("--frames", type=int, default=16, help="frames per case")
    parser.add_argument("--device", default="cpu", help="torch device for torch stages")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="any other flowfill.Options field (repeatable)")
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    options: dict[str, Any] = {"device": args.device, **option_sets(args.set)}
    rows = []
    for item in args.cases.split(","):
        name, _, case = item.partition(":")
        row = run_case(name, case, args.frames, args.width, options)
        if row is None:
            print(f"{name:12s} {case:10s} skipped (clip or case missing)", flush=True)
            continue
        rows.append(row)
        print(f"{name:12s} {case:10s} {row['size']:>10s} hole PSNR {row['hole_psnr']:6.2f} dB"
              f"  {row['s_per_frame']:.2f} s/frame", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"options": options, "cases": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
