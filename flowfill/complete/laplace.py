"""Flow completion inside the flow mask: a membrane (Laplace) fill, optionally cut at flow edges.

With edges (docs/METHOD.md §3.3, solved properly): links touching an edge pixel keep only a
vanishing weight, so the flow may jump across a completed motion boundary, yet every region
fenced off by edges (a floating island that touches no known pixel) still takes a definite
value, that of its surroundings, instead of lsqr's minimum-norm zero. Edges may also be a soft
strength in [0, 1] (the edge net's probability, calibrated): a link keeps one minus the
stronger of its two ends, so a likely boundary cuts almost fully and a doubtful one only
loosens the membrane. One solver per mask and edge map (a sparse LU, multigrid CG for a large
hole: ``grid.solver``) solves both components (and every flow sharing them). Edge pixels keep
the membrane's value (the mean of their neighbours across the jump): copying the nearest
non-edge value instead, as this module first did, raised hole end-point error on the shared
clips' flows for true and completed edges alike (benchmarks/edges.py).
"""

from __future__ import annotations

import numpy as np

from flowfill.grid import build_system, solver


class MembraneFill:
    """The Laplace system of one mask with its solver, reusable for every flow on that frame's grid.

    Inside ``mask`` each flow component becomes the harmonic interpolation of the flow around
    it (Neumann at the image border). ``edges``: bool H x W, or a float strength in [0, 1];
    links touching an edge pixel carry (almost) no smoothness (a soft edge weakens them), so
    the fill may jump across a motion boundary.
    """

    def __init__(self, mask: np.ndarray, edges: np.ndarray | None = None) -> None:
        self.mask = mask
        self.edges = None if edges is None or not np.any(edges) else edges
        self.empty = not mask.any()
        self.full = bool(mask.all())
        if self.empty or self.full:
            return
        # A cut link keeps build_system's cut_weight (> 0), and every part of a mask that is not
        # the whole frame borders a known pixel, so nothing floats: an island fenced off by
        # edges hangs on its weak links and takes its surroundings' value.
        self.system = build_system(mask, cut_mask=self.edges)
        self.solver = solver(self.system.A)  # its LU, or a multigrid hierarchy if large

    def __call__(self, *flows: np.ndarray) -> list[np.ndarray]:
        """Complete each H x W x C field (a flow, C = 2, or an image: all solved together, one
        right-hand side per component); float32 out."""
        if self.empty:
            return [f.copy() for f in flows]
        if self.full:  # nothing known to interpolate from
            return [np.zeros_like(f) for f in flows]
        h, w = self.mask.shape
        columns = [f.reshape(h * w, -1) for f in flows]
        # only the known pixels linked to the hole enter the right-hand side: gathered before
        # the conversion, not the whole frame
        linked = np.concatenate([c[self.system.uk_k] for c in columns], axis=1)
        solution = self.solver.solve(self.system.dirichlet_rhs(linked.astype(np.float64)))
        out, start = [], 0
        for f, col in zip(flows, columns, strict=True):
            g = col.astype(np.float32)  # a copy, float32 as the solution is stored into it
            g[self.system.unknown] = solution[:, start : start + col.shape[1]]
            start += col.shape[1]
            out.append(g.reshape(f.shape))
        return out


def complete_flows(
    flows: list[np.ndarray], mask: np.ndarray, edges: np.ndarray | None = None
) -> list[np.ndarray]:
    """Fill several flow fields that share one grid and one mask with a single factorisation."""
    return MembraneFill(mask, edges)(*flows) if flows else []


def complete_flow(
    flow: np.ndarray, mask: np.ndarray, edges: np.ndarray | None = None
) -> np.ndarray:
    """Fill one flow field (H x W x 2) inside ``mask``; see :class:`MembraneFill`."""
    return MembraneFill(mask, edges)(flow)[0]
