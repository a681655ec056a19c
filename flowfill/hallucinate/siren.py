"""SIREN (Sitzmann et al., 2020): a small MLP with sine activations maps pixel coordinates to
colour; fitted to the known pixels of a crop, it is evaluated in the hole. First-layer
frequency omega_0 = 30 and the paper's initialisation. Stopped early on held-out pixels."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from flowfill.devices import resolve_device
from flowfill.hallucinate.fitting import fit_crop, seeded_module
from flowfill.hallucinate.region import fill_on_crop
from flowfill.progress import Progress

MAX_SIDE = 128
STEPS = 800
LR = 1e-3
HIDDEN = 128
LAYERS = 3
OMEGA_0 = 30.0


class SineLayer(nn.Module):
    """sin(omega_0 * (W x + b)), initialised as the paper: U(-1/n, 1/n) on the first layer,
    U(-sqrt(6/n)/omega_0, sqrt(6/n)/omega_0) after it."""

    def __init__(self, cin: int, cout: int, first: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(cin, cout)
        bound = 1.0 / cin if first else math.sqrt(6.0 / cin) / OMEGA_0
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(OMEGA_0 * self.linear(x))


class Siren(nn.Module):
    """Coordinates (N x 2, in -1..1) to values (N x C)."""

    def __init__(self, cout: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [SineLayer(2, HIDDEN, first=True)]
        layers += [SineLayer(HIDDEN, HIDDEN, first=False) for _ in range(LAYERS - 1)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(HIDDEN, cout)
        bound = math.sqrt(6.0 / HIDDEN) / OMEGA_0
        with torch.no_grad():
            self.head.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def solve(crop: np.ndarray, hole: np.ndarray, device: str | torch.device = "cpu", seed: int = 0,
          budget: float | None = None, progress: Progress | None = None, steps: int = STEPS
          ) -> np.ndarray:
    """Fit the SIREN to the known pixels of ``crop`` (H x W x C, 0..1), evaluate everywhere."""
    dev = device if isinstance(device, torch.device) else resolve_device(str(device))
    h, w, c = crop.shape
    net = seeded_module(lambda: Siren(c), seed, dev)
    # coordinates scaled by the long side, so a pixel is the same frequency either way
    scale = 2.0 / max(h, w)
    ys = (torch.arange(h, dtype=torch.float32) - (h - 1) / 2) * scale
    xs = (torch.arange(w, dtype=torch.float32) - (w - 1) / 2) * scale
    coords = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), -1).reshape(-1, 2).to(dev)

    def forward() -> torch.Tensor:
        return net(coords).T.reshape(c, h, w) + 0.5

    return fit_crop(forward, list(net.parameters()), crop, hole, steps, LR, seed, dev, budget,
                    progress, "siren")


def fill(image: np.ndarray, mask: np.ndarray, device: str = "cpu", seed: int = 0,
         budget: float | None = None, progress: Progress | None = None) -> np.ndarray:
    """Fill ``mask`` (bool H x W) of ``image`` (float H x W x C) with a SIREN fitted to a crop
    around the hole; deterministic for a seed on a given device."""
    return fill_on_crop(image, mask,
                        lambda c, h: solve(c, h, device, seed, budget, progress), MAX_SIDE)
