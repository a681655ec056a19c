"""Fusing the candidates of a frame's hole pixels into one colour and one set of link gradients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flowfill.grid import DIRECTIONS
from flowfill.propagate.sample import sample_known
from flowfill.propagate.sweeps import Pointers


@dataclass
class Gathered:
    """For the hole pixels ``idx`` of one frame: which got a source, and what they carry.

    ``colour`` (m x C), ``step`` (4 x m x C: colour difference towards each neighbour in
    ``DIRECTIONS``) and ``step_ok`` (4 x m) are given for the m pixels where ``found``.
    """

    idx: np.ndarray
    found: np.ndarray
    colour: np.ndarray
    step: np.ndarray
    step_ok: np.ndarray


def gather(
    candidates: Sequence[Pointers],
    stack: np.ndarray,
    known: np.ndarray,
    alpha: float,
) -> Gathered:
    """Sample every candidate at its source and blend them with weights exp(-d / alpha).

    All candidates describe the same hole pixels. The weights are normalised over the candidates
    present (computed relative to the best one, so they never all underflow). The gradients are
    the colour differences each candidate's source shows towards the four neighbours; one counts
    only where both its samples have a fully known footprint.
    """
    idx = candidates[0].idx
    c = stack.shape[-1]
    n = idx.size
    k = len(candidates)
    colour = np.zeros((k, n, c), np.float32)
    ok = np.zeros((k, n), bool)
    steps = np.zeros((k, 4, n, c), np.float32)
    steps_ok = np.zeros((k, 4, n), bool)
    dist = np.full((k, n), np.inf, np.float32)
    for ci, ptr in enumerate(candidates):
        sel = np.flatnonzero(ptr.found)
        if not sel.size:
            continue
        f, x, y = ptr.frame[sel], ptr.x[sel], ptr.y[sel]
        val, valid, exact = sample_known(stack, known, f, x, y)
        colour[ci, sel] = val
        ok[ci, sel] = valid
        dist[ci, sel] = np.where(valid, ptr.err[sel], np.inf)
        for d, (dy, dx) in enumerate(DIRECTIONS):
            nb, _, nexact = sample_known(stack, known, f, x + dx, y + dy)
            steps[ci, d, sel] = nb - val
            # a gradient only from fully known footprints: renormalised samples flatten it
            steps_ok[ci, d, sel] = nexact & exact
    found = ok.any(axis=0)
    best = np.min(dist, axis=0)
    weight = np.where(ok, np.exp(-(dist - np.where(found, best, 0)) / alpha), 0.0)
    weight = weight[:, found]
    wsum = weight.sum(axis=0)
    fused = np.einsum("kn,knc->nc", weight, colour[:, found]) / wsum[:, None]
    sw = weight[:, None, :] * steps_ok[:, :, found]  # k x 4 x m
    swsum = sw.sum(axis=0)
    step = np.einsum("kdn,kdnc->dnc", sw, steps[:, :, found])
    step_ok = swsum > 0
    step[step_ok] /= swsum[step_ok][:, None]
    return Gathered(idx, found, fused.astype(np.float32), step.astype(np.float32), step_ok)
