"""An unlimited source of layered motion for training and testing edge completion.

A frame's flow is a stack of layers: the background moves by a random homography (the camera),
and objects of random shape (blobs, polygons, bars like poles and trunks) move by their own
affine motion, later ones occluding earlier ones. Estimators blur motion boundaries, so the
flow is then smoothed by a random amount and given a little noise. Holes are object silhouettes,
blobs and scratches. Everything is drawn from one numpy Generator, so a seed fixes a sample.
Sizes are given for a 240-pixel-high frame and scale with ``size``.
"""

from __future__ import annotations

import cv2
import numpy as np

REFERENCE = 240.0  # pixel numbers below are for a frame this high


def _homography(rng: np.random.Generator, h: int, w: int, s: float) -> np.ndarray:
    """A random camera motion between two frames, as a 3 x 3 homography about the centre."""
    if rng.random() < 0.2:
        return np.eye(3)
    c = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]])
    ang = np.deg2rad(rng.normal(0, 1.0))
    sc = 1 + rng.normal(0, 0.02)
    rot = np.array([[sc * np.cos(ang), -sc * np.sin(ang), 0], [sc * np.sin(ang), sc * np.cos(ang),
                                                                  0], [0, 0, 1]])
    t = np.array([[1, 0, rng.normal(0, 5 * s)], [0, 1, rng.normal(0, 3 * s)], [0, 0, 1]])
    persp = np.eye(3)
    persp[2, :2] = rng.normal(0, 2e-4 / s, 2)
    return np.linalg.inv(c) @ t @ persp @ rot @ c


def _apply(m: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Flow (H x W x 2) of the pixel grid under the projective map ``m``."""
    d = m[2, 0] * xs + m[2, 1] * ys + m[2, 2]
    u = (m[0, 0] * xs + m[0, 1] * ys + m[0, 2]) / d - xs
    v = (m[1, 0] * xs + m[1, 1] * ys + m[1, 2]) / d - ys
    return np.stack([u, v], axis=-1)


def random_shape(rng: np.random.Generator, h: int, w: int, s: float,
                 radius: tuple[float, float] = (8, 70)) -> np.ndarray:
    """A bool H x W silhouette: an irregular blob, a polygon, or a long bar (pole, trunk, limb)."""
    canvas = np.zeros((h, w), np.uint8)
    cx, cy = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
    r = rng.uniform(*radius) * s
    kind = rng.random()
    if kind < 0.4:  # blob: a circle with a few angular harmonics
        theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        k = np.arange(1, 5)[:, None]
        warp = (rng.uniform(0, 0.25, (4, 1)) / k * np.cos(k * theta + rng.uniform(0, 6.3, (4, 1)))
                ).sum(0)
        aspect = rng.uniform(0.5, 2.0)
        rad = r * (1 + warp)
        pts = np.stack([cx + rad * np.cos(theta) * aspect, cy + rad * np.sin(theta)], -1)
    elif kind < 0.75:  # polygon: a star-shaped set of random vertices
        n = int(rng.integers(3, 9))
        theta = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.5, 1.2, n)
        pts = np.stack([cx + rad * np.cos(theta), cy + rad * np.sin(theta)], -1)
    else:  # bar: a long thin rotated rectangle
        ang = rng.uniform(0, np.pi) if rng.random() < 0.5 else np.pi / 2 + rng.normal(0, 0.2)
        half_len, half_wid = r * rng.uniform(1.5, 4), max(2 * s, r * rng.uniform(0.08, 0.3))
        d = np.array([np.cos(ang), np.sin(ang)])
        n_ = np.array([-d[1], d[0]])
        c = np.array([cx, cy])
        pts = np.stack([c + half_len * d + half_wid * n_, c + half_len * d - half_wid * n_,
                        c - half_len * d - half_wid * n_, c - half_len * d + half_wid * n_])
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def layered_flow(rng: np.random.Generator, h: int, w: int, size: float | None = None
                 ) -> np.ndarray:
    """A random layered flow field (float32 H x W x 2): camera homography plus occluding objects.

    ``size``: the frame height the motion and shapes are drawn for (default ``h``).
    """
    s = (size or h) / REFERENCE
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    flow = _apply(_homography(rng, h, w, s), xs, ys)
    for _ in range(int(rng.integers(1, 6))):
        shape = random_shape(rng, h, w, s)
        if not shape.any():
            continue
        cy, cx = (a.mean() for a in np.nonzero(shape))
        ang = np.deg2rad(rng.normal(0, 3))
        sc = 1 + rng.normal(0, 0.04)
        a = np.array([[sc * np.cos(ang), -sc * np.sin(ang)], [sc * np.sin(ang), sc * np.cos(ang)]])
        t = rng.normal(0, 6 * s, 2) * (2.5 if rng.random() < 0.2 else 1)
        m = np.eye(3)
        m[:2, :2] = a
        m[:2, 2] = t + np.array([cx, cy]) - a @ np.array([cx, cy])
        flow[shape] = _apply(m, xs, ys)[shape]
    flow = flow.astype(np.float32)
    blur = rng.uniform(0, 1.5) * s
    if blur > 0.3:
        flow = cv2.GaussianBlur(flow, (0, 0), blur)
    flow += rng.normal(0, 0.03, flow.shape).astype(np.float32)
    return flow


def random_hole(rng: np.random.Generator, h: int, w: int, size: float | None = None,
                silhouettes: list[np.ndarray] | None = None) -> np.ndarray:
    """A bool H x W hole: an object silhouette, a blob or a set of scratches, dilated a little.

    ``silhouettes``: real object masks to draw from (placed, scaled and flipped at random);
    when absent, random shapes stand in for objects.
    """
    s = (size or h) / REFERENCE
    kind = rng.random()
    if kind < 0.15:  # scratches: thin, nearly vertical strips
        hole = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            x = rng.uniform(0, w)
            x2 = x + rng.normal(0, 6 * s)
            y0, y1 = sorted(rng.uniform(-0.3, 1.3, 2) * h)
            cv2.line(hole, (int(x), int(y0)), (int(x2), int(y1)), 1,
                     max(1, int(rng.uniform(1, 5) * s)))
        hole = hole.astype(bool)
    elif kind < 0.5 and silhouettes:
        sil = silhouettes[int(rng.integers(len(silhouettes)))]
        ys, xs = np.nonzero(sil)
        crop = sil[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].astype(np.uint8)
        scale = rng.uniform(0.5, 1.3) * s * REFERENCE / sil.shape[0]
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        ch, cw = crop.shape
        hole = np.zeros((h + 2 * ch, w + 2 * cw), np.uint8)
        y0, x0 = int(rng.integers(ch // 2, h + ch // 2 + 1)), int(rng.integers(cw // 2,
                                                                                w + cw // 2 + 1))
        hole[y0: y0 + ch, x0: x0 + cw] = crop
        hole = hole[ch: ch + h, cw: cw + w].astype(bool)
    else:
        hole = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 3))):
            hole |= random_shape(rng, h, w, s, radius=(10, 45))
    grow = int(rng.uniform(0, 8) * s)
    if grow > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
        hole = cv2.dilate(hole.astype(np.uint8), k).astype(bool)
    if hole.sum() < 16 or hole.mean() > 0.6:  # degenerate: fall back to a centred blob
        hole = np.zeros((h, w), bool)
        cv2.circle(hole.view(np.uint8), (w // 2, h // 2), int(20 * s), 1, -1)
    return hole
