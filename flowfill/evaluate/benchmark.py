"""Quality and speed benchmark: flowfill against per-frame Telea on clips x synthetic damage.

ProPainter protocol: the clip is its own ground truth, a synthetic mask marks what to
remove, the method is handed the clip with the hole blanked, it fills it, the hole is
composited into the truth in uint8, and PSNR / SSIM / flicker / the detail ratio (the hole's
high-frequency energy over the truth's: above 1 is speckle) are pooled over frames. Each
flowfill call runs in a fresh process so its wall time and peak memory are its own. ``--hard``
runs the hard clips of :mod:`flowfill.evaluate.hard` (fast pan, crossing object, shot cut);
``--archival`` the film-defect detector and fill of :mod:`flowfill.evaluate.archival`. Run
``python benchmarks/quality.py --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import multiprocessing
import platform
import sys
import time
import typing
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cv2
import numpy as np

from flowfill.evaluate import clips as clipmod
from flowfill.evaluate import masks as maskmod
from flowfill.evaluate import memory, scenes
from flowfill.evaluate.metrics import (
    ClipScores,
    composite,
    hole_psnr,
    score_clip,
    to_uint8,
)
from flowfill.evaluate.metrics import format_value as _fmt
from flowfill.progress import bars_wanted

CASES = ("blob", "parked", "logo", "text", "scratches", "borders", "object")
"""Mask cases: the three synthetic damages, and ``object`` (true removal; sample clip only)."""

QUICK_FRAMES = 8
MB = 1024 * 1024


# --------------------------------------------------------------------------- methods


def telea(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The baseline: per-frame ``cv2.inpaint`` Telea, radius 3, on 8-bit frames (uint8 out)."""
    frames8 = to_uint8(frames)
    pairs = zip(frames8, masks, strict=True)
    return np.stack([cv2.inpaint(f, m.astype(np.uint8), 3, cv2.INPAINT_TELEA) for f, m in pairs])


@dataclasses.dataclass
class CallReport:
    """One flowfill call: its uint8 output (if kept), wall time, memory and run statistics."""

    output: np.ndarray | None
    seconds: float
    frames: int
    rss_before: int | None
    """Resident bytes just before the call (inputs already in memory)."""
    peak: int
    """Peak resident bytes of the process during the call."""
    stats: dict[str, Any]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def increase(self) -> int | None:
        """Peak minus resident size before the call, in bytes."""
        return None if self.rss_before is None else self.peak - self.rss_before


def _stats_dict(stats: object) -> dict[str, Any]:
    return dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else {}


def _flowfill_call(frames: np.ndarray, masks: np.ndarray, options: dict[str, Any],
                   bars: bool = False) -> CallReport:
    """Run ``flowfill.remove`` here, timing it and measuring this process's peak during it;
    ``bars``: its progress bars on stderr."""
    import flowfill

    stats = flowfill.Stats()
    gc.collect()
    before = memory.current_rss()
    if not memory.reset_peak():
        before = None
    t0 = time.perf_counter()
    out = flowfill.remove(frames, masks, stats=stats, progress=bars, **options)
    seconds = time.perf_counter() - t0
    peak = memory.peak_rss()
    return CallReport(to_uint8(out), seconds, len(frames), before, peak, _stats_dict(stats))


