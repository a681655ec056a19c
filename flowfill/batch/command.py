"""``flowfill batch MANIFEST.csv [--ray CLUSTER] [--resume]``: validate every row, then fill."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from flowfill.batch.manifest import read_manifest
from flowfill.batch.run import Batch
from flowfill.cli import (
    PROG,
    _Parser,
    add_clip_options,
    add_engine_options,
    apply_threads,
    prepare_clip,
)
from flowfill.errors import InputError
from flowfill.flow import FlowEstimator
from flowfill.pipeline import bound_heap
from flowfill.progress import Progress
from flowfill.window import estimator_key

DESCRIPTION = """\
Fill many clips listed in MANIFEST, a CSV file whose header names the columns
input,mask,output and, optionally, options of `flowfill remove` that differ
per clip (window, overlap, fill, flow, frames, codec, ...; switches take
on/off; an empty cell keeps the value given here). Paths are relative to the
manifest's folder. Options given on this command line apply to every clip.

Every row is checked before any work: a missing input or mask, an unknown
column, a bad value, two rows with one output, or an output that is another
row's input stops the batch with a one-line error naming the row (exit 2).

Each output is written as by `flowfill remove` (it appears only when complete)
and its finished windows are kept beside it, so --resume after an interrupted
batch skips the clips whose output exists (with no checkpoint left) and
computes only the missing windows of the others. A clip whose input proves bad
during the run fails with one line and the others go on; the closing summary
lists the failures and the exit code is 1.

With --ray every clip's windows go to one Ray cluster: the workers start on
the next clip's windows while earlier clips are still being written."""


def add_batch_parser(commands: argparse._SubParsersAction) -> None:
    """The ``batch`` subcommand's arguments: the manifest, the batch-wide switches and every
    ``remove`` option as a default for all clips."""
    bt = commands.add_parser("batch", help="fill many clips listed in a CSV manifest",
                             description=DESCRIPTION,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    bt.add_argument("manifest", metavar="MANIFEST", help="CSV file: input,mask,output[,option...]")
    add_engine_options(bt)
    add_clip_options(bt)
    bt.add_argument("--resume", action="store_true",
                    help="continue an interrupted batch: complete outputs are kept, finished "
                    "windows of the others are not computed again")
    bt.add_argument("--threads", type=int, metavar="N",
                    help="CPU threads of torch and OpenCV, here and in every Ray worker")
    bt.add_argument("--ray", metavar="CLUSTER",
                    help="fill on a Ray cluster: local, local:N or a cluster's address "
                    "(host:port) (needs pip install 'flowfill[ray]')")
    bt.add_argument("--quiet", "-q", action="store_true",
                    help="no progress bars and no summaries; only errors")


def options_parser() -> argparse.ArgumentParser:
    """The options of ``flowfill remove`` a manifest column may set, checked as on the
    command line."""
    parser = _Parser(prog="flowfill batch", add_help=False)
    add_engine_options(parser)
    add_clip_options(parser)
    return parser


def batch_command(args: argparse.Namespace) -> int:
    """Run ``flowfill batch``: 0 when every clip is written (or was), 1 when some failed, 2
    (an InputError) when the manifest or the cluster is bad, before any work."""
    started = time.perf_counter()
    target = None
    if args.ray is not None:
        from flowfill.dist.cluster import import_ray, parse_target

        target = parse_target(args.ray)
        import_ray()
    apply_threads(args.threads)
    bound_heap()
    rows = read_manifest(args.manifest, args, options_parser())
    clips = []
    engines: dict[tuple, FlowEstimator] = {}  # one flow backend (RAFT weights) per kind
    for row in rows:  # every row is validated before any work
        try:
            run = prepare_clip(row.args)
        except InputError as err:
            raise InputError(f"{args.manifest} {row.name}", str(err)) from None
        run.estimator = engines.setdefault(estimator_key(run.options), run.estimator)
        clips.append((row, run))
    show_bars = not args.quiet and sys.stderr is not None and sys.stderr.isatty()
    progress = Progress(enabled=show_bars)
    batch = Batch(clips, progress, args.quiet)
    try:
        if target is None:
            batch.run_local(args.resume)
        else:
            from flowfill.dist.cluster import connected, worker_count

            with contextlib.ExitStack() as stack:
                ray = stack.enter_context(connected(target, args.quiet))
                batch.run_ray(args.resume, ray, worker_count(ray, target))
    except BaseException:
        print(f"{PROG}: the batch was interrupted; "
              "finished windows and outputs are kept: run the same command with --resume to "
              "continue", file=sys.stderr)
        raise
    finally:
        progress.close()
    if not args.quiet or batch.failed:
        print(batch.total(time.perf_counter() - started), file=sys.stderr)
    return 1 if batch.failed else 0
