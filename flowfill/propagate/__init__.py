"""Candidates along flow trajectories: pointer sweeps, direct hops to key frames, endpoint
sampling, candidate blending (numpy, and torch versions for any device)."""

from flowfill.propagate.candidates import Gathered, gather
from flowfill.propagate.candidates_torch import gather_torch, sample_known_torch
from flowfill.propagate.direct import direct
from flowfill.propagate.sample import sample_known
from flowfill.propagate.sweeps import Hops, Pointers, sweep
from flowfill.propagate.sweeps_torch import direct_torch, hops_to_torch, subset_torch, sweep_torch

__all__ = ["Gathered", "Hops", "Pointers", "direct", "direct_torch", "gather", "gather_torch",
           "hops_to_torch", "sample_known", "sample_known_torch", "subset_torch", "sweep",
           "sweep_torch"]
