"""The per-pixel stages of a window (sweeps, direct hops, candidate blending, Poisson fusion)
behind one interface, in numpy/scipy or in torch on the chosen device.

On CUDA the torch set keeps a window's frames, known masks, hops and pointers on the GPU for
all propagation rounds (no host round trips between stages; only the hallucinated keyframes
cross to the host). On CPU the numpy set is as fast or faster (measured by
``benchmarks/torch_stages.py``), so ``auto`` picks torch only for CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from flowfill.devices import resolve_device
from flowfill.fuse import poisson_fill, poisson_fill_torch
from flowfill.propagate import (
    Hops,
    direct,
    direct_torch,
    gather,
    gather_torch,
    hops_to_torch,
    subset_torch,
    sweep,
    sweep_torch,
)


@dataclass(frozen=True)
class PixelStages:
    """Array functions of one backend; arrays are numpy or tensors on ``device``."""

    name: str
    device: torch.device | None
    sweep: Callable[..., Any]
    direct: Callable[..., Any]
    subset: Callable[[Hops, Any], Hops]
    gather: Callable[..., Any]
    poisson: Callable[..., Any]

    def array(self, a: np.ndarray) -> Any:
        """A host array in this backend (a tensor on the device for torch)."""
        return a if self.device is None else torch.from_numpy(np.ascontiguousarray(a)).to(
            self.device)

    def host(self, a: Any) -> np.ndarray:
        """A backend array back on the host as numpy."""
        return a if self.device is None else a.cpu().numpy()

    def hops(self, hops: Hops) -> Hops:
        return hops if self.device is None else hops_to_torch(hops, self.device)

    def flat_indices(self, mask: Any) -> Any:
        """Sorted flat indices of a bool mask's True pixels."""
        if self.device is None:
            return np.flatnonzero(mask)
        return torch.nonzero(mask.reshape(-1)).reshape(-1)

    def mask_of(self, idx: Any, shape: tuple[int, int]) -> Any:
        """A bool H x W mask, True at the flat indices ``idx``."""
        if self.device is None:
            mask = np.zeros(shape[0] * shape[1], bool)
        else:
            mask = torch.zeros(shape[0] * shape[1], dtype=torch.bool, device=self.device)
        mask[idx] = True
        return mask.reshape(shape)

    def reaching(self, candidates: list[Any], frames: set[int]) -> Any:
        """Which hole pixels (bool, aligned with the candidates' ``idx``) have a candidate whose
        source lies in one of ``frames``."""
        keys = sorted(frames)
        if self.device is None:
            return np.logical_or.reduce([np.isin(c.frame, keys) for c in candidates])
        wanted = torch.tensor(keys, dtype=candidates[0].frame.dtype, device=self.device)
        out = torch.isin(candidates[0].frame, wanted)
        for c in candidates[1:]:
            out |= torch.isin(c.frame, wanted)
        return out


NUMPY = PixelStages("numpy", None, sweep, direct, lambda hops, idx: hops.subset(idx), gather,
                    poisson_fill)


def pixel_stages(device: str, backend: str = "auto") -> PixelStages:
    """The stage set for ``backend`` (numpy, torch, or auto: torch on CUDA, numpy on CPU)."""
    dev = resolve_device(device)
    if backend == "numpy" or (backend == "auto" and dev.type == "cpu"):
        return NUMPY
    return PixelStages("torch", dev, sweep_torch, direct_torch, subset_torch, gather_torch,
                       poisson_fill_torch)
