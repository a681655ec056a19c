"""``flowfill detect``: find dust, dirt and scratches in a clip and write them as masks to inspect.

The masks go to a folder of 8-bit PNGs (white = defect), one per frame, numbered from the first
frame read; a user can correct them in any paint program and give the folder to
``flowfill remove --mask``. The folder is written under a temporary name and renamed when
complete; an existing, non-empty folder is never written into.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from flowfill.detect.defects import KINDS, detect_defects, parse_kinds
from flowfill.detect.scratches import ScratchSettings
from flowfill.errors import InputError
from flowfill.io import open_frames
from flowfill.io.atomic import commit_folder, remove_quietly, temp_name_beside
from flowfill.io.images import write_image
from flowfill.progress import Progress

DESCRIPTION = """\
Find the film's own defects: dust and dirt (impulses on one frame that neither neighbour shows,
moving objects the flow cannot follow excepted) and line scratches (thin near-vertical lines that
stay on the film while the scene moves, or appear and vanish while it stands still). Writes one
mask per frame to a folder (white = defect, grown by --margin) to inspect and correct before
`flowfill remove INPUT --mask FOLDER --grain auto --unveil`; or let remove find them itself:
--mask auto (which turns both on).
"""


def add_detect_parser(commands: argparse._SubParsersAction) -> None:
    """The ``detect`` subcommand's arguments."""
    dt = commands.add_parser("detect", help="find dust, dirt and scratches; write them as masks",
                             description=DESCRIPTION,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    dt.add_argument("input", metavar="INPUT", help="clip to search (movie or image frames)")
    dt.add_argument("--output", "-o", required=True, metavar="FOLDER",
                    help="folder for the masks (absent or empty)")
    dt.add_argument("--defects", default=",".join(KINDS), metavar="KINDS",
                    help=f"what to look for, comma-separated: {', '.join(KINDS)} (default all)")
    dt.add_argument("--margin", type=int, metavar="PX",
                    help="grow every defect by PX pixels (default 2 at 432 px wide, scaled)")
    dt.add_argument("--frames", metavar="A:B", help="only frames A to B-1 (as for remove)")
    dt.add_argument("--any-colour", action="store_true",
                    help="take film-fixed lines of any colour for scratches (an emulsion scratch "
                    "on colour film can take a layer's colour); by default a scratch must look "
                    "like white or black over the picture, which keeps coloured trunks and limbs")
    dt.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")


def _check_output(path: str, inputs: frozenset[str]) -> None:
    if os.path.realpath(path) in inputs:
        raise InputError(path, "would overwrite the input")
    if os.path.isfile(path):
        raise InputError(path, "is a file; give a folder for the masks")
    if os.path.isdir(path) and os.listdir(path):
        raise InputError(path, "exists and is not empty (not overwriting)")


def detect_command(args: argparse.Namespace) -> int:
    """Run ``flowfill detect``: stream the clip once, write the masks, print a summary."""
    from flowfill.cli import parse_frames  # the CLI's own parser of A:B

    started = time.perf_counter()
    kinds = parse_kinds(args.defects)
    if args.margin is not None and args.margin < 0:
        raise InputError("--margin", "must not be negative")
    source = open_frames(args.input)
    if args.frames is not None:
        source.select(*parse_frames(args.frames, source.info.count))
    inputs = frozenset(os.path.realpath(p) for p in (source.info.paths or [args.input]))
    _check_output(args.output, inputs)
    info = source.info
    show = not args.quiet and sys.stderr is not None and sys.stderr.isatty()
    progress = Progress(enabled=show, total=info.count)
    bar = progress.bar("detect")
    temp = temp_name_beside(args.output, make_dir=True)
    names: list[str] = []
    flagged = frames_with = 0
    start = (source.selection or (0, None))[0]
    try:
        lines = ScratchSettings(neutral=None) if args.any_colour else None
        for i, mask in enumerate(detect_defects(source, kinds, args.margin, bar.update,
                                                scratches=lines)):
            name = f"{start + i:05d}.png"
            white = np.repeat(mask[..., None].astype(np.float32), 3, axis=2)
            write_image(os.path.join(temp, name), white, grey=True)
            names.append(name)
            flagged += int(mask.sum())
            frames_with += bool(mask.any())
        if not names:
            raise InputError(args.input, "has no frames")
        commit_folder(temp, args.output, names)
    except BaseException:
        remove_quietly(temp)
        raise
    finally:
        progress.close()
    if not args.quiet:
        seconds = time.perf_counter() - started
        share = 100 * flagged / (len(names) * info.width * info.height)
        print(f"flowfill detect: {len(names)} frames, {', '.join(kinds)}: defects on "
              f"{frames_with} frames, {share:.3f}% of the pixels; {seconds / len(names):.3f} "
              f"s/frame\n  wrote {args.output}")
    return 0
