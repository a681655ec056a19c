"""Torch devices by name: ``auto`` picks CUDA when present; names the machine lacks are refused."""

from __future__ import annotations

import re

import torch

from flowfill.errors import InputError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The torch device for ``name`` (auto, cpu, cuda, cuda:N); InputError if unusable here."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if m is None:
        raise InputError("--device", f"unknown device {name!r}; choose auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise InputError("--device", "CUDA is not available here; use --device cpu or auto")
    index = int(m.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise InputError("--device", f"no CUDA device {index}: found {torch.cuda.device_count()}")
    return torch.device("cuda", index)
