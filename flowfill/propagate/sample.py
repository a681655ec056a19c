"""Sampling colours at chain endpoints: Catmull-Rom where the source's 4x4 footprint is known,
bilinear over the known pixels elsewhere.

Bilinear interpolation halves a picture's finest detail at half-pixel offsets, and a chain's
end lands at an arbitrary sub-pixel position, so propagated fills came out visibly softer than
the frames they were copied from; the cubic kernel keeps that detail.
"""

from __future__ import annotations

import numpy as np

from flowfill.grid import DIRECTIONS

CUBIC_A = -0.5
"""Keys's cubic convolution parameter: -0.5 is Catmull-Rom, the one that reproduces quadratics."""


def cubic_weights(t: np.ndarray) -> list[np.ndarray]:
    """The four Keys weights (float32) of the taps at offsets -1, 0, 1, 2 from the floor, for a
    fractional position ``t`` in [0, 1)."""
    a = CUBIC_A
    out = []
    for s in (t + 1, t, 1 - t, 2 - t):
        near = ((a + 2) * s - (a + 3)) * s * s + 1
        far = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a
        out.append(np.where(s <= 1, near, far).astype(np.float32))
    return out


def sample_known(
    stack: np.ndarray, known: np.ndarray, frame: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples of ``stack`` (N x H x W x C) at (frame, x, y), from known pixels only.

    Returns (values n x C, valid n, exact n): a sample whose four bilinear neighbours are all
    unknown is invalid; ``exact`` marks samples whose whole bilinear footprint is known (no
    renormalising). Where the 4x4 footprint is known too, the value is the Catmull-Rom one.
    Positions are clamped to the image, so a step off the edge reads the edge pixel.
    """
    n_frames, h, w, c = stack.shape
    x0, y0, fx, fy = _corner(x, y, h, w)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    base = frame.astype(np.int64) * (h * w)
    flat = stack.reshape(-1, c)
    kflat = known.reshape(-1)
    corners = [base + yy * w + xx for yy, xx in ((y0, x0), (y0, x1), (y1, x0), (y1, x1))]
    acc, valid, exact = _bilinear([_gather(flat, i) for i in corners],
                                  [kflat[i] for i in corners], _weights(fx, fy))
    sel = np.flatnonzero(exact)
    if sel.size:
        acc[:, sel] = _cubic(flat, kflat, base[sel], x0[sel], y0[sel], fx[sel], fy[sel], h, w,
                             acc[:, sel])
    return acc.T.copy(), valid, exact


def _gather(flat: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``flat`` (M x C) channel first (C x n). The samples are blended channel
    first: numpy gathers rows with ``take`` 4x faster than by indexing, and its arithmetic on
    n x C arrays (a weight broadcast over C = 3) is 4x slower than on C x n."""
    return np.take(flat, idx, axis=0).T.copy()


def _weights(fx: np.ndarray, fy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Bilinear weights of the corners (y0, x0), (y0, x1), (y1, x0), (y1, x1)."""
    return (1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy


def _bilinear(taps: list[np.ndarray], known: list[np.ndarray], weights: tuple[np.ndarray, ...]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend of the four corner ``taps`` (C x n) over the ``known`` ones, renormalised:
    (values C x n, valid, exact) as :func:`sample_known` defines them."""
    acc = np.zeros(taps[0].shape, dtype=np.float32)
    wsum = np.zeros(taps[0].shape[1], dtype=np.float32)
    for tap, k, wgt in zip(taps, known, weights, strict=True):
        wk = wgt * k
        acc += wk * tap
        wsum += wk
    valid = wsum > 1e-4
    acc[:, valid] /= wsum[valid]
    return acc, valid, wsum > 1 - 1e-4


def _cubic(flat: np.ndarray, kflat: np.ndarray, base: np.ndarray, x0: np.ndarray,
           y0: np.ndarray, fx: np.ndarray, fy: np.ndarray, h: int, w: int,
           fallback: np.ndarray) -> np.ndarray:
    """Catmull-Rom samples (C x n) where all 16 taps are known (clamped at the image's edge),
    ``fallback`` (C x n) elsewhere."""
    cols = [np.clip(x0 + i - 1, 0, w - 1) for i in range(4)]
    rows = [base + np.clip(y0 + j - 1, 0, h - 1) * w for j in range(4)]
    taps = [[_gather(flat, row + col) for col in cols] for row in rows]
    ktaps = [[kflat[row + col] for col in cols] for row in rows]
    return _cubic_blend(taps, ktaps, cubic_weights(fx), cubic_weights(fy), fallback)


def _cubic_blend(taps: list[list[np.ndarray]], known: list[list[np.ndarray]],
                 wx: list[np.ndarray], wy: list[np.ndarray], fallback: np.ndarray) -> np.ndarray:
    """The Catmull-Rom blend of a 4 x 4 footprint's ``taps`` (rows of C x n) where all 16 are
    ``known``, ``fallback`` (C x n) elsewhere."""
    acc = np.zeros_like(fallback)
    whole = np.ones(fallback.shape[1], bool)
    for j in range(4):
        for i in range(4):
            whole &= known[j][i]
            acc += (wx[i] * wy[j]) * taps[j][i]
    out = fallback.copy()
    out[:, whole] = acc[:, whole]
    return out


_CHUNK = 1 << 16  # samples per fused block: 36 taps x C floats each stay within tens of MB


def _corner(x: np.ndarray, y: np.ndarray, h: int, w: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bilinear corner (x0, y0) and fractions (fx, fy) exactly as :func:`sample_known`
    finds them."""
    x = np.clip(x, 0, w - 1)
    y = np.clip(y, 0, h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), max(w - 2, 0))
    y0 = np.minimum(np.floor(y).astype(np.int64), max(h - 2, 0))
    return x0, y0, (x - x0).astype(np.float32), (y - y0).astype(np.float32)


def sample_with_steps(
    stack: np.ndarray, known: np.ndarray, frame: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """:func:`sample_known` at (frame, x, y) and at its four neighbours (``DIRECTIONS``): returns
    ((values, valid, exact), [(values, exact) per step]), the same numbers as five calls.

    The five samples share their fractions and, shifted by a pixel, their taps: one gather of
    the 6 x 6 block around the corner serves all five (36 reads of the frame instead of 100).
    Samples where a step would be clamped at the image's edge, or would change its fraction
    by rounding, are sampled one by one as before.
    """
    n_frames, h, w, c = stack.shape
    n = x.size
    x0, y0, fx, fy = _corner(x, y, h, w)
    regular = np.ones(n, bool)
    for dy, dx in DIRECTIONS:
        sx0, sy0, sfx, sfy = _corner(x + dx, y + dy, h, w)
        regular &= (sx0 == x0 + dx) & (sy0 == y0 + dy) & (sfx == fx) & (sfy == fy)
    val = np.zeros((n, c), np.float32)
    valid = np.zeros(n, bool)
    exact = np.zeros(n, bool)
    steps = [(np.zeros((n, c), np.float32), np.zeros(n, bool)) for _ in DIRECTIONS]
    odd = np.flatnonzero(~regular)
    if odd.size:
        fo, xo, yo = frame[odd], x[odd], y[odd]
        val[odd], valid[odd], exact[odd] = sample_known(stack, known, fo, xo, yo)
        for (nb, nexact), (dy, dx) in zip(steps, DIRECTIONS, strict=True):
            got, _, ex = sample_known(stack, known, fo, xo + dx, yo + dy)
            nb[odd], nexact[odd] = got, ex
    flat = stack.reshape(-1, c)
    kflat = known.reshape(-1)
    for start in range(0, n, _CHUNK):
        sel = np.flatnonzero(regular[start:start + _CHUNK]) + start
        if not sel.size:
            continue
        base = frame[sel].astype(np.int64) * (h * w)
        rows = [base + np.clip(y0[sel] + r - 2, 0, h - 1) * w for r in range(6)]
        cols = [np.clip(x0[sel] + q - 2, 0, w - 1) for q in range(6)]
        taps = [[_gather(flat, rows[r] + cols[q]) for q in range(6)] for r in range(6)]
        ktaps = [[kflat[rows[r] + cols[q]] for q in range(6)] for r in range(6)]
        sfx, sfy = fx[sel], fy[sel]
        weights = _weights(sfx, sfy)
        wx, wy = cubic_weights(sfx), cubic_weights(sfy)
        for k, (dy, dx) in enumerate(((0, 0),) + DIRECTIONS):
            r0, q0 = dy + 2, dx + 2  # the sample's corner in the block
            square = ((r0, q0), (r0, q0 + 1), (r0 + 1, q0), (r0 + 1, q0 + 1))
            acc, ok, ex = _bilinear([taps[r][q] for r, q in square],
                                    [ktaps[r][q] for r, q in square], weights)
            e = np.flatnonzero(ex)
            block = [(r0 + j - 1, [q0 + i - 1 for i in range(4)]) for j in range(4)]
            if 2 * e.size > ex.size:  # mostly whole: blend all, no subsets (the 4 x 4 block
                # holds the 2 x 2 one, so a sample that is not exact keeps its bilinear value)
                acc = _cubic_blend([[taps[r][q] for q in qs] for r, qs in block],
                                   [[ktaps[r][q] for q in qs] for r, qs in block], wx, wy, acc)
            elif e.size:
                acc[:, e] = _cubic_blend([[taps[r][q][:, e] for q in qs] for r, qs in block],
                                         [[ktaps[r][q][e] for q in qs] for r, qs in block],
                                         [v[e] for v in wx], [v[e] for v in wy], acc[:, e])
            if k == 0:
                val[sel], valid[sel], exact[sel] = acc.T, ok, ex
            else:
                steps[k - 1][0][sel], steps[k - 1][1][sel] = acc.T, ex
    return (val, valid, exact), steps
