"""A real logo's shape over real footage the benchmark does not use: ``mask_logo.png`` (the
ProPainter logo, a ring, a figure and lettering) laid still over ``running_car.mp4`` (a moving
camera with a whip pan), and the same logo over the benchmark's still shot (``tennis`` held
still), scored and printed as ``flowfill evaluate`` does (``benchmark.run_case``, each case
in its own process): hole blanked, flowfill against per-frame Telea on hole-PSNR, PSNR, SSIM,
flicker in the hole and detail ratio (issue 16's bars), seconds per frame and peak memory.

    python benchmarks/real_logo.py [--frames 40] [--unseen flow]

Needs the shared clips (``FLOWFILL_SHARED_CLIPS`` or ``../shared/clips``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flowfill.evaluate import benchmark, hard  # noqa: E402
from flowfill.evaluate import clips as clipmod  # noqa: E402
from flowfill.io import open_frames  # noqa: E402


def logo_mask(shape: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    """``mask_logo.png`` brought to ``shape`` (H, W), centred, its size times ``scale``."""
    image = cv2.imread(str(clipmod.shared_clips_dir() / "mask_logo.png"), cv2.IMREAD_GRAYSCALE)
    h, w = shape
    fitted = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) > 127
    if scale == 1.0:
        return fitted
    small = cv2.resize(fitted.astype(np.uint8), (round(w * scale), round(h * scale)),
                       interpolation=cv2.INTER_NEAREST) > 0
    out = np.zeros((h, w), bool)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return out


def running_car(frames: int) -> np.ndarray:
    """The first ``frames`` frames of running_car.mp4 as float32 RGB in 0..1."""
    source = open_frames(clipmod.shared_clips_dir() / "running_car.mp4")
    out = []
    for frame in source:
        out.append(frame[..., :3])
        if len(out) == frames:
            break
    return np.stack(out).astype(np.float32)


def score(name: str, truth: np.ndarray, holes: np.ndarray, options: dict) -> None:
    """One case scored as ``flowfill evaluate`` scores it (``benchmark.run_case``), printed as
    its table prints it."""
    clip = clipmod.EvalClip(name, truth, truth)
    print(benchmark.format_case(benchmark.run_case(clip, "logo", holes, options)), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=40, help="frames per clip (default 40)")
    parser.add_argument("--unseen", choices=("background", "flow"), default=None,
                        help="flowfill's --unseen (default: flowfill's default)")
    args = parser.parse_args(argv)
    options = {} if args.unseen is None else {"unseen": args.unseen}
    print(benchmark.HEADER)
    car = running_car(args.frames)
    score("running_car", car, np.repeat(logo_mask(car.shape[1:3])[None], len(car), 0),
          options)
    still = hard.load_hard("still", args.frames)
    if still is not None:
        holes = np.repeat(logo_mask(still.truth.shape[1:3], 0.6)[None], len(still.truth), 0)
        score("still", still.truth, holes, options)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
