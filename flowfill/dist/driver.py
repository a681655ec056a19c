"""The driver's side of a Ray run: the plan's windows handed to workers, fills taken in order.

:class:`ClipPool` starts one actor per worker, keeps each busy with the next windows of the
clips added to it (``flowfill batch``: many clips, one cluster) and answers ``remove_stream``'s
``fill(window, items)`` with the fill computed remotely for that window; :class:`WindowPool` is
the pool of one clip (the driver's own frames are used only to write the output). A worker lost
with its process or its node is dropped and its windows run again on the workers left (the
pool starts a new one only when none is left, so a full cluster that lost a node does not wait
for room that never comes); an input error in a worker is raised as it is, never retried.
Each worker reserves the memory a window of its clip's resolution needs (Ray's ``memory``
resource), so a node takes no more workers than it can hold.
"""

from __future__ import annotations

import sys
from collections import deque
from types import ModuleType

from flowfill.devices import Threads
from flowfill.dist.worker import Clip, WindowWorker
from flowfill.errors import InputError
from flowfill.options import Options
from flowfill.pipeline import Item, WindowFill, WindowValues
from flowfill.plan import Plan, Window, Work
from flowfill.progress import Progress

RETRIES = 4
"""How often a window whose worker was lost is run again before the run fails."""
IN_FLIGHT = 2
"""Windows queued on each worker at a time (one running, one ready to start)."""
BASE_MEMORY = 1 << 30
"""Bytes a worker holds before any window: Python, torch, OpenCV, the engine."""
BYTES_PER_PIXEL = 64
"""Peak bytes per pixel of each frame a window holds (frames, flows both ways, masks,
candidates; measured about 50 at 432x240 and 1080p, see RESULTS.md)."""


def worker_memory(size: tuple[int, int], options: Options) -> int:
    """Bytes to reserve for a worker filling windows of ``size`` (width, height) frames."""
    width, height = size
    frames = options.window + options.reference_frames
    return BASE_MEMORY + BYTES_PER_PIXEL * width * height * frames


def largest_node_memory(ray: ModuleType) -> int | None:
    """The most ``memory`` resource any live node of the cluster offers (None: unknown)."""
    try:
        sizes = [node["Resources"].get("memory", 0) for node in ray.nodes() if node["Alive"]]
    except Exception:  # noqa: BLE001 - an older or a client-mode Ray: no reservation then
        return None
    return int(max(sizes)) if sizes and max(sizes) > 0 else None


