"""What a movie output keeps of the picture: PSNR outside the mask for every codec and quality.

    python benchmarks/movie_codecs.py [--movie ../shared/clips/running_car.mp4]
        [--mask ../shared/clips/mask_square.png] [--frames 24]

The clip's first frames are filled once through the library; the filled frames are then written
through ``open_sink`` (as ``flowfill remove`` writes them) with each codec and quality, decoded
again, and compared with the decoded input outside the mask (the plate, which the removal left
exactly as it was; the mask is resized to the frames if need be) and with the filled frames
inside it. Without the shared clips it uses
``sample_clips/pan.mp4`` and its first mask.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "clips"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> int:
    from flowfill import remove
    from flowfill.errors import InputError
    from flowfill.io import MovieSource, open_sink
    from flowfill.io.codecs import CODECS, QUALITIES, check_codec

    default_movie = SHARED / "running_car.mp4"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movie", default=str(default_movie if default_movie.exists()
                                               else ROOT / "sample_clips" / "pan.mp4"))
    parser.add_argument("--mask", default=str(SHARED / "mask_square.png"
                                              if default_movie.exists() else
                                              ROOT / "sample_clips" / "pan_mask" / "00000.png"))
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()

    source = MovieSource(args.movie)
    source.select(0, args.frames)
    frames = np.stack(list(source))
    mask = cv2.imread(args.mask, cv2.IMREAD_GRAYSCALE)
    h, w = frames.shape[1:3]
    mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST) > 127  # any size given
    masks = np.broadcast_to(mask, frames.shape[:3])
    t0 = time.perf_counter()
    filled = remove(frames, masks, fill="telea")
    print(f"# {args.movie}: {source.info.width}x{source.info.height} {source.pix_fmt}, "
          f"{len(frames)} frames, mask {args.mask} ({mask.mean():.1%} of the frame); "
          f"filled in {time.perf_counter() - t0:.1f} s")
    plate = np.round(frames * 255)
    print(f"{'ext':5} {'codec':11} {'quality':9} {'pix_fmt':12} {'out PSNR':>8} {'out max':>7} "
          f"{'in PSNR':>8} {'MB':>6} {'s':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in CODECS.items():
            ext = next(e for e in (".mp4", ".mov", ".avi", ".mkv")
                       if e in spec.containers)
            for quality in QUALITIES:
                try:
                    check_codec("out" + ext, ext, name, quality)
                except InputError:
                    continue
                out = os.path.join(tmp, f"{name}-{quality}{ext}")
                like = MovieSource(args.movie)
                like.select(0, args.frames)
                t0 = time.perf_counter()
                try:
                    with open_sink(out, like, codec=name, quality=quality) as sink:
                        for frame in filled:
                            sink.write(frame)
                except InputError as err:
                    print(f"{ext:5} {name:11} {quality:9} refused: {err}")
                    continue
                seconds = time.perf_counter() - t0
                back = np.round(np.stack(list(MovieSource(out))) * 255)
                outside = np.abs(back - plate)[~masks]
                inside = psnr(back[masks], np.round(filled * 255)[masks])
                print(f"{ext:5} {name:11} {quality:9} {sink.pix_fmt:12} "
                      f"{psnr(back[~masks], plate[~masks]):8.2f} {outside.max():7.0f} "
                      f"{inside:8.2f} {os.path.getsize(out) / 1e6:6.2f} {seconds:5.1f}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
