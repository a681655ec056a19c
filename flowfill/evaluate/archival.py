"""Archival benchmark: film dust and scratches painted over each clip, found by the defect
detector and filled, with the detector and the fill scored against the known footprints.

Each clip runs in two variants, ``clean`` (the truth) and ``grainy`` (film grain added), each
with a small fast dark ball crossing the frame: real picture that the detector must leave
alone. :func:`flowfill.evaluate.defects.paint_defects` paints dust specks and line scratches
over that truth and keeps their exact footprints, so the detector's mask can be scored
(recall per speck and over scratch pixels, precision per connected component, false pixels,
the ball's pixels taken), and the fills of flowfill and per-frame Telea of that *detected* mask
can be scored against the truth over the footprint: what had to be repaired, so a defect the
detector missed counts against both fills alike. The detector also runs on the defect-free
truth (ball and motion, no defects), where every detected pixel is a false one.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from flowfill.evaluate.clips import EvalClip
from flowfill.evaluate.defects import Defects, add_ball, add_grain, paint_defects
from flowfill.evaluate.metrics import (
    composite,
    detail_ratio,
    flicker,
    grain_ratio,
    hole_psnr,
    to_uint8,
)
from flowfill.evaluate.metrics import format_value as _fmt

VARIANTS = ("clean", "grainy")
"""The clean truth, and the truth with film grain (``add_grain``, strength ``GRAIN``)."""
GRAIN = 0.03
"""Strength of the grainy variant's film grain."""
FRAMES = 40
"""Frames per clip in this mode unless ``--frames`` asks for others."""
MARGIN = 2
"""The detector's margin, px: it grows what it finds by this much."""
SMALL_SPECK = 4.0
"""Specks narrower than this (px, the diameter of a disc of their area) are scored apart: the
dust recall figure counts only the specks at least this wide."""
FOUND_SHARE = 0.5
"""A speck counts as found when at least this share of its footprint lies in the mask."""


# --------------------------------------------------------------------------- detection scores


def disc(radius: int) -> np.ndarray:
    """uint8 structuring element: the pixels within Euclidean ``radius`` of the centre."""
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return (xx * xx + yy * yy <= radius * radius).astype(np.uint8)


def near(footprint: np.ndarray, radius: int) -> np.ndarray:
    """bool N x H x W: the pixels within ``radius`` px (Euclidean) of ``footprint`` in their
    own frame (frames are dilated one by one: a defect says nothing about its neighbours)."""
    if radius <= 0:
        return footprint.astype(bool)
    kernel = disc(radius)
    return np.stack([cv2.dilate(f.astype(np.uint8), kernel) > 0 for f in footprint])


def speck_found(detected: np.ndarray, dust: np.ndarray) -> np.ndarray:
    """bool per speck id (index 0, no speck, is False): at least ``FOUND_SHARE`` of the speck's
    footprint lies inside ``detected``."""
    count = int(dust.max()) + 1
    area = np.bincount(dust.ravel(), minlength=count)
    inside = np.bincount(dust[detected].ravel(), minlength=count)
    found = (area > 0) & (inside >= FOUND_SHARE * area)
    found[0] = False
    return found


def dust_recall(detected: np.ndarray, dust: np.ndarray, sizes: dict[int, float],
                min_size: float = 0.0, max_size: float = np.inf) -> tuple[float, int, int]:
    """(recall, found, specks) over the specks with ``min_size <= size < max_size`` px; the
    recall is NaN when there is no such speck."""
    found = speck_found(detected, dust)
    ids = [i for i, s in sizes.items() if min_size <= s < max_size and i < len(found)]
    hits = int(found[ids].sum()) if ids else 0
    return (hits / len(ids) if ids else float("nan")), hits, len(ids)


def component_counts(detected: np.ndarray, footprint: np.ndarray, radius: int
                     ) -> tuple[int, int]:
    """(true, all) connected components (8-connected, per frame) of ``detected``; a component
    is true when it touches ``footprint`` dilated by ``radius``."""
    zone = near(footprint, radius)
    true = total = 0
    for mask, close in zip(detected, zone, strict=True):
        count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        touching = np.bincount(labels[mask & close], minlength=count)
        true += int(np.count_nonzero(touching[1:]))
        total += count - 1
    return true, total


