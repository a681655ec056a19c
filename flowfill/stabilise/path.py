"""The camera path of a clip, its smoothing within a bound, and the warp of every frame onto it.

A pose is a similarity written about the frame centre ``c``: p -> s R(a) (p - c) + m, kept as
(m_x, m_y, a, log s) per frame, so that shift, roll and zoom smooth independently. The path runs
in segments: where the motion between two frames is unknown (a cut) a new segment starts, and
each is smoothed on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.ndimage import gaussian_filter1d
from scipy.sparse import linalg as splinalg

MAX_ROLL = np.deg2rad(4.0)
"""How far a frame may be rolled to meet the smooth path (radians)."""
MAX_ZOOM = 0.05
"""How far a frame may be scaled to meet the smooth path (log scale)."""
BOUND_ROUNDS = 30
"""Solves at most, each pinning the frames that strayed past the bound."""
STIFF = 1e8
"""Weight that pins a frame to the bound."""


def pose_params(pose: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(m_x, m_y, a, log s) of a 3 x 3 similarity about ``centre``."""
    b = pose[:2, :2]
    scale = float(np.sqrt(max(np.linalg.det(b), 1e-12)))
    m = b @ centre + pose[:2, 2]
    return np.array([m[0], m[1], np.arctan2(b[1, 0], b[0, 0]), np.log(scale)])


def pose_matrix(params: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The 3 x 3 similarity of (m_x, m_y, a, log s) about ``centre``."""
    mx, my, a, log_s = params
    s = np.exp(log_s)
    b = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    out = np.eye(3)
    out[:2, :2] = b
    out[:2, 2] = np.array([mx, my]) - b @ centre
    return out


def smooth(params: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along time that keeps a steady pan steady at the ends.

    The ends are padded by odd reflection (the path mirrored through its end point), so a
    straight path stays straight instead of bending towards a stop.
    """
    if sigma <= 0 or len(params) < 2:
        return params.copy()
    pad = int(4.0 * sigma + 0.5) + 1  # the whole kernel (truncate=4); np.pad reflects repeatedly
    padded = np.pad(params, ((pad, pad), (0, 0)), mode="reflect", reflect_type="odd")
    return gaussian_filter1d(padded, sigma, axis=0, mode="nearest",
                             truncate=4.0)[pad:len(padded) - pad]


def _second_differences(n: int) -> sparse.csr_matrix:
    """(n - 2) x n operator of second differences along time."""
    return sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(max(n - 2, 0), n), format="csr")


def bounded_smooth(params: np.ndarray, smoothness: float, bound: np.ndarray) -> np.ndarray:
    """The smooth path nearest to ``params`` (N x K) that stays within ``bound`` (per column).

    A Whittaker smoother: minimise |q - p|^2 + S^4 |D2 q|^2 per column (S = ``smoothness`` in
    frames; shake faster than about 2 pi S frames is taken out, steady pans and smooth
    accelerations are kept, no bias at the ends). Frames where q strays past the bound get a
    stiff constraint at the bound itself and the system is solved again (an active set), so the
    path stays smooth between them instead of copying the shake where the bound is reached.
    """
    n = len(params)
    if smoothness <= 0 or n < 3:
        return params.copy()
    d2 = _second_differences(n)
    penalty = (smoothness ** 4) * (d2.T @ d2)
    out = np.empty_like(params, dtype=np.float64)
    for k in range(params.shape[1]):
        p = params[:, k].astype(np.float64)
        weight = np.ones(n)
        target = p.copy()
        for _ in range(BOUND_ROUNDS):
            q = splinalg.spsolve((sparse.diags(weight) + penalty).tocsc(), weight * target)
            over = np.abs(q - p) > bound[k] * (1 + 1e-6)
            if not over.any():
                break
            weight[over] = STIFF
            target[over] = p[over] + np.sign(q - p)[over] * bound[k]
        out[:, k] = p + np.clip(q - p, -bound[k], bound[k])
    return out


@dataclass
class CameraPath:
    """Poses of every frame (N x 3 x 3, frame 0 -> frame t of its segment) and where segments
    start; built from the frame-to-frame motions of a clip."""

    poses: np.ndarray
    segments: list[int]
    width: int
    height: int

    @classmethod
    def from_motions(cls, motions: Sequence[np.ndarray | None], width: int,
                     height: int) -> CameraPath:
        """Chain motions (entry t: frame t-1 -> t; None: unknown, a new segment) into poses."""
        poses = np.empty((len(motions), 3, 3))
        segments = []
        pose = np.eye(3)
        for t, motion in enumerate(motions):
            if motion is None:
                pose = np.eye(3)
                segments.append(t)
            else:
                pose = motion @ pose
            poses[t] = pose
        if not segments or segments[0] != 0:
            segments.insert(0, 0)
        return cls(poses, segments, width, height)

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.width - 1) / 2, (self.height - 1) / 2])

    def params(self) -> np.ndarray:
        """N x 4 (m_x, m_y, a, log s) with the roll unwrapped along each segment."""
        out = np.array([pose_params(p, self.centre) for p in self.poses]).reshape(-1, 4)
        for lo, hi in self.spans():
            out[lo:hi, 2] = np.unwrap(out[lo:hi, 2])
        return out

    def spans(self) -> list[tuple[int, int]]:
        """(start, stop) of each segment."""
        ends = [*self.segments[1:], len(self.poses)]
        return list(zip(self.segments, ends, strict=True))

    def smoothed(self, smoothness: float, max_shift: float) -> np.ndarray:
        """N x 4 smooth params: shift bounded by ``max_shift`` of the frame width/height."""
        raw = self.params()
        bound = np.array([max_shift * self.width, max_shift * self.height, MAX_ROLL, MAX_ZOOM])
        out = raw.copy()
        for lo, hi in self.spans():
            out[lo:hi] = bounded_smooth(raw[lo:hi], smoothness, bound)
        return out

    def jitter(self, sigma: float = 5.0) -> float:
        """RMS high-frequency shake of this path in pixels (see :func:`jitter`)."""
        return jitter(self.params(), self.spans(), self.width, self.height, sigma)

    def warps(self, smoothness: float, max_shift: float) -> np.ndarray:
        """N x 3 x 3 W_t: output pixel q of frame t shows input frame t at W_t q."""
        smooth_params = self.smoothed(smoothness, max_shift)
        c = self.centre
        return np.array([pose @ np.linalg.inv(pose_matrix(p, c))
                         for pose, p in zip(self.poses, smooth_params, strict=True)])


def jitter(params: np.ndarray, spans: list[tuple[int, int]], width: int, height: int,
           sigma: float = 5.0) -> float:
    """RMS high-frequency shake of a path (N x 4 params) in pixels: the frame centre's position
    and the roll (as the movement it gives the frame's corners) minus the same smoothed over
    ``sigma`` frames, within each segment, so a steady pan or a slow drift counts nothing."""
    half_diagonal = 0.5 * float(np.hypot(width, height))
    shakes = []
    for lo, hi in spans:
        if hi - lo < 3:
            continue
        part = params[lo:hi]
        shake = part - smooth(part, sigma)
        shakes.append(np.column_stack([shake[:, 0], shake[:, 1], shake[:, 2] * half_diagonal]))
    if not shakes:
        return 0.0
    shake = np.concatenate(shakes)
    return float(np.sqrt(np.mean(np.sum(shake ** 2, axis=1))))
