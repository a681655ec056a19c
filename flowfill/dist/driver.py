"""The driver's side of a Ray run: the plan's windows handed to workers, fills taken in order.

:class:`WindowPool` starts one actor per worker, keeps each busy with the plan's next windows
and answers ``remove_stream``'s ``fill(window, items)`` with the fill computed remotely for
that window (the driver's own frames are used only to write the output). Lost workers are
restarted and their windows run again (Ray's restarts and retries); an input error in a
worker is raised as it is, never retried.
"""

from __future__ import annotations

from collections import deque
from types import ModuleType

from flowfill.devices import Threads
from flowfill.dist.worker import Clip, WindowWorker
from flowfill.errors import InputError
from flowfill.pipeline import Item, WindowValues
from flowfill.plan import Plan, Window, Work
from flowfill.progress import Progress

RESTARTS = 4
"""How often a lost worker is restarted, and a window on a lost worker tried again."""
IN_FLIGHT = 2
"""Windows queued on each worker at a time (one running, one ready to start)."""


class WindowPool:
    """``workers`` actors filling ``plan``'s windows of ``clip``; ``skip`` holds the first
    frames of windows not to compute (taken from a checkpoint instead)."""

    def __init__(self, ray: ModuleType, clip: Clip, plan: Plan, workers: int,
                 threads: Threads | None = None, progress: Progress | None = None,
                 skip: set[int] | frozenset[int] = frozenset()) -> None:
        from flowfill import __version__

        self.ray = ray
        todo = [w for w in plan.to_fill if w.window.start not in skip]
        self.queue: deque[Work] = deque(todo)
        remote = ray.remote(num_cpus=1, max_restarts=RESTARTS,
                            max_task_retries=RESTARTS)(WindowWorker)
        threads = threads or Threads.here()
        count = max(1, min(workers, len(todo)))
        self.actors = [remote.remote(clip, plan.options, threads, __version__)
                       for _ in range(count if todo else 0)]
        self.running: dict[object, tuple[int, int]] = {}  # ref -> (actor, window start)
        self.busy = [0] * len(self.actors)
        self.done: dict[int, object] = {}  # window start -> ref of its finished fill
        self.bar = (progress or Progress(enabled=False)).bar("windows", total=len(todo),
                                                             unit="w")
        self._submit()

    def _submit(self) -> None:
        """Queue the next windows on the workers with room."""
        for k, actor in enumerate(self.actors):
            while self.queue and self.busy[k] < IN_FLIGHT:
                work = self.queue.popleft()
                self.running[actor.fill.remote(work)] = (k, work.window.start)
                self.busy[k] += 1

    def _collect(self) -> None:
        """Wait for at least one running window to finish, and refill the workers."""
        ready, _ = self.ray.wait(list(self.running), num_returns=1)
        for ref in ready:
            k, start = self.running.pop(ref)
            self.busy[k] -= 1
            self.done[start] = ref
            self.bar.update(1)
        self._submit()

    def fill(self, window: Window, items: list[Item]) -> WindowValues:
        """The fill of ``window``, computed by a worker (``items`` are not sent anywhere)."""
        while window.start not in self.done:
            if not self.running:
                raise RuntimeError(f"window at frame {window.start} was never planned")
            self._collect()
        ref = self.done.pop(window.start)
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, InputError):
                raise cause from None
            raise

    def close(self) -> None:
        """Stop the workers."""
        self.bar.close()
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors, self.running, self.done = [], {}, {}
