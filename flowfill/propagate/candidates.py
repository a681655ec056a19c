"""Fusing the candidates of a frame's hole pixels into one colour and one set of link gradients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flowfill.flow.hole_fill import smooth_over
from flowfill.propagate.rim import flat_rim, outside_rim, rim_span
from flowfill.propagate.sample import sample_with_steps
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


def patch_distance(colour: np.ndarray, steps: np.ndarray, steps_ok: np.ndarray, i: int,
                   j: int) -> np.ndarray:
    """RMS colour difference (n) of candidates i and j over their sources' plus-shaped patches:
    the centre and each neighbour both sources sampled fully (colour + step)."""
    dc = colour[i] - colour[j]
    both = (steps_ok[i] & steps_ok[j]).astype(np.float32)  # 4 x n
    total = np.sum(dc * dc, axis=-1)
    for d in range(4):
        dn = dc + steps[i, d] - steps[j, d]
        total += both[d] * np.sum(dn * dn, axis=-1)
    return np.sqrt(total / ((1.0 + both.sum(axis=0)) * colour.shape[-1]))


NEAR_SPAN = 3
"""A neighbouring chain outweighs the distant candidates only when its source is at most this
many frames away: a long chain crosses the hole on completed flow the round trip cannot check."""


NEAR_RATIO = 3.0
"""A neighbouring chain above ``max_err`` is still trusted where its round-trip error is this many
times smaller than every distant candidate's: on flat picture in a fast pan every round trip
fails, and the adjacent frame's is still the one that fails least (and the likeliest right)."""
NEAR_CAP = 6.0
"""...but only up to this many times ``max_err``."""


def agreement(colour: np.ndarray, ok: np.ndarray, agree: float, steps: np.ndarray,
              steps_ok: np.ndarray) -> np.ndarray:
    """Which valid candidates agree (k x k x n bool): their sources' patches
    (``patch_distance``) lie within ``agree`` RMS; ``[i, i]`` says whether i is valid."""
    k, n = ok.shape
    pairs = np.zeros((k, k, n), bool)
    for i in range(k):
        pairs[i, i] = ok[i]
        for j in range(i + 1, k):
            pairs[i, j] = pairs[j, i] = ok[i] & ok[j] & (
                patch_distance(colour, steps, steps_ok, i, j) <= agree)
    return pairs


def select_inliers(colour: np.ndarray, ok: np.ndarray, dist: np.ndarray, agree: float,
                   steps: np.ndarray, steps_ok: np.ndarray, vote: np.ndarray | None = None,
                   pairs: np.ndarray | None = None) -> np.ndarray:
    """The candidates (k x n bool) that agree with the pixel's majority.

    Two valid candidates agree when their sources' patches (``patch_distance``) lie within
    ``agree`` RMS. Each valid candidate gets a vote from every valid one it agrees with, itself
    included; the one with the most votes wins (ties go to the smaller chain error) and the
    candidates agreeing with it are kept. Where no two agree there is no majority to follow
    and every valid candidate is kept (the blend's error weights decide, as without this step).
    ``vote`` (k x n): what each candidate's vote weighs (default 1 each). ``pairs``: the
    ``agreement`` of these candidates, when the caller has it already.
    """
    k, n = ok.shape
    near = agreement(colour, ok, agree, steps, steps_ok) if pairs is None else pairs
    count = near.sum(axis=1, dtype=np.float32)
    votes = count if vote is None else np.einsum("ijn,jn->in", near, vote.astype(np.float32))
    # ties: the smaller error wins (errors are below 1e3 px; the vote step is at least 1)
    star = np.argmax(np.where(ok, votes - 1e-4 * np.minimum(dist, 1e3), -np.inf), axis=0)
    keep = near[star, :, np.arange(n)].T
    return np.where(count.max(axis=0) < 2, ok, keep)


DISPUTE_SPAN = 0.4
"""Distant candidates that disagree are judged by the picture around them where its colours
(per channel, 0..1) span at most this: up to faint texture (a sky shading into a car's roof in
a whip pan). Beyond it the chain errors decide (on `tests/test_nonlocal.py`'s texture a smooth
guess picked wrong sources)."""
SURROUNDINGS_MARGIN = 32
"""Known pixels around the disputed ones that the smooth guess reads (px)."""


