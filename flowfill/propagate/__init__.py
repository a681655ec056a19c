"""Candidates along flow trajectories: pointer sweeps, direct hops to key frames, endpoint
sampling, candidate blending."""

from flowfill.propagate.candidates import Gathered, gather
from flowfill.propagate.direct import direct
from flowfill.propagate.sample import sample_known
from flowfill.propagate.sweeps import Hops, Pointers, sweep

__all__ = ["Gathered", "Hops", "Pointers", "direct", "gather", "sample_known", "sweep"]
