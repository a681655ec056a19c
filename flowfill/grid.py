"""Sparse 4-neighbour systems over a set of unknown pixels (flow completion and fusion share it).

Each undirected link is emitted once (the standard 5-point Laplacian, not FGVC's double weight).
Links from an unknown pixel to a known one carry Dirichlet data; links to excluded pixels and
off the image are dropped (Neumann).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import SuperLU, splu

# (dy, dx) of the four neighbours; the first two (right, down) enumerate unknown-unknown links once
DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))


@dataclass
class GridSystem:
    """A masked graph Laplacian ``A`` over ``n`` unknowns, plus the links that build right sides.

    ``uu_*``: links between unknowns i < j by index (i = the pixel whose right/down neighbour is j);
    ``uk_*``: links from unknown i to known flat pixel k, with ``uk_dir`` the direction from i to k.
    """

    shape: tuple[int, int]
    unknown: np.ndarray  # flat pixel indices of the unknowns, ascending
    A: sp.csr_matrix
    uu_i: np.ndarray
    uu_j: np.ndarray
    uu_dir: np.ndarray
    uu_w: np.ndarray
    uk_i: np.ndarray
    uk_k: np.ndarray
    uk_dir: np.ndarray
    uk_w: np.ndarray

    @property
    def n(self) -> int:
        return int(self.unknown.size)

    def dirichlet_rhs(self, linked: np.ndarray) -> np.ndarray:
        """Right-hand side from the known values on the links (``linked``: the value of each
        link's known pixel ``uk_k``, links x C): sum of w * value over each unknown's links. A
        caller gathers them from its frame, not the whole frame converted."""
        rhs = np.zeros((self.n, linked.shape[1]), dtype=np.float64)
        np.add.at(rhs, self.uk_i, self.uk_w[:, None] * linked)
        return rhs

    def anchored(self) -> np.ndarray:
        """Bool per unknown: whether its connected component has a link to a known pixel."""
        ncomp, labels = sp.csgraph.connected_components(self.A, directed=False)
        has_known = np.zeros(ncomp, dtype=bool)
        has_known[labels[self.uk_i[self.uk_w > 0]]] = True
        return has_known[labels]


MULTIGRID_MIN = 100_000
"""Unknowns from which :func:`solver` uses multigrid-preconditioned CG instead of a direct
factorisation: below, the LDL^T is quicker; above, its fill-in grows faster than the unknowns
and multigrid wins, more so the more right-hand sides share it (RESULTS.md, issue 19)."""
SOLVE_TOL = 1e-7
"""Relative residual at which multigrid CG stops: the solution then lies within about float32's
rounding of the colours it solves for; a tighter one costs more cycles for digits the float32
output drops (RESULTS.md, issue 19)."""
MAX_CYCLES = 60
"""CG iterations before a multigrid solve is taken as failed (it needs 4 to 8)."""
JACOBI_SWEEPS = 2
JACOBI_WEIGHT = 0.8
"""Damped Jacobi sweeps before and after the coarser level in each V-cycle, and their weight
(symmetric, so the cycle is a valid CG preconditioner)."""


class MultigridSolver:
    """``solve(b)`` for a symmetric positive definite grid system by conjugate gradients
    preconditioned with classical (Ruge-Stuben) algebraic multigrid; a column that does not
    reach ``SOLVE_TOL`` is solved by the direct factorisation instead (made once, on first
    need). Same
    interface as scipy's SuperLU for ``solve``.

    The hierarchy is pyamg's; the V-cycle is written here on its matrices (damped Jacobi before
    and after, the coarsest level solved exactly) and runs every column at once through scipy's
    sparse products, which let other threads run: pyamg's own cycle holds the GIL, so two
    frames' fusion on two frame threads took as long as one after the other (RESULTS.md,
    issue 19)."""

    def __init__(self, a: sp.spmatrix) -> None:
        import pyamg  # only here: hosts that lack it factorise instead (``solver``)

        self.a = sp.csr_matrix(a)
        levels = pyamg.ruge_stuben_solver(self.a).levels
        self.levels = [(sp.csr_matrix(lv.A), sp.csr_matrix(lv.P), sp.csr_matrix(lv.R))
                       for lv in levels[:-1]]
        # the damped Jacobi step's scaling of each level's residual
        self.steps = [(JACOBI_WEIGHT / m.diagonal())[:, None] for m, _, _ in self.levels]
        coarse = sp.csc_matrix(levels[-1].A)  # pyamg coarsens to ten unknowns or so
        self.coarsest = np.linalg.inv(coarse.toarray()) if coarse.shape[0] <= 2000 else None
        self._coarse_lu = factorise(coarse) if self.coarsest is None else None
        self._lu: Factorisation | SuperLU | None = None
        self.fallbacks = 0
        """Columns the multigrid did not solve (taken by the LU)."""

    def _residual(self, level: int, x: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """``rhs - A x`` on ``level``, in the sparse product's own output (no other temporary)."""
        r = self.levels[level][0] @ x
        return np.subtract(rhs, r, out=r)

    def _sweep(self, level: int, x: np.ndarray, rhs: np.ndarray) -> None:
        """One damped Jacobi sweep on ``x``, in place: a fresh n x k array per operation was a
        large share of the cycle's time on big systems (RESULTS.md, issue 19)."""
        r = self._residual(level, x, rhs)
        r *= self.steps[level]
        x += r

    def _cycle(self, rhs: np.ndarray, level: int = 0) -> np.ndarray:
        """One V-cycle from zero for ``rhs`` (n x k): symmetric, so a CG preconditioner."""
        if level == len(self.levels):
            return self.coarsest @ rhs if self.coarsest is not None else self._coarse_lu.solve(rhs)
        _, prolong, restrict = self.levels[level]
        x = self.steps[level] * rhs  # the first sweep from zero
        for _ in range(JACOBI_SWEEPS - 1):
            self._sweep(level, x, rhs)
        x += prolong @ self._cycle(restrict @ self._residual(level, x, rhs), level + 1)
        for _ in range(JACOBI_SWEEPS):
            self._sweep(level, x, rhs)
        return x

    def solve(self, b: np.ndarray, guess: np.ndarray | None = None) -> np.ndarray:
        """The solution of ``A x = b`` for ``b`` of shape (n,) or (n, k); ``guess`` (b's
        shape): where CG starts (default zero), which saves iterations when it is close."""
        b = np.asarray(b, dtype=np.float64)
        columns = b.reshape(b.shape[0], -1)
        out = np.zeros_like(columns)
        scale = np.linalg.norm(columns, axis=0)
        live = np.flatnonzero(scale > 0)  # a zero column's solution is zero
        if live.size:
            rhs = columns[:, live]
            x = (np.zeros_like(rhs) if guess is None
                 else np.asarray(guess, np.float64).reshape(columns.shape)[:, live])
            out[:, live] = self._cg(rhs, x, scale[live])
        for c in live:
            if np.linalg.norm(columns[:, c] - self.a @ out[:, c]) > 10 * SOLVE_TOL * scale[c]:
                if self._lu is None:
                    self._lu = factorise(self.a)
                self.fallbacks += 1
                out[:, c] = self._lu.solve(columns[:, c])
        return out.reshape(b.shape)

    def _cg(self, rhs: np.ndarray, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """Preconditioned CG on every column of ``rhs`` at once (each its own step sizes),
        from ``x``, until each column's residual is within SOLVE_TOL of its ``scale``."""
        residual = rhs - self.a @ x
        z = self._cycle(residual)
        direction = z.copy()
        moved = np.empty_like(x)  # every update in place: no fresh n x k array per step
        rz = np.einsum("ij,ij->j", residual, z)
        for _ in range(MAX_CYCLES):
            if (np.linalg.norm(residual, axis=0) <= SOLVE_TOL * scale).all():
                break
            ad = self.a @ direction
            curvature = np.einsum("ij,ij->j", direction, ad)
            step = np.divide(rz, curvature, out=np.zeros_like(rz), where=curvature > 0)
            x += np.multiply(step, direction, out=moved)
            residual -= np.multiply(step, ad, out=ad)
            z = self._cycle(residual)
            rz_next = np.einsum("ij,ij->j", residual, z)
            direction *= np.divide(rz_next, rz, out=np.zeros_like(rz), where=rz > 0)
            direction += z
            rz = rz_next
        return x


def solver(a: sp.spmatrix) -> Factorisation | SuperLU | MultigridSolver:
    """What solves the grid system ``a`` (symmetric, diagonally dominant, every Laplacian built
    here): its direct factorisation (:func:`factorise`) up to ``MULTIGRID_MIN`` unknowns or
    where pyamg is not installed, multigrid-preconditioned CG above (:class:`MultigridSolver`),
    which agrees with the direct solution to about ``SOLVE_TOL`` of the data."""
    if a.shape[0] >= MULTIGRID_MIN:
        try:
            return MultigridSolver(a)
        except ImportError:
            pass
    return factorise(a)


def solve(a: sp.spmatrix, b: np.ndarray, guess: np.ndarray | None = None) -> np.ndarray:
    """``A x = b`` by :func:`solver`, multigrid CG starting from ``guess`` where it is used."""
    return solve_with(solver(a), b, guess)


def solve_with(method: Factorisation | SuperLU | MultigridSolver, b: np.ndarray,
               guess: np.ndarray | None = None) -> np.ndarray:
    """``A x = b`` by ``method`` (:func:`solver` of ``A``), multigrid CG from ``guess``."""
    if isinstance(method, MultigridSolver):
        return method.solve(b, guess)
    return method.solve(b)


class Factorisation:
    """The LDL^T factorisation of a symmetric positive definite system by QDLDL (approximate
    minimum degree ordering): quicker to make than SuperLU's LU of the same grid Laplacians, the
    same solution to rounding, and it lets other threads run while it works (RESULTS.md, issue
    19). ``solve`` as SuperLU's: one right-hand side (n,) or several (n, k).
    """

    def __init__(self, a: sp.spmatrix) -> None:
        import qdldl  # only here: a host without it gets SuperLU (``factorise``)

        self._ldl = qdldl.Solver(sp.csc_matrix(a))  # reads the upper triangle

    def solve(self, b: np.ndarray) -> np.ndarray:
        """The solution of ``A x = b`` for ``b`` of shape (n,) or (n, k), float64."""
        b = np.asarray(b, dtype=np.float64)
        if b.ndim == 1:
            return self._ldl.solve(b)
        out = np.empty((b.shape[0], b.shape[1]), dtype=np.float64)
        for k in range(b.shape[1]):
            out[:, k] = self._ldl.solve(np.ascontiguousarray(b[:, k]))
        return out


def factorise(a: sp.spmatrix) -> Factorisation | SuperLU:
    """A direct solver of a symmetric positive definite system (every Laplacian built here, plus
    positive diagonals): its LDL^T (:class:`Factorisation`), or where qdldl is not installed
    SuperLU's LU with no pivoting and a symmetric ordering (a quarter faster than its general
    mode, to the same solution).

    Drop it in the thread that made it: scipy (1.15 on) books SuperLU's memory per thread, and a
    factorisation freed by another thread is never given back (a leak of its whole size, measured
    in RESULTS.md, issue 19). Stages make, use and drop theirs within one call of one window;
    what a window keeps for all its threads (``fuse.kept``) is LDL^T only."""
    try:
        return Factorisation(a)
    except ImportError:
        pass
    return splu(sp.csc_matrix(a), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                options={"SymmetricMode": True})


def build_system(
    unknown_mask: np.ndarray,
    excluded_mask: np.ndarray | None = None,
    cut_mask: np.ndarray | None = None,
    cut_weight: float = 1e-6,
) -> GridSystem:
    """Build the masked Laplacian over the True pixels of ``unknown_mask`` (H x W bool).

    ``excluded_mask``: pixels that are neither unknown nor data (their links are dropped).
    ``cut_mask``: edges that cut smoothness, bool (a link touching an edge pixel keeps only
    ``cut_weight``) or a float strength in [0, 1] per pixel (a link keeps ``1 - max`` of its two
    ends' strengths, at least ``cut_weight``; True is strength 1).
    """
    h, w = unknown_mask.shape
    unknown = np.flatnonzero(unknown_mask)
    index = np.full(h * w, -1, dtype=np.int64)
    index[unknown] = np.arange(unknown.size)
    ys, xs = np.divmod(unknown, w)
    excluded = None if excluded_mask is None else excluded_mask.ravel()
    cut = None if cut_mask is None else np.clip(cut_mask.ravel().astype(np.float64), 0.0, 1.0)

    uu = ([], [], [], [])
    uk = ([], [], [], [])
    for d, (dy, dx) in enumerate(DIRECTIONS):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        src = np.flatnonzero(inside)
        q = ny[src] * w + nx[src]
        qi = index[q]
        p = unknown[src]
        weight = np.ones(src.size)
        if cut is not None:
            weight = np.maximum(1.0 - np.maximum(cut[p], cut[q]), cut_weight)
        if d < 2:  # unknown-unknown links, each once
            sel = qi >= 0
            for lst, val in zip(uu, (src[sel], qi[sel], np.full(sel.sum(), d), weight[sel]),
                                strict=True):
                lst.append(val)
        sel = qi < 0
        if excluded is not None:
            sel &= ~excluded[q]
        for lst, val in zip(uk, (src[sel], q[sel], np.full(sel.sum(), d), weight[sel]),
                            strict=True):
            lst.append(val)

    uu_i, uu_j, uu_dir, uu_w = (np.concatenate(x) for x in uu)
    uk_i, uk_k, uk_dir, uk_w = (np.concatenate(x) for x in uk)
    n = unknown.size
    diag = np.bincount(uu_i, uu_w, n) + np.bincount(uu_j, uu_w, n) + np.bincount(uk_i, uk_w, n)
    rows = np.concatenate([np.arange(n), uu_i, uu_j])
    cols = np.concatenate([np.arange(n), uu_j, uu_i])
    vals = np.concatenate([diag, -uu_w, -uu_w])
    a = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    return GridSystem((h, w), unknown, a, uu_i, uu_j, uu_dir.astype(np.int8), uu_w,
                      uk_i, uk_k, uk_dir.astype(np.int8), uk_w)
