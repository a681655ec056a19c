"""The optimisation loop the iterative fills (Deep Image Prior, SIREN) share: fit a model's
output to the known pixels of a crop, stop early on held-out known pixels, within a budget.

A network that reproduces the known pixels exactly has also learned their noise and, in the
hole, whatever wild guess fits; so a band of known pixels next to the hole (the ones most like
it) is held out, the loss on them is checked every few steps, and the output at the best check
is kept. The loop ends at the step limit, the time budget, or when the held-out loss has not
improved for ``patience`` checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from flowfill.progress import Progress

CHECK_EVERY = 25


@dataclass
class FitReport:
    """How a fit ended: steps run, the step whose output was kept, and why it stopped."""

    steps: int
    best_step: int
    stopped: str  # "steps", "budget" or "early"
    seconds: float


def holdout_band(hole: np.ndarray, width: int, share: float, seed: int) -> np.ndarray:
    """A random ``share`` of the known pixels within ``width`` pixels of the hole (bool)."""
    t = torch.as_tensor(hole, dtype=torch.float32)[None, None]
    near = F.max_pool2d(t, 2 * width + 1, stride=1, padding=width)[0, 0].numpy() > 0
    rng = np.random.default_rng(seed)
    return near & ~hole & (rng.random(hole.shape) < share)


def seeded_module(build: Callable[[], torch.nn.Module], seed: int, device: torch.device
                  ) -> torch.nn.Module:
    """``build()`` with torch's global generator seeded (a network's initialisation is part of
    its prior), the caller's generator state restored, moved to ``device``."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return build().to(device)
    finally:
        torch.random.set_rng_state(state)


def fit_crop(forward: Callable[[], torch.Tensor], params: list[torch.nn.Parameter],
             crop: np.ndarray, hole: np.ndarray, steps: int, lr: float, seed: int,
             device: torch.device, budget: float | None, progress: Progress | None, name: str
             ) -> np.ndarray:
    """:func:`fit` to the known pixels of ``crop`` (H x W x C), a band of them held out; the
    kept output as H x W x C numpy."""
    h, w = hole.shape
    target = torch.as_tensor(crop, dtype=torch.float32, device=device).permute(2, 0, 1)
    held_np = holdout_band(hole, width=max(2, min(h, w) // 16), share=0.3, seed=seed)
    train = torch.as_tensor(~hole & ~held_np, device=device)
    held = torch.as_tensor(held_np, device=device)
    out, _ = fit(forward, params, target, train, held, steps, lr, budget, progress=progress,
                 name=name)
    return out.permute(1, 2, 0).cpu().numpy()


def fit(forward: Callable[[], torch.Tensor], params: list[torch.nn.Parameter],
        target: torch.Tensor, train: torch.Tensor, held: torch.Tensor, steps: int, lr: float,
        budget: float | None = None, patience: int = 6, progress: Progress | None = None,
        name: str = "fit") -> tuple[torch.Tensor, FitReport]:
    """Minimise the mean squared error of ``forward()`` (C x H x W) to ``target`` on ``train``
    pixels (H x W bool tensors) with Adam; return the output at the best held-out check."""
    opt = torch.optim.Adam(params, lr=lr)
    bar = (progress or Progress(enabled=False)).bar(name, total=steps, unit="it")
    start = time.perf_counter()
    best_loss, best_out, best_step = float("inf"), None, 0
    stale, stopped, step = 0, "steps", 0
    n_train = train.sum().clamp_min(1) * target.shape[0]
    n_held = held.sum().clamp_min(1) * target.shape[0]
    for step in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        out = forward()
        loss = (((out - target) ** 2) * train).sum() / n_train
        loss.backward()
        opt.step()
        bar.update(1)
        if step % CHECK_EVERY == 0 or step == steps:
            with torch.no_grad():
                out = forward()
                held_loss = float((((out - target) ** 2) * held).sum() / n_held)
            if held_loss < best_loss:
                best_loss, best_out, best_step, stale = held_loss, out.detach(), step, 0
            else:
                stale += 1
            if stale >= patience:
                stopped = "early"
                break
            if budget is not None and time.perf_counter() - start > budget:
                stopped = "budget"
                break
    if progress is not None:
        progress.done(name)
    if best_out is None:
        with torch.no_grad():
            best_out = forward().detach()
    return best_out, FitReport(step, best_step, stopped, time.perf_counter() - start)