def _stream_long_clip(n: int, options: dict[str, Any], seed: int, api: str) -> CallReport:
    """Long-clip memory run: a synthetic N-frame 432x240 pan with a moving blob to fill.

    ``stream`` feeds ``flowfill.remove_stream`` lazily and scores frames as they come out
    (memory independent of N apart from the method's own); ``remove`` passes whole arrays.
    """
    import flowfill

    w, h = clipmod.EVAL_SIZE
    spec = scenes.long_scene(n, w, h)
    holes = maskmod.moving_blob(n, h, w, seed=seed)
    scenes.render_frame(spec, 0, with_object=False)  # build the canvases before measuring
    spent = {"input": 0.0, "score": 0.0}
    pending: dict[int, np.ndarray] = {}  # uint8 truths of frames handed over, not yet scored

    def source() -> Iterator[np.ndarray]:
        for t in range(n):
            t0 = time.perf_counter()
            pending[t] = scenes.render_frame(spec, t, with_object=False)[0]
            frame = pending[t].astype(np.float32) / np.float32(255.0)
            frame[holes[t]] = 0.5  # blanked: the method must not be handed the truth
            spent["input"] += time.perf_counter() - t0
            yield frame

    stats = flowfill.Stats()
    values: list[float] = []
    if api == "remove":
        frames = np.stack(list(source()))
        truths = [pending.pop(t) for t in range(n)]
        spent["input"] = 0.0
    gc.collect()
    before = memory.current_rss()
    if not memory.reset_peak():
        before = None
    t0 = time.perf_counter()
    if api == "remove":
        out = flowfill.remove(frames, holes, stats=stats, **options)
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        for t in range(n):
            truth8 = truths[t]
            values.append(hole_psnr(composite(out[t], truth8, holes[t]), truth8, holes[t]))
        spent["score"] += time.perf_counter() - t1
    else:
        opts = flowfill.Options.from_kwargs(**options)
        stream = flowfill.remove_stream(source(), iter(holes), opts, stats=stats)
        for t, result in enumerate(stream):
            t1 = time.perf_counter()
            truth8 = pending.pop(t)
            values.append(hole_psnr(composite(result, truth8, holes[t]), truth8, holes[t]))
            spent["score"] += time.perf_counter() - t1
        seconds = time.perf_counter() - t0 - spent["input"] - spent["score"]
    peak = memory.peak_rss()
    finite = [v for v in values if not np.isnan(v)]
    extra = {"api": api, "hole_psnr": float(np.mean(finite)) if finite else float("nan"),
             "width": w, "height": h}
    return CallReport(None, seconds, n, before, peak, _stats_dict(stats), extra)


def _in_subprocess(fn: Callable[..., CallReport], *args: object) -> CallReport:
    """Call ``fn(*args)`` in a freshly spawned Python, so timings and peaks are its own."""
    ctx = multiprocessing.get_context("spawn")
    # an executor (unlike Pool) raises BrokenProcessPool if the worker dies, e.g. OOM-killed
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(fn, *args).result()


# --------------------------------------------------------------------------- cases


