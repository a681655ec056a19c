"""Torch devices by name: ``auto`` picks CUDA when present; names the machine lacks are refused.
And the CPU thread counts of torch and OpenCV, which a run on other machines must repeat."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

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


@dataclass(frozen=True)
class Threads:
    """CPU thread counts of torch (intra-op) and OpenCV: some stages' arithmetic depends on them,
    so a run elsewhere repeats them to give the same output bit for bit."""

    torch: int
    opencv: int

    @classmethod
    def here(cls) -> Threads:
        """This process's counts (what a local run here uses)."""
        import cv2

        return cls(torch.get_num_threads(), cv2.getNumThreads())

    def apply(self) -> None:
        """Set this process's counts."""
        import cv2

        torch.set_num_threads(self.torch)
        cv2.setNumThreads(self.opencv)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` is a CPU that computes bfloat16 natively (AVX512-BF16 or AMX tiles),
    where a bf16 convolution takes about half an fp32 one's time; elsewhere bf16 is emulated
    and slower, and a GPU's has not been measured here."""
    if device.type != "cpu":
        return False
    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None),
              getattr(torch.cpu, "_is_amx_tile_supported", None))
    try:
        return any(check is not None and bool(check()) for check in checks)
    except RuntimeError:  # a build without the probes
        return False


SMALL_WORK_THREADS = 1
"""Torch intra-op threads for small per-hole work (the edge net and Canny on a hole's crop):
two threads gain it little on an idle machine and, beside another busy process, their spinning
team makes a run several times slower (RESULTS.md, issue 19). Big batched work (RAFT, the
iterative fills, patch attention) keeps the process-wide count (``--threads``)."""


class _SmallWork:
    """Who is inside :func:`small_work` now. The first block to enter lowers the count and the
    last to leave gives it back (blocks may overlap: two renders in one host process must not
    leave the count at one, or restore it under another's feet)."""

    def __init__(self) -> None:
        self.depth = 0
        self.before = 0


class _ThreadSmallWork(_SmallWork, threading.local):
    """The same, kept per thread: where torch's count is each thread's own."""


_LOCK = threading.Lock()
_SMALL = _SmallWork()
_SMALL_HERE = _ThreadSmallWork()


@cache
def count_is_per_thread() -> bool:
    """Whether torch's intra-op count belongs to each thread (OpenMP: ``set_num_threads`` sets
    the calling thread's own, which threads started later inherit), not to the process."""
    return "OpenMP" in torch.__config__.parallel_info()


@contextmanager
def small_work(device: torch.device | str) -> Iterator[None]:
    """Run torch on CPU with at most SMALL_WORK_THREADS intra-op threads inside the block
    (given back after; nothing changes on CUDA). The count is a fixed rule, not the machine's
    load, so every machine of a distributed run does the same arithmetic. Safe from several
    threads at once (renders on threads of one host): where the count is each thread's own, each
    thread lowers and gives back its own."""
    if torch.device(device).type != "cpu":
        yield
        return
    state = _SMALL_HERE if count_is_per_thread() else _SMALL
    with _LOCK:
        if state.depth == 0:
            state.before = torch.get_num_threads()
            if state.before > SMALL_WORK_THREADS:
                torch.set_num_threads(SMALL_WORK_THREADS)
        state.depth += 1
    try:
        yield
    finally:
        with _LOCK:
            state.depth -= 1
            if state.depth == 0 and state.before > SMALL_WORK_THREADS:
                torch.set_num_threads(state.before)

