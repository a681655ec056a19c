"""The driver's side of a Ray run: the plan's windows handed to workers, fills taken in order.

:class:`ClipPool` starts one actor per worker, keeps each busy with the next windows of the
clips added to it (``flowfill batch``: many clips, one cluster) and answers ``remove_stream``'s
``fill(window, items)`` with the fill computed remotely for that window; :class:`WindowPool` is
the pool of one clip (the driver's own frames are used only to write the output). Lost workers are
restarted and their windows run again (Ray's restarts and retries); an input error in a
worker is raised as it is, never retried.
"""

from __future__ import annotations

from collections import deque
from types import ModuleType

from flowfill.devices import Threads
from flowfill.dist.worker import Clip, WindowWorker
from flowfill.errors import InputError
from flowfill.options import Options
from flowfill.pipeline import Item, WindowFill, WindowValues
from flowfill.plan import Plan, Window, Work
from flowfill.progress import Progress

RESTARTS = 4
"""How often a lost worker is restarted, and a window on a lost worker tried again."""
IN_FLIGHT = 2
"""Windows queued on each worker at a time (one running, one ready to start)."""


class ClipPool:
    """Actors (up to ``workers``) filling the windows of many clips' plans, in the order the
    clips are added: workers move on to the next clip's windows while the driver still
    stitches an earlier one. Each window travels with its clip and options."""

    def __init__(self, ray: ModuleType, workers: int, threads: Threads | None = None,
                 progress: Progress | None = None) -> None:
        self.ray, self.workers = ray, max(1, workers)
        self.threads = threads or Threads.here()
        self.remote = ray.remote(num_cpus=1, max_restarts=RESTARTS,
                                 max_task_retries=RESTARTS)(WindowWorker)
        self.queue: deque[tuple[object, Work]] = deque()
        self.clips: dict[object, tuple[Clip, Options]] = {}
        self.actors: list = []
        self.running: dict[object, tuple[int, object, int]] = {}  # ref -> (actor, key, start)
        self.busy: list[int] = []
        self.done: dict[tuple[object, int], object] = {}  # (key, window start) -> ref
        self.bar = (progress or Progress(enabled=False)).bar("windows", total=0, unit="w")
        self.computed = 0
        """Windows the workers finished."""

    def add(self, key: object, clip: Clip, plan: Plan,
            skip: set[int] | frozenset[int] = frozenset()) -> int:
        """Queue the windows of ``plan`` (of ``clip``) not in ``skip``, under ``key``; return
        how many."""
        from flowfill import __version__

        todo = [w for w in plan.to_fill if w.window.start not in skip]
        self.clips[key] = (clip, plan.options)
        self.queue.extend((key, w) for w in todo)
        if hasattr(self.bar, "total"):  # a tqdm bar: the batch's total grows clip by clip
            self.bar.total += len(todo)
            self.bar.refresh()
        while len(self.actors) < min(self.workers, len(self.queue) + len(self.running)):
            self.actors.append(self.remote.remote(None, None, self.threads, __version__))
            self.busy.append(0)
        self._submit()
        return len(todo)

    @property
    def pending(self) -> int:
        """Windows queued or running (not yet finished)."""
        return len(self.queue) + len(self.running)

    def drop(self, key: object) -> None:
        """Forget ``key``'s windows: queued ones are not started, finished ones dropped."""
        self.queue = deque(item for item in self.queue if item[0] != key)
        self.done = {k: v for k, v in self.done.items() if k[0] != key}
        self.clips.pop(key, None)

    def _submit(self) -> None:
        """Queue the next windows on the workers with room."""
        for k, actor in enumerate(self.actors):
            while self.queue and self.busy[k] < IN_FLIGHT:
                key, work = self.queue.popleft()
                clip, options = self.clips[key]
                self.running[actor.fill.remote(work, clip, options)] = (k, key,
                                                                        work.window.start)
                self.busy[k] += 1

    def _collect(self) -> None:
        """Wait for at least one running window to finish, and refill the workers."""
        ready, _ = self.ray.wait(list(self.running), num_returns=1)
        for ref in ready:
            k, key, start = self.running.pop(ref)
            self.busy[k] -= 1
            if key in self.clips:
                self.done[key, start] = ref
            self.computed += 1
            self.bar.update(1)
        self._submit()

    def fill_of(self, key: object) -> WindowFill:
        """``remove_stream``'s ``fill`` for the clip added under ``key``."""
        return lambda window, items: self.fill(window, items, key)

    def fill(self, window: Window, items: list[Item], key: object = 0) -> WindowValues:
        """The fill of ``window`` of the clip under ``key``, computed by a worker (``items``
        are not sent anywhere)."""
        while (key, window.start) not in self.done:
            if not self.running:
                raise RuntimeError(f"window at frame {window.start} was never planned")
            self._collect()
        ref = self.done.pop((key, window.start))
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
        self.actors, self.running, self.done, self.queue = [], {}, {}, deque()


class WindowPool(ClipPool):
    """``workers`` actors filling ``plan``'s windows of one ``clip``; ``skip`` holds the first
    frames of windows not to compute (taken from a checkpoint instead)."""

    def __init__(self, ray: ModuleType, clip: Clip, plan: Plan, workers: int,
                 threads: Threads | None = None, progress: Progress | None = None,
                 skip: set[int] | frozenset[int] = frozenset()) -> None:
        super().__init__(ray, workers, threads, progress)
        self.add(0, clip, plan, skip)
