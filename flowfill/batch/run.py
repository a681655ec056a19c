"""Filling a batch's clips: locally one after another (``remove``'s own code), or on one Ray
cluster whose workers take the windows of every clip in turn. A clip that fails (bad input
found during the run) is reported on one line and the others go on; a summary per clip and a
total close the run."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from flowfill.batch.manifest import Row
from flowfill.cli import PROG, ClipRun, finished_windows, ray_clip, scan_for_plan, write_clip
from flowfill.errors import InputError
from flowfill.pipeline import Stats
from flowfill.plan import Plan
from flowfill.progress import Bar, Progress
from flowfill.resume import Checkpoint, WindowRecord

AHEAD = 4
"""Windows per worker queued beyond the clip being written before the next clip is scanned."""


@dataclass
class Result:
    """What became of one clip: ``written``, ``complete`` (left as a resumed batch found it)
    or ``failed`` (with its one-line ``error``)."""

    row: Row
    status: str = "written"
    frames: int = 0
    computed: int = 0
    """Windows filled in this run."""
    resumed_frames: int = 0
    """Frames taken from the checkpoint of an interrupted run."""
    seconds: float = 0.0
    error: str | None = None


class CountingCheckpoint:
    """A clip's checkpoint that counts the windows saved to it (those computed in this run)."""

    def __init__(self, inner: Checkpoint, bar: Bar) -> None:
        self.inner, self.bar, self.saved = inner, bar, 0

    def load(self, start: int) -> WindowRecord | None:
        return self.inner.load(start)

    def save(self, start: int, record: WindowRecord) -> None:
        self.inner.save(start, record)
        self.saved += 1
        self.bar.update(1)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def one_line(err: BaseException) -> str:
    """An error as the one line the user reads (a worker's error as its cause, without Ray's
    traceback)."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        err = cause
    if isinstance(err, InputError):
        return str(err)
    text = " ".join(f"{type(err).__name__}: {err}".split())
    return text if len(text) <= 300 else text[:297] + "..."


class Batch:
    """The clips of a manifest, validated (``runs``), filled and summed up."""

    def __init__(self, clips: list[tuple[Row, ClipRun]], progress: Progress,
                 quiet: bool) -> None:
        self.clips, self.progress, self.quiet = clips, progress, quiet
        self.results: dict[int, Result] = {row.number: Result(row) for row, _ in clips}
        self.windows: Bar = Progress(enabled=False).bar("windows")
        """Counts the windows saved (locally; on a cluster the pool counts them as they come)."""

    def todo(self, resume: bool) -> list[tuple[Row, ClipRun]]:
        """The clips to fill: all, or with ``resume`` those not already complete."""
        left = []
        for row, run in self.clips:
            if resume and os.path.exists(row.args.output) and not os.path.isdir(
                    run.checkpoint.folder):
                self.results[row.number].status = "complete"
            else:
                left.append((row, run))
        return left

    def _fail(self, row: Row, run: ClipRun, err: Exception) -> None:
        result = self.results[row.number]
        result.status, result.error = "failed", one_line(err)
        if isinstance(err, InputError):
            run.checkpoint.discard()  # bad input: nothing is left behind
        print(f"{PROG}: error: {row.name}: {result.error}", file=sys.stderr)

    def _one(self, row: Row, run: ClipRun, body: Callable[[ClipRun, Stats], int]) -> None:
        """Fill one clip with ``body`` (the run with a counting checkpoint, its stats)."""
        started = time.perf_counter()
        counted = CountingCheckpoint(run.checkpoint, self.windows)
        stats = Stats()
        try:
            written = body(replace(run, checkpoint=counted), stats)  # type: ignore[arg-type]
        except Exception as err:  # the clip fails; the batch goes on
            self._fail(row, run, err)
            return
        run.checkpoint.discard()
        result = self.results[row.number]
        result.frames, result.computed = written, counted.saved
        result.resumed_frames = stats.resumed_frames
        result.seconds = time.perf_counter() - started
        if not self.quiet:
            print(clip_summary(result), file=sys.stderr)

    def run_local(self, resume: bool) -> None:
        """Fill the clips here, one after another, exactly as ``flowfill remove`` does."""
        quiet = Progress(enabled=False)
        self.windows = self.progress.bar("windows", unit="w")

        def body(run: ClipRun, stats: Stats) -> int:
            clip_plan, references = scan_for_plan(run, quiet, False)
            return write_clip(run, quiet, stats, clip_plan, references, None)

        for row, run in self.todo(resume):
            self._one(row, run, body)

    def run_ray(self, resume: bool, ray, workers: int) -> None:  # ray: the connected module
        """Fill the clips' windows on the connected cluster and write the clips in manifest
        order; the next clips are scanned and queued while enough windows are pending
        (:data:`AHEAD` per worker), so workers go on to them while a clip is written."""
        from flowfill.devices import Threads
        from flowfill.dist.driver import ClipPool

        quiet = Progress(enabled=False)
        pool = ClipPool(ray, workers, Threads.here(), self.progress)
        todo = deque(self.todo(resume))
        planned: deque[tuple[Row, ClipRun, Plan]] = deque()

        def queue_next() -> None:
            row, run = todo.popleft()
            try:
                clip_plan, _ = scan_for_plan(run, quiet, True)
                assert clip_plan is not None
                pool.add(row.number, ray_clip(run), clip_plan,
                         finished_windows(run.checkpoint, clip_plan))
            except Exception as err:
                self._fail(row, run, err)
                return
            planned.append((row, run, clip_plan))

        try:
            while todo or planned:
                while todo and (not planned or pool.pending < AHEAD * workers):
                    queue_next()
                if not planned:
                    continue
                row, run, clip_plan = planned.popleft()

                def body(run: ClipRun, stats: Stats, key: int = row.number,
                         clip_plan: Plan = clip_plan) -> int:
                    return write_clip(run, quiet, stats, clip_plan, None, pool.fill_of(key))

                self._one(row, run, body)
                pool.drop(row.number)
        finally:
            pool.close()

    def total(self, seconds: float) -> str:
        """The closing lines: clips by outcome, windows and frames, and each failure."""
        results = list(self.results.values())
        count = {s: sum(r.status == s for r in results) for s in ("written", "complete",
                                                                   "failed")}
        lines = [f"{PROG} batch: {len(results)} clips: {count['written']} written, "
                 f"{count['complete']} already complete, {count['failed']} failed; "
                 f"{_count(sum(r.computed for r in results), 'window')} computed, "
                 f"{sum(r.resumed_frames for r in results)} frames resumed; "
                 f"{sum(r.frames for r in results)} frames in {seconds:.1f} s"]
        lines += [f"  failed: {r.row.name} {r.row.args.input}: {r.error}"
                  for r in results if r.status == "failed"]
        return "\n".join(lines)

    @property
    def failed(self) -> bool:
        return any(r.status == "failed" for r in self.results.values())


def clip_summary(result: Result) -> str:
    """One line for a finished clip."""
    args = result.row.args
    resumed = (f", {result.resumed_frames} frames from the interrupted run"
               if result.resumed_frames else "")
    return (f"{PROG}: {result.row.name}: {args.input} -> {args.output}: {result.frames} frames, "
            f"{_count(result.computed, 'window')} computed{resumed}, {result.seconds:.1f} s")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
