"""Gradient-domain fusion: a Poisson solve per frame over the propagated pixels.

The unknowns are the hole pixels that received a candidate. Each 4-neighbour link carries a
target difference built from the gradients the candidates carried (each side's estimate,
averaged where both sides have one); links to known pixels use the frame's own colours as
Dirichlet data, links to still-unfilled pixels are dropped. Each link appears once. The
system is solved for all channels at once by Jacobi-preconditioned conjugate gradients,
warm-started from the propagated colours, so only a smooth correction remains to be found.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from flowfill.grid import DIRECTIONS, build_system

OPPOSITE = (2, 3, 0, 1)  # index in DIRECTIONS of the reverse direction
FLOATING_WEIGHT = 1e-3  # pull of unanchored components towards the propagated colours


def cg_solve(
    a: sp.csr_matrix, b: np.ndarray, x0: np.ndarray, tol: float = 1e-6, maxiter: int = 2000
) -> tuple[np.ndarray, int]:
    """Solve A X = B (A SPD, B n x C) by Jacobi-preconditioned CG on all columns together.

    Stops when every column's residual is below ``tol`` times its right-hand side norm (or,
    for a zero right-hand side, below ``tol``). Returns (X, iterations).
    """
    inv_diag = 1.0 / a.diagonal()
    x = x0.astype(np.float64, copy=True)
    r = b - a @ x
    stop = tol * np.maximum(np.linalg.norm(b, axis=0), 1.0)
    z = inv_diag[:, None] * r
    p = z.copy()
    rz = np.einsum("ij,ij->j", r, z)
    for it in range(maxiter):
        if np.all(np.linalg.norm(r, axis=0) <= stop):
            return x, it
        ap = a @ p
        pap = np.einsum("ij,ij->j", p, ap)
        step = np.divide(rz, pap, out=np.zeros_like(rz), where=pap > 0)
        x += step * p
        r -= step * ap
        z = inv_diag[:, None] * r
        rz_new = np.einsum("ij,ij->j", r, z)
        beta = np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0)
        p = z + beta * p
        rz = rz_new
    return x, maxiter


def poisson_fill(
    frame: np.ndarray,
    filled: np.ndarray,
    excluded: np.ndarray,
    colour: np.ndarray,
    step: np.ndarray,
    step_ok: np.ndarray,
) -> np.ndarray:
    """Solve for the colours of the ``filled`` pixels of ``frame`` (H x W x C), gradient domain.

    ``colour`` (n x C) is the propagated colour of each filled pixel (flat order), the warm start;
    ``step[d]`` (n x C) the colour difference towards neighbour ``DIRECTIONS[d]`` carried from the
    sources, valid where ``step_ok[d]``. ``excluded`` pixels (still unfilled) cut their links.
    Returns n x C colours.
    """
    h, w, c = frame.shape
    system = build_system(filled, excluded_mask=excluded)
    known_vals = frame.reshape(-1, c).astype(np.float64)
    f0 = colour.astype(np.float64)

    # target of (f_i - f_j) on unknown-unknown links, averaging both sides' estimates
    i, j, d = system.uu_i, system.uu_j, system.uu_dir
    opp = np.take(OPPOSITE, d)
    num = np.zeros((i.size, c))
    cnt = np.zeros(i.size)
    ok_i = step_ok[d, i]
    num[ok_i] -= step[d[ok_i], i[ok_i]]
    cnt += ok_i
    ok_j = step_ok[opp, j]
    num[ok_j] += step[opp[ok_j], j[ok_j]]
    cnt += ok_j
    target_uu = np.where(cnt[:, None] > 0, num / np.maximum(cnt, 1)[:, None], f0[i] - f0[j])

    # target of (f_i - I_k) on unknown-known links
    i2, k2, d2 = system.uk_i, system.uk_k, system.uk_dir
    ok2 = step_ok[d2, i2]
    target_uk = np.where(ok2[:, None], -step[d2, i2], f0[i2] - known_vals[k2])

    rhs = np.zeros((system.n, c))
    np.add.at(rhs, i2, system.uk_w[:, None] * (known_vals[k2] + target_uk))
    np.add.at(rhs, i, system.uu_w[:, None] * target_uu)
    np.add.at(rhs, j, -system.uu_w[:, None] * target_uu)

    a = system.A
    floating = ~system.anchored()
    if floating.any():
        a = a + sp.diags(floating * FLOATING_WEIGHT)
        rhs[floating] += FLOATING_WEIGHT * f0[floating]
    x, _ = cg_solve(a.tocsr(), rhs, f0)
    return x.astype(np.float32)


__all__ = ["DIRECTIONS", "cg_solve", "poisson_fill"]
