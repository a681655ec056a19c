"""Smooth fills of a hole from its rim: the membrane (harmonic) and the thin plate (biharmonic).

The membrane takes the mean of the rim where the hole is wide, where a thin plate overshoots; the
thin plate continues the rim's gradients across a thin hole (a stroke of burnt-in text, a
scratch), so edges crossing the stroke run on through it instead of blurring into a saddle.
:func:`fill` picks per connected part of the hole by its width (:data:`THIN_RADIUS`). Both are
sparse solves on a crop around the hole (one LU per part and solve, every channel at once).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from flowfill.complete.laplace import MembraneFill
from flowfill.masks import box, part_depths

THIN_RADIUS = 3.0
"""A part of the hole whose farthest pixel lies at most this far from the rim (px at 240p,
grown with the frame) is thin and gets the thin plate; wider parts get the membrane."""
MARGIN = 4
"""Known pixels kept around a part's bounding box (the thin plate reads two rings of them)."""


def membrane(image: np.ndarray, mask: np.ndarray, edges: np.ndarray | None = None
             ) -> np.ndarray:
    """The harmonic interpolation of ``image`` (H x W x C float) inside ``mask`` (bool H x W),
    Neumann at the image border: the smoothest fill, the mean of the rim where the hole is wide.
    ``edges`` (bool H x W): links touching them are cut, so each region they fence off takes
    the value of the rim on its own side (the picture's structure continued, issue 16)."""
    if not mask.any() or mask.all():
        return image.copy()
    return MembraneFill(mask, edges)(image)[0].astype(image.dtype)


def _laplacian(h: int, w: int) -> sp.csr_matrix:
    """The 5-point graph Laplacian of an h x w grid (Neumann border), all pixels."""
    idx = np.arange(h * w).reshape(h, w)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    ones = np.ones(a.size)
    adj = sp.coo_matrix((np.concatenate([ones, ones]), (np.concatenate([a, b]),
                                                          np.concatenate([b, a]))),
                        shape=(h * w, h * w)).tocsr()
    return (sp.diags(np.asarray(adj.sum(1)).ravel()) - adj).tocsr()


def thin_plate(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The biharmonic interpolation of ``image`` inside ``mask``: the fill whose Laplacian is
    smallest in the least-squares sense, which carries the rim's gradients into the hole."""
    out = image.astype(np.float64, copy=True)
    if not mask.any() or mask.all():
        return out.astype(image.dtype)
    h, w, c = image.shape
    lap = _laplacian(h, w)
    flat = mask.ravel()
    unknown, known = np.flatnonzero(flat), np.flatnonzero(~flat)
    # only the Laplacians that reach an unknown pixel depend on the fill
    rows = np.flatnonzero(np.asarray(abs(lap[:, unknown]).sum(1)).ravel() > 0)
    lu_, lk = lap[rows][:, unknown], lap[rows][:, known]
    values = out.reshape(h * w, c)
    normal = (lu_.T @ lu_).tocsc()
    rhs = -(lu_.T @ (lk @ values[known]))
    values[unknown] = splu(normal, permc_spec="MMD_AT_PLUS_A").solve(np.asarray(rhs))
    return out.astype(image.dtype)


def thin_radius(shape: tuple[int, ...]) -> float:
    """:data:`THIN_RADIUS` at the size of a frame of ``shape`` (H, W, ...)."""
    return THIN_RADIUS * max(1.0, min(shape[:2]) / 240.0)


def thin_parts(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` (bool H x W) in connected parts whose farthest pixel lies at most
    :func:`thin_radius` from the rim: strokes and scratches, where the thin plate fills."""
    labels, deepest = part_depths(mask)
    thin = deepest <= thin_radius(mask.shape)
    thin[0] = False
    return thin[labels]


def fill(image: np.ndarray, mask: np.ndarray, device: str = "cpu", seed: int = 0,
         budget: float | None = None, progress: object = None,
         edges: np.ndarray | None = None, thin: np.ndarray | None = None) -> np.ndarray:
    """Fill ``mask`` (bool H x W) of ``image`` (float H x W x C) smoothly from its rim: each
    connected part by the thin plate where it is thin, by the membrane where it is wide (cut at
    ``edges``, bool H x W, when given: the image edges completed into the hole). ``thin``: the
    :func:`thin_parts` of ``mask``, when the caller has them already.

    Deterministic and CPU-only; ``device``, ``seed``, ``budget`` and ``progress`` are accepted
    for the common fill interface. Cost follows the hole (a crop around each part).
    """
    out = image.copy()
    if not mask.any():
        return out
    if thin is None:
        thin = thin_parts(mask)
    for kind in (thin_plate, membrane):
        sel = thin if kind is thin_plate else mask & ~thin
        if not sel.any():
            continue
        ys, xs = box(sel, MARGIN)
        crop = out[ys, xs]
        # other parts of the hole inside this crop are not data: the membrane/plate of one
        # kind is solved over them too, and only the selected pixels are written back
        hole = mask[ys, xs]
        solved = (kind(crop, hole) if kind is thin_plate or edges is None else
                  kind(crop, hole, edges[ys, xs]))
        out[ys, xs][sel[ys, xs]] = solved[sel[ys, xs]]
    return out
