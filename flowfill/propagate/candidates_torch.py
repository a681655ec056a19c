"""Endpoint sampling and candidate blending on torch tensors, on whatever device the inputs live.

The same maths as ``sample.py`` and ``candidates.py`` (read those for the why): Catmull-Rom
samples where the 4x4 footprint is known and bilinear ones over known pixels elsewhere,
candidates blended with weights exp(-(d - best) / alpha), and link
gradients taken only from samples whose whole footprint is known. Candidates without a source
are sampled at a dummy position and masked out, so each candidate costs a fixed number of
kernels; only the final selection of the pixels that got a source compacts the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from flowfill.grid import DIRECTIONS
from flowfill.propagate.candidates import (
    DISPUTE_SPAN,
    NEAR_CAP,
    NEAR_RATIO,
    NEAR_SPAN,
    Gathered,
    surroundings_guess,
)
from flowfill.propagate.rim import FLAT_SPAN, RIM_TOLERANCE
from flowfill.propagate.sample import CUBIC_A
from flowfill.propagate.sweeps import Pointers


def sample_known_torch(
    stack: torch.Tensor,
    known: torch.Tensor,
    frame: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Samples of ``stack`` (N x H x W x C) at (frame, x, y) from known pixels only.

    As :func:`flowfill.propagate.sample_known`: returns (values n x C float32, valid n, exact n);
    positions are clamped to the image.
    """
    n_frames, h, w, c = stack.shape
    x = x.clamp(0, w - 1)
    y = y.clamp(0, h - 1)
    x0 = torch.floor(x).to(torch.int64).clamp(max=max(w - 2, 0))
    y0 = torch.floor(y).to(torch.int64).clamp(max=max(h - 2, 0))
    fx = (x - x0).to(torch.float32)
    fy = (y - y0).to(torch.float32)
    x1 = (x0 + 1).clamp(max=w - 1)
    y1 = (y0 + 1).clamp(max=h - 1)
    base = frame.to(torch.int64) * (h * w)
    flat = stack.reshape(-1, c)
    kflat = known.reshape(-1)
    acc = torch.zeros((x.numel(), c), dtype=torch.float32, device=stack.device)
    wsum = torch.zeros(x.numel(), dtype=torch.float32, device=stack.device)
    for yy, xx, wgt in (
        (y0, x0, (1 - fx) * (1 - fy)),
        (y0, x1, fx * (1 - fy)),
        (y1, x0, (1 - fx) * fy),
        (y1, x1, fx * fy),
    ):
        i = base + yy * w + xx
        wk = wgt * kflat[i]
        acc += wk[:, None] * flat[i]
        wsum += wk
    valid = wsum > 1e-4
    acc = torch.where(valid[:, None], acc / torch.where(valid, wsum, 1.0)[:, None], acc)
    exact = wsum > 1 - 1e-4
    # Catmull-Rom where all 16 taps (clamped at the image's edge) are known
    wx, wy = _cubic_weights(fx), _cubic_weights(fy)
    cubic = torch.zeros_like(acc)
    whole = exact.clone()
    cols = [(x0 + i - 1).clamp(0, w - 1) for i in range(4)]
    for j in range(4):
        row = base + (y0 + j - 1).clamp(0, h - 1) * w
        for i in range(4):
            idx = row + cols[i]
            whole &= kflat[idx]
            cubic += (wx[i] * wy[j])[:, None] * flat[idx]
    return torch.where(whole[:, None], cubic, acc), valid, exact


def _cubic_weights(t: torch.Tensor) -> list[torch.Tensor]:
    """As :func:`flowfill.propagate.sample.cubic_weights`, on tensors."""
    a = CUBIC_A
    out = []
    for s in (t + 1, t, 1 - t, 2 - t):
        near = ((a + 2) * s - (a + 3)) * s * s + 1
        far = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
        out.append(torch.where(s <= 1, near, far))
    return out


def patch_distance_torch(colour: torch.Tensor, steps: torch.Tensor, steps_ok: torch.Tensor,
                         i: int, j: int) -> torch.Tensor:
    """As :func:`flowfill.propagate.candidates.patch_distance`, on tensors."""
    dc = colour[i] - colour[j]
    both = (steps_ok[i] & steps_ok[j]).to(torch.float32)
    total = (dc * dc).sum(dim=-1)
    for d in range(4):
        dn = dc + steps[i, d] - steps[j, d]
        total = total + both[d] * (dn * dn).sum(dim=-1)
    return torch.sqrt(total / ((1.0 + both.sum(dim=0)) * colour.shape[-1]))


