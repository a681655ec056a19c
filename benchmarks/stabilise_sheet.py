"""Before/after picture of ``flowfill stabilise``: input | fill mode | crop mode, and the path.

Stabilises a shaky clip (default ``sample_clips/shaky.mp4``, made by
``sample_clips/make_samples.py``) with the library calls the command uses
(``flowfill.stabilise.stream``): the camera path is measured once, then every frame is warped
onto the smoothed path, in fill mode (the uncovered border filled by flowfill, default engine
options unless ``--set`` says otherwise) and in crop mode (zoomed until no border shows).

The picture shows three frames spread over the clip (the middle of each third), each as a row
of [input | fill | crop], the seam of the filled border drawn in the fill cell (``--no-outline``
to leave it bare). Under them the camera path, x and y of the frame centre
(``CameraPath.params()[:, :2]``: where the first frame's centre lies in each frame), measured on
the input and on the fill output, and the jitter (RMS high-frequency shake in px,
``CameraPath.jitter``) of the input and of both outputs, which are also printed.

Default output ``docs/stabilise.png``. Run ``python benchmarks/stabilise_sheet.py --help``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from option_sets import option_sets  # noqa: E402

from flowfill.io import open_frames  # noqa: E402
from flowfill.options import Options  # noqa: E402
from flowfill.stabilise.path import CameraPath  # noqa: E402
from flowfill.stabilise.render import warp_frame  # noqa: E402
from flowfill.stabilise.stream import (  # noqa: E402
    DEFAULT_MAX_SHIFT,
    DEFAULT_SMOOTHNESS,
    measure_path,
    plan_warps,
    stabilised,
)

GAP = 2
HEAD = 22
"""Height of the column header band, px."""
PLOT_HEIGHT = 190
BACKGROUND = 32
INPUT_COLOUR = (235, 90, 70)
OUTPUT_COLOUR = (90, 220, 120)
OUTLINE_COLOUR = (255, 230, 60)
STEP = 4
"""The picture is stored with 256 / STEP levels per channel (6 bits): about 40% smaller a PNG,
no visible change at 1:1."""


# --------------------------------------------------------------------------- running


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """A float RGB frame in [0, 1] as uint8."""
    return np.rint(np.clip(frame[..., :3], 0, 1) * 255).astype(np.uint8)


def stabilise_both(frames: list[np.ndarray], smoothness: float, max_shift: float,
                   options: Options) -> dict[str, Any]:
    """Measure the path once and stabilise in fill and crop mode: the outputs, the fill
    warps' uncovered masks, the crop zoom and the seconds each step took."""
    t0 = time.perf_counter()
    path = measure_path(frames, options.flow_tone)
    t1 = time.perf_counter()
    fill_warps, _ = plan_warps(path, "fill", smoothness, max_shift)
    crop_warps, zoom = plan_warps(path, "crop", smoothness, max_shift)
    holes = [warp_frame(f, w)[1] for f, w in zip(frames, fill_warps, strict=True)]
    fill = list(stabilised(frames, fill_warps, "fill", options))
    t2 = time.perf_counter()
    crop = list(stabilised(frames, crop_warps, "crop"))
    t3 = time.perf_counter()
    return {"path": path, "fill": fill, "crop": crop, "holes": holes, "zoom": zoom,
            "seconds": {"motion": t1 - t0, "fill": t2 - t1, "crop": t3 - t2}}


