"""Before/after contact sheet of evaluation cases: crops around the hole, one row per frame.

For each clip x mask case (default: the hard clips of ``flowfill.evaluate.hard`` under the blob,
parked, logo and scratches masks) a few frames are picked and cropped around the hole, and the
row shows, left to right: the input with the hole blanked (what the method gets), per-frame
Telea, the ``--before`` checkout's flowfill (when given), this checkout's flowfill, and the
truth. Each fill is composited into the truth as the benchmark scores it, and its cell carries
that frame's hole-PSNR. The inputs, masks and compositing are the benchmark's own
(``flowfill.evaluate.benchmark``), so the sheet shows what ``benchmarks/quality.py`` scores.

Frames picked: on ``crossing`` the frames where the pole covers most of the hole, on ``cut``
the frames either side of the cut, elsewhere frames spread over those with a hole.

``--before PATH`` runs the flowfill of another checkout (``PYTHONPATH=PATH``, in a subprocess,
on the same inputs) for an extra column, e.g. the commit before a change::

    git worktree add /tmp/before <commit>   # or: git archive <commit> | tar -x -C /tmp/before
    python benchmarks/contact_sheet.py --before /tmp/before

Default output ``docs/hard_cases.png``. Run ``python benchmarks/contact_sheet.py --help``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flowfill.evaluate import benchmark, hard  # noqa: E402
from flowfill.evaluate import clips as clipmod  # noqa: E402
from flowfill.evaluate.metrics import composite, hole_psnr, to_uint8  # noqa: E402

DEFAULT_CASES = ("blob", "parked", "logo", "scratches")
CELL = (176, 132)
"""Width and height of a crop, in pixels of the clip (shown 1:1 unless --zoom)."""

_BEFORE_SCRIPT = """
import os, sys
import numpy as np
import flowfill
root = os.path.realpath(sys.argv[3])
if not os.path.realpath(flowfill.__file__).startswith(root + os.sep):
    sys.exit(f"flowfill imported from {flowfill.__file__}, not from {root}")
data = np.load(sys.argv[1])
out = flowfill.remove(data["frames"], data["holes"])
np.save(sys.argv[2], np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8))
"""


@dataclass
class Row:
    """One frame of one case: the crops of every column and the fills' hole-PSNRs."""

    label: str
    cells: list[np.ndarray]
    scores: list[float | None]


# --------------------------------------------------------------------------- running


