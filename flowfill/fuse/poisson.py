"""Gradient-domain fusion: a Poisson solve per frame over the propagated pixels.

The unknowns are the hole pixels that received a candidate. Each 4-neighbour link carries a
target difference built from the gradients the candidates carried (each side's estimate,
averaged where both sides have one); links to known pixels use the frame's own colours as
Dirichlet data, links to still-unfilled pixels are dropped. Each link appears once. On the
CPU the system is solved for all channels at once by one sparse LU factorisation, or for a
large hole by multigrid-preconditioned CG (``grid.solver``); both are far quicker here than
the Jacobi-preconditioned CG the torch solver runs on the GPU (``poisson_torch.py``;
RESULTS.md).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from flowfill.fuse.kept import KeptSolvers
from flowfill.grid import DIRECTIONS, build_system, solve_with, solver
from flowfill.masks import mask_key

OPPOSITE = (2, 3, 0, 1)  # index in DIRECTIONS of the reverse direction
FLOATING_WEIGHT = 1e-3  # pull of unanchored components towards the propagated colours
RANGE_SLACK = 1e-3  # share of the frame's span a solved value may overshoot it (keep_in_range)


ROW_PIXELS = 16
"""Pixels a row of :func:`channel_range`'s first pass holds."""


def channel_range(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each channel's smallest and largest value in ``frame`` (H x W x C), float64 (exact).

    numpy reduces an H x W x C array over its first axes 20x slower than over a contiguous
    one, and channel by channel reads the frame once a channel: the frame is read once as rows
    of ROW_PIXELS pixels, reduced down the rows (each column one channel of one position),
    then across (at 4K 32 ms against 89)."""
    c = frame.shape[-1]
    flat = np.ascontiguousarray(frame).reshape(-1, c)
    whole = flat.shape[0] // ROW_PIXELS * ROW_PIXELS
    rows = flat[:whole].reshape(-1, ROW_PIXELS * c)
    parts = [flat[whole:]] + ([rows.min(axis=0).reshape(-1, c), rows.max(axis=0).reshape(-1, c)]
                              if whole else [])
    both = np.concatenate(parts)
    return both.min(axis=0).astype(np.float64), both.max(axis=0).astype(np.float64)


def keep_in_range(x: np.ndarray, colour: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``x`` (n x C), except that a pixel with any channel outside the frame's range of values
    (beyond ``RANGE_SLACK`` of its span) takes its propagated ``colour``: step errors that add
    up along a long thin hole (a border strip with known pixels on one side only) integrate
    beyond the range, and clipping there leaves black or white specks and lines. A slack of a
    tenth of the span measured 0.4-0.8 dB better on two borders cases but left a 3-px black
    line along a stabilised frame's top edge: a clean fill comes first."""
    lo, hi = channel_range(frame)
    slack = RANGE_SLACK * np.maximum(hi - lo, 1e-6)
    out = ((x < lo - slack) | (x > hi + slack)).any(axis=1)
    return np.where(out[:, None], colour, x)


def poisson_fill(
    frame: np.ndarray,
    filled: np.ndarray,
    excluded: np.ndarray,
    colour: np.ndarray,
    step: np.ndarray,
    step_ok: np.ndarray,
    colour_weight: float = 0.0,
    kept: KeptSolvers | None = None,
) -> np.ndarray:
    """Solve for the colours of the ``filled`` pixels of ``frame`` (H x W x C), gradient domain.

    ``colour`` (n x C) is the propagated colour of each filled pixel (flat order), the warm start;
    ``step[d]`` (n x C) the colour difference towards neighbour ``DIRECTIONS[d]`` carried from the
    sources, valid where ``step_ok[d]``. ``excluded`` pixels (still unfilled) cut their links.
    ``kept``: the window's solvers, where the system (it depends on the two masks alone) is
    taken from when an earlier call made it, and kept when not. Returns n x C colours.
    """
    c = frame.shape[-1]
    key = None if kept is None else mask_key(filled, excluded) + np.float64(colour_weight).tobytes()
    made = None if kept is None else kept.get(key)
    if made is None:
        system = build_system(filled, excluded_mask=excluded)
        a = system.A
        if colour_weight > 0:
            a = a + sp.diags(np.full(system.n, colour_weight))
        floating = ~system.anchored()
        if floating.any():
            a = a + sp.diags(floating * FLOATING_WEIGHT)
        method = solver(a)
        if kept is not None:
            kept.keep(key, (system, floating, method), method, system.n)
    else:
        system, floating, method = made
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
    # only the known pixels linked to the filled ones are read: gathered, then converted
    i2, k2, d2 = system.uk_i, system.uk_k, system.uk_dir
    known_k2 = frame.reshape(-1, c)[k2].astype(np.float64)
    ok2 = step_ok[d2, i2]
    target_uk = np.where(ok2[:, None], -step[d2, i2], f0[i2] - known_k2)

    rhs = np.zeros((system.n, c))
    np.add.at(rhs, i2, system.uk_w[:, None] * (known_k2 + target_uk))
    np.add.at(rhs, i, system.uu_w[:, None] * target_uu)
    np.add.at(rhs, j, -system.uu_w[:, None] * target_uu)

    if colour_weight > 0:
        rhs += colour_weight * f0
    if floating.any():
        rhs[floating] += FLOATING_WEIGHT * f0[floating]
    # from the propagated colours: close, but for a smooth correction
    x = solve_with(method, rhs, guess=f0)
    return keep_in_range(x, f0, frame).astype(np.float32)


__all__ = ["DIRECTIONS", "keep_in_range", "poisson_fill"]
