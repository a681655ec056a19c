"""Flow hops matched to the hole's own surroundings (Lucas-Kanade on the known rim).

A hop's vector inside a hole is completed flow, interpolated across it: where the true motion
changes inside the hole (a fence before a house, parallax) it lands up to a pixel off, chains
of such hops through dense strokes several pixels off, and the propagated fill shows specks
along every edge it copies. Where the hole is thin (burnt-in text, scratches, stabilisation
borders) most of a small window around a hole pixel is known in its own frame, and that window
must reappear around where the hop lands: a few Gauss-Newton steps of the sub-pixel shift that
best matches it correct the hop. Pixels deep in a wide hole have too few known neighbours to
match and keep the completed flow.
"""

from __future__ import annotations

import numpy as np

RADIUS = 2
"""Half-size of the matched window (5 x 5)."""
MIN_SUPPORT = 8
"""Known pixels of the window needed to match at all (of 25)."""
MAX_SHIFT = 1.5
"""Largest correction, px: a chain further off than this is not a sub-pixel drift."""
ITERATIONS = 3
"""Gauss-Newton steps at most."""
MIN_STEP = 0.05
"""A candidate whose last step moved it less than this (px) stops."""
SETTLED = 1e-5
"""Mean squared mismatch (0..1 colours) below which a window already matches."""
_CHUNK = 1 << 14  # candidates per block: 25 taps x 4 corners x C floats each


def support(hole: np.ndarray, radius: int = RADIUS) -> np.ndarray:
    """Known pixels (H x W counts) in the window around each pixel of one frame whose
    unknown pixels are ``hole`` (outside the frame counts as unknown)."""
    import cv2

    return cv2.boxFilter((~hole).astype(np.float32), -1, (2 * radius + 1,) * 2,
                         normalize=False, borderType=cv2.BORDER_CONSTANT)


def _offsets(radius: int) -> tuple[np.ndarray, np.ndarray]:
    oy, ox = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    return oy.reshape(-1), ox.reshape(-1)


