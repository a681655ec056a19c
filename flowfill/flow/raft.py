"""RAFT as a flow backend: proxy size, padding to multiples of 8, encoders run once per frame.

Frames go to a proxy of at most ``max_side`` pixels, are replicate-padded to multiples of 8 (split
evenly, like the official InputPadder 'sintel' mode), encoded once per key (features and context,
cached), and both directions of a pair are refined in one batch of two. Flow comes back cropped,
resized to the frame and with its vectors scaled (prep.from_proxy).
"""

from __future__ import annotations

import os
from collections.abc import Hashable

import numpy as np
import torch
import torch.nn.functional as F

from flowfill.devices import resolve_device
from flowfill.errors import InputError
from flowfill.flow.estimator import FrameCache
from flowfill.flow.prep import check_tone, from_proxy, proxy_size, to_proxy, to_unit_rgb
from flowfill.flow.raft_net import RAFTNet
from flowfill.flow.raft_weights import load_state, resolve_weights

PRECISIONS = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
MIN_PADDED = 128
"""Smallest padded side: its 1/8 map pooled 3 times keeps 2 px, so no correlation level is 1 px."""

Encoding = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _pad8(n: int) -> int:
    return -(-n // 8) * 8


def raft_proxy_size(height: int, width: int, max_side: int | None) -> tuple[int, int]:
    """The (h, w) RAFT runs at: prep.proxy_size, but never shrunk below MIN_PADDED a side.

    InputError when the frame itself is too small for RAFT's coarsest correlation level.
    """
    if min(_pad8(height), _pad8(width)) < MIN_PADDED:
        least = MIN_PADDED - 7
        raise InputError(None, f"frames of {width} x {height} pixels are too small for RAFT: "
                         f"both sides must be at least {least} pixels (padded to {MIN_PADDED}); "
                         "use --flow dis")
    h, w = proxy_size(height, width, max_side)
    if min(h, w) < MIN_PADDED and (h, w) != (height, width):  # clamp the proxy, keep the aspect
        scale = min(1.0, MIN_PADDED / min(height, width))
        h, w = round(height * scale), round(width * scale)
    return h, w


class RAFTFlow:
    """RAFT (official checkpoints, large or small) behind the FlowEstimator protocol."""

    min_side = MIN_PADDED - 7
    """The shortest side a frame given to RAFT may have (a caller cropping frames keeps to it)."""

    def __init__(self, weights: str | os.PathLike | None, small: bool = False, iters: int = 20,
                 device: str | torch.device = "auto", max_side: int | None = 1024,
                 precision: str = "fp32", cache: int = 8, tone: str = "display") -> None:
        self.tone = check_tone(tone)
        if precision not in PRECISIONS:
            raise InputError("--flow-precision", f"unknown precision {precision!r}; "
                             f"choose {', '.join(PRECISIONS)}")
        if iters < 1:
            raise InputError("--raft-iters", "needs at least 1 iteration")
        self.device = resolve_device(device)
        state = load_state(resolve_weights(weights), small)
        amp = PRECISIONS[precision] if self.device.type == "cuda" else None  # CPU: always fp32
        self.net = RAFTNet(small, amp_dtype=amp)
        self.net.load_state_dict(state)
        self.net.to(self.device).eval()
        self.iters, self.max_side = int(iters), max_side
        self._cache = FrameCache(cache)

    def clear(self) -> None:
        """Forget cached encodings (keys are about to name other frames)."""
        self._cache.clear()

    def _tensor(self, frame: np.ndarray) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        """The padded 1 x 3 x H x W proxy in 0..255 on the device, and its pads (l, r, t, b)."""
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"RAFT needs H x W x 3 RGB frames, got shape {frame.shape}")
        size = raft_proxy_size(*frame.shape[:2], self.max_side)
        rgb = (frame.astype(np.float32) if frame.dtype == np.uint8
               else to_unit_rgb(frame, self.tone) * 255)
        rgb = to_proxy(rgb, size)
        h, w = size
        ph, pw = _pad8(h) - h, _pad8(w) - w
        pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(self.device)
        return F.pad(x, pads, mode="replicate"), pads

    def _encode(self, frame: np.ndarray, key: Hashable | None) -> tuple[Encoding, tuple]:
        """(features, hidden, context) of a frame, cached under ``key``, and its pads."""
        def make() -> tuple[Encoding, tuple]:
            x, pads = self._tensor(frame)
            return self.net.encode(x), pads

        return self._cache.get(key, make)

    def _flows(self, fmap1: torch.Tensor, fmap2: torch.Tensor, net: torch.Tensor,
               inp: torch.Tensor, pads: tuple, size: tuple[int, int]) -> list[np.ndarray]:
        """Refined flows of a batch, cropped, as float32 H x W x 2 on the frame's grid."""
        flow = self.net.refine(fmap1, fmap2, net, inp, self.iters)
        left, right, top, bottom = pads
        flow = flow[:, :, top:flow.shape[2] - bottom, left:flow.shape[3] - right]
        arrays = flow.float().permute(0, 2, 3, 1).cpu().numpy()
        return [from_proxy(np.ascontiguousarray(a), size) for a in arrays]

    @torch.inference_mode()
    def __call__(self, frame_a: np.ndarray, frame_b: np.ndarray) -> np.ndarray:
        """Flow from ``frame_a`` to ``frame_b`` (float32 H x W x 2 on ``frame_a``'s grid)."""
        _check_pair(frame_a, frame_b)
        (fmap_a, net_a, inp_a), pads = self._encode(frame_a, None)
        fmap_b = self.net.features(self._tensor(frame_b)[0])
        return self._flows(fmap_a, fmap_b, net_a, inp_a, pads, frame_a.shape[:2])[0]

    @torch.inference_mode()
    def pair(
        self,
        frame_a: np.ndarray,
        frame_b: np.ndarray,
        key_a: Hashable | None = None,
        key_b: Hashable | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(a -> b, b -> a) refined together; each frame's encoders run once per cache key."""
        _check_pair(frame_a, frame_b)
        (fa, na, ia), pads = self._encode(frame_a, key_a)
        (fb, nb, ib), _ = self._encode(frame_b, key_b)
        ab, ba = self._flows(torch.cat([fa, fb]), torch.cat([fb, fa]), torch.cat([na, nb]),
                             torch.cat([ia, ib]), pads, frame_a.shape[:2])
        return ab, ba


def _check_pair(frame_a: np.ndarray, frame_b: np.ndarray) -> None:
    if frame_a.shape != frame_b.shape:
        raise ValueError(f"frames differ in shape: {frame_a.shape} and {frame_b.shape}")
