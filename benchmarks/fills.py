"""Hallucination fills where no frame sees behind the hole: hole-PSNR, hole-SSIM, the
high-frequency energy ratio to the truth, and seconds per keyframe, for every fill.

    python benchmarks/fills.py [--fills csa,dip,siren,telea] [--frames 2] [--no-video]

Images: frames of the shared clips (``../shared/clips``, skipped when absent) at evenly spread
times, and of flowfill's own textured street scene (``sample`` pan and static, without the
ball), each with a stationary broadcaster logo in two corners. Every fill sees one frame and its
mask (a single frame is exactly what a static shot gives: nothing behind the logo is ever seen).
Then, end to end, a static shot made by repeating one frame with a little noise (so camera
motion is removed and the content behind the logo is never seen) goes through
``flowfill.remove`` with each fill. Metrics are on 8-bit composites, as the quality benchmark.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowfill.evaluate import clips as clipmod  # noqa: E402
from flowfill.evaluate import scenes  # noqa: E402
from flowfill.evaluate.masks import stationary_logo  # noqa: E402
from flowfill.evaluate.metrics import (  # noqa: E402
    composite,
    high_frequency_ratio,
    hole_psnr,
    hole_ssim,
    to_uint8,
)
from flowfill.hallucinate import FILLS  # noqa: E402

SHARED = ("tennis", "bmx-trees", "running_car")
LOGO_SEEDS = (1, 4)  # top right, bottom left


def images(frames_per_clip: int) -> list[tuple[str, str, np.ndarray]]:
    """(set, name, float RGB frame) for every test image at hand."""
    out = []
    for name in SHARED:
        clip = clipmod.load_clip(name)
        if clip is None:
            continue
        n = len(clip.truth)
        for i in range(frames_per_clip):
            t = int((i + 1) * n / (frames_per_clip + 1))
            out.append(("shared", f"{name}@{t}", clip.truth[t]))
    for label, spec in (("pan", scenes.pan_scene()), ("static", scenes.static_scene())):
        # without its ball the static scene is the same picture at every time: take it once
        times = (0,) if label == "static" else (0, spec.frames - 1)[:frames_per_clip]
        for t in times:
            rgb = scenes.render_frame(spec, t, with_object=False)[0]
            out.append(("own", f"{label}@{t}", rgb.astype(np.float32) / 255.0))
    return out


def score(pred: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Hole metrics of ``pred`` against ``truth`` (float RGB) on the 8-bit composite."""
    truth8 = to_uint8(truth)
    comp = composite(pred, truth8, mask)
    return {"hole_psnr": hole_psnr(comp, truth8, mask), "hole_ssim": hole_ssim(comp, truth8, mask),
            "hf_ratio": high_frequency_ratio(comp, truth8, mask)}


def still_shot(frame: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` copies of ``frame`` with independent noise of 1/255 standard deviation."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, 1.0 / 255.0, (n,) + frame.shape).astype(np.float32)
    return np.clip(frame[None] + noise, 0.0, 1.0)


def mean_row(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = ("hole_psnr", "hole_ssim", "hf_ratio", "seconds")
    return {k: float(np.nanmean([r[k] for r in rows])) for k in keys} | {"n": len(rows)}


def table(title: str, results: dict[str, dict[str, list[dict[str, float]]]], fills: list[str]
          ) -> list[str]:
    lines = [title, f"{'set':<8}{'fill':<7}{'n':>4}{'hPSNR':>8}{'hSSIM':>8}{'HF ratio':>10}"
             f"{'s/keyframe':>12}", "-" * 57]
    for group, by_fill in results.items():
        for f in fills:
            rows = by_fill.get(f, [])
            if not rows:
                continue
            m = mean_row(rows)
            lines.append(f"{group:<8}{f:<7}{m['n']:>4}{m['hole_psnr']:>8.2f}{m['hole_ssim']:>8.4f}"
                         f"{m['hf_ratio']:>10.3f}{m['seconds']:>12.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fills", default=",".join(FILLS), help="comma-separated fills")
    parser.add_argument("--frames", type=int, default=2, help="frames per clip (default 2)")
    parser.add_argument("--video-frames", type=int, default=12,
                        help="frames of each end-to-end still shot (default 12)")
    parser.add_argument("--no-video", action="store_true", help="skip the end-to-end runs")
    parser.add_argument("--out", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    fills = [f.strip() for f in args.fills.split(",") if f.strip()]
    unknown = [f for f in fills if f not in FILLS]
    if unknown:
        parser.error(f"unknown fill(s) {unknown}; choose from {list(FILLS)}")

    test = images(args.frames)
    per_image: dict[str, dict[str, list[dict[str, float]]]] = {}
    for group, name, frame in test:
        h, w = frame.shape[:2]
        for seed in LOGO_SEEDS:
            mask = stationary_logo(1, h, w, seed=seed)[0]
            for f in fills:
                start = time.perf_counter()
                out = FILLS[f](frame, mask, device="cpu", seed=0)
                row = score(out, frame, mask) | {"seconds": time.perf_counter() - start,
                                                 "image": f"{name}/logo{seed}"}
                for key in (group, "all"):
                    per_image.setdefault(key, {}).setdefault(f, []).append(row)
            print(f"  {name} logo{seed}: " + "  ".join(
                f"{f} {per_image[group][f][-1]['hole_psnr']:.2f}dB" for f in fills), flush=True)
    report: dict[str, object] = {"fills": fills, "per_image": per_image}
    lines = table("single frames, stationary logo (nothing behind it is seen)", per_image, fills)

    if not args.no_video:
        import flowfill

        video: dict[str, dict[str, list[dict[str, float]]]] = {}
        seen: set[str] = set()
        shots = []
        for group, name, frame in test:  # one frame of each clip
            if name.split("@")[0] not in seen:
                seen.add(name.split("@")[0])
                shots.append((group, name, frame))
        for _group, name, frame in shots:
            h, w = frame.shape[:2]
            clip = still_shot(frame, args.video_frames, seed=1)
            masks = stationary_logo(args.video_frames, h, w, seed=0)
            for f in fills:
                start = time.perf_counter()
                out = flowfill.remove(clip, masks, fill=f)
                seconds = time.perf_counter() - start
                rows = [score(out[t], frame, masks[t]) for t in range(len(clip))]
                row = mean_row([r | {"seconds": 0.0} for r in rows])
                row["seconds"] = seconds / len(clip)
                video.setdefault("all", {}).setdefault(f, []).append(row)
            print(f"  still shot {name}: " + "  ".join(
                f"{f} {video['all'][f][-1]['hole_psnr']:.2f}dB" for f in fills), flush=True)
        report["video"] = video
        lines += [""] + table(f"end to end: still shots of {args.video_frames} frames "
                              "(s/keyframe column: seconds per frame of the whole run)",
                              video, fills)
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