def pick_frames(n: int, k: int = 3) -> list[int]:
    """``k`` frames spread evenly over ``n``: the middle of each of ``k`` equal stretches."""
    return sorted({min(n - 1, (2 * i + 1) * n // (2 * k)) for i in range(k)})


# --------------------------------------------------------------------------- drawing


def text(img: np.ndarray, label: str, org: tuple[int, int], scale: float = 0.4,
         colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    """Text with a dark outline, legible on any picture (RGB image, in place)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, label, org, font, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, label, org, font, scale, colour, 1, cv2.LINE_AA)


def outline(cell: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``cell`` with the seam of ``hole`` (its pixels next to covered ones; not the frame's
    edge) drawn in yellow, 1 px."""
    covered = cv2.dilate((~hole).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    out = cell.copy()
    out[hole & covered] = OUTLINE_COLOUR
    return out


def draw_plot(size: tuple[int, int], title: str, curves: list[tuple[np.ndarray,
              tuple[int, int, int], str]]) -> np.ndarray:
    """A line plot (RGB uint8, ``size`` = (w, h)) of value against frame, with axes, the value
    range, a legend and ``title``; ``curves``: (values, colour, legend label)."""
    w, h = size
    img = np.full((h, w, 3), BACKGROUND + 8, np.uint8)
    left, right, top, bottom = 46, 10, 22, 22
    x0, x1, y0, y1 = left, w - right, top, h - bottom
    values = np.concatenate([c[0] for c in curves])
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.06 * (hi - lo), 0.5)
    lo, hi = lo - pad, hi + pad
    n = max(len(c[0]) for c in curves)

    def to_px(t: np.ndarray, v: np.ndarray) -> np.ndarray:
        px = x0 + (x1 - x0) * t / max(n - 1, 1)
        py = y1 - (y1 - y0) * (v - lo) / (hi - lo)
        return np.round(np.column_stack([px, py]) * 16).astype(np.int32)  # 4 fractional bits

    cv2.rectangle(img, (x0, y0), (x1, y1), (90, 90, 90), 1)
    if lo < 0 < hi:  # the zero line
        zero = int(round(y1 - (y1 - y0) * (0 - lo) / (hi - lo)))
        cv2.line(img, (x0, zero), (x1, zero), (70, 70, 70), 1)
    for values_, colour, _ in curves:
        pts = to_px(np.arange(len(values_), dtype=np.float64), values_)
        cv2.polylines(img, [pts], False, colour, 1, cv2.LINE_AA, shift=4)
    text(img, title, (x0, 15), 0.42, (220, 220, 220))
    text(img, f"{hi:.0f}", (4, y0 + 10), 0.35, (180, 180, 180))
    text(img, f"{lo:.0f}", (4, y1), 0.35, (180, 180, 180))
    text(img, "frame 0", (x0, h - 6), 0.35, (180, 180, 180))
    label = f"{n - 1}"
    text(img, label, (x1 - 8 * len(label), h - 6), 0.35, (180, 180, 180))
    lx = x0 + 70
    for _, colour, name in curves:  # the legend, along the bottom
        cv2.line(img, (lx, h - 10), (lx + 18, h - 10), colour, 2, cv2.LINE_AA)
        text(img, name, (lx + 22, h - 6), 0.35, (220, 220, 220))
        lx += 30 + 7 * len(name)
    return img


def draw_sheet(frames: list[np.ndarray], result: dict[str, Any], picks: list[int],
               figures: dict[str, float], out_path: CameraPath, show_outline: bool = True
               ) -> np.ndarray:
    """The picture as RGB uint8 (see the module's docstring)."""
    h, w = frames[0].shape[:2]
    columns = ["input (shaky)", "fill mode", f"crop mode (zoom {result['zoom']:.0%})"]
    width = len(columns) * (w + GAP) + GAP
    rows_height = HEAD + len(picks) * (h + GAP)
    stats_height = 22
    height = rows_height + stats_height + PLOT_HEIGHT + GAP
    sheet = np.full((height, width, 3), BACKGROUND, np.uint8)
    for j, name in enumerate(columns):
        text(sheet, name, (GAP + j * (w + GAP) + 4, HEAD - 7), 0.45)
    for i, t in enumerate(picks):
        y = HEAD + i * (h + GAP)
        fill = to_uint8(result["fill"][t])
        if show_outline:
            fill = outline(fill, result["holes"][t])
        cells = [to_uint8(frames[t]), fill, to_uint8(result["crop"][t])]
        for j, cell in enumerate(cells):
            cell = cell.copy()
            if j == 0:
                text(cell, f"t={t}", (4, 14))
            if j == 1 and show_outline:
                text(cell, f"filled: {result['holes'][t].mean():.1%}", (4, h - 6), 0.38,
                     OUTLINE_COLOUR)
            x = GAP + j * (w + GAP)
            sheet[y : y + h, x : x + w] = cell
    line = (f"jitter (RMS high-frequency shake): input {figures['input']:.2f} px, "
            f"fill {figures['fill']:.2f} px, crop {figures['crop']:.2f} px  "
            f"({figures['input'] / max(figures['fill'], 1e-9):.0f}x less)")
    text(sheet, line, (GAP + 4, rows_height + 15), 0.42, (240, 240, 160))
    raw, done = result["path"].params()[:, :2], out_path.params()[:, :2]
    plot_w = (width - 3 * GAP) // 2
    y = rows_height + stats_height
    for k, axis in enumerate("xy"):
        curves = [(raw[:, k], INPUT_COLOUR, "input"), (done[:, k], OUTPUT_COLOUR, "fill output")]
        plot = draw_plot((plot_w, PLOT_HEIGHT), f"camera centre {axis} (px)", curves)
        x = GAP + k * (plot_w + GAP)
        sheet[y : y + PLOT_HEIGHT, x : x + plot_w] = plot
    return sheet


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Stabilise the clip both ways, print the jitter figures and write the picture."""
    parser = argparse.ArgumentParser(
        description="Before/after picture of flowfill stabilise: input | fill | crop for three "
                    "frames, the camera path in and out, and the jitter figures.")
    parser.add_argument("--input", type=Path, default=REPO / "sample_clips" / "shaky.mp4",
                        help="shaky clip (default sample_clips/shaky.mp4)")
    parser.add_argument("--smoothness", type=float, default=DEFAULT_SMOOTHNESS,
                        help=f"path smoother sigma in frames (default {DEFAULT_SMOOTHNESS:g})")
    parser.add_argument("--max-shift", type=float, default=100 * DEFAULT_MAX_SHIFT,
                        metavar="PCT", help="largest move onto the smooth path, percent of the "
                        f"frame (default {100 * DEFAULT_MAX_SHIFT:g})")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="a flowfill.Options field for fill mode, e.g. --set fill=telea "
                             "(repeatable; default: the engine's defaults)")
    parser.add_argument("--no-outline", dest="outline", action="store_false",
                        help="do not outline the filled border in the fill cells")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "stabilise.png",
                        help="PNG to write (default docs/stabilise.png)")
    args = parser.parse_args(argv)
    fields = option_sets(args.set)
    try:
        options = Options(**fields).validated()
        frames = list(open_frames(args.input))
    except Exception as exc:  # a bad --set, an unreadable input: one line, no traceback
        print(f"stabilise_sheet: {exc}", file=sys.stderr)
        return 2
    if len(frames) < 3:
        print("stabilise_sheet: the clip needs at least 3 frames", file=sys.stderr)
        return 2
    h, w = frames[0].shape[:2]
    print(f"{args.input.name}: {len(frames)} frames, {w}x{h}; smoothness "
          f"{args.smoothness:g}, max shift {args.max_shift:g}%", flush=True)
    result = stabilise_both(frames, args.smoothness, args.max_shift / 100, options)
    out_path = measure_path(result["fill"])
    figures = {"input": result["path"].jitter(), "fill": out_path.jitter(),
               "crop": measure_path(result["crop"]).jitter()}
    holes = np.stack(result["holes"])
    print(f"jitter (px RMS): input {figures['input']:.2f}, fill {figures['fill']:.2f}, "
          f"crop {figures['crop']:.2f}")
    worst = float(holes.mean(axis=(1, 2)).max())
    print(f"fill: {holes.mean():.1%} of the pixels uncovered (at most {worst:.1%} of a frame); "
          f"crop: zoom {result['zoom']:.1%}; path segments {len(result['path'].segments)}")
    seconds = result["seconds"]
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))
    picks = pick_frames(len(frames))
    sheet = draw_sheet(frames, result, picks, figures, out_path, args.outline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    stored = (sheet // STEP) * STEP + STEP // 2
    ok = cv2.imwrite(str(args.out), cv2.cvtColor(stored, cv2.COLOR_RGB2BGR),
                     [cv2.IMWRITE_PNG_COMPRESSION, 9, cv2.IMWRITE_PNG_STRATEGY,
                      cv2.IMWRITE_PNG_STRATEGY_FILTERED])
    if not ok:
        print(f"stabilise_sheet: could not write {args.out}", file=sys.stderr)
        return 1
    size = args.out.stat().st_size
    print(f"wrote {args.out} (frames {picks}, {sheet.shape[1]}x{sheet.shape[0]}, "
          f"{size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
