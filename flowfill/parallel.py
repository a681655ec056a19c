"""Frames of a window worked on by several threads at once, with output the same bit for bit.

Much of a window's CPU work is per frame or per pair of frames (flow and its completion, each
frame's gather and fusion, the re-anchoring solves) and spends much of its time in OpenCV,
torch, SciPy and NumPy calls that release the GIL, so threads of one process share it out
over the cores without copying frames between processes, which a host application embedding
flowfill would not want. Every task is deterministic and independent of which thread runs it
and of what ran before it, so the output does not depend on the thread count
(tests/test_parallel.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

from flowfill.devices import resolve_device
from flowfill.timing import StageClock

T = TypeVar("T")
R = TypeVar("R")

MAX_AUTO = 4
"""The most threads ``frame_threads=None`` picks: the Python between the library calls holds the
GIL, so beyond a few threads they wait for each other (RESULTS.md, issue 19)."""


def cpus_here() -> int:
    """The CPUs this process may run on (its affinity where the system says, else all)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # not Linux
        return max(os.cpu_count() or 1, 1)


def frame_threads(requested: int | None, device: str) -> int:
    """Threads a window's per-frame work runs on: ``requested``, or (None) one per CPU up to
    MAX_AUTO on the CPU and one when the torch stages run on a GPU (they queue on it)."""
    if requested is not None:
        return max(int(requested), 1)
    if resolve_device(device).type != "cpu":
        return 1
    return min(cpus_here(), MAX_AUTO)


class _OpenCVCount:
    """OpenCV's thread count is the process's: the first pool to start lowers it to one (the
    pool's own threads do the spreading) and the last to end gives it back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.before = 0


_OPENCV = _OpenCVCount()


@contextmanager
def _one_opencv_thread() -> Iterator[None]:
    import cv2

    with _OPENCV.lock:
        if _OPENCV.depth == 0:
            _OPENCV.before = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _OPENCV.depth += 1
    try:
        yield
    finally:
        with _OPENCV.lock:
            _OPENCV.depth -= 1
            if _OPENCV.depth == 0:
                cv2.setNumThreads(_OPENCV.before)


class FramePool:
    """Runs a list of independent tasks on ``threads`` threads (inline for one), results in
    the tasks' order. Time the tasks spend in ``clock``'s stages is charged to ``clock`` in
    proportion to the threads' busy time, so stage shares still add up to the wall time.

    Use as a context manager; OpenCV runs one thread per call while the pool is open (OpenCV's
    results do not depend on its thread count)."""

    def __init__(self, threads: int, clock: StageClock | None = None) -> None:
        self.threads = max(int(threads), 1)
        self.clock = clock
        self._executor: ThreadPoolExecutor | None = None
        self._opencv = None

    def __enter__(self) -> FramePool:
        if self.threads > 1:
            self._opencv = _one_opencv_thread()
            self._opencv.__enter__()
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="flowfill")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
            self._opencv.__exit__(None, None, None)
            self._opencv = None

    def map(self, task: Callable[[T, StageClock], R], items: Iterable[T],
            finish: Callable[[], None] | None = None) -> list[R]:
        """``[task(item, clock) for item in items]``, each thread taking the next item as it
        is free; ``clock`` is where the task times its stages. ``finish()`` runs on every
        thread that ran tasks once it has no more to run: scipy books a SuperLU factorisation's
        memory to the thread that made it and never gives back one dropped on another
        (``grid.factorise``), so what a thread keeps between its tasks, it drops itself there.
        The first exception in time (a cancelled run, a host's interrupt) stops the threads
        from taking more items and is raised here once they have stopped."""
        items = list(items)
        if self._executor is None or len(items) < 2:
            clock = self.clock or StageClock()
            try:
                return [task(item, clock) for item in items]
            finally:
                if finish is not None:
                    finish()
        shared = _LockedClock()
        results: list = [None] * len(items)
        lock = threading.Lock()
        state: dict = {"next": 0, "busy": 0.0, "failed": None}

        def worker() -> None:
            t0 = time.perf_counter()
            try:
                while True:
                    with lock:
                        i = state["next"]
                        if state["failed"] is not None or i >= len(items):
                            return
                        state["next"] = i + 1
                    try:
                        results[i] = task(items[i], shared)
                    except BaseException as exc:
                        with lock:
                            if state["failed"] is None:
                                state["failed"] = exc
                        return
            finally:
                try:
                    if finish is not None:
                        finish()
                finally:
                    with lock:
                        state["busy"] += time.perf_counter() - t0

        start = time.perf_counter()
        futures = [self._executor.submit(worker) for _ in range(min(self.threads, len(items)))]
        try:
            wait(futures)
        except BaseException as exc:  # Ctrl-C on the caller's thread: no thread takes another
            with lock:  # item, and leaving the pool waits only for the items being worked on
                if state["failed"] is None:
                    state["failed"] = exc
            raise
        wall = time.perf_counter() - start
        if self.clock is not None and state["busy"] > 0:
            self.clock.add(shared.seconds, min(wall / state["busy"], 1.0))
        for f in futures:
            f.result()  # a failure of the pool itself
        if state["failed"] is not None:  # the first task to fail, in time (a host's interrupt,
            raise state["failed"]  # not the stop it caused on the other threads)
        return results


class _LockedClock(StageClock):
    """A :class:`StageClock` that several threads add to."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def _add(self, stage: str, seconds: float) -> None:
        with self._lock:
            super()._add(stage, seconds)


def blocks(count: int, threads: int, per_thread: int = 3) -> list[range]:
    """``range(count)`` cut into about ``per_thread`` runs of consecutive items per thread (work
    per frame varies; consecutive frames share per-frame work), none empty."""
    if count <= 0:
        return []
    pieces = min(count, max(threads * per_thread, 1)) if threads > 1 else 1
    edges = [round(i * count / pieces) for i in range(pieces + 1)]
    return [range(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]

