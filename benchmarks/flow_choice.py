"""Which CPU optical flow should flowfill use by default? (issue 21, item 3)

Usage: ``python benchmarks/flow_choice.py [--pairs 10] [--part 1|2|both] [--e2e dis,dis-fine]
[--clips running_car,tennis,sample] [--cases blob,parked] [--frames 40]``

Part 1: endpoint error of every CPU flow OpenCV (with contrib) offers, on layered synthetic motion
with a known truth. Textured layers (crops of the shared clips' frames, tennis and bmx-trees; a
procedural texture when those are absent) move in front of each other: the background by a
homography (the camera), two to four objects of random shape by their own affine motion. Each
pair is rendered at 432x240 in four settings:

  small   camera 0-4 px, objects 1-7 px per frame
  large   camera 15-45 px, objects 20-60 px (any direction)
  blur    camera 5-20 px, objects 8-30 px, motion blur: every frame is the mean of 9 renders
          along each layer's motion over half the frame interval (a 180-degree shutter)
  large+blur  the large motions with that blur (blur streaks of 10-30 px)

Per candidate and setting: mean EPE over all pixels, over occlusion-free pixels (those that are
still visible, and inside the frame, in the second frame), over pixels moving more than 8 px,
and seconds per flow (one direction of one pair; the pipeline asks for both directions). Every
candidate sees the same pairs, interleaved pair by pair in an order drawn anew for each pair (a
flow right after TV-L1 runs ~25% slower), so a change in the machine's load falls on all of them
alike; compare times as ratios within one run. A candidate that is absent from the installed
OpenCV is skipped with a note, and so is one whose first flow takes over 3 s. The flowfill
backends other than dis get rows of their own ("flowfill dis-fine", ...), and RAFT one on the
CPU when FLOWFILL_RAFT_WEIGHTS names its weights.

Part 2: end to end. For the backends flowfill offers (``--e2e``, default dis and the strongest
CPU candidates that became backends) it runs the evaluation harness
(``flowfill.evaluate.benchmark``) in process on each clip x mask case, candidates interleaved
case by case, and prints hole-PSNR gain over per-frame Telea and seconds per frame (wall, of which
flow, and the process's CPU seconds). ``--clips fastpan,crossing`` runs the hard clips of
``flowfill.evaluate.hard`` (16-34 px per frame with motion blur), the large-motion check.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from flowfill.edges.synthetic import random_shape
from flowfill.flow.dis import to_gray8

W, H = 432, 240
PAD = 110  # texture margin around the frame: the largest motions bring this much into view
SUBSTEPS = 9  # renders averaged into one motion-blurred frame
SHUTTER = 0.5  # exposure as a fraction of the frame interval (180 degrees)
SLOW_LIMIT = 3.0  # seconds: a candidate whose first flow takes longer is dropped
FAST_PIXELS = 8.0  # |flow| above this many pixels counts as large motion

# (camera translation px, object translation px, motion blurred)
SETTINGS: dict[str, tuple[tuple[float, float], tuple[float, float], bool]] = {
    "small": ((0, 4), (1, 7), False),
    "large": ((15, 45), (20, 60), False),
    "blur": ((5, 20), (8, 30), True),
    "large+blur": ((15, 45), (20, 60), True),
}


# -- textures ---------------------------------------------------------------------------------

def _clip_dir() -> Path:
    env = os.environ.get("FLOWFILL_SHARED_CLIPS")
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "clips"


def load_textures(count: int = 12) -> tuple[list[np.ndarray], str]:
    """Float32 RGB images at least (H + 2 PAD) x (W + 2 PAD) to cut layer textures from."""
    paths: list[Path] = []
    for name in ("tennis", "bmx-trees"):
        folder = _clip_dir() / name
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg"))
            paths += files[:: max(1, len(files) // (count // 2))][: count // 2]
    need_h, need_w = H + 2 * PAD, W + 2 * PAD
    out = []
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        # bigger frames (bmx-trees, 854x480) are kept at their own scale; smaller ones
        # (tennis is 432x240) are mirrored out to the size needed rather than magnified
        pad_y, pad_x = max(0, need_h - rgb.shape[0]), max(0, need_w - rgb.shape[1])
        if pad_y or pad_x:
            rgb = cv2.copyMakeBorder(rgb, pad_y // 2, pad_y - pad_y // 2, pad_x // 2,
                                     pad_x - pad_x // 2, cv2.BORDER_REFLECT_101)
        out.append(rgb)
    if out:
        return out, f"{len(out)} frames of {_clip_dir()}/{{tennis,bmx-trees}}"
    rng = np.random.default_rng(1)
    for _ in range(count):  # procedural: noise summed over octaves, tinted
        img = np.zeros((need_h, need_w, 3), np.float32)
        for octave in range(1, 7):
            cell = 2 ** octave
            small = rng.random((need_h // cell + 2, need_w // cell + 2, 3)).astype(np.float32)
            img += cv2.resize(small, (need_w, need_h), interpolation=cv2.INTER_CUBIC) / octave
        img = (img - img.min()) / (img.max() - img.min())
        out.append(img)
    return out, "procedural noise textures (shared clips absent)"


def _crop(rng: np.random.Generator, tex: np.ndarray) -> np.ndarray:
    th, tw = tex.shape[:2]
    y = int(rng.integers(0, th - (H + 2 * PAD) + 1))
    x = int(rng.integers(0, tw - (W + 2 * PAD) + 1))
    crop = tex[y:y + H + 2 * PAD, x:x + W + 2 * PAD]
    return np.ascontiguousarray(crop[:, ::-1] if rng.random() < 0.5 else crop)


# -- layered scenes ---------------------------------------------------------------------------

@dataclass
class Pair:
    a: np.ndarray  # float32 H x W x 3, frame at t = 0
    b: np.ndarray  # frame at t = 1
    flow: np.ndarray  # truth, a -> b on a's grid
    visible: np.ndarray  # bool: the point is still seen (and in frame) in b


@dataclass
class Layer:
    texture: np.ndarray  # (H + 2 PAD) x (W + 2 PAD) x 3, in frame-0 coordinates shifted by PAD
    alpha: np.ndarray  # float32 (H + 2 PAD) x (W + 2 PAD), 1 for the background
    motion: np.ndarray  # 3 x 3: frame-0 position -> frame-1 position

    def at(self, t: float) -> np.ndarray:
        """The map frame-0 -> time ``t`` (linear in t between the identity and ``motion``)."""
        return np.eye(3) + t * (self.motion - np.eye(3))


def _about(centre: tuple[float, float], ang: float, scale: float, shift: np.ndarray,
           persp: np.ndarray | None = None) -> np.ndarray:
    cx, cy = centre
    c = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    r = np.array([[scale * np.cos(ang), -scale * np.sin(ang), 0],
                  [scale * np.sin(ang), scale * np.cos(ang), 0], [0, 0, 1.0]])
    if persp is not None:
        r[2, :2] = persp
    t = np.array([[1, 0, shift[0]], [0, 1, shift[1]], [0, 0, 1.0]])
    return np.linalg.inv(c) @ t @ r @ c


def _shift(rng: np.random.Generator, span: tuple[float, float]) -> np.ndarray:
    mag, ang = rng.uniform(*span), rng.uniform(0, 2 * np.pi)
    return mag * np.array([np.cos(ang), np.sin(ang)])


def make_layers(rng: np.random.Generator, textures: list[np.ndarray], setting: str
                ) -> list[Layer]:
    cam, obj, _ = SETTINGS[setting]
    ones = np.ones((H + 2 * PAD, W + 2 * PAD), np.float32)
    layers = [Layer(_crop(rng, textures[int(rng.integers(len(textures)))]), ones,
                    _about((W / 2, H / 2), np.deg2rad(rng.normal(0, 0.7)), 1 + rng.normal(0, 0.015),
                           _shift(rng, cam), rng.normal(0, 1e-4, 2)))]
    for _ in range(int(rng.integers(2, 5))):
        shape = np.zeros((H, W), bool)
        while shape.sum() < 400:
            shape = random_shape(rng, H, W, 1.0, radius=(18, 60))
        alpha = np.zeros_like(ones)
        alpha[PAD:PAD + H, PAD:PAD + W] = shape
        alpha = cv2.GaussianBlur(alpha, (0, 0), 0.6)  # an anti-aliased edge
        ys, xs = np.nonzero(shape)
        layers.append(Layer(_crop(rng, textures[int(rng.integers(len(textures)))]), alpha,
                            _about((xs.mean(), ys.mean()), np.deg2rad(rng.normal(0, 3)),
                                   1 + rng.normal(0, 0.03), _shift(rng, obj))))
    return layers


def _to_frame(m: np.ndarray) -> np.ndarray:
    """The map from texture (padded) coordinates to frame coordinates under frame map ``m``."""
    return m @ np.array([[1, 0, -PAD], [0, 1, -PAD], [0, 0, 1.0]])


def render(layers: list[Layer], t: float, blur: bool) -> np.ndarray:
    times = t + SHUTTER * (np.linspace(0, 1, SUBSTEPS) - 0.5) if blur else [t]
    acc = np.zeros((H, W, 3), np.float32)
    for s in times:
        frame = np.zeros((H, W, 3), np.float32)
        for layer in layers:
            m = _to_frame(layer.at(float(s)))
            colour = cv2.warpPerspective(layer.texture, m, (W, H), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REFLECT_101)
            alpha = cv2.warpPerspective(layer.alpha, m, (W, H), flags=cv2.INTER_LINEAR)[..., None]
            frame = frame * (1 - alpha) + colour * alpha
        acc += frame
    return acc / len(times)


def _top_layer(layers: list[Layer], t: float) -> np.ndarray:
    """Index of the front layer at each pixel at time ``t`` (sharp, alpha >= 0.5)."""
    top = np.zeros((H, W), np.int32)
    for k, layer in enumerate(layers[1:], start=1):
        a = cv2.warpPerspective(layer.alpha, _to_frame(layer.at(t)), (W, H),
                                flags=cv2.INTER_LINEAR)
        top[a >= 0.5] = k
    return top


def make_pair(rng: np.random.Generator, textures: list[np.ndarray], setting: str) -> Pair:
    layers = make_layers(rng, textures, setting)
    blur = SETTINGS[setting][2]
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    top0, top1 = _top_layer(layers, 0.0), _top_layer(layers, 1.0)
    flow = np.zeros((H, W, 2), np.float64)
    visible = np.zeros((H, W), bool)
    for k, layer in enumerate(layers):
        m = layer.motion
        d = m[2, 0] * xs + m[2, 1] * ys + m[2, 2]
        x1 = (m[0, 0] * xs + m[0, 1] * ys + m[0, 2]) / d
        y1 = (m[1, 0] * xs + m[1, 1] * ys + m[1, 2]) / d
        here = top0 == k
        flow[here, 0], flow[here, 1] = (x1 - xs)[here], (y1 - ys)[here]
        inside = (x1 >= 0) & (x1 <= W - 1) & (y1 >= 0) & (y1 <= H - 1)
        xi = np.clip(np.round(x1), 0, W - 1).astype(int)
        yi = np.clip(np.round(y1), 0, H - 1).astype(int)
        visible |= here & inside & (top1[yi, xi] == k)
    return Pair(render(layers, 0.0, blur), render(layers, 1.0, blur), flow.astype(np.float32),
                visible)


# -- candidates -------------------------------------------------------------------------------

def _gray(frame: np.ndarray) -> np.ndarray:
    return to_gray8(frame)


def _rgb8(frame: np.ndarray) -> np.ndarray:
    return np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8)


def _dis_object(preset: int, **settings: int) -> cv2.DISOpticalFlow:
    dis = cv2.DISOpticalFlow_create(preset)
    for name, value in settings.items():
        getattr(dis, f"set{name}")(value)
    return dis


def _dis(preset: int, **settings: int) -> Callable[[], Callable]:
    def make() -> Callable:
        dis = _dis_object(preset, **settings)
        return lambda a, b: dis.calc(_gray(a), _gray(b), None)

    return make


def _flowfill(method: str) -> Callable[[], Callable]:
    def make() -> Callable:
        from flowfill.flow import make_estimator

        est = make_estimator(method, cache=0, device="cpu")
        return lambda a, b: est(a, b)

    return make


def _optflow(name: str, build: Callable[[object], Callable]) -> Callable[[], Callable]:
    def make() -> Callable:
        module = getattr(cv2, "optflow", None)
        if module is None:
            raise LookupError("cv2.optflow is absent (opencv-contrib not installed)")
        if not hasattr(module, name):
            raise LookupError(f"cv2.optflow.{name} is absent in OpenCV {cv2.__version__}")
        return build(module)

    return make


MEDIUM = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
CANDIDATES: dict[str, Callable[[], Callable]] = {
    "dis ultrafast": _dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
    "dis fast": _dis(cv2.DISOPTICAL_FLOW_PRESET_FAST),
    "dis medium (flowfill dis)": _dis(MEDIUM),
    "dis medium vr20": _dis(MEDIUM, VariationalRefinementIterations=20),
    "dis medium stride2": _dis(MEDIUM, PatchStride=2),
    "dis medium patch12": _dis(MEDIUM, PatchSize=12, PatchStride=4),
    "dis finest0": _dis(MEDIUM, FinestScale=0),
    "dis finest0 stride2 vr20": _dis(MEDIUM, FinestScale=0, PatchStride=2,
                                     VariationalRefinementIterations=20),
    "sparse-to-dense > dis finest0": _optflow("calcOpticalFlowSparseToDense", lambda o: (
        lambda dis: lambda a, b: dis.calc(_gray(a), _gray(b), o.calcOpticalFlowSparseToDense(
            _gray(a), _gray(b))))(_dis_object(MEDIUM, FinestScale=0))),
    "deepflow": _optflow("createOptFlow_DeepFlow", lambda o: (
        lambda f: lambda a, b: f.calc(_gray(a), _gray(b), None))(o.createOptFlow_DeepFlow())),
    "rlof (dense, epic)": _optflow("calcOpticalFlowDenseRLOF", lambda o: (
        lambda a, b: o.calcOpticalFlowDenseRLOF(_rgb8(a), _rgb8(b), None))),
    "sparse-to-dense": _optflow("calcOpticalFlowSparseToDense", lambda o: (
        lambda a, b: o.calcOpticalFlowSparseToDense(_gray(a), _gray(b)))),
    "pcaflow": _optflow("createOptFlow_PCAFlow", lambda o: (
        lambda f: lambda a, b: f.calc(_gray(a), _gray(b), None))(o.createOptFlow_PCAFlow())),
    "simpleflow": _optflow("calcOpticalFlowSF", lambda o: (
        lambda a, b: o.calcOpticalFlowSF(_rgb8(a), _rgb8(b), 3, 2, 4))),
    "farneback": _optflow("createOptFlow_Farneback", lambda o: (
        lambda f: lambda a, b: f.calc(_gray(a), _gray(b), None))(o.createOptFlow_Farneback())),
    "tv-l1 (default)": _optflow("DualTVL1OpticalFlow_create", lambda o: (
        lambda f: lambda a, b: f.calc(_gray(a), _gray(b), None))(o.DualTVL1OpticalFlow_create())),
    "tv-l1 (2 warps, 10x2 it)": _optflow("DualTVL1OpticalFlow_create", lambda o: (
        lambda f: lambda a, b: f.calc(_gray(a), _gray(b), None))(o.DualTVL1OpticalFlow_create(
            warps=2, innnerIterations=10, outerIterations=2, epsilon=0.05))),
}
"""Name -> a maker of ``flow(frame_a, frame_b)`` on float RGB frames. The flowfill backends this
benchmark led to are added to it by name (``flowfill <method>``) when they exist."""


def _flowfill_backends() -> list[str]:
    from flowfill.options import FLOW_METHODS

    return [m for m in FLOW_METHODS if m != "dis" and not m.startswith("raft")]


@dataclass
class Errors:
    epe: list[float] = field(default_factory=list)
    epe_visible: list[float] = field(default_factory=list)
    epe_fast: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _epe(est: np.ndarray, truth: np.ndarray, where: np.ndarray) -> float:
    if not where.any():
        return float("nan")
    return float(np.linalg.norm(est - truth, axis=-1)[where].mean())


def part_one(pairs: int, seed: int) -> list[tuple[str, dict[str, Errors]]]:
    textures, source = load_textures()
    print(f"textures: {source}")
    candidates = dict(CANDIDATES)
    for method in _flowfill_backends():
        candidates[f"flowfill {method}"] = _flowfill(method)
    if os.environ.get("FLOWFILL_RAFT_WEIGHTS"):  # the reference, when there are weights
        candidates["flowfill raft (cpu)"] = _flowfill("raft")
    else:
        print("no RAFT row: FLOWFILL_RAFT_WEIGHTS is not set")
    flows: dict[str, Callable] = {}
    for name, make in candidates.items():
        try:
            flows[name] = make()
        except LookupError as exc:
            print(f"skipped {name}: {exc}")
    # one try each on a hard pair (large motion and blur), which is also the warm-up
    trial = make_pair(np.random.default_rng(seed + 1000), textures, "large+blur")
    for name in list(flows):
        start = time.perf_counter()
        flows[name](trial.a, trial.b)
        seconds = time.perf_counter() - start
        if seconds > SLOW_LIMIT:
            print(f"skipped {name}: {seconds:.1f} s for one 432x240 flow (> {SLOW_LIMIT:.0f} s)")
            del flows[name]
    scores = {name: {s: Errors() for s in SETTINGS} for name in flows}
    broken = {name: 0 for name in flows}
    rng = np.random.default_rng(seed)
    order = np.random.default_rng(seed + 1)
    for setting in SETTINGS:
        for i in range(pairs):
            pair = make_pair(rng, textures, setting)
            fast = np.linalg.norm(pair.flow, axis=-1) > FAST_PIXELS
            everywhere = np.ones_like(fast)
            names = list(flows)  # in a new order each pair: a flow runs slower right after
            for k in order.permutation(len(names)):  # some others (TV-L1), so no one always
                name = names[k]  # follows the same one
                start = time.perf_counter()
                est = flows[name](pair.a, pair.b)
                seconds = time.perf_counter() - start
                bad = ~np.isfinite(est).all(axis=-1)
                if bad.any():  # a non-number counts as no motion
                    broken[name] += int(bad.sum())
                    est = np.where(bad[..., None], 0, est)
                e = scores[name][setting]
                e.epe.append(_epe(est, pair.flow, everywhere))
                e.epe_visible.append(_epe(est, pair.flow, pair.visible))
                e.epe_fast.append(_epe(est, pair.flow, fast))
                e.seconds.append(seconds)
            print(f"... {setting} pair {i + 1}/{pairs}", file=sys.stderr, flush=True)
    for name, count in broken.items():
        if count:
            print(f"note: {name} gave non-finite vectors at {count} pixels "
                  f"({count / (len(SETTINGS) * pairs * W * H):.2%}); scored as zero motion")
    return [(name, scores[name]) for name in flows]


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def print_part_one(rows: list[tuple[str, dict[str, Errors]]], pairs: int) -> None:
    base = next((r for n, r in rows if n.startswith("dis medium (")), None)
    base_s = _mean([s for e in base.values() for s in e.seconds]) if base else float("nan")
    print(f"\nPart 1: endpoint error (px) on layered synthetic motion, 432x240, {pairs} pairs "
          "per setting\n(EPE: all pixels | occ-free: still visible in frame b | >8px: where "
          f"|truth| > {FAST_PIXELS:.0f} px; s/flow: one direction)")
    for setting in SETTINGS:
        header = (f"{setting:<28}{'EPE':>7}{'occ-free':>10}{'>8px':>8}{'s/flow':>9}"
                  f"{'x dis':>8}")
        print("\n" + header + "\n" + "-" * len(header))
        ranked = sorted(rows, key=lambda r: _mean(r[1][setting].epe))
        for name, scores in ranked:
            e = scores[setting]
            s = _mean(e.seconds)
            fast = _mean(e.epe_fast)
            fast_text = f"{fast:8.2f}" if np.isfinite(fast) else f"{'-':>8}"
            print(f"{name:<28}{_mean(e.epe):7.2f}{_mean(e.epe_visible):10.2f}{fast_text}"
                  f"{s:9.3f}{s / base_s:8.1f}")
    header = f"{'all settings':<28}{'EPE':>7}{'occ-free':>10}{'>8px':>8}{'s/flow':>9}{'x dis':>8}"
    print("\n" + header + "\n" + "-" * len(header))
    overall = []
    for name, scores in rows:
        es = list(scores.values())
        overall.append((name, _mean([_mean(e.epe) for e in es]),
                        _mean([_mean(e.epe_visible) for e in es]),
                        _mean([_mean(e.epe_fast) for e in es]),
                        _mean([s for e in es for s in e.seconds])))
    for name, epe, vis, fast, s in sorted(overall, key=lambda r: r[1]):
        print(f"{name:<28}{epe:7.2f}{vis:10.2f}{fast:8.2f}{s:9.3f}{s / base_s:8.1f}")


# -- part 2 -----------------------------------------------------------------------------------

@dataclass
class Run:
    gain: float  # hole-PSNR of flowfill minus Telea's, dB
    frames: int
    seconds: float  # wall time of flowfill.remove
    flow: float  # of which in the flow stage
    cpu: float  # CPU seconds of this process over the case (flowfill, Telea and the scoring)


def part_two(methods: list[str], clips: list[str], cases: list[str], frames: int) -> None:
    from flowfill.evaluate import clips as clipmod
    from flowfill.evaluate.benchmark import case_masks, run_case

    table: dict[str, list[Run]] = {m: [] for m in methods}
    print(f"\nPart 2: end to end (flowfill.evaluate.benchmark in process), clips {clips}, cases "
          f"{cases}, {frames} frames; default options but --flow\n(gain: hole-PSNR over "
          "per-frame Telea, dB; s/f: wall seconds per frame; flow: of which the flow stage)")
    width = 22
    header = f"{'clip/case':<{width}}" + "".join(f"{m:>22}" for m in methods)
    print(header + "\n" + " " * width + "".join(f"{'gain    s/f   flow':>22}" for _ in methods))
    print("-" * len(header))
    for name in clips:
        clip = clipmod.load_clip(name, frames)
        if clip is None:
            continue
        for case in cases:
            holes = case_masks(clip, case, 0)
            if holes is None:
                continue
            line = f"{name + '/' + case:<{width}}"
            for method in methods:
                print(f"... {name}/{case} --flow {method}", file=sys.stderr, flush=True)
                cpu = time.process_time()
                r = run_case(clip, case, holes, {"flow": method}, isolate=False)
                cpu = time.process_time() - cpu
                if r.call is None:
                    print(f"{name}/{case} --flow {method} failed: {r.error}")
                    continue
                clock = r.call.stats.get("clock", {}).get("seconds", {})
                run = Run(r.gain, r.call.frames, r.call.seconds, clock.get("flow", float("nan")),
                          cpu)
                table[method].append(run)
                line += (f"{run.gain:+10.2f}{run.seconds / run.frames:6.2f}"
                         f"{run.flow / run.frames:6.2f}")
            print(line, flush=True)
    print("-" * len(header))

    def per_frame(runs: list[Run], what: str) -> float:
        return sum(getattr(r, what) for r in runs) / max(1, sum(r.frames for r in runs))

    base = table[methods[0]]
    print(f"{'method':<14}{'mean gain dB':>13}{'s/frame':>9}{'flow s/f':>10}{'CPU s/f':>9}"
          f"{'s/f x ' + methods[0]:>12}{'CPU x ' + methods[0]:>12}")
    for method in methods:
        runs = table[method]
        print(f"{method:<14}{_mean([r.gain for r in runs]):+13.2f}"
              f"{per_frame(runs, 'seconds'):9.3f}{per_frame(runs, 'flow'):10.3f}"
              f"{per_frame(runs, 'cpu'):9.3f}"
              f"{per_frame(runs, 'seconds') / per_frame(base, 'seconds'):12.2f}"
              f"{per_frame(runs, 'cpu') / per_frame(base, 'cpu'):12.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("1", "2", "both"), default="both")
    parser.add_argument("--pairs", type=int, default=10, help="pairs per setting (part 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--e2e", default=None,
                        help="flow backends for part 2 (default: dis and every other CPU one)")
    parser.add_argument("--clips", default="running_car,tennis,sample")
    parser.add_argument("--cases", default="blob,parked")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip()
    print(f"flow_choice at {commit or '?'}: OpenCV {cv2.__version__}, {cv2.getNumThreads()} "
          f"threads, {os.cpu_count()} cpus, {platform.platform()}; load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.part in ("1", "both"):
        print_part_one(part_one(args.pairs, args.seed), args.pairs)
    if args.part in ("2", "both"):
        methods = (args.e2e.split(",") if args.e2e else ["dis", *_flowfill_backends()])
        part_two(methods, args.clips.split(","), args.cases.split(","), args.frames)
    print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
