"""The interface every flow backend offers the pipeline, and DIS behind it.

A backend estimates flow between frames given as float RGB (source scale, or uint8). The
pipeline asks for both directions of a pair at once and names frames by a key (their index), so
a backend can keep per-frame work (DIS: the grey image; RAFT: encoder features) in a small cache
and serve every pair a frame is in from it.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

import cv2
import numpy as np

from flowfill.flow.dis import DIS_VARIANTS, MIN_SIDE, DISFlow, to_gray8
from flowfill.flow.prep import check_tone, from_proxy, proxy_size, to_proxy

T = TypeVar("T")


class FlowEstimator(Protocol):
    """Optical flow between two frames, on the first frame's grid, float32 H x W x 2 (dx, dy).

    A backend with a ``min_side`` attribute takes no frame with a shorter side: callers that
    crop frames (a distant pair's box, ``flowfill.hops``) grow their crops to it. A backend
    with a ``twin()`` method makes an equal backend for another thread: a window's flows are
    then estimated on several threads (``flowfill.parallel``)."""

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        """Flow from ``frame_a`` to ``frame_b``."""
        ...

    def pair(
        self,
        frame_a: np.ndarray,
        frame_b: np.ndarray,
        key_a: Hashable | None = None,
        key_b: Hashable | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(a -> b, b -> a). Frames with a key may have their per-frame work cached under it."""
        ...

    def clear(self) -> None:
        """Forget cached per-frame work (keys are about to name other frames)."""
        ...


class FrameCache:
    """A small least-recently-used store of per-frame work, keyed by frame; None keys never stay."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(int(capacity), 0)
        self._items: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable | None, make: Callable[[], T]) -> T:
        """The cached value of ``key``, made (and stored) when absent."""
        if key is None:
            return make()
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]  # type: ignore[return-value]
        value = make()
        if self.capacity:
            self._items[key] = value
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()


class ProxyEstimator:
    """A CPU flow on a proxy of at most ``max_side`` pixels, through the run's tone curve, with
    each frame's prepared input cached by key. Subclasses say how a proxy frame (float RGB in
    [0, 1]) is prepared (``_prepare``) and how two prepared frames give a flow (``_flow``)."""

    def __init__(self, max_side: int | None = None, cache: int = 8,
                 tone: str = "display") -> None:
        self.max_side = max_side
        self.tone = check_tone(tone)
        self._cache = FrameCache(cache)

    def _prepare(self, proxy: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _flow(self, prepared_a: np.ndarray, prepared_b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _input(self, frame: np.ndarray, key: Hashable | None) -> np.ndarray:
        def make() -> np.ndarray:
            return self._prepare(to_proxy(frame, proxy_size(*frame.shape[:2], self.max_side)))

        return self._cache.get(key, make)

    def clear(self) -> None:
        self._cache.clear()

    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        return from_proxy(self._flow(self._input(frame_a, None), self._input(frame_b, None)),
                          frame_a.shape[:2])

    def pair(
        self,
        frame_a: np.ndarray,
        frame_b: np.ndarray,
        key_a: Hashable | None = None,
        key_b: Hashable | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        ia, ib = self._input(frame_a, key_a), self._input(frame_b, key_b)
        size = frame_a.shape[:2]
        return from_proxy(self._flow(ia, ib), size), from_proxy(self._flow(ib, ia), size)


class DISEstimator(ProxyEstimator):
    """DIS flow (OpenCV, medium preset; ``variant`` one of ``DIS_VARIANTS``) on a proxy of at
    most ``max_side`` pixels; CPU only."""

    min_side = MIN_SIDE

    def __init__(self, max_side: int | None = None, cache: int = 8,
                 preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, tone: str = "display",
                 variant: str = "dis") -> None:
        super().__init__(max_side, cache, tone)
        self._dis = DISFlow(preset, **DIS_VARIANTS[variant])

    def twin(self) -> DISEstimator:
        """The same backend with a cache and a DIS of its own, for another thread: DIS keeps
        state per call, and its flow depends only on the two frames (not on the thread count)."""
        other = copy.copy(self)
        other._cache = FrameCache(self._cache.capacity)
        other._dis = self._dis.twin()
        return other

    def _prepare(self, proxy: np.ndarray) -> np.ndarray:
        return to_gray8(proxy, self.tone)

    def _flow(self, gray_a: np.ndarray, gray_b: np.ndarray) -> np.ndarray:
        return self._dis(gray_a, gray_b)


def make_estimator(
    method: str = "dis",
    weights: str | None = None,
    iters: int = 20,
    device: str = "auto",
    max_side: int | None = 1024,
    precision: str = "fp32",
    cache: int = 8,
    tone: str = "display",
) -> FlowEstimator:
    """The flow backend ``method`` (``flowfill.options.FLOW_METHODS``) with its settings.

    CPU: dis (DIS, OpenCV's medium preset), dis-fine (DIS down to full resolution) and
    dis-sparse (dis-fine started from sparse-to-dense matches; needs OpenCV's contrib module).
    RAFT (raft, raft-small) needs ``weights`` (a checkpoint path; FLOWFILL_RAFT_WEIGHTS when
    None): asking for it without any is an InputError, never a download. ``iters``, ``device``
    and ``precision`` apply to RAFT; ``max_side`` bounds the long side of the proxy the flow is
    estimated on; ``tone`` is how the frames encode light (``flowfill.options.FLOW_TONES``).
    """
    if method in DIS_VARIANTS:
        return DISEstimator(max_side=max_side, cache=cache, tone=tone, variant=method)
    if method == "dis-sparse":
        from flowfill.flow.opencv_flows import SparseDISEstimator

        return SparseDISEstimator(max_side=max_side, cache=cache, tone=tone)
    if method in ("raft", "raft-small"):
        from flowfill.flow.raft import RAFTFlow

        return RAFTFlow(weights, small=method == "raft-small", iters=iters, device=device,
                        max_side=max_side, precision=precision, cache=cache, tone=tone)
    from flowfill.options import FLOW_METHODS

    raise ValueError(f"unknown flow method {method!r}; choose {', '.join(FLOW_METHODS)}")