def false_share(detected: np.ndarray, footprint: np.ndarray, radius: int) -> float:
    """Detected pixels farther than ``radius`` px from any footprint, over all pixels, in %."""
    return 100.0 * float(np.mean(detected & ~near(footprint, radius)))


def covered_share(detected: np.ndarray, where: np.ndarray) -> float:
    """Share of ``where``'s pixels inside ``detected`` (NaN when ``where`` is empty)."""
    return float(detected[where].mean()) if where.any() else float("nan")


@dataclass
class DetectionScores:
    """How a detected mask matches the painted defects (and leaves the ball alone)."""

    dust_recall: float
    """Share of the specks at least ``SMALL_SPECK`` px wide found."""
    small_recall: float
    """The same over the narrower specks."""
    precision: float
    """True components over all components of the mask (dust and scratches together)."""
    false_percent: float
    """Detected pixels farther than margin + 1 px from any defect, % of all pixels."""
    scratch_recall: float
    """Share of the scratch footprint pixels inside the mask."""
    ball_percent: float
    """% of the ball's pixels inside the mask, away from the defects (margin + 1 px)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Specks found and painted (large, small) and components true and all."""

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON report."""
        return {"dust_recall": self.dust_recall, "small_dust_recall": self.small_recall,
                "precision": self.precision, "false_percent": self.false_percent,
                "scratch_recall": self.scratch_recall, "ball_percent": self.ball_percent,
                **self.counts}


def score_detection(detected: np.ndarray, defects: Defects, ball: np.ndarray,
                    margin: int = MARGIN) -> DetectionScores:
    """Score ``detected`` (bool N x H x W) against ``defects``' footprints and the ball.

    A component or pixel within ``margin + 1`` px of a footprint is the defect grown by the
    detector's margin (plus a pixel of slack), not a false detection. Ball pixels that close to
    a defect (a speck painted on the ball) may rightly go, so they are not counted.
    """
    footprint = defects.footprint
    slack = margin + 1
    large, large_hits, large_n = dust_recall(detected, defects.dust, defects.dust_size,
                                             min_size=SMALL_SPECK)
    small, small_hits, small_n = dust_recall(detected, defects.dust, defects.dust_size,
                                             max_size=SMALL_SPECK)
    true, total = component_counts(detected, footprint, slack)
    ball_alone = ball & ~near(footprint, slack)
    return DetectionScores(
        dust_recall=large,
        small_recall=small,
        precision=true / total if total else float("nan"),
        false_percent=false_share(detected, footprint, slack),
        scratch_recall=covered_share(detected, defects.scratches > 0),
        ball_percent=100.0 * covered_share(detected, ball_alone),
        counts={"specks_found": large_hits, "specks": large_n, "small_specks_found": small_hits,
                "small_specks": small_n, "components_true": true, "components": total},
    )


def detect(frames: np.ndarray, margin: int = MARGIN) -> tuple[np.ndarray, float]:
    """The defect detector's masks (bool N x H x W) for ``frames`` and its seconds."""
    from flowfill.detect.defects import detect_defects

    t0 = time.perf_counter()
    masks = np.stack(list(detect_defects(iter(frames), margin=margin)))
    return masks.astype(bool, copy=False), time.perf_counter() - t0


# --------------------------------------------------------------------------- fill scores


