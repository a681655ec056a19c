"""Gradient-domain fusion on torch tensors: the system of ``poisson.py``, solved on the device.

The unknowns, link targets, Dirichlet data, cut links at excluded pixels and the pull of
floating components are exactly those of :func:`flowfill.fuse.poisson_fill` (read it for the
why). The matrix is never formed: every unknown keeps the index of its unknown neighbour in each
direction (or a sentinel pointing at a zero row), so A v is one gather and a multiply, and memory
follows the number of filled pixels whatever their layout (one blob, scattered specks, borders).
Floating components are found on the device by min-label hooking and pointer jumping. The
solve is Jacobi-preconditioned CG on all channels at once, warm-started from the propagated
colours, in float64 on the CPU and float32 elsewhere by default.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from flowfill.fuse.poisson import FLOATING_WEIGHT, OPPOSITE, RANGE_SLACK
from flowfill.grid import DIRECTIONS

CHECK_EVERY = 8  # off the CPU, test convergence every few iterations (each test syncs the host)


def _neighbours(
    filled: torch.Tensor, excluded: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per direction (4 x n): unknown neighbour index (n where none), known-link flag and its
    flat pixel; plus the unknowns' flat indices (n), ascending as ``build_system`` numbers them.
    """
    h, w = filled.shape
    unknown = torch.nonzero(filled.reshape(-1)).squeeze(1)
    n = unknown.numel()
    index = torch.full((h * w,), -1, dtype=torch.int64, device=filled.device)
    index[unknown] = torch.arange(n, dtype=torch.int64, device=filled.device)
    excl = excluded.reshape(-1)
    ys, xs = unknown // w, unknown % w
    nb, uk, kpix = [], [], []
    for dy, dx in DIRECTIONS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        q = torch.where(inside, ny * w + nx, 0)
        qi = torch.where(inside, index[q], -1)
        nb.append(torch.where(qi >= 0, qi, n))
        uk.append(inside & (qi < 0) & ~excl[q])
        kpix.append(q)
    return torch.stack(nb), torch.stack(uk), torch.stack(kpix), unknown


def _anchored(nb: torch.Tensor, uk: torch.Tensor) -> torch.Tensor:
    """Bool per unknown: whether its component (over unknown-unknown links) touches a known pixel.

    Connected components by min-label hooking with shortcuts (FastSV, Zhang et al. 2020): every
    unknown points at a smaller member of its component; across each link, the pointer of
    one end and the end itself take the other end's grandparent when smaller; then pointers
    jump to their grandparents. Rounds go on until both ends of every link agree and every
    pointer is a root: 5 rounds for a 950k-pixel serpentine across a 1080p frame, where plain
    min-label propagation needs as many rounds as the region is long (1865 there).
    """
    n = nb.shape[1]
    dev = nb.device
    link = nb < n
    u = torch.arange(n, dtype=torch.int64, device=dev).expand(4, n)[link]
    v = nb[link]
    f = torch.arange(n, dtype=torch.int64, device=dev)
    while True:
        gv = f[f[v]]
        f = f.scatter_reduce(0, f[u], gv, "amin")  # hook u's parent onto v's grandparent
        f = f.scatter_reduce(0, u, gv, "amin")  # and u itself
        f = f[f]  # shortcut
        if torch.equal(f[u], f[v]) and torch.equal(f, f[f]):
            break
    has_known = torch.zeros(n, dtype=torch.bool, device=dev)
    has_known[f[uk.any(dim=0)]] = True
    return has_known[f]


