"""Gradient-domain fusion (Poisson) of propagated candidates (numpy, and torch for any device)."""

from flowfill.fuse.poisson import poisson_fill
from flowfill.fuse.poisson_torch import poisson_fill_torch

__all__ = ["poisson_fill", "poisson_fill_torch"]
