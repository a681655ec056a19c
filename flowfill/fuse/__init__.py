"""Gradient-domain fusion (Poisson) of propagated candidates."""

from flowfill.fuse.poisson import cg_solve, poisson_fill

__all__ = ["cg_solve", "poisson_fill"]
