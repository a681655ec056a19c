"""Frame-to-frame camera motion as similarity transforms, from tracked background corners.

Corners are tracked by pyramidal Lucas-Kanade on a grey proxy of at most ``PROXY_SIDE`` pixels,
kept only when tracking back lands where they started, and fitted by RANSAC: the dominant
motion is the background's, so a moving object's corners fall out as outliers. A similarity
(shift, roll, zoom) is what a 2D stabiliser can smooth without shearing the picture.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from flowfill.flow.prep import tone_curve

PROXY_SIDE = 640
"""Longest side of the grey proxy the motion is measured on."""
MIN_INLIERS = 12
"""Fewer RANSAC inliers than this: the motion is unknown (a cut, a blank frame)."""


def grey_proxy(frame: np.ndarray, tone: str = "display") -> tuple[np.ndarray, float]:
    """8-bit grey proxy of a float H x W x C frame and its scale (proxy px per frame px)."""
    rgb = tone_curve(frame[..., :3], tone)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    scale = min(1.0, PROXY_SIDE / max(h, w))
    if scale < 1.0:
        grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return np.clip(grey * 255.0 + 0.5, 0, 255).astype(np.uint8), scale


@dataclass
class Tracker:
    """Measures the motion between consecutive frames, one frame at a time (:meth:`push`)."""

    tone: str = "display"
    _prev: np.ndarray | None = None
    _scale: float = 1.0

    def push(self, frame: np.ndarray) -> np.ndarray | None:
        """The 3 x 3 similarity taking the previous frame's points to this frame's (frame pixels);
        None for the first frame and wherever the motion cannot be trusted."""
        grey, scale = grey_proxy(frame, self.tone)
        prev, self._prev, self._scale = self._prev, grey, scale
        if prev is None or prev.shape != grey.shape:
            return None
        motion = track(prev, grey)
        if motion is None:
            return None
        return to_frame_pixels(motion, scale)


def track(prev: np.ndarray, grey: np.ndarray) -> np.ndarray | None:
    """3 x 3 similarity prev -> grey (proxy pixels) from forward-backward checked LK tracks."""
    side = max(prev.shape)
    corners = cv2.goodFeaturesToTrack(prev, maxCorners=500, qualityLevel=0.005,
                                      minDistance=max(4, side // 80), blockSize=5)
    if corners is None or len(corners) < MIN_INLIERS:
        return None
    lk = {"winSize": (21, 21), "maxLevel": 4,
          "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}
    ahead, ok_a, _ = cv2.calcOpticalFlowPyrLK(prev, grey, corners, None, **lk)
    back, ok_b, _ = cv2.calcOpticalFlowPyrLK(grey, prev, ahead, None, **lk)
    good = ((ok_a.ravel() == 1) & (ok_b.ravel() == 1)
            & (np.linalg.norm((back - corners).reshape(-1, 2), axis=1) < 0.5))
    if int(good.sum()) < MIN_INLIERS:
        return None
    src, dst = corners.reshape(-1, 2)[good], ahead.reshape(-1, 2)[good]
    fit, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                               ransacReprojThreshold=1.0, maxIters=2000,
                                               confidence=0.995)
    if fit is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return np.vstack([fit, [0.0, 0.0, 1.0]])


def to_frame_pixels(motion: np.ndarray, scale: float) -> np.ndarray:
    """A proxy-pixel transform expressed in frame pixels (``scale``: proxy px per frame px)."""
    shift = 0.5 * scale - 0.5  # pixel centres: proxy x = (x + 0.5) * scale - 0.5
    s = np.array([[scale, 0.0, shift], [0.0, scale, shift], [0.0, 0.0, 1.0]])
    return np.linalg.inv(s) @ motion @ s
