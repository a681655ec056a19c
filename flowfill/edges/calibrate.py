"""Calibrate a trained edge net on data it never trained on: the decision threshold of its
thresholded edges, and the softness with which its probabilities cut the flow fill.

The threshold (for :func:`flowfill.edges.complete_edges`) is the best edge F1 on held-apart
synthetic batches. The softness (for the fill, :meth:`EdgeCompleter.strength`) is the one with
the lowest hole end-point error of the edge-guided flow fill on held-apart DIS flows of the
shared clips (frames 60–70%, :mod:`flowfill.edges.heldout`), or on synthetic flows when the
clips are absent: what the fill is for, measured directly.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from flowfill.edges.complete import EdgeCompleter, soft_edges
from flowfill.edges.heldout import CALIBRATION, Sample, clip_samples, synthetic_samples
from flowfill.edges.net import EdgeNet

THRESHOLDS = tuple(np.round(np.arange(0.3, 0.96, 0.05), 2))
SOFTNESSES = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
SYNTHETIC_SEED = 30_000
"""First seed of the synthetic calibration samples (training draws from the config seed, its
validation from 10000, the benchmark from 20000)."""


def choose_threshold(net: EdgeNet, batches: list[tuple[torch.Tensor, ...]]) -> tuple[float, float]:
    """The probability threshold with the best edge F1 on held-apart batches, and that F1.

    Up-weighted edge pixels make the net over-predict at 0.5; a false edge cuts the flow fill where
    it should be smooth, so the decision point is calibrated once, on data it never trained on.
    """
    from flowfill.edges.train import precision_recall

    was_training = net.training
    net.eval()
    counts = np.zeros((len(THRESHOLDS), 4))
    with torch.inference_mode():
        for x, _, region, truth in batches:
            prob = torch.sigmoid(net(x)).cpu().numpy()
            for b in range(len(prob)):
                reg, tru = region[b, 0].cpu().numpy() > 0, truth[b, 0].cpu().numpy()
                for i, th in enumerate(THRESHOLDS):
                    counts[i] += precision_recall(prob[b, 0] >= th, tru, reg)
    net.train(was_training)
    prec = counts[:, 0] / np.maximum(counts[:, 1], 1)
    rec = counts[:, 2] / np.maximum(counts[:, 3], 1)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-9)
    best = int(np.argmax(f1))
    return float(THRESHOLDS[best]), float(f1[best])


def softness_samples(use_clips: bool = True, synthetic: int = 40, quiet: bool = True
                     ) -> tuple[str, list[Sample]]:
    """The samples the softness is chosen on and their source: DIS flows of the shared clips'
    calibration frames when present (and ``use_clips``), else ``synthetic`` synthetic ones."""
    if use_clips:
        samples = clip_samples(CALIBRATION)
        if samples:
            if not quiet:
                print(f"train-edges: calibrating on {len(samples)} held-apart clip flows",
                      file=sys.stderr)
            return "clips", samples
    return "synthetic", synthetic_samples(synthetic, SYNTHETIC_SEED)


def softness_errors(completer: EdgeCompleter, samples: list[Sample],
                    softnesses: tuple[float, ...] = SOFTNESSES) -> dict[float, float]:
    """Hole end-point error of the edge-guided fill (pooled over hole pixels) per softness."""
    from flowfill.complete import complete_flow

    sums = np.zeros(len(softnesses))
    count = 0
    for _, flow, hole in samples:
        known, prob = completer.probability(flow, hole)
        for i, s in enumerate(softnesses):
            filled = complete_flow(flow, hole, soft_edges(known, prob, hole, s))
            sums[i] += float(np.linalg.norm(filled - flow, axis=-1)[hole].sum())
        count += int(hole.sum())
    return {s: float(v) / max(count, 1) for s, v in zip(softnesses, sums, strict=True)}


def choose_softness(completer: EdgeCompleter, samples: list[Sample]
                    ) -> tuple[float, dict[float, float]]:
    """The softness with the lowest hole end-point error on ``samples``, and every error."""
    errors = softness_errors(completer, samples)
    return min(errors, key=errors.get), errors