class ClipPool:
    """Actors (up to ``workers``) filling the windows of many clips' plans, in the order the
    clips are added: workers move on to the next clip's windows while the driver still
    stitches an earlier one. Each window travels with its clip and options."""

    def __init__(self, ray: ModuleType, workers: int, threads: Threads | None = None,
                 progress: Progress | None = None) -> None:
        self.ray, self.workers = ray, max(1, workers)
        self.threads = threads or Threads.here()
        self.remote = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(WindowWorker)
        self.queue: deque[tuple[object, Work]] = deque()
        self.clips: dict[object, tuple[Clip, Options]] = {}
        self.actors: list = []  # None where a worker was lost
        self.running: dict[object, tuple[int, object, Work]] = {}  # ref -> (actor, key, work)
        self.busy: list[int] = []
        self.ready: list[bool] = []  # a worker gets windows once it has started
        self.starting: dict[object, int] = {}  # its first answer's ref -> worker
        self.done: dict[tuple[object, int], object] = {}  # (key, window start) -> values
        self.tries: dict[tuple[object, int], int] = {}
        self.reserve: int | None = None  # bytes each new worker reserves
        self.bar = (progress or Progress(enabled=False)).bar("windows", total=0, unit="w")
        self.computed = 0
        """Windows the workers finished."""
        self.lost = 0
        """Workers lost (their process or node died) and dropped from the pool."""

    def add(self, key: object, clip: Clip, plan: Plan,
            skip: set[int] | frozenset[int] = frozenset()) -> int:
        """Queue the windows of ``plan`` (of ``clip``) not in ``skip``, under ``key``; return
        how many."""
        todo = [w for w in plan.to_fill if w.window.start not in skip]
        self.clips[key] = (clip, plan.options)
        self.queue.extend((key, w) for w in todo)
        if hasattr(self.bar, "total"):  # a tqdm bar: the batch's total grows clip by clip
            self.bar.total += len(todo)
            self.bar.refresh()
        if clip.size is not None:
            self._reserve(worker_memory(clip.size, plan.options))
        while len(self.actors) < min(self.workers, len(self.queue) + len(self.running)):
            self._start_worker()
        self._submit()
        return len(todo)

    def _reserve(self, need: int) -> None:
        """Make new workers reserve ``need`` bytes (at most what the largest node offers)."""
        if self.reserve is not None and need <= self.reserve:
            return
        largest = largest_node_memory(self.ray)
        if largest is not None and need > largest:
            print(f"flowfill: a worker needs about {need / 2**30:.1f} GiB for these frames, "
                  f"more than any node offers ({largest / 2**30:.1f} GiB): reserving that; "
                  "lower --window or use machines with more memory", file=sys.stderr)
            need = largest
        self.reserve = need

    def _start_worker(self) -> None:
        from flowfill import __version__

        remote = self.remote if self.reserve is None else self.remote.options(
            memory=self.reserve)
        actor = remote.remote(None, None, self.threads, __version__)
        self.starting[actor.pid.remote()] = len(self.actors)
        self.actors.append(actor)
        self.busy.append(0)
        self.ready.append(False)

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
        """Queue the next windows on the started workers with room. A worker Ray cannot place
        (a node that died but is still counted, CPUs another job holds) is given none: windows
        queued on it would wait for it for ever."""
        for k, actor in enumerate(self.actors):
            while actor is not None and self.ready[k] and self.queue and self.busy[k] < IN_FLIGHT:
                key, work = self.queue.popleft()
                clip, options = self.clips[key]
                self.running[actor.fill.remote(work, clip, options)] = (k, key, work)
                self.busy[k] += 1

    def _collect(self) -> None:
        """Wait for at least one running window to finish or one worker to start, and refill
        the workers."""
        ready, _ = self.ray.wait([*self.running, *self.starting], num_returns=1)
        for ref in ready:
            if ref in self.starting:
                k = self.starting.pop(ref)
                try:
                    self.ray.get(ref)
                    self.ready[k] = self.actors[k] is not None
                except self.ray.exceptions.RayActorError:
                    self._lose(k)
                continue
            k, key, work = self.running.pop(ref)
            self.busy[k] -= 1
            try:
                values: object = self.ray.get(ref)
            except self.ray.exceptions.RayActorError:
                self._lose(k)
                self._again(key, work)
                continue
            except self.ray.exceptions.RayTaskError as err:
                values = err  # raised when the window is asked for
            if key in self.clips:
                self.done[key, work.window.start] = values
            self.computed += 1
            self.bar.update(1)
        self._submit()

    def _lose(self, k: int) -> None:
        """Drop worker ``k`` (its process or node is gone); start a new one if none is left."""
        if self.actors[k] is None:
            return
        self.ray.kill(self.actors[k])
        self.actors[k] = None
        self.ready[k] = False
        self.starting = {ref: j for ref, j in self.starting.items() if j != k}
        self.lost += 1
        if not any(a is not None for a in self.actors):
            self._start_worker()

    def _again(self, key: object, work: Work) -> None:
        """Queue ``work`` first again, unless it has been lost too often."""
        if key not in self.clips:
            return
        tag = (key, work.window.start)
        self.tries[tag] = self.tries.get(tag, 0) + 1
        if self.tries[tag] > RETRIES:
            raise RuntimeError(f"the window at frame {work.window.start} lost its worker "
                               f"{self.tries[tag]} times; is the cluster failing?")
        self.queue.appendleft((key, work))

    def fill_of(self, key: object) -> WindowFill:
        """``remove_stream``'s ``fill`` for the clip added under ``key``."""
        return lambda window, items: self.fill(window, items, key)

    def fill(self, window: Window, items: list[Item], key: object = 0) -> WindowValues:
        """The fill of ``window`` of the clip under ``key``, computed by a worker (``items``
        are not sent anywhere)."""
        while (key, window.start) not in self.done:
            if not self.running and not self.starting:
                raise RuntimeError(f"window at frame {window.start} was never planned")
            self._collect()
        values = self.done.pop((key, window.start))
        if isinstance(values, self.ray.exceptions.RayTaskError):
            cause = getattr(values, "cause", None)
            if isinstance(cause, InputError):
                raise cause from None
            raise values
        return values  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the workers."""
        self.bar.close()
        for actor in self.actors:
            if actor is not None:
                self.ray.kill(actor)
        self.actors, self.running, self.done, self.queue = [], {}, {}, deque()
        self.busy, self.ready, self.starting = [], [], {}


class WindowPool(ClipPool):
    """``workers`` actors filling ``plan``'s windows of one ``clip``; ``skip`` holds the first
    frames of windows not to compute (taken from a checkpoint instead)."""

    def __init__(self, ray: ModuleType, clip: Clip, plan: Plan, workers: int,
                 threads: Threads | None = None, progress: Progress | None = None,
                 skip: set[int] | frozenset[int] = frozenset()) -> None:
        super().__init__(ray, workers, threads, progress)
        self.add(0, clip, plan, skip)