def agreement_torch(colour: torch.Tensor, ok: torch.Tensor, agree: float, steps: torch.Tensor,
                    steps_ok: torch.Tensor) -> torch.Tensor:
    """As :func:`flowfill.propagate.candidates.agreement`, on tensors (k x k x n bool)."""
    k, n = ok.shape
    pairs = torch.zeros((k, k, n), dtype=torch.bool, device=ok.device)
    for i in range(k):
        pairs[i, i] = ok[i]
        for j in range(i + 1, k):
            agrees = ok[i] & ok[j] & (patch_distance_torch(colour, steps, steps_ok, i, j) <= agree)
            pairs[i, j] = agrees
            pairs[j, i] = agrees
    return pairs


def select_inliers_torch(colour: torch.Tensor, ok: torch.Tensor, dist: torch.Tensor,
                         agree: float, steps: torch.Tensor, steps_ok: torch.Tensor,
                         vote: torch.Tensor | None = None,
                         pairs: torch.Tensor | None = None) -> torch.Tensor:
    """As :func:`flowfill.propagate.select_inliers`, on tensors (k x n bool)."""
    k, n = ok.shape
    near = agreement_torch(colour, ok, agree, steps, steps_ok) if pairs is None else pairs
    count = near.sum(dim=1).to(torch.float32)
    votes = count if vote is None else (near.to(torch.float32) * vote[None]).sum(dim=1)
    star = torch.where(ok, votes - 1e-4 * dist.clamp(max=1e3), float("-inf")).argmax(dim=0)
    keep = near[star, :, torch.arange(n, device=ok.device)].T
    return torch.where(count.max(dim=0).values < 2, ok, keep)


def _surroundings_guess(stack: torch.Tensor, known: torch.Tensor, here: int,
                        idx: torch.Tensor) -> torch.Tensor | None:
    """As :func:`flowfill.propagate.candidates.surroundings_guess`, for the tensors' frame
    ``here`` (the push-pull runs on the host: few pixels, seldom)."""
    guess = surroundings_guess(stack[here].cpu().numpy(), known[here].cpu().numpy(),
                               idx.cpu().numpy())
    return None if guess is None else torch.from_numpy(guess).to(stack.device)


