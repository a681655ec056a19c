"""CPU flow built from OpenCV's contrib module beside plain DIS.

``dis-sparse``: sparse-to-dense flow (pyramidal Lucas-Kanade matches on a grid, interpolated
edge-aware and smoothed by ``cv2.ximgproc``, as ``cv2.optflow.calcOpticalFlowSparseToDense``
does but without its out-of-bounds reads) is offered to DIS down to full resolution
(``dis-fine``) as a candidate at every pyramid level, and wins wherever its patch matches better:
the matches reach motions DIS's own coarse-to-fine search can lose (tens of pixels on small
objects), and DIS keeps its own estimate and refinement everywhere else.
``benchmarks/flow_choice.py`` measured it against the other contrib flows (DeepFlow, dense RLOF,
PCAFlow, SimpleFlow, Farneback, TV-L1), all of them less accurate or far slower on layered
motion; end to end it matches dis-fine for about twice dis-fine's flow time.
"""

from __future__ import annotations

import cv2
import numpy as np

from flowfill.errors import InputError
from flowfill.flow.dis import DIS_VARIANTS, MIN_SIDE, DISFlow, to_gray8
from flowfill.flow.estimator import ProxyEstimator

GRID_STEP = 8
"""Pixels between the grid points matched by Lucas-Kanade (OpenCV's sparse-to-dense default)."""
NEIGHBOURS = 128
"""Matches each locally affine fit of the edge-aware interpolation uses, at most (its default)."""
MIN_MATCHES = 16
"""Fewer matches than this (a blank or nearly flat frame, a tiny proxy): DIS runs alone."""


def _ximgproc() -> object:
    module = getattr(cv2, "ximgproc", None)
    if module is None or not hasattr(module, "createEdgeAwareInterpolator"):
        raise InputError("--flow", "dis-sparse needs OpenCV's contrib module (cv2.ximgproc, "
                         "from opencv-contrib-python); choose dis or dis-fine")
    return module


def sparse_to_dense(gray_a: np.ndarray, gray_b: np.ndarray, interpolator: object
                    ) -> np.ndarray | None:
    """OpenCV's ``optflow.calcOpticalFlowSparseToDense`` (same result), made safe: it asks the
    edge-aware interpolation for 128 neighbours of every match however few matches there are,
    and reads out of bounds, or crashes, when there are fewer (opencv_contrib issue 4195). Here
    the neighbours never outnumber the matches, and None comes back below ``MIN_MATCHES``."""
    h, w = gray_a.shape
    ys, xs = np.mgrid[0:h:GRID_STEP, 0:w:GRID_STEP]
    points = np.stack([xs.ravel(), ys.ravel()], axis=-1).astype(np.float32)
    found, status, _ = cv2.calcOpticalFlowPyrLK(gray_a, gray_b, points, None, winSize=(21, 21))
    keep = (status.ravel() == 1) & np.isfinite(found).all(axis=1)
    if int(keep.sum()) < MIN_MATCHES:
        return None
    interpolator.setK(min(NEIGHBOURS, int(keep.sum())))  # type: ignore[attr-defined]
    flow = interpolator.interpolate(  # type: ignore[attr-defined]
        gray_a, np.ascontiguousarray(points[keep]), gray_b, np.ascontiguousarray(found[keep]))
    return np.nan_to_num(flow, nan=0.0, posinf=0.0, neginf=0.0)


class SparseDISEstimator(ProxyEstimator):
    """DIS (full resolution) helped by sparse-to-dense flow, on a proxy; CPU only. It has no
    ``twin``: two instances interpolating at once on two threads gave other flows than one
    at a time (OpenCV contrib's interpolator is not safe to run concurrently), so a window's
    flows are then estimated on one thread."""

    min_side = MIN_SIDE

    def __init__(self, max_side: int | None = None, cache: int = 8,
                 tone: str = "display") -> None:
        super().__init__(max_side, cache, tone)
        self._interpolator = _ximgproc().createEdgeAwareInterpolator()  # type: ignore[attr-defined]
        self._interpolator.setSigma(0.05)
        self._interpolator.setUsePostProcessing(True)
        self._interpolator.setFGSLambda(500.0)
        self._interpolator.setFGSSigma(1.5)
        self._dis = DISFlow(**DIS_VARIANTS["dis-fine"])

    def _prepare(self, proxy: np.ndarray) -> np.ndarray:
        return to_gray8(proxy, self.tone)

    def _flow(self, gray_a: np.ndarray, gray_b: np.ndarray) -> np.ndarray:
        return self._dis(gray_a, gray_b, initial=sparse_to_dense(gray_a, gray_b,
                                                                 self._interpolator))