def _bilinear_grad(stack: np.ndarray, holes: np.ndarray, f: np.ndarray, x: np.ndarray,
                   y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear value (m x k x C), its x and y derivatives and whether all four taps are known
    (not in ``holes``) and inside the frame, at (f[i], x[i, j], y[i, j]); ``f`` (m): each
    row's frame."""
    _, h, w, c = stack.shape
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    inside = (x0 >= 0) & (y0 >= 0) & (x0 < w - 1) & (y0 < h - 1)
    x0 = np.clip(x0, 0, w - 2)
    y0 = np.clip(y0, 0, h - 2)
    fx = (x - x0).astype(np.float32)[..., None]
    fy = (y - y0).astype(np.float32)[..., None]
    base = f[:, None].astype(np.int64) * (h * w) + y0 * w + x0
    flat = stack.reshape(-1, c)
    hflat = holes.reshape(-1)
    a, b, cc, d = flat[base], flat[base + 1], flat[base + w], flat[base + w + 1]
    ok = inside & ~(hflat[base] | hflat[base + 1] | hflat[base + w] | hflat[base + w + 1])
    top = a + (b - a) * fx
    bottom = cc + (d - cc) * fx
    value = top + (bottom - top) * fy
    gx = (b - a) * (1 - fy) + (d - cc) * fy
    gy = bottom - top
    return value, gx, gy, ok


def refine_ends(stack: np.ndarray, holes: np.ndarray, here: int, idx: np.ndarray,
                frame: np.ndarray, x: np.ndarray, y: np.ndarray,
                radius: int = RADIUS, min_support: int = MIN_SUPPORT
                ) -> tuple[np.ndarray, np.ndarray]:
    """Chain ends (x, y) in frames ``frame`` of the hole pixels ``idx`` (flat) of frame ``here``,
    each moved by the sub-pixel shift (at most ``MAX_SHIFT``) that best matches the known pixels
    of its window in frame ``here`` with the source's; unchanged where fewer than
    ``min_support`` are known in both or the match does not improve. ``stack`` N x H x W x C;
    ``holes`` N x H x W bool, its unknown pixels; returns new float32 (x, y)."""
    h, w, c = stack.shape[1:]
    x = x.astype(np.float32, copy=True)
    y = y.astype(np.float32, copy=True)
    py, px = np.divmod(idx, w)
    oy, ox = _offsets(radius)
    todo = np.flatnonzero(support(holes[here], radius).reshape(-1)[idx] >= min_support)
    for start in range(0, todo.size, _CHUNK):
        sel = todo[start:start + _CHUNK]
        ty = py[sel, None] + oy[None, :]
        tx = px[sel, None] + ox[None, :]
        tin = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
        tflat = np.clip(ty, 0, h - 1) * w + np.clip(tx, 0, w - 1)
        window = _Window(stack, holes, frame[sel], x[sel], y[sel], ox, oy,
                         (tin & ~holes[here].reshape(-1)[tflat]).astype(np.float32),
                         stack[here].reshape(-1, c)[tflat])
        dx, dy = window.solve(min_support)
        x[sel] += dx
        y[sel] += dy
    return x, y


class _Window:
    """The matching of m chain ends: the target windows (known-pixel weights ``wt`` m x k and
    colours m x k x C) against the sources at (frame, x0 + ox + dx, y0 + oy + dy)."""

    def __init__(self, stack: np.ndarray, holes: np.ndarray, frame: np.ndarray, x0: np.ndarray,
                 y0: np.ndarray, ox: np.ndarray, oy: np.ndarray, wt: np.ndarray,
                 target: np.ndarray) -> None:
        self.stack, self.holes, self.frame = stack, holes, frame
        self.x0, self.y0, self.ox, self.oy = x0, y0, ox, oy
        self.wt, self.target = wt, target

    def cost(self, a: np.ndarray, dx: np.ndarray, dy: np.ndarray):
        """Mean squared mismatch of the ends ``a`` shifted by (dx, dy), the number of pixels
        compared, and what a Gauss-Newton step needs (weights, residuals, gradients)."""
        val, gx, gy, ok = _bilinear_grad(self.stack, self.holes, self.frame[a],
                                         (self.x0[a] + dx)[:, None] + self.ox,
                                         (self.y0[a] + dy)[:, None] + self.oy)
        m = self.wt[a] * ok
        r = val - self.target[a]
        count = m.sum(1)
        e = np.einsum("nk,nkc->n", m, r * r) / np.maximum(count, 1)
        return e, count, m, r, gx, gy

    def solve(self, min_support: int) -> tuple[np.ndarray, np.ndarray]:
        """The best shift found (dx, dy) of every end: Gauss-Newton from zero, a step kept only
        where it lowers the mismatch, an end dropped once its step is negligible."""
        n = self.x0.size
        c = self.stack.shape[-1]
        act = np.arange(n)
        dx = np.zeros(n, np.float32)
        dy = np.zeros(n, np.float32)
        best, count, m, r, gx, gy = self.cost(act, dx, dy)
        # a window that matches already, or too few pixels known in both: nothing to refine
        go = (count >= min_support) & (best > SETTLED)
        bdx, bdy = dx.copy(), dy.copy()
        for _ in range(ITERATIONS):
            act, m, r, gx, gy = act[go], m[go], r[go], gx[go], gy[go]
            if not act.size:
                break
            lam = 1e-4 * c * np.maximum(m.sum(1), 1)  # flat windows: no step
            a11 = np.einsum("nk,nkc->n", m, gx * gx) + lam
            a12 = np.einsum("nk,nkc->n", m, gx * gy)
            a22 = np.einsum("nk,nkc->n", m, gy * gy) + lam
            b1 = -np.einsum("nk,nkc->n", m, gx * r)
            b2 = -np.einsum("nk,nkc->n", m, gy * r)
            det = a11 * a22 - a12 * a12
            ndx = np.clip(dx[act] + (a22 * b1 - a12 * b2) / det, -MAX_SHIFT, MAX_SHIFT)
            ndy = np.clip(dy[act] + (a11 * b2 - a12 * b1) / det, -MAX_SHIFT, MAX_SHIFT)
            moved = np.hypot(ndx - dx[act], ndy - dy[act])
            dx[act], dy[act] = ndx, ndy
            e, count, m, r, gx, gy = self.cost(act, ndx, ndy)
            better = (count >= min_support) & (e < best[act])
            won = act[better]
            best[won], bdx[won], bdy[won] = e[better], ndx[better], ndy[better]
            go = better & (moved > MIN_STEP)  # on only where the step helped and was not tiny
        return bdx, bdy
