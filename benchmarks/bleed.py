"""An object's colour bled over a tight mask: fills of real clips through a real codec.

    python benchmarks/bleed.py [--frames 30] [--clips tennis,bmx-trees,running_car,sample]

A saturated disc (red on one clip, blue on the next) with an anti-aliased edge crosses each
clip; its mask is exactly its footprint, as a careful roto would be. Delivery codecs store colour
at half resolution, so on the coded picture the object's colour reaches a pixel or two beyond
that mask while its brightness stays sharp. Each clip runs twice: the frames as they are
(``exact``), and the frames with and without the disc both through JPEG (quality 90, 4:2:0, as
most H.264 and JPEG material; ``coded``), the coded clean frames being the truth. Printed: hole
PSNR over the mask, and the fill's mean tint towards the object's colour (8-bit levels: 0 is no
ghost of the object). ``sample`` also runs the shipped ``pan.mp4`` (a real H.264 encode of the
rendered pan) with the ball's own masks, against the rendered truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {"red": (0.85, 0.12, 0.10), "blue": (0.10, 0.25, 0.90)}


def disc_alpha(n: int, h: int, w: int) -> np.ndarray:
    """Anti-aliased alpha (N x H x W) of a disc of radius h/12 crossing the frame."""
    r = h / 12
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((n, h, w), np.float32)
    for t in range(n):
        cx = w * (0.2 + 0.6 * t / max(n - 1, 1))
        cy = h * (0.5 + 0.15 * np.sin(2 * np.pi * t / max(n, 1)))
        out[t] = np.clip(r + 0.5 - np.hypot(xx - cx, yy - cy), 0.0, 1.0)
    return out


def jpeg(frames: np.ndarray) -> np.ndarray:
    """float32 RGB frames through JPEG quality 90 (4:2:0 colour) and back."""
    out = np.empty_like(frames)
    for t, f in enumerate(frames):
        bgr = np.clip(f[..., ::-1] * 255 + 0.5, 0, 255).astype(np.uint8)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out[t] = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    return out


def score(out: np.ndarray, truth: np.ndarray, mask: np.ndarray, colour: np.ndarray
          ) -> tuple[float, float]:
    """(hole PSNR dB, mean tint towards ``colour``'s chroma in 8-bit levels) over ``mask``."""
    from flowfill.evaluate.metrics import hole_psnr

    err = (out - truth)[mask].astype(np.float64)
    hpsnr = hole_psnr(255 * out, 255 * truth, mask)  # on 8-bit levels
    chroma = colour - colour.mean()
    tint = 255 * float((err @ chroma).mean() / np.linalg.norm(chroma))
    return hpsnr, tint


def main() -> int:
    import flowfill
    from flowfill.evaluate.clips import load_clip, load_sample
    from flowfill.io import open_frames

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--clips", default="tennis,bmx-trees,running_car,sample")
    args = parser.parse_args()
    print(f"{'clip':12s}{'colour':7s}{'input':8s}{'hPSNR':>8s}{'tint':>8s}{'s':>7s}")
    for i, name in enumerate(args.clips.split(",")):
        clip = load_clip(name, args.frames)
        if clip is None:
            continue
        truth = clip.truth
        n, h, w = truth.shape[:3]
        cname = list(COLOURS)[i % 2]
        colour = np.array(COLOURS[cname], np.float32)
        alpha = disc_alpha(n, h, w)[..., None]
        with_object = truth * (1 - alpha) + colour * alpha
        mask = alpha[..., 0] >= 0.5
        for label, frames, ref in (("exact", with_object, truth),
                                   ("coded", jpeg(with_object), jpeg(truth))):
            t0 = time.perf_counter()
            out = flowfill.remove(frames, mask)
            hpsnr, tint = score(out, ref, mask, colour)
            print(f"{name:12s}{cname:7s}{label:8s}{hpsnr:8.2f}{tint:8.2f}"
                  f"{time.perf_counter() - t0:7.1f}", flush=True)
        if name == "sample":
            ball = load_sample(args.frames)
            movie = np.stack([f for _, f in zip(range(len(ball.truth)),
                                                open_frames(ROOT / "sample_clips" / "pan.mp4"),
                                                strict=False)])
            t0 = time.perf_counter()
            out = flowfill.remove(movie.astype(np.float32), ball.object_masks)
            hpsnr, tint = score(out, ball.truth, ball.object_masks,
                                np.array(COLOURS["red"], np.float32))
            print(f"{'sample ball':12s}{'red':7s}{'pan.mp4':8s}{hpsnr:8.2f}{tint:8.2f}"
                  f"{time.perf_counter() - t0:7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