def surroundings_guess(frame: np.ndarray, known: np.ndarray, idx: np.ndarray) -> np.ndarray | None:
    """A smooth guess (m x C) at the hole pixels ``idx`` (flat indices into ``frame``'s H x W
    grid) from the known pixels around them: the push-pull fill of the crop they and a margin
    cover. None where that crop holds no known pixel."""
    h, w = known.shape
    ys, xs = np.divmod(idx, w)
    m = SURROUNDINGS_MARGIN
    y0, y1 = max(int(ys.min()) - m, 0), min(int(ys.max()) + m + 1, h)
    x0, x1 = max(int(xs.min()) - m, 0), min(int(xs.max()) + m + 1, w)
    seen = known[y0:y1, x0:x1]
    if not seen.any():
        return None
    part = smooth_over(frame[y0:y1, x0:x1], ~seen)
    return part[ys - y0, xs - x0]


def gather(
    candidates: Sequence[Pointers],
    stack: np.ndarray,
    known: np.ndarray,
    alpha: float,
    max_err: float = np.inf,
    agree: float = float("inf"),
    local: int | None = None,
    rim: tuple[np.ndarray, np.ndarray] | None = None,
    here: int | None = None,
) -> Gathered:
    """Sample every candidate at its source, keep the trusted ones that agree, and blend them
    with weights exp(-d / alpha).

    ``local``: the first ``local`` candidates come from neighbouring frames (the flow chains);
    where one of them is trusted (chain error within ``max_err``, and with ``here``, the hole's
    frame, given: a source at most ``NEAR_SPAN`` frames from it) the others, from distant
    frames, are not used: a distant frame is the likeliest to show a moving object where the
    hole's frame shows background. They still vote, so where two trusted neighbours disagree
    the one more distant frames back wins. None: every candidate counts alike. ``rim``: the
    colour range around each hole pixel (:func:`flowfill.propagate.rim.rim_range`); where no
    neighbouring chain is trusted, a distant candidate outside a flat rim's range is dropped (a
    flow between distant frames is unconstrained on flat picture and may land anywhere), and
    with ``here``, one outside any rim's range is dropped where a neighbouring chain within
    ``NEAR_SPAN`` lands inside it, however poor that chain's round trip (flat picture at a
    frame's edge in a fast pan: the round trip fails, the colour is right); that chain is then
    trusted as the rim backs it. A neighbouring chain above ``max_err`` (up to ``NEAR_CAP``
    times it) is trusted too where its error is ``NEAR_RATIO`` times smaller than every distant
    candidate's. Where only distant candidates are left, no two agree and the rim's colours span
    at most ``DISPUTE_SPAN``, the one closest to a smooth guess from the known pixels around
    (``surroundings_guess``) is taken and trusted (on textured picture the chain errors still
    decide).

    All candidates describe the same hole pixels; ``d`` is a candidate's chain error (the largest
    round-trip error along its chain, px). With ``agree`` finite and several candidates, they are
    first reduced to the majority's (``select_inliers``: a source that disagrees is dropped, not
    averaged in), and a pixel left with one candidate, above ``max_err``, is not trusted.
    Otherwise every candidate above ``max_err`` is dropped. A pixel left without a candidate
    stays in the hole for the hallucination fill. The weights are normalised over the
    candidates kept (relative to the best one, so they never all underflow). The gradients are
    the colour differences each candidate's source shows towards the four neighbours; one
    counts only where both its samples have a fully known footprint.
    """
    idx = candidates[0].idx
    c = stack.shape[-1]
    n = idx.size
    k = len(candidates)
    robust = k > 1 and agree < np.inf
    colour = np.zeros((k, n, c), np.float32)
    ok = np.zeros((k, n), bool)
    steps = np.zeros((k, 4, n, c), np.float32)
    steps_ok = np.zeros((k, 4, n), bool)
    dist = np.full((k, n), np.inf, np.float32)
    # every candidate's sources sampled in one call: per call, the sampling's hundreds of
    # small numpy steps cost as much as its arithmetic at 432x240, and hold the GIL
    sels = [np.flatnonzero(ptr.found & (ptr.err <= (np.inf if robust else max_err)))
            for ptr in candidates]
    if any(sel.size for sel in sels):
        (val, valid, exact), neighbours = sample_with_steps(
            stack, known, *(np.concatenate([getattr(ptr, a)[sel] for ptr, sel in
                                            zip(candidates, sels, strict=True)])
                            for a in ("frame", "x", "y")))
        start = 0
        for ci, (ptr, sel) in enumerate(zip(candidates, sels, strict=True)):
            part = slice(start, start + sel.size)
            start += sel.size
            colour[ci, sel] = val[part]
            ok[ci, sel] = valid[part]
            dist[ci, sel] = np.where(valid[part], ptr.err[sel], np.inf)
            for d, (nb, nexact) in enumerate(neighbours):  # towards DIRECTIONS[d]
                steps[ci, d, sel] = nb[part] - val[part]
                # a gradient only from fully known footprints: renormalised samples flatten it
                steps_ok[ci, d, sel] = nexact[part] & exact[part]
    near = vote = backed = None
    if local is not None and local < k:
        # a chain that ends far away in time (with ``here`` given) is as distant as the others
        in_span = (np.ones((local, n), bool) if here is None else
                   np.stack([np.abs(candidates[ci].frame - here) <= NEAR_SPAN
                             for ci in range(local)]))
        trusted_near = ok[:local] & (dist[:local] <= max_err) & in_span
        # above max_err, a neighbour far closer to a round trip than any distant source
        far_best = np.min(np.where(ok[local:], dist[local:], np.inf), axis=0)
        least_bad = ok[:local] & in_span & (
            dist[:local] <= np.minimum(far_best / NEAR_RATIO, NEAR_CAP * max_err))
        trusted_near |= least_bad
        near = trusted_near.any(axis=0)
        if rim is not None:
            outside = outside_rim(colour, rim, flat_only=False)  # k x n, whatever the rim
            stray = outside[local:] & flat_rim(rim) & ~near
            if here is not None:
                # a neighbouring chain that fits the colours around, however poor its round
                # trip, outweighs distant candidates that fit them nowhere
                fits = (ok[:local] & in_span & ~outside[:local]).any(axis=0)
                dropped = outside[local:] & fits
                stray |= dropped
                backed = dropped.any(axis=0)  # the neighbour is trusted there, as the rim backs it
            ok[local:][stray] = False
            dist[local:][stray] = np.inf
        # a trusted neighbour outweighs all the distant candidates together: they only decide
        # between neighbours that disagree
        vote = np.ones((k, n), np.float32)
        vote[:local][trusted_near] = k
    if robust:
        pairs = agreement(colour, ok, agree, steps, steps_ok)
        torn = None
        if near is not None and here is not None and rim is not None:
            # only distant sources (a chain ending out of span is one) on (nearly) flat picture,
            # and no two of them agree: the chain errors cannot tell them apart there (any flow
            # passes its round trip or none does), so the one closest to a smooth guess from
            # the pixels around is taken
            torn = ((ok.sum(axis=0) >= 2) & (pairs.sum(axis=1).max(axis=0) < 2)
                    & ~(ok[:local] & in_span).any(axis=0) & (rim_span(rim) <= DISPUTE_SPAN))
        ok = select_inliers(colour, ok, dist, agree, steps, steps_ok, vote, pairs)
        if torn is not None and torn.any():
            guess = surroundings_guess(stack[here], known[here], idx[torn])
            if guess is not None:
                gap = np.abs(colour[:, torn] - guess[None]).max(axis=-1)  # k x m
                pick = np.argmin(np.where(ok[:, torn], gap, np.inf), axis=0)
                ok[:, torn] = np.arange(k)[:, None] == pick[None]
                backed = torn if backed is None else backed | torn
    if near is not None:
        ok[local:, near] = False
        dist[local:, near] = np.inf
    if robust:
        # a lone candidate above max_err is not trusted
        trusted = (ok.sum(axis=0) >= 2) | (np.min(np.where(ok, dist, np.inf), axis=0) <= max_err)
        if backed is not None:
            trusted |= backed
        if near is not None:
            trusted |= least_bad.any(axis=0)
        ok &= trusted
        dist = np.where(ok, dist, np.inf)
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