@dataclass
class FillScores:
    """One method's fill of the detected masks, scored over the repair region."""

    hole_psnr: float
    flicker: float
    detail: float
    grain: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict for the JSON report."""
        return {"hole_psnr": self.hole_psnr, "flicker": self.flicker, "detail": self.detail,
                "grain": self.grain}


def score_fill(out8: np.ndarray, truth8: np.ndarray, region: np.ndarray, filled: np.ndarray
               ) -> FillScores:
    """Score a method's uint8 output over ``region`` (what had to be repaired) against the
    uint8 truth: hole-PSNR (frames with a region, averaged), flicker and detail ratio of the
    output composited into the truth outside ``region``; the grain ratio
    (:func:`~flowfill.evaluate.metrics.grain_ratio`) of the output itself inside ``filled`` (what
    the method filled) against a ring around it: a smooth fill in grainy film is below 1."""
    comp = composite(out8, truth8, region)
    values = [hole_psnr(comp[t], truth8[t], region[t]) for t in range(len(comp))]
    finite = [v for v in values if not np.isnan(v)]
    return FillScores(
        hole_psnr=float(np.mean(finite)) if finite else float("nan"),
        flicker=flicker(comp, truth8, region),
        detail=detail_ratio(comp, truth8, region),
        grain=grain_ratio(out8, filled) if filled.any() else float("nan"),
    )


# --------------------------------------------------------------------------- one case


def case_seed(seed: int, clip: str, what: str) -> int:
    """A seed of its own for ``what`` on ``clip`` (stable across runs and platforms)."""
    return seed ^ (zlib.crc32(f"{clip}/{what}".encode()) & 0xFFFF)


def variant_truth(clip: EvalClip, variant: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The variant's truth and where its ball shows (bool N x H x W): the clip's truth with a
    fast ball crossing it (the same in both variants), and for ``grainy`` film grain laid over
    all of it afterwards (the ball is in the scene, the grain in the film)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")
    truth, ball = add_ball(clip.truth, seed=case_seed(seed, clip.name, "ball"))
    if variant == "grainy":
        truth = add_grain(truth, strength=GRAIN, seed=case_seed(seed, clip.name, "grain"))
    return truth, ball


@dataclass
class ArchivalResult:
    """One clip x variant: the detector's scores and both fills'."""

    clip: str
    variant: str
    frames: int
    detection: DetectionScores
    clean_false_percent: float
    """False-detection share (%) on the same truth without defects (ball and motion only)."""
    detect_seconds: float
    telea: FillScores
    flowfill: FillScores | None
    fill_seconds: float | None
    call_stats: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    painted: tuple[FillScores, FillScores] | None = None
    """(flowfill, Telea) filling the painted footprints grown by the margin instead of what was
    detected: the fill's quality without the detector's misses and false alarms."""

    @property
    def painted_gain(self) -> float:
        """Hole-PSNR gain of flowfill over Telea on the painted masks, dB (NaN if not run)."""
        return (self.painted[0].hole_psnr - self.painted[1].hole_psnr if self.painted
                else float("nan"))

    @property
    def gain(self) -> float:
        """Hole-PSNR of flowfill minus Telea's over the repair region, dB (NaN if it failed)."""
        return (self.flowfill.hole_psnr - self.telea.hole_psnr if self.flowfill
                else float("nan"))

    @property
    def detect_spf(self) -> float:
        """The detector's seconds per frame."""
        return self.detect_seconds / max(self.frames, 1)

    @property
    def fill_spf(self) -> float:
        """flowfill's seconds per frame (NaN if it failed)."""
        return self.fill_seconds / max(self.frames, 1) if self.fill_seconds else float("nan")

    @property
    def time_ratio(self) -> float:
        """The detector's time over flowfill's."""
        return (self.detect_seconds / self.fill_seconds if self.fill_seconds
                else float("nan"))

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON report."""
        return {"clip": self.clip, "variant": self.variant, "frames": self.frames,
                "detection": self.detection.as_dict(),
                "clean_false_percent": self.clean_false_percent,
                "detect_seconds_per_frame": self.detect_spf,
                "flowfill": self.flowfill.as_dict() if self.flowfill else None,
                "telea": self.telea.as_dict(), "hole_psnr_gain": self.gain,
                "seconds_per_frame": self.fill_spf, "detect_over_fill": self.time_ratio,
                "stats": self.call_stats, "error": self.error,
                "painted": ({"flowfill": self.painted[0].as_dict(),
                             "telea": self.painted[1].as_dict(),
                             "hole_psnr_gain": self.painted_gain} if self.painted else None)}


@dataclass
class DetectionCase:
    """One benchmark row's detection: its truth, the defects painted over it, what the
    detector found (and its seconds), the scores, and the share of the defect-free truth's
    pixels it flags (%)."""

    truth: np.ndarray
    defects: Defects
    detected: np.ndarray
    seconds: float
    scores: DetectionScores
    clean_false: float


def detect_case(clip: EvalClip, variant: str, seed: int = 0) -> DetectionCase:
    """Paint defects (by ``seed``) over ``clip``'s ``variant`` truth, detect and score them, and
    run the detector on the defect-free truth too."""
    truth, ball = variant_truth(clip, variant, seed)
    defects = paint_defects(truth, seed=case_seed(seed, clip.name, f"{variant}/defects"))
    detected, seconds = detect(defects.frames)
    scores = score_detection(detected, defects, ball)
    clean_false = 100.0 * float(detect(truth)[0].mean())
    return DetectionCase(truth, defects, detected, seconds, scores, clean_false)


def run_archival(clip: EvalClip, variant: str, options: dict[str, Any], seed: int = 0,
                 isolate: bool = True, bars: bool = False) -> ArchivalResult:
    """Paint defects over ``clip``'s ``variant`` truth, detect them, fill the detected masks
    with flowfill (``options``; in a fresh process when ``isolate``; ``bars``: its progress
    bars on stderr) and Telea, score all."""
    from flowfill.evaluate import benchmark as bench

    options = {"grain": "auto", "unveil": True, **options}  # as `flowfill remove --mask auto`
    case = detect_case(clip, variant, seed)
    truth, defects, detected, scores = case.truth, case.defects, case.detected, case.scores
    detect_seconds, clean_false = case.seconds, case.clean_false

    truth8 = to_uint8(truth)
    region = near(defects.footprint, 1)
    telea = score_fill(bench.telea(defects.frames, detected), truth8, region, detected)
    n = len(truth)
    try:
        call = (bench._in_subprocess(bench._flowfill_call, defects.frames, detected, options,
                                     bars)
                if isolate else bench._flowfill_call(defects.frames, detected, options, bars))
    except Exception as exc:  # a failing case is reported, the others still run
        return ArchivalResult(clip.name, variant, n, scores, clean_false, detect_seconds, telea,
                              None, None, error=f"{type(exc).__name__}: {exc}")
    assert call.output is not None
    ours = score_fill(call.output, truth8, region, detected)
    result = ArchivalResult(clip.name, variant, n, scores, clean_false, detect_seconds, telea,
                            ours, call.seconds, call.stats)
    call.output = None
    painted = near(defects.footprint, MARGIN)
    try:
        oracle = (bench._in_subprocess(bench._flowfill_call, defects.frames, painted, options,
                                       bars)
                  if isolate else bench._flowfill_call(defects.frames, painted, options, bars))
    except Exception as exc:
        result.error = f"painted masks: {type(exc).__name__}: {exc}"
        return result
    assert oracle.output is not None
    result.painted = (score_fill(oracle.output, truth8, region, painted),
                      score_fill(bench.telea(defects.frames, painted), truth8, region, painted))
    return result


# --------------------------------------------------------------------------- report


HEADER = (f"{'clip':<12}{'variant':<8}{'n':>4}{'dust>=4':>8}{'dust<4':>7}{'prec':>6}"
          f"{'false%':>7}{'free%':>7}{'scratch':>8}{'ball%':>6}  {'hPSNR ff':>9}{'Telea':>7}"
          f"{'gain':>7}{'flick ff':>9}{'Telea':>7}{'detail':>7}{'grain ff':>9}{'Telea':>7}"
          f"{'det s/f':>9}{'ff s/f':>8}{'det/ff':>7}{'gain@p':>8}{'flick@p':>12}")


def format_result(r: ArchivalResult) -> str:
    """One row of the archival table."""
    d, t, f = r.detection, r.telea, r.flowfill
    row = (f"{r.clip:<12}{r.variant:<8}{r.frames:>4}{_fmt(d.dust_recall, '.3f', 8)}"
           f"{_fmt(d.small_recall, '.2f', 7)}{_fmt(d.precision, '.3f', 6)}"
           f"{_fmt(d.false_percent, '.3f', 7)}{_fmt(r.clean_false_percent, '.3f', 7)}"
           f"{_fmt(d.scratch_recall, '.3f', 8)}{_fmt(d.ball_percent, '.1f', 6)}  ")
    if f is None:
        return row + f"flowfill failed: {r.error}"
    return row + (f"{_fmt(f.hole_psnr, '.2f', 9)}{_fmt(t.hole_psnr, '.2f', 7)}"
                  f"{_fmt(r.gain, '+.2f', 7)}{_fmt(f.flicker, '.2f', 9)}{_fmt(t.flicker, '.2f', 7)}"
                  f"{_fmt(f.detail, '.2f', 7)}{_fmt(f.grain, '.2f', 9)}{_fmt(t.grain, '.2f', 7)}"
                  f"{_fmt(r.detect_spf, '.4f', 9)}{_fmt(r.fill_spf, '.3f', 8)}"
                  f"{_fmt(r.time_ratio, '.1%', 7)}{_fmt(r.painted_gain, '+.2f', 8)}"
                  + (f"{r.painted[0].flicker:>6.2f}/{r.painted[1].flicker:<5.2f}" if r.painted
                     else f"{'-':>12}"))


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _extreme(fn: Any, values: list[float]) -> float:
    finite = [v for v in values if v is not None and not np.isnan(v)]
    return float(fn(finite)) if finite else float("nan")


def summarise(results: list[ArchivalResult]) -> dict[str, Any]:
    """Means over the rows (and the worst cases the done-when looks at)."""
    filled = [r for r in results if r.flowfill is not None]
    detect_s = sum(r.detect_seconds for r in results)
    fill_s = sum(r.fill_seconds or 0.0 for r in filled)
    return {
        "rows": len(results),
        "dust_recall": _mean([r.detection.dust_recall for r in results]),
        "small_dust_recall": _mean([r.detection.small_recall for r in results]),
        "precision": _mean([r.detection.precision for r in results]),
        "scratch_recall": _mean([r.detection.scratch_recall for r in results]),
        "false_percent_max": _extreme(max, [r.detection.false_percent for r in results]),
        "clean_false_percent_max": _extreme(
            max, [r.clean_false_percent for r in results if r.variant == "clean"]),
        "grainy_free_false_percent_max": _extreme(
            max, [r.clean_false_percent for r in results if r.variant == "grainy"]),
        "ball_percent_max": _extreme(max, [r.detection.ball_percent for r in results]),
        "gain_mean": _mean([r.gain for r in filled]),
        "gain_min": _extreme(min, [r.gain for r in filled]),
        "painted_gain_mean": _mean([r.painted_gain for r in filled]),
        "painted_gain_min": _extreme(min, [r.painted_gain for r in filled]),
        "flicker_flowfill": _mean([r.flowfill.flicker for r in filled if r.flowfill]),
        "flicker_telea": _mean([r.telea.flicker for r in filled]),
        "grain_flowfill": _mean([r.flowfill.grain for r in filled if r.flowfill]),
        "grain_telea": _mean([r.telea.grain for r in filled]),
        "detect_seconds_per_frame": detect_s / max(sum(r.frames for r in results), 1),
        "seconds_per_frame": fill_s / max(sum(r.frames for r in filled), 1),
        "detect_over_fill": (sum(r.detect_seconds for r in filled) / fill_s if fill_s
                             else float("nan")),
    }


def format_summary(s: dict[str, Any]) -> str:
    """The closing lines: the detector's figures, then the fills'."""
    return "\n".join([
        f"detection: dust recall (>= {SMALL_SPECK:g} px) {_fmt(s['dust_recall'], '.3f', 0)} "
        f"(smaller specks {_fmt(s['small_dust_recall'], '.2f', 0)}), precision "
        f"{_fmt(s['precision'], '.3f', 0)}, scratch recall {_fmt(s['scratch_recall'], '.3f', 0)}"
        f"; false detections on defect-free clips: clean max "
        f"{_fmt(s['clean_false_percent_max'], '.3f', 0)}%, grainy max "
        f"{_fmt(s['grainy_free_false_percent_max'], '.3f', 0)}%; ball removed max "
        f"{_fmt(s['ball_percent_max'], '.2f', 0)}%",
        f"fill: hole-PSNR gain over Telea mean {_fmt(s['gain_mean'], '+.2f', 0)} dB, min "
        f"{_fmt(s['gain_min'], '+.2f', 0)} dB; flicker flowfill "
        f"{_fmt(s['flicker_flowfill'], '.2f', 0)} vs Telea {_fmt(s['flicker_telea'], '.2f', 0)}"
        f"; grain ratio flowfill {_fmt(s['grain_flowfill'], '.2f', 0)} vs Telea "
        f"{_fmt(s['grain_telea'], '.2f', 0)}; on the painted masks (no detector) gain mean "
        f"{_fmt(s['painted_gain_mean'], '+.2f', 0)} dB, min "
        f"{_fmt(s['painted_gain_min'], '+.2f', 0)} dB",
        f"speed: detection {_fmt(s['detect_seconds_per_frame'], '.4f', 0)} s/frame, flowfill "
        f"{_fmt(s['seconds_per_frame'], '.3f', 0)} s/frame; detection/fill "
        f"{_fmt(s['detect_over_fill'], '.1%', 0)}",
    ])
