"""Deep Image Prior (Ulyanov et al., 2018): a randomly initialised encoder-decoder with skip
connections, fed fixed noise, is fitted to the known pixels of a crop; its structure is the
prior, and the hole is what the fit puts there. Stopped early on held-out known pixels."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from flowfill.devices import resolve_device
from flowfill.hallucinate.fitting import fit_crop, seeded_module
from flowfill.hallucinate.region import fill_on_crop
from flowfill.progress import Progress

MAX_SIDE = 128
"""The fit runs on a proxy of the crop at most this long (cost grows with its area)."""
STEPS = 600
LR = 0.01
NOISE_CHANNELS = 16
WIDTH = 32
SKIP = 4
DEPTH = 4


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, padding_mode="reflect"),
                         nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


class Hourglass(nn.Module):
    """DIP's skip network: DEPTH stride-2 encoder stages, bilinear-upsampling decoder, a
    SKIP-channel skip at every scale, sigmoid output."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        self.skip = nn.ModuleList()
        self.up = nn.ModuleList()
        c = cin
        for _ in range(DEPTH):
            self.skip.append(_block(c, SKIP))
            self.down.append(nn.Sequential(_block(c, WIDTH, 2), _block(WIDTH, WIDTH)))
            c = WIDTH
        for _ in range(DEPTH):
            self.up.append(nn.Sequential(_block(WIDTH + SKIP, WIDTH), _block(WIDTH, WIDTH, 1)))
        self.head = nn.Conv2d(WIDTH, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for skip, down in zip(self.skip, self.down, strict=True):
            skips.append(skip(x))
            x = down(x)
        for up, s in zip(self.up, reversed(skips), strict=True):
            x = F.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False)
            x = up(torch.cat([x, s], 1))
        return torch.sigmoid(self.head(x))


def solve(crop: np.ndarray, hole: np.ndarray, device: str | torch.device = "cpu", seed: int = 0,
          budget: float | None = None, progress: Progress | None = None, steps: int = STEPS
          ) -> np.ndarray:
    """Fit the hourglass from fixed noise to the known pixels of ``crop`` (H x W x C, 0..1)."""
    dev = device if isinstance(device, torch.device) else resolve_device(str(device))
    h, w, c = crop.shape
    gen = torch.Generator().manual_seed(seed)
    net = seeded_module(lambda: Hourglass(NOISE_CHANNELS, c), seed, dev)
    z = (torch.rand((1, NOISE_CHANNELS, h, w), generator=gen) * 0.1).to(dev)
    return fit_crop(lambda: net(z)[0], list(net.parameters()), crop, hole, steps, LR, seed, dev,
                    budget, progress, "dip")


def fill(image: np.ndarray, mask: np.ndarray, device: str = "cpu", seed: int = 0,
         budget: float | None = None, progress: Progress | None = None) -> np.ndarray:
    """Fill ``mask`` (bool H x W) of ``image`` (float H x W x C) by a Deep Image Prior fit on a
    crop around the hole; deterministic for a seed on a given device."""
    return fill_on_crop(image, mask,
                        lambda c, h: solve(c, h, device, seed, budget, progress), MAX_SIDE)
