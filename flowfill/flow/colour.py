"""Flow fields as pictures: the Middlebury colour wheel (Baker et al. 2007).

Hue gives the direction of motion, saturation its size: white is still, full colour is the
largest motion (or ``max_flow``); beyond that colours are darkened.
"""

from __future__ import annotations

import numpy as np

_SEGMENTS = (15, 6, 4, 11, 13, 6)
"""Hues per segment: red-yellow, yellow-green, green-cyan, cyan-blue, blue-magenta, magenta-red."""


def colour_wheel() -> np.ndarray:
    """The 55 x 3 Middlebury wheel of RGB hues in [0, 255], from red round through magenta."""
    parts = []
    for i, n in enumerate(_SEGMENTS):
        rise = np.floor(255 * np.arange(n) / n)
        fall = 255 - rise
        seg = np.zeros((n, 3))
        full, varying = [(0, 1), (1, 0), (1, 2), (2, 1), (2, 0), (0, 2)][i]
        seg[:, full] = 255
        # even segments bring the next primary in; odd ones fade the previous one out
        seg[:, varying] = rise if i % 2 == 0 else fall
        parts.append(seg)
    return np.concatenate(parts)


def flow_to_colour(flow: np.ndarray, max_flow: float | None = None) -> np.ndarray:
    """uint8 H x W x 3 RGB picture of an H x W x 2 (dx, dy) flow; non-finite vectors are black.

    Magnitudes are divided by ``max_flow`` (default: the largest finite magnitude in ``flow``).
    """
    flow = np.asarray(flow, dtype=np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be H x W x 2, got {flow.shape}")
    known = np.isfinite(flow).all(axis=2)
    u = np.where(known, flow[..., 0], 0.0)
    v = np.where(known, flow[..., 1], 0.0)
    rad = np.hypot(u, v)
    scale = float(rad.max(initial=0.0)) if max_flow is None else float(max_flow)
    rad = rad / max(scale, np.finfo(np.float32).eps)

    wheel = colour_wheel() / 255
    n = len(wheel)
    angle = np.arctan2(-v, -u) / np.pi  # -1..1, starting and ending at red (+x motion)
    fk = (angle + 1) / 2 * (n - 1)
    k0 = np.floor(fk).astype(int)
    k1 = (k0 + 1) % n
    f = (fk - k0)[..., None]
    colour = (1 - f) * wheel[k0] + f * wheel[k1]

    r = rad[..., None]
    colour = np.where(r <= 1, 1 - r * (1 - colour), colour * 0.75)
    colour[~known] = 0
    return np.floor(255 * colour).astype(np.uint8)
