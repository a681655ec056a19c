"""Hard shot-cut detection, streamed frame by frame, so nothing propagates across a cut."""

from __future__ import annotations

import cv2
import numpy as np

from flowfill.flow.dis import to_gray8


def signature(frame: np.ndarray, mask: np.ndarray | None = None, tone: str = "display"
              ) -> np.ndarray:
    """A normalised hue-saturation-value histogram of the frame's known pixels (a 2D H-S x V)."""
    small = cv2.resize(frame, (128, 72), interpolation=cv2.INTER_AREA)
    rgb8 = np.dstack([to_gray8(np.repeat(small[..., i : i + 1], 3, axis=2), tone)
                      for i in range(3)])
    hsv = cv2.cvtColor(rgb8, cv2.COLOR_RGB2HSV)
    m = None
    if mask is not None:
        m = cv2.resize((~mask).astype(np.uint8), (128, 72), interpolation=cv2.INTER_NEAREST)
        if m.sum() < 64:  # almost all masked: use everything rather than nothing
            m = None
    hist = cv2.calcHist([hsv], [0, 1, 2], m, [12, 8, 8], [0, 180, 0, 256, 0, 256])
    return cv2.normalize(hist, None, 1.0, 0.0, cv2.NORM_L1).astype(np.float32)


def cut_score(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Bhattacharyya distance of two signatures: near 0 within a shot, near 1 across a cut."""
    return float(cv2.compareHist(sig_a, sig_b, cv2.HISTCMP_BHATTACHARYYA))


class CutDetector:
    """Scores consecutive frames as they stream in and tells where hard cuts are.

    A hard cut is an isolated spike: the score between frames t-1 and t exceeds ``threshold`` and
    is at least ``spike`` times the scores on either side, so whip pans and dissolves, which stay
    high for several frames, are not cut. Deciding about frame t needs frame t+1 (or the end).
    """

    def __init__(self, threshold: float = 0.4, spike: float = 2.0, tone: str = "display") -> None:
        self.tone = tone
        self.threshold = threshold
        self.spike = spike
        self.scores: list[float] = [0.0]  # scores[t]: frame t-1 -> t; frame 0 has none
        self._prev: np.ndarray | None = None

    def push(self, frame: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Add the next frame (its masked object is left out of the signature)."""
        sig = signature(frame, mask, self.tone)
        if self._prev is not None:
            self.scores.append(cut_score(self._prev, sig))
        self._prev = sig

    def is_cut(self, t: int, final: bool = False) -> bool:
        """Whether a hard cut lies between frames t-1 and t; call once frame t+1 is pushed, or
        with ``final`` when t is the last frame."""
        if t <= 0 or t >= len(self.scores):
            return False
        if t + 1 >= len(self.scores) and not final:
            raise ValueError(f"frame {t + 1} is needed to decide about a cut before frame {t}")
        s = self.scores[t]
        before = self.scores[t - 1] if t >= 2 else 0.0
        after = self.scores[t + 1] if t + 1 < len(self.scores) else 0.0
        return s > self.threshold and s >= self.spike * max(before, after)
