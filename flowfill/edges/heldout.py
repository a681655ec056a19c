"""Held-apart samples (name, flow, hole) for calibrating and measuring edge completion.

Training sees the first 60% of each shared clip; calibration (after training) uses 60–70% and
``benchmarks/edges.py`` the last 30%, so neither choice is made on the figures it reports.
Synthetic samples come from seeds training never draws. Holes on the clips are the moving
blob and the clips' own object silhouettes, each placed two ways: as they come (the blob where
its path takes it, a silhouette a third of the frame sideways, off its object) and centred on
a random motion boundary of the unmasked flow (``@edge``); every hole is grown by the
pipeline's flow-mask margin. The truth for every sample is the flow of the unmasked clip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from flowfill.edges.canny import canny, canny_sigma
from flowfill.edges.complete import batch_magnitude
from flowfill.edges.synthetic import layered_flow, random_hole

H, W = 240, 432
CLIPS = ("tennis", "bmx-trees", "running_car")
CALIBRATION = (0.6, 0.7)
"""Share of each clip's frames (from, to) held apart for calibration (training stops at 0.6)."""
BENCHMARK = (0.7, 1.0)
"""Share of each clip's frames held apart for the benchmark."""

Sample = tuple[str, np.ndarray, np.ndarray]


def truth_edges(flow: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Canny of the whole flow's magnitude, normalised like the net's input (known max)."""
    f = torch.as_tensor(flow).permute(2, 0, 1)[None]
    known = torch.as_tensor(~hole)[None, None]
    mag = batch_magnitude(f, known)
    return canny(mag, torch.ones_like(known), canny_sigma(hole.shape))[0, 0].numpy()


def synthetic_samples(n: int, first_seed: int) -> list[Sample]:
    """``n`` synthetic samples at 432x240 drawn from seeds ``first_seed``, ``first_seed + 1``…"""
    out = []
    for i in range(n):
        rng = np.random.default_rng(first_seed + i)
        out.append(("synthetic", layered_flow(rng, H, W), random_hole(rng, H, W)))
    return out


def shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by (dy, dx) pixels, what leaves the frame dropped (no wrap-around)."""
    h, w = mask.shape
    out = np.zeros_like(mask)
    ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
    yd, xd = slice(max(-dy, 0), h + min(-dy, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[ys, xs] = mask[yd, xd]
    return out


def onto_boundary(mask: np.ndarray, flow: np.ndarray, rng: np.random.Generator
                  ) -> np.ndarray | None:
    """``mask`` moved so its centre sits on a random motion boundary (Canny of the unmasked
    flow), or None when the flow has none."""
    ys, xs = np.nonzero(truth_edges(flow, np.zeros(mask.shape, bool)))
    if ys.size == 0:
        return None
    k = int(rng.integers(ys.size))
    cy, cx = (a.mean() for a in np.nonzero(mask))
    return shift(mask, int(round(ys[k] - cy)), int(round(xs[k] - cx)))


def clip_samples(share: tuple[float, float], step: int = 1, seed: int = 11, blob_seed: int = 5,
                 in_place: bool = False) -> list[Sample]:
    """DIS flows of frames ``share`` of each shared clip present (every ``step``-th pair) with
    blob and silhouette holes, as placed and ``@edge``; ``in_place`` adds the silhouettes on
    their own objects (``NAME/in-place``: the truth there is the removed object's motion)."""
    from flowfill.evaluate import clips as clipmod
    from flowfill.evaluate.masks import moving_blob
    from flowfill.flow import DISEstimator
    from flowfill.masks import flow_mask, scaled_px

    out: list[Sample] = []
    est = DISEstimator(max_side=None)
    margin = scaled_px(15, (H, W))
    rng = np.random.default_rng(seed)
    for name in CLIPS:
        clip = clipmod.load_clip(name)
        if clip is None:
            continue
        n = len(clip.frames)
        blobs = moving_blob(n, H, W, seed=blob_seed)
        mask_dir = Path(clipmod.shared_clips_dir()) / f"{name}_mask"
        objects = clipmod.load_mask_folder(mask_dir, n) if mask_dir.is_dir() else None
        for t in range(int(n * share[0]), min(int(n * share[1]), n - 1), step):
            flow, _ = est.pair(clip.frames[t], clip.frames[t + 1], t, t + 1)
            shapes = {"blob": blobs[t]}
            if objects is not None and objects[t].any():
                shapes["object"] = objects[t]
                if in_place:
                    out.append((f"{name}/in-place", flow, flow_mask(objects[t], margin)))
            for kind, shape in shapes.items():
                placed = shape if kind == "blob" else shift(shape, 0, W // 3)
                if placed.any():
                    out.append((f"{name}/{kind}", flow, flow_mask(placed, margin)))
                centred = onto_boundary(shape, flow, rng)
                if centred is not None and centred.any():
                    out.append((f"{name}/{kind}@edge", flow, flow_mask(centred, margin)))
    return out