@dataclasses.dataclass
class CaseResult:
    """Figures of one clip x mask case for both methods."""

    clip: str
    case: str
    frames: int
    hole_percent: float
    flowfill: ClipScores | None
    telea: ClipScores
    call: CallReport | None
    error: str | None = None

    @property
    def gain(self) -> float:
        """Hole-PSNR of flowfill minus Telea's, in dB (NaN if flowfill failed)."""
        if self.flowfill is None:
            return float("nan")
        return self.flowfill.hole_psnr - self.telea.hole_psnr

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON report."""
        call = self.call
        return {
            "clip": self.clip,
            "case": self.case,
            "frames": self.frames,
            "hole_percent": self.hole_percent,
            "flowfill": self.flowfill.as_dict() if self.flowfill else None,
            "telea": self.telea.as_dict(),
            "hole_psnr_gain": self.gain,
            "seconds": call.seconds if call else None,
            "seconds_per_frame": call.seconds / max(call.frames, 1) if call else None,
            "peak_mb": call.peak / MB if call else None,
            "peak_increase_mb": (call.increase / MB if call and call.increase is not None
                                 else None),
            "stats": call.stats if call else None,
            "error": self.error,
        }


def case_masks(clip: clipmod.EvalClip, case: str, seed: int) -> np.ndarray | None:
    """The hole of ``case`` for ``clip`` (None when the case does not apply to the clip)."""
    n, h, w = clip.frames.shape[:3]
    if case == "object":
        return clip.object_masks
    case_seed = seed ^ (zlib.crc32(f"{clip.name}/{case}".encode()) & 0xFFFF)
    return maskmod.make_mask(case, n, h, w, seed=case_seed)


def case_inputs(clip: clipmod.EvalClip, case: str) -> tuple[np.ndarray, np.ndarray]:
    """Input frames and truth for ``case``: synthetic damage is scored on the clean truth."""
    if case == "object":
        return clip.frames, clip.truth
    return clip.truth, clip.truth


def run_case(clip: clipmod.EvalClip, case: str, holes: np.ndarray, options: dict[str, Any],
             isolate: bool = True, bars: bool = False) -> CaseResult:
    """Fill ``holes`` with flowfill and Telea and score both against the clip's truth
    (``bars``: flowfill's progress bars on stderr)."""
    frames, truth = case_inputs(clip, case)
    # the hole is blanked: a method handed the truth inside it could not be told from one
    # that returns its input (it never reads the hole, so its scores do not change)
    frames = np.where(holes[..., None], np.float32(0.5), frames)
    truth8 = to_uint8(truth)
    base = composite(telea(frames, holes), truth8, holes)
    telea_scores = score_clip(base, truth8, holes)
    hole_percent = 100.0 * float(holes.mean())
    try:
        call = (_in_subprocess(_flowfill_call, frames, holes, options, bars) if isolate
                else _flowfill_call(frames, holes, options, bars))
    except Exception as exc:  # a failing case is reported, the others still run
        return CaseResult(clip.name, case, len(frames), hole_percent, None, telea_scores, None,
                          f"{type(exc).__name__}: {exc}")
    assert call.output is not None
    ours = score_clip(composite(call.output, truth8, holes), truth8, holes)
    call.output = None
    return CaseResult(clip.name, case, len(frames), hole_percent, ours, telea_scores, call)


# --------------------------------------------------------------------------- report


HEADER = (f"{'clip':<12}{'case':<10}{'n':>4}{'hole%':>7}  {'method':<9}{'hPSNR':>7}{'PSNR':>7}"
          f"{'SSIM':>8}{'flicker':>8}{'detail':>7}{'gain':>7}{'s/frame':>9}{'peak MB':>9}"
          f"{'(+call)':>9}{'prop%':>7}")


def format_case(r: CaseResult) -> str:
    """Two table lines (flowfill, telea) for one case."""
    lead = f"{r.clip:<12}{r.case:<10}{r.frames:>4}{r.hole_percent:>7.2f}  "
    lines = []
    for name, s in (("flowfill", r.flowfill), ("telea", r.telea)):
        prefix = lead if name == "flowfill" else " " * len(lead)
        if s is None:
            lines.append(f"{prefix}{name:<9}failed: {r.error}")
            continue
        row = (f"{prefix}{name:<9}{_fmt(s.hole_psnr, '.2f', 7)}{_fmt(s.psnr, '.2f', 7)}"
               f"{_fmt(s.ssim, '.4f', 8)}{_fmt(s.flicker, '.2f', 8)}"
               f"{_fmt(s.detail, '.2f', 7)}")
        if name == "flowfill" and r.call is not None:
            c = r.call
            holes = c.stats.get("hole_pixels") or 0
            prop = 100.0 * c.stats.get("filled_propagation", 0) / holes if holes else None
            inc = c.increase / MB if c.increase is not None else None
            row += (f"{_fmt(r.gain, '+.2f', 7)}{_fmt(c.seconds / max(c.frames, 1), '.4f', 9)}"
                    f"{_fmt(c.peak / MB, '.0f', 9)}{_fmt(inc, '+.0f', 9)}{_fmt(prop, '.1f', 7)}")
        lines.append(row)
    return "\n".join(lines)


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarise(results: list[CaseResult]) -> dict[str, Any]:
    """Averages per mask kind and the overall seconds per frame."""
    kinds: dict[str, Any] = {}
    for case in CASES:
        rs = [r for r in results if r.case == case]
        if not rs:
            continue
        kinds[case] = {
            "cases": len(rs),
            "gain": _nanmean([r.gain for r in rs]),
            "hole_psnr_flowfill": _nanmean([r.flowfill.hole_psnr for r in rs if r.flowfill]),
            "hole_psnr_telea": _nanmean([r.telea.hole_psnr for r in rs]),
            "flicker_flowfill": _nanmean([r.flowfill.flicker for r in rs if r.flowfill]),
            "flicker_telea": _nanmean([r.telea.flicker for r in rs]),
            "detail_flowfill": _nanmean([r.flowfill.detail for r in rs if r.flowfill]),
            "detail_telea": _nanmean([r.telea.detail for r in rs]),
        }
    calls = [r.call for r in results if r.call is not None]
    frames = sum(c.frames for c in calls)
    seconds = sum(c.seconds for c in calls)
    return {
        "kinds": kinds,
        "frames": frames,
        "seconds": seconds,
        "seconds_per_frame": seconds / frames if frames else float("nan"),
        "peak_mb_max": max((c.peak / MB for c in calls), default=float("nan")),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The closing lines: per-kind averages and the overall speed."""
    lines = [f"{'mask kind':<12}{'cases':>6}{'gain dB':>9}{'hPSNR ff':>10}{'hPSNR telea':>13}"
             f"{'flicker ff':>12}{'flicker telea':>15}{'detail ff':>11}{'detail telea':>14}"]
    for kind, k in summary["kinds"].items():
        lines.append(f"{kind:<12}{k['cases']:>6}{_fmt(k['gain'], '+.2f', 9)}"
                     f"{_fmt(k['hole_psnr_flowfill'], '.2f', 10)}"
                     f"{_fmt(k['hole_psnr_telea'], '.2f', 13)}"
                     f"{_fmt(k['flicker_flowfill'], '.2f', 12)}"
                     f"{_fmt(k['flicker_telea'], '.2f', 15)}"
                     f"{_fmt(k['detail_flowfill'], '.2f', 11)}"
                     f"{_fmt(k['detail_telea'], '.2f', 14)}")
    spf = _fmt(summary["seconds_per_frame"], ".4f", 0)
    peak = _fmt(summary["peak_mb_max"], ".0f", 0)
    lines.append(f"flowfill overall: {spf} s/frame over {summary['frames']} frames; "
                 f"max peak {peak} MB")
    return "\n".join(lines)


def format_memory(call: CallReport) -> str:
    """One paragraph for the long-clip memory run."""
    inc = call.increase / MB if call.increase is not None else None
    x = call.extra
    return (f"long clip: {call.frames} frames {x['width']}x{x['height']} via {x['api']}: "
            f"peak {call.peak / MB:.0f} MB (+{_fmt(inc, '.0f', 0)} MB during the call), "
            f"{call.seconds / max(call.frames, 1):.4f} s/frame, hole-PSNR "
            f"{_fmt(x['hole_psnr'], '.2f', 0)} dB")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


# --------------------------------------------------------------------------- command line


def _option_parser(annotation: Any) -> Callable[[str], Any]:
    """argparse ``type`` for an Options field annotation (int, float, str, or X | None)."""
    args = typing.get_args(annotation)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), annotation) if args else annotation

    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "auto"):
            return None
        return base(text) if base in (int, float) else text

    return parse


def _add_flowfill_options(parser: argparse.ArgumentParser) -> list[str]:
    """One pass-through flag per field of flowfill.Options (only given ones are passed on)."""
    from flowfill.options import Options

    group = parser.add_argument_group("flowfill options (passed to flowfill.remove)")
    hints = typing.get_type_hints(Options)
    names = []
    for f in dataclasses.fields(Options):
        flag = "--" + f.name.replace("_", "-")
        if flag in parser._option_string_actions:
            continue
        names.append(f.name)
        kind = hints.get(f.name, str)
        if kind is bool:
            group.add_argument(flag, dest=f"opt_{f.name}", action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=f"default {f.default}")
        else:
            group.add_argument(flag, dest=f"opt_{f.name}", type=_option_parser(kind),
                               default=argparse.SUPPRESS, metavar=f.name.upper(),
                               help=f"default {f.default}")
    return names


def build_parser(prog: str | None = None) -> tuple[argparse.ArgumentParser, list[str]]:
    """The benchmark's argument parser and the names of the pass-through flowfill options."""
    from flowfill.evaluate.hard import HARD_FRAMES as hard_frames

    parser = argparse.ArgumentParser(
        prog=prog or "flowfill evaluate",
        description="Score flowfill against per-frame Telea on clips x synthetic masks "
                    "(hole-PSNR, PSNR, SSIM, flicker, detail ratio, s/frame, peak memory).")
    parser.add_argument("--clips", default=None,
                        help=f"comma-separated clips (default: {','.join(clipmod.CLIP_NAMES)};"
                             " with --quick: sample); also the hard clips "
                             f"{','.join(clipmod.HARD_CLIP_NAMES)}, built from the shared clips "
                             "(see --hard), and shaky, the shipped street through a shaking "
                             "camera (a film scan's gate weave at its worst)")
    parser.add_argument("--hard", action="store_true",
                        help="add the hard clips to --clips (without --clips: run only them): "
                             "fastpan, a "
                             "handheld 16-24 px/frame pan with motion blur; crossing, close "
                             "motion-blurred poles crossing tennis (and every hole) at 29-34 "
                             "px/frame, part of the truth; cut, bmx-trees cut to tennis mid-clip, "
                             "the hole across the cut; still, tennis held still (a static camera, "
                             f"the player running past) ({hard_frames} frames each)")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated mask cases (default all: {','.join(CASES)})")
    parser.add_argument("--frames", type=int, default=None,
                        help="frames per clip (default: all; running_car: 80; hard clips: "
                             f"{hard_frames}, at most)")
    parser.add_argument("--out", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: sample clip only, {QUICK_FRAMES} frames")
    parser.add_argument("--mask-seed", type=int, default=0, help="seed of the synthetic masks")
    parser.add_argument("--mask-dilate", type=int, default=0, metavar="ITER",
                        help="grow each hole by a 3x3 cross ITER times (ProPainter test masks: 4)")
    parser.add_argument("--in-process", action="store_true",
                        help="run flowfill in this process (faster start, less exact memory)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress on stderr (the case being run, flowfill's bars); the "
                             "table still goes to stdout")
    parser.add_argument("--memory-clip", type=int, default=None, metavar="N",
                        help="instead, run one synthetic N-frame 432x240 clip with a moving blob "
                             "and report peak memory and s/frame")
    parser.add_argument("--stabilise", action="store_true",
                        help="instead, lay a handheld shake over each clip, run `flowfill "
                             "stabilise` (fill mode) on it, and report the camera shake in and "
                             "out, the share the warps uncovered, pixels left black, s/frame")
    parser.add_argument("--archival", action="store_true",
                        help="instead, paint film dust and scratches over each clip (clean and "
                             "grainy, with a fast ball that must survive), find them with the "
                             "defect detector and fill them with flowfill and Telea: detector "
                             "recall, precision, false pixels, fill quality, s/frame (default "
                             "40 frames per clip)")
    parser.add_argument("--memory-api", choices=("stream", "remove"), default="stream",
                        help="memory run through remove_stream (lazy, default) or remove")
    names = _add_flowfill_options(parser)
    return parser, names


def _split(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {bad}; choose from {','.join(allowed)}")
    return items


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; 0 on success, 1 if a case failed, 2 on bad args."""
    parser, option_names = build_parser()
    args = parser.parse_args(argv)
    options = {n: getattr(args, f"opt_{n}") for n in option_names if hasattr(args, f"opt_{n}")}
    try:
        from flowfill.options import Options

        Options.from_kwargs(**options)
        default_clips = "sample" if args.quick else ",".join(clipmod.CLIP_NAMES)
        if args.hard:
            default_clips = ",".join(clipmod.HARD_CLIP_NAMES)
        clip_names = _split(args.clips or default_clips, clipmod.ALL_CLIP_NAMES, "clip")
        if args.hard and args.clips:
            clip_names += [c for c in clipmod.HARD_CLIP_NAMES if c not in clip_names]
        case_names = _split(args.cases, CASES, "case")
    except Exception as exc:
        print(f"flowfill evaluate: {exc}", file=sys.stderr)
        return 2
    import flowfill

    print(f"flowfill {flowfill.__version__} on {platform.platform()}, python "
          f"{platform.python_version()}; options {options or 'default'}")
    report: dict[str, Any] = {"argv": list(argv) if argv is not None else sys.argv[1:],
                              "flowfill_version": flowfill.__version__, "options": options,
                              "platform": platform.platform()}
    if args.memory_clip:
        runner = _in_process if args.in_process else _in_subprocess
        try:
            call = runner(_stream_long_clip, args.memory_clip, options, args.mask_seed,
                          args.memory_api)
        except Exception as exc:  # e.g. the worker was killed for memory
            print(f"long clip: failed: {type(exc).__name__}: {exc}")
            return 1
        print(format_memory(call))
        report["memory"] = {"frames": call.frames, "seconds": call.seconds,
                            "seconds_per_frame": call.seconds / max(call.frames, 1),
                            "peak_mb": call.peak / MB,
                            "peak_increase_mb": (call.increase / MB
                                                 if call.increase is not None else None),
                            "stats": call.stats, **call.extra}
        _write_json(args.out, report)
        return 0

    frames_cap = args.frames or (QUICK_FRAMES if args.quick else None)
    if args.archival:
        from flowfill.evaluate.archival import FRAMES as archival_frames

        return _archival_table(clip_names, frames_cap or archival_frames, options,
                               args.mask_seed, report, args.out, isolate=not args.in_process,
                               quiet=args.quiet)
    if args.stabilise:
        return _stabilise_table(clip_names, frames_cap, options, args.mask_seed, report, args.out,
                                quiet=args.quiet)
    results: list[CaseResult] = []
    print(HEADER)
    print("-" * len(HEADER))
    for name in clip_names:
        clip = clipmod.load_clip(name, frames_cap)
        if clip is None:
            continue
        for case in case_names:
            holes = case_masks(clip, case, args.mask_seed)
            if holes is None:
                continue
            holes = maskmod.dilate_cross(holes, args.mask_dilate)
            _note(f"{name}/{case}: {len(holes)} frames", args.quiet)
            result = run_case(clip, case, holes, options, isolate=not args.in_process,
                              bars=bars_wanted(args.quiet))
            results.append(result)
            print(format_case(result), flush=True)
    summary = summarise(results)
    print()
    print(format_summary(summary))
    report["cases"] = [r.as_dict() for r in results]
    report["summary"] = summary
    _write_json(args.out, report)
    return 1 if any(r.error for r in results) else 0


def _loaded(clip_names: list[str], frames_cap: int | None) -> Iterator[clipmod.EvalClip]:
    """The clips that can be loaded, in order (an absent shared clip is skipped with a note)."""
    for name in clip_names:
        clip = clipmod.load_clip(name, frames_cap)
        if clip is not None:
            yield clip


def _stabilise_table(clip_names: list[str], frames_cap: int | None, options: dict[str, Any],
                     seed: int, report: dict[str, Any], out: str | None,
                     quiet: bool = False) -> int:
    """The --stabilise run: one row per clip."""
    from flowfill.evaluate import stabilise as stab

    print(stab.HEADER)
    print("-" * len(stab.HEADER))
    rows = []
    for clip in _loaded(clip_names, frames_cap):
        name = clip.name
        _note(f"{name}/stabilise: {len(clip.truth)} frames", quiet)
        result = stab.run_stabilise(clip, options, seed, bars=bars_wanted(quiet))
        rows.append(result.as_dict())
        print(stab.format_result(result), flush=True)
    report["stabilise"] = rows
    _write_json(out, report)
    return 0


def _archival_table(clip_names: list[str], frames_cap: int, options: dict[str, Any], seed: int,
                    report: dict[str, Any], out: str | None, isolate: bool = True,
                    quiet: bool = False) -> int:
    """The --archival run: one row per clip x variant (clean, grainy), then a summary."""
    from flowfill.evaluate import archival

    print(archival.HEADER)
    print("-" * len(archival.HEADER))
    results = []
    for clip in _loaded(clip_names, frames_cap):
        name = clip.name
        for variant in archival.VARIANTS:
            _note(f"{name}/{variant}: {len(clip.truth)} frames", quiet)
            result = archival.run_archival(clip, variant, options, seed, isolate=isolate,
                                           bars=bars_wanted(quiet))
            results.append(result)
            print(archival.format_result(result), flush=True)
    summary = archival.summarise(results)
    print()
    print(archival.format_summary(summary))
    report["archival"] = [r.as_dict() for r in results]
    report["archival_summary"] = summary
    _write_json(out, report)
    return 1 if any(r.error for r in results) else 0


def _note(text: str, quiet: bool) -> None:
    """The case about to run, on stderr (nothing with --quiet)."""
    if not quiet:
        print(f"... {text}", file=sys.stderr, flush=True)


def _in_process(fn: Callable[..., CallReport], *args: object) -> CallReport:
    return fn(*args)


def _write_json(path: str | None, report: dict[str, Any]) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(_jsonable(report), fh, indent=2)
        print(f"wrote {path}")