def poisson_fill_torch(
    frame: torch.Tensor,
    filled: torch.Tensor,
    excluded: torch.Tensor,
    colour: torch.Tensor,
    step: torch.Tensor,
    step_ok: torch.Tensor,
    colour_weight: float = 0.0,
    tol: float = 1e-6,
    maxiter: int = 2000,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Solve for the colours of the ``filled`` pixels of ``frame`` (H x W x C) on its device.

    Arguments and result (n x C float32, n filled pixels in flat order), ``colour_weight``
    included, as :func:`flowfill.fuse.poisson_fill`; ``tol`` and ``maxiter`` as its CG.
    ``dtype``: working precision (default float64 on the CPU, float32 on other devices).
    """
    c = frame.shape[-1]
    dev = frame.device
    if dtype is None:
        dtype = torch.float64 if dev.type == "cpu" else torch.float32
    nb, uk, kpix, _ = _neighbours(filled, excluded)
    n = nb.shape[1]
    if n == 0:
        return torch.zeros((0, c), dtype=torch.float32, device=dev)
    known_vals = frame.reshape(-1, c).to(dtype)
    f0 = colour.to(dtype)
    s = step.to(dtype)
    zero_row = torch.zeros((1, c), dtype=dtype, device=dev)

    # unknown-known links: target of (f_i - I_k), rhs gets I_k + target, in direction order
    rhs = torch.zeros((n, c), dtype=dtype, device=dev)
    for d in range(4):
        ik = known_vals[kpix[d]]
        target = torch.where(step_ok[d][:, None], -s[d], f0 - ik)
        rhs += torch.where(uk[d][:, None], ik + target, 0.0)

    # unknown-unknown links (right and down from i to j): target of (f_i - f_j), the mean of
    # both sides' estimates; each link adds its target at i and subtracts it at j
    f0_ext = torch.cat([f0, zero_row])
    targets = []
    for d in range(2):
        j = nb[d]
        link = j < n
        o = OPPOSITE[d]
        ok_i = step_ok[d]
        ok_j = link & step_ok[o][j.clamp(max=n - 1)]
        s_j = s[o][j.clamp(max=n - 1)]
        num = torch.where(ok_i[:, None], -s[d], 0.0) + torch.where(ok_j[:, None], s_j, 0.0)
        cnt = (ok_i.to(dtype) + ok_j.to(dtype))[:, None]
        t = torch.where(cnt > 0, num / cnt.clamp(min=1), f0 - f0_ext[j])
        targets.append(torch.where(link[:, None], t, 0.0))
    for d in range(2):
        rhs += targets[d]
    for d in range(2):  # at j, the link comes from its opposite neighbour i = nb[OPPOSITE[d]]
        rhs -= torch.cat([targets[d], zero_row])[nb[OPPOSITE[d]]]

    diag = ((nb < n).sum(dim=0) + uk.sum(dim=0)).to(dtype)
    floating = ~_anchored(nb, uk)
    diag = diag + floating.to(dtype) * FLOATING_WEIGHT
    rhs = rhs + torch.where(floating[:, None], FLOATING_WEIGHT * f0, 0.0)
    if colour_weight > 0:  # screened Poisson: a pull towards the blended colours
        diag = diag + colour_weight
        rhs = rhs + colour_weight * f0

    # the CG vectors carry one more row, always zero, that the missing neighbours point at (its
    # own neighbours are itself, its diagonal and inverse diagonal 0): A v is a gather, no copy
    nb = torch.cat([nb, torch.full((4, 1), n, dtype=torch.int64, device=dev)], dim=1)
    no = torch.zeros(1, dtype=dtype, device=dev)
    inv_diag = torch.cat([1.0 / diag, no])
    diag = torch.cat([diag, no])

    def matvec(v: torch.Tensor) -> torch.Tensor:
        return diag[:, None] * v - v[nb].sum(dim=0)

    x = _cg(matvec, inv_diag, torch.cat([rhs, zero_row]), torch.cat([f0, zero_row]), tol,
            maxiter, 1 if dev.type == "cpu" else CHECK_EVERY)
    x = x[:n]
    # as keep_in_range: a pixel leaving the frame's range of values takes its propagated colour
    flat = frame.reshape(-1, c).to(dtype)
    lo, hi = flat.min(dim=0).values, flat.max(dim=0).values
    slack = (hi - lo).clamp_min(1e-6) * RANGE_SLACK
    out = ((x < lo - slack) | (x > hi + slack)).any(dim=1)
    return torch.where(out[:, None], f0, x).to(torch.float32)


def _cg(matvec: Callable[[torch.Tensor], torch.Tensor], inv_diag: torch.Tensor, b: torch.Tensor,
        x0: torch.Tensor, tol: float, maxiter: int, check_every: int) -> torch.Tensor:
    """Jacobi-preconditioned CG on all columns of B together (a few matrix-free kernels per
    iteration, no factorisation, so it suits the GPU); the stopping test
    (every column's residual below tol * max(|b|, 1)) runs every ``check_every`` iterations."""
    x = x0.clone()
    r = b - matvec(x)
    stop = tol * torch.linalg.vector_norm(b, dim=0).clamp(min=1.0)
    z = inv_diag[:, None] * r
    p = z.clone()
    rz = (r * z).sum(dim=0)
    for it in range(maxiter):
        if it % check_every == 0 and bool(torch.all(torch.linalg.vector_norm(r, dim=0) <= stop)):
            break
        ap = matvec(p)
        pap = (p * ap).sum(dim=0)
        alpha = torch.where(pap > 0, rz / pap, 0.0)
        x += alpha * p
        r -= alpha * ap
        z = inv_diag[:, None] * r
        rz_new = (r * z).sum(dim=0)
        beta = torch.where(rz > 0, rz_new / rz, 0.0)
        p = z + beta * p
        rz = rz_new
    return x


__all__ = ["poisson_fill_torch"]
