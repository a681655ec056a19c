"""Candidates along flow trajectories: pointer sweeps, endpoint sampling, candidate blending."""

from flowfill.propagate.candidates import Gathered, gather
from flowfill.propagate.sample import sample_known
from flowfill.propagate.sweeps import Hops, Pointers, sweep

__all__ = ["Gathered", "Hops", "Pointers", "gather", "sample_known", "sweep"]
