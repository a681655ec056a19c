"""Handheld camera shake, laid over a steady clip for the stabilisation benchmark and samples.

The shake is a handheld wobble (a few slow sinusoids plus frame-to-frame noise, deterministic
from a seed) in x, y and roll. :func:`shake_frames` shows a steady clip through a camera that
shakes so, zoomed in enough that its view never leaves the frame (a shaky clip without borders).
"""

from __future__ import annotations

import cv2
import numpy as np


def handheld(rng: np.random.Generator, n: int) -> np.ndarray:
    """A handheld wobble of ``n`` samples in [-1, 1]: a few slow sinusoids plus frame noise."""
    t = np.arange(n, dtype=np.float64)
    wave = np.zeros(n)
    for _ in range(3):
        wave += np.sin(2 * np.pi * rng.uniform(0.04, 0.25) * t + rng.uniform(0, 2 * np.pi))
    wave += rng.normal(0.0, 0.6, n)
    return wave / max(float(np.abs(wave).max()), 1e-9)


def shake_warps(n: int, height: int, width: int, seed: int = 0, shift: float = 0.025,
                degrees: float = 0.8, zoom: float = 1.0) -> np.ndarray:
    """N x 2 x 3 affine maps of the shaken view: output pixel q shows the steady frame at
    warp q (a shift of up to ``shift`` of the frame size, ``degrees`` of roll, and a zoom-in
    by ``zoom`` about the centre)."""
    rng = np.random.default_rng(seed)
    dx, dy, roll = (handheld(rng, n) for _ in range(3))
    centre = ((width - 1) / 2, (height - 1) / 2)
    out = np.empty((n, 2, 3))
    for t in range(n):
        warp = cv2.getRotationMatrix2D(centre, degrees * roll[t], 1.0 / zoom)
        warp[:, 2] += (shift * width * dx[t], shift * height * dy[t])
        out[t] = warp
    return out


def shake_frames(frames: np.ndarray, seed: int = 0, shift: float = 0.025, degrees: float = 0.8
                 ) -> np.ndarray:
    """``frames`` (N x H x W x 3 float32) seen through a shaking camera that is zoomed in just
    enough to stay inside the frame (bicubic; no borders)."""
    n, h, w = frames.shape[:3]
    angle = np.deg2rad(degrees)
    # the zoomed view, shifted and rolled, must stay inside the frame
    zoom = (1 + 2 * shift) * (np.cos(angle) + np.sin(angle) * max(w / h, h / w)) * 1.01
    warps = shake_warps(n, h, w, seed, shift, degrees, zoom)
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    out = [cv2.warpAffine(f, m, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)
           for f, m in zip(frames, warps, strict=True)]
    return np.clip(np.stack(out), 0.0, 1.0).astype(np.float32)
