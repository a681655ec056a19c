"""Dense inverse search optical flow (OpenCV), the CPU default."""

from __future__ import annotations

import cv2
import numpy as np

from flowfill.flow.prep import rec601_luma, tone_curve


def to_gray8(frame: np.ndarray, tone: str = "display") -> np.ndarray:
    """8-bit luma of an RGB frame for flow estimation, through the run's fixed tone curve
    (``flowfill.options.FLOW_TONES``)."""
    if frame.dtype == np.uint8:
        frame = frame.astype(np.float32) / np.float32(255.0)
    luma = tone_curve(rec601_luma(frame), tone)
    return np.clip(luma * 255.0 + 0.5, 0, 255).astype(np.uint8)


DIS_VARIANTS: dict[str, dict[str, int]] = {
    "dis": {},
    "dis-fine": {"finest_scale": 0},
}
"""The DIS backends (``flowfill.options.FLOW_METHODS``) and their settings over OpenCV's medium
preset. dis-fine estimates down to full resolution (the preset stops at half and upsamples):
on layered synthetic motion about 30% less endpoint error for small motion and 5-20% less on
the occlusion-free pixels of large and blurred motion, for 3-5x the time; end to end 1.2 dB more
hole PSNR on the evaluation clips and 3 dB more on fast blurred pans (``benchmarks/RESULTS.md``,
"Flow backends for large and blurred motion")."""

MIN_SIDE = 48
"""The shortest side a cropped frame given to DIS should have: below it OpenCV's medium preset
has fewer pyramid levels than it stops at, lowers its own finest scale (for good, see
``DISFlow._kept``), and on a side under 16 px it crashed the process (a 15-px strip)."""


class DISFlow:
    """DIS flow with the medium preset; one instance serves all pairs of a run.

    ``finest_scale``: the pyramid level the estimate stops at (the preset's 1 is half size, 0 full
    size). An ``initial`` flow given to a call is offered to the patch search at every pyramid
    level, beside the coarser level's estimate and the neighbours', and wins where it matches
    better.
    """

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
                 finest_scale: int | None = None) -> None:
        self._settings = (preset, finest_scale)
        self._dis = self._create()
        self._as_made = _parameters(self._dis)
        self._seeded = False

    def twin(self) -> DISFlow:
        """A new instance with the same settings (one per thread: OpenCV's DIS keeps state)."""
        return DISFlow(*self._settings)

    def _create(self) -> cv2.DISOpticalFlow:
        preset, finest_scale = self._settings
        dis = cv2.DISOpticalFlow_create(preset)
        if finest_scale is not None:
            dis.setFinestScale(finest_scale)
        return dis

    def __call__(self, gray_a: np.ndarray, gray_b: np.ndarray,
                 initial: np.ndarray | None = None) -> np.ndarray:
        """Flow from ``gray_a`` to ``gray_b`` on a's grid, float32 H x W x 2 (dx, dy) in pixels."""
        if initial is not None:  # (a non-number would send DIS's search out of the image)
            self._seeded = True
            start = np.nan_to_num(np.array(initial, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
            return self._kept(self._dis.calc(gray_a, gray_b, start))
        if self._seeded:  # OpenCV keeps the last initial flow and would use it again (and, at
            self._dis = self._create()  # another size, read outside it): start afresh
            self._seeded = False
        return self._kept(self._dis.calc(gray_a, gray_b, None))

    def _kept(self, flow: np.ndarray) -> np.ndarray:
        """``flow``, after making sure the next call starts from the preset: on a small image
        OpenCV lowers the finest scale (and may change the patch size) for good, so a later,
        larger pair would otherwise be estimated differently than by a fresh instance."""
        if _parameters(self._dis) != self._as_made:
            self._dis = self._create()
            self._seeded = False
        return flow


def _parameters(dis: cv2.DISOpticalFlow) -> tuple:
    """The settings OpenCV's DIS may change by itself while estimating."""
    return (dis.getFinestScale(), dis.getPatchSize(), dis.getPatchStride(),
            dis.getGradientDescentIterations(), dis.getVariationalRefinementIterations(),
            dis.getUseMeanNormalization(), dis.getUseSpatialPropagation())