def run_before(checkout: Path, frames: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """flowfill.remove of ``checkout`` on these inputs, in a subprocess: uint8 frames."""
    with tempfile.TemporaryDirectory(prefix="contact_sheet_") as tmp:
        data, out = Path(tmp) / "in.npz", Path(tmp) / "out.npy"
        np.savez(data, frames=frames.astype(np.float32), holes=holes.astype(bool))
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        # cwd: the temp folder, so neither this checkout nor the working directory shadows it
        subprocess.run([sys.executable, "-c", _BEFORE_SCRIPT, str(data), str(out),
                        str(checkout)], cwd=tmp, env=env, check=True)
        return np.load(out)


def run_now(frames: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """flowfill.remove of this checkout, in this process: uint8 frames."""
    import flowfill

    return to_uint8(flowfill.remove(frames, holes))


# --------------------------------------------------------------------------- picking, cropping


def _spread(candidates: list[int], k: int) -> list[int]:
    if not candidates:
        return []
    picks = [candidates[int(round((i + 1) * (len(candidates) - 1) / (k + 1)))] for i in range(k)]
    return sorted(set(picks))


def pick_frames(clip: str, holes: np.ndarray, k: int) -> list[int]:
    """``k`` frames worth showing for this clip and hole (see the module's docstring)."""
    n = len(holes)
    with_hole = [t for t in range(n) if holes[t].any()]
    if clip == "crossing":
        _, cover = hard.crossing_layers(n)
        overlap = [(int((holes[t] & (cover[t] > 0.5)).sum()), t) for t in with_hole]
        picks: list[int] = []
        for count, t in sorted(overlap, reverse=True):
            if count and all(abs(t - p) >= 5 for p in picks):
                picks.append(t)
            if len(picks) == k:
                break
        return sorted(picks) or _spread(with_hole, k)
    if clip == "cut":
        c = hard.cut_frame(n)
        near = sorted(with_hole, key=lambda t: (abs(t - c + 0.5), t))
        return sorted(near[:k])
    return _spread(with_hole, k)


def crop_box(hole: np.ndarray, size: tuple[int, int] = CELL) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a ``size`` crop centred on the hole's largest part, inside the frame."""
    h, w = hole.shape
    cw, ch = min(size[0], w), min(size[1], h)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(hole.astype(np.uint8))
    if count > 1:
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        cx, cy = centroids[biggest]
    else:
        cx, cy = w / 2, h / 2
    x0 = int(np.clip(round(cx - cw / 2), 0, w - cw))
    y0 = int(np.clip(round(cy - ch / 2), 0, h - ch))
    return x0, y0, x0 + cw, y0 + ch


# --------------------------------------------------------------------------- drawing


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.4,
          colour: tuple[int, int, int] = (255, 255, 255)) -> None:
    """Text with a dark outline, legible on any picture (RGB image, in place)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, text, org, font, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, font, scale, colour, 1, cv2.LINE_AA)


def draw_sheet(columns: list[str], rows: list[Row], zoom: int = 1, title: str = "") -> np.ndarray:
    """The sheet as RGB uint8: a header, then one row of labelled cells per frame."""
    gap, head = 2, 40 if title else 24
    ch, cw = (rows[0].cells[0].shape[0] * zoom, rows[0].cells[0].shape[1] * zoom) if rows \
        else (CELL[1] * zoom, CELL[0] * zoom)
    width = len(columns) * (cw + gap) + gap
    height = head + len(rows) * (ch + gap) + gap
    sheet = np.full((height, width, 3), 32, np.uint8)
    if title:
        _text(sheet, title, (gap + 2, 14), 0.4, (200, 200, 200))
    for j, name in enumerate(columns):
        _text(sheet, name, (gap + j * (cw + gap) + 4, head - 7), 0.45)
    for i, row in enumerate(rows):
        y = head + i * (ch + gap)
        for j, (cell, score) in enumerate(zip(row.cells, row.scores, strict=True)):
            x = gap + j * (cw + gap)
            big = cv2.resize(cell, (cw, ch), interpolation=cv2.INTER_NEAREST) if zoom > 1 \
                else cell.copy()
            if j == 0:
                _text(big, row.label, (4, 14))
            if score is not None:
                _text(big, f"{score:.1f} dB", (4, ch - 6), 0.4, (255, 255, 120))
            sheet[y : y + ch, x : x + cw] = big
    return sheet


def _describe(checkout: Path) -> str:
    """Short commit of a checkout (+ "dirty" if it has changes), else its folder name."""
    try:
        rev = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return checkout.name


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Contact sheet of evaluation cases, cropped around the hole: input (hole "
                    "blanked) | Telea | [before] | flowfill | truth, each fill labelled with its "
                    "frame's hole-PSNR.")
    parser.add_argument("--clips", default=",".join(clipmod.HARD_CLIP_NAMES),
                        help="comma-separated clips (default: the hard clips "
                             f"{','.join(clipmod.HARD_CLIP_NAMES)}; any of "
                             f"{','.join(clipmod.ALL_CLIP_NAMES)})")
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES),
                        help=f"comma-separated mask cases (default {','.join(DEFAULT_CASES)}; "
                             f"any of {','.join(benchmark.CASES)})")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames per clip (default: the benchmark's)")
    parser.add_argument("--per-case", type=int, default=2, metavar="K",
                        help="frames shown per case (default 2)")
    parser.add_argument("--with-last", action="store_true",
                        help="also show each case's last frame with a hole")
    parser.add_argument("--mask-seed", type=int, default=0, help="seed of the synthetic masks")
    parser.add_argument("--before", type=Path, default=None, metavar="PATH",
                        help="another flowfill checkout: its output becomes a 'before' column "
                             "(run in a subprocess with PYTHONPATH=PATH)")
    parser.add_argument("--zoom", type=int, default=1, help="integer upscale of the crops")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "hard_cases.png",
                        help="PNG to write (default docs/hard_cases.png)")
    args = parser.parse_args(argv)
    try:
        clip_names = benchmark._split(args.clips, clipmod.ALL_CLIP_NAMES, "clip")
        case_names = benchmark._split(args.cases, benchmark.CASES, "case")
        if args.before is not None and not (args.before / "flowfill" / "__init__.py").is_file():
            raise ValueError(f"--before {args.before}: no flowfill package there")
        if args.per_case < 1 or args.zoom < 1:
            raise ValueError("--per-case and --zoom must be at least 1")
    except ValueError as exc:
        print(f"contact_sheet: {exc}", file=sys.stderr)
        return 2

    columns = ["input", "Telea"]
    if args.before is not None:
        columns.append(f"before {_describe(args.before)}")
    columns += [f"flowfill {_describe(REPO)}", "truth"]
    rows: list[Row] = []
    for name in clip_names:
        clip = clipmod.load_clip(name, args.frames)
        if clip is None:
            continue
        for case in case_names:
            holes = benchmark.case_masks(clip, case, args.mask_seed)
            if holes is None:
                continue
            frames, truth = benchmark.case_inputs(clip, case)
            frames = np.where(holes[..., None], np.float32(0.5), frames)
            truth8 = to_uint8(truth)
            print(f"... {name}/{case}: {len(frames)} frames", file=sys.stderr, flush=True)
            fills = [composite(benchmark.telea(frames, holes), truth8, holes)]
            if args.before is not None:
                fills.append(composite(run_before(args.before, frames, holes), truth8, holes))
            fills.append(composite(run_now(frames, holes), truth8, holes))
            picks = pick_frames(name, holes, args.per_case)
            last = max((t for t in range(len(holes)) if holes[t].any()), default=None)
            if args.with_last and last is not None and last not in picks:
                picks.append(last)  # the end of a clip: no later frame saw what it hides
            for t in picks:
                x0, y0, x1, y1 = crop_box(holes[t])
                cells = [to_uint8(frames[t]), *(f[t] for f in fills), truth8[t]]
                scores = [None, *(hole_psnr(f[t], truth8[t], holes[t]) for f in fills), None]
                rows.append(Row(f"{name}/{case} t={t}", [c[y0:y1, x0:x1] for c in cells],
                                scores))
    if not rows:
        print("contact_sheet: no clip to show (shared clips absent?)", file=sys.stderr)
        return 1
    title = ("hole blanked in the input; fills composited into the truth; "
             "dB: the frame's hole-PSNR")
    sheet = draw_sheet(columns, rows, args.zoom, title)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
                     [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        print(f"contact_sheet: could not write {args.out}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({len(rows)} rows, {sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