def _span(rim: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """As :func:`flowfill.propagate.rim.rim_span`, on tensors."""
    low, high = rim
    return (high - low).amax(dim=-1)


def _flat(rim: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """As :func:`flowfill.propagate.rim.flat_rim`, on tensors."""
    return _span(rim) <= FLAT_SPAN


def _outside(colour: torch.Tensor, rim: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """As :func:`flowfill.propagate.rim.outside_rim` with ``flat_only=False``, on tensors."""
    low, high = rim
    return ((colour < low - RIM_TOLERANCE) | (colour > high + RIM_TOLERANCE)).any(dim=-1)


def gather_torch(
    candidates: Sequence[Pointers],
    stack: torch.Tensor,
    known: torch.Tensor,
    alpha: float,
    max_err: float = float("inf"),
    agree: float = float("inf"),
    local: int | None = None,
    rim: tuple[torch.Tensor, torch.Tensor] | None = None,
    here: int | None = None,
) -> Gathered:
    """Sample every tensor candidate at its source, keep the trusted ones that agree, and blend
    them with weights exp(-d / alpha).

    As :func:`flowfill.propagate.gather`, with tensor fields in and out (``stack`` N x H x W x C,
    ``known`` N x H x W bool, on the candidates' device).
    """
    idx = candidates[0].idx
    dev = stack.device
    c = stack.shape[-1]
    n = idx.numel()
    k = len(candidates)
    robust = k > 1 and agree < float("inf")
    colour = torch.zeros((k, n, c), dtype=torch.float32, device=dev)
    ok = torch.zeros((k, n), dtype=torch.bool, device=dev)
    steps = torch.zeros((k, 4, n, c), dtype=torch.float32, device=dev)
    steps_ok = torch.zeros((k, 4, n), dtype=torch.bool, device=dev)
    dist = torch.full((k, n), float("inf"), dtype=torch.float32, device=dev)
    for ci, ptr in enumerate(candidates):
        has = ptr.found & (ptr.err <= (float("inf") if robust else max_err))
        f = torch.where(has, ptr.frame, 0)
        x = torch.where(has, ptr.x, 0.0)  # no source: a harmless dummy position, masked below
        y = torch.where(has, ptr.y, 0.0)
        val, valid, exact = sample_known_torch(stack, known, f, x, y)
        valid = valid & has
        colour[ci] = torch.where(has[:, None], val, 0.0)
        ok[ci] = valid
        dist[ci] = torch.where(valid, ptr.err.to(torch.float32), float("inf"))
        for d, (dy, dx) in enumerate(DIRECTIONS):
            nb, _, nexact = sample_known_torch(stack, known, f, x + dx, y + dy)
            steps[ci, d] = torch.where(has[:, None], nb - val, 0.0)
            # a gradient only from fully known footprints: renormalised samples flatten it
            steps_ok[ci, d] = nexact & exact & has
    near = vote = backed = None
    if local is not None and local < k:  # as gather: nearest sources first
        in_span = (torch.ones((local, n), dtype=torch.bool, device=dev) if here is None else
                   torch.stack([(candidates[ci].frame - here).abs() <= NEAR_SPAN
                                for ci in range(local)]))
        trusted_near = ok[:local] & (dist[:local] <= max_err) & in_span
        far_best = torch.where(ok[local:], dist[local:], float("inf")).min(dim=0).values
        least_bad = ok[:local] & in_span & (
            dist[:local] <= torch.clamp(far_best / NEAR_RATIO, max=NEAR_CAP * max_err))
        trusted_near = trusted_near | least_bad
        near = trusted_near.any(dim=0)
        if rim is not None:  # distant candidates alone must fit the colours around the hole
            outside = _outside(colour, rim)
            stray = outside[local:] & _flat(rim) & ~near
            if here is not None:  # ...and, beside a neighbour that fits them, fit them too
                fits = (ok[:local] & in_span & ~outside[:local]).any(dim=0)
                dropped = outside[local:] & fits
                stray |= dropped
                backed = dropped.any(dim=0)
            ok[local:] = ok[local:] & ~stray
            dist[local:] = torch.where(stray, float("inf"), dist[local:])
        vote = torch.ones((k, n), dtype=torch.float32, device=dev)
        vote[:local] = torch.where(trusted_near, float(k), 1.0)
    if robust:
        pairs = agreement_torch(colour, ok, agree, steps, steps_ok)
        torn = None
        if near is not None and here is not None and rim is not None:  # as gather
            torn = ((ok.sum(dim=0) >= 2) & (pairs.sum(dim=1).amax(dim=0) < 2)
                    & ~(ok[:local] & in_span).any(dim=0) & (_span(rim) <= DISPUTE_SPAN))
        ok = select_inliers_torch(colour, ok, dist, agree, steps, steps_ok, vote, pairs)
        if torn is not None and bool(torn.any()):
            guess = _surroundings_guess(stack, known, here, idx[torn])
            if guess is not None:
                gap = (colour[:, torn] - guess[None]).abs().amax(dim=-1)  # k x m
                pick = torch.where(ok[:, torn], gap, float("inf")).argmin(dim=0)
                ok[:, torn] = torch.arange(k, device=dev)[:, None] == pick[None]
                backed = torn if backed is None else backed | torn
    if near is not None:
        ok[local:, near] = False
        dist[local:, near] = float("inf")
    if robust:
        # a lone candidate above max_err is not trusted
        trusted = (ok.sum(dim=0) >= 2) | (torch.where(ok, dist, float("inf")).min(dim=0).values
                                          <= max_err)
        if backed is not None:
            trusted |= backed
        if near is not None:
            trusted |= least_bad.any(dim=0)
        ok &= trusted
        dist = torch.where(ok, dist, float("inf"))
    found = ok.any(dim=0)
    best = dist.min(dim=0).values
    weight = torch.where(ok, torch.exp(-(dist - torch.where(found, best, 0.0)) / alpha), 0.0)
    weight = weight[:, found]
    wsum = weight.sum(dim=0)
    # products summed over the few candidates, not einsum: a matmul could run in TF32 on GPUs
    fused = (weight[:, :, None] * colour[:, found]).sum(dim=0) / wsum[:, None]
    sw = weight[:, None, :] * steps_ok[:, :, found]  # k x 4 x m
    swsum = sw.sum(dim=0)
    step = (sw[..., None] * steps[:, :, found]).sum(dim=0)
    step_ok = swsum > 0
    step = torch.where(step_ok[..., None], step / torch.where(step_ok, swsum, 1.0)[..., None],
                       step)
    return Gathered(idx, found, fused.to(torch.float32), step.to(torch.float32), step_ok)


__all__ = ["agreement_torch", "gather_torch", "sample_known_torch", "select_inliers_torch"]
