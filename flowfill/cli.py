"""The ``flowfill`` command: ``flowfill remove`` runs a clip through the pipeline to a file;
``flowfill flow`` writes the optical flow between two images; ``flowfill train-edges`` trains
the flow-edge completion net; ``flowfill serve`` runs the render server for host plugins."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING

from flowfill import __version__
from flowfill.detect.command import add_detect_parser, detect_command
from flowfill.devices import Threads
from flowfill.errors import InputError
from flowfill.flow import FlowEstimator
from flowfill.io import (
    check_output_encoding,
    open_frames,
    open_masks,
    open_sink,
    source_files,
)
from flowfill.io.codecs import CODECS, DEFAULT_CODEC, QUALITIES
from flowfill.io.masks import ALPHA, AUTO, BORDERS, MaskSource
from flowfill.io.source import FrameSource
from flowfill.options import (
    EDGE_MODES,
    FILL_METHODS,
    FLOW_METHODS,
    FLOW_PRECISIONS,
    FLOW_TONES,
    GRAIN_MODES,
    IMAGE_EDGE_MODES,
    NET_PRECISIONS,
    UNSEEN_MODES,
    Options,
)
from flowfill.pipeline import Stats, WindowFill, bound_heap, remove_stream
from flowfill.plan import Plan, plan
from flowfill.progress import Progress, bars_wanted
from flowfill.references import ReferenceFrames, scan_clip
from flowfill.resume import Checkpoint, fingerprint, folder_for, run_identity
from flowfill.server.command import add_serve_parser, serve_command
from flowfill.stabilise.path import MAX_ROLL, MAX_ZOOM, jitter
from flowfill.stabilise.render import MODES
from flowfill.stabilise.stream import (
    DEFAULT_MAX_SHIFT,
    DEFAULT_SMOOTHNESS,
    measure_path,
    plan_warps,
    stabilised,
)
from flowfill.window import flow_estimator

if TYPE_CHECKING:
    from flowfill.dist.cluster import Target

PROG = "flowfill"

_NTSC = (24, 30, 48, 60, 120)


class _UsageError(Exception):
    """A command-line mistake found by argparse; reported on one line like any bad input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(" ".join(message.split()))


def parse_fps(text: str) -> Fraction:
    """A frame rate from '25', '23.976' or '24000/1001'; the NTSC decimals become exact."""
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        problem = f"not a frame rate: {text!r} (try 25, 23.976 or 24000/1001)"
        raise InputError("--fps", problem) from None
    if rate <= 0 or rate > 1000:
        raise InputError("--fps", f"frame rate {text} is out of range")
    for base in _NTSC:
        ntsc = Fraction(base * 1000, 1001)
        if rate != base and abs(rate - ntsc) < Fraction(15, 10000):
            return ntsc
    return rate


def parse_frames(text: str, count: int | None) -> tuple[int, int | None]:
    """``--frames A:B`` as (start, stop) on the input's frame indices: like a Python slice
    (B exclusive, either side optional, negative from the end); stop None: to the end."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start, stop = (int(p) if p.strip() else None for p in parts)
    except ValueError:
        raise InputError("--frames", f"not a range: {text!r} (try 0:100, 50: or :-10; the "
                         "second index is excluded)") from None
    if count is None and ((start or 0) < 0 or (stop or 0) < 0):
        raise InputError("--frames", "negative indices need a known frame count")
    if count is not None:
        start, stop, _ = slice(start, stop).indices(count)
        if stop <= start:
            raise InputError("--frames", f"{text} selects no frames of the input's {count}")
        return start, stop
    start = start or 0
    if stop is not None and stop <= start:
        raise InputError("--frames", f"{text} selects no frames")
    return start, stop


def check_device(device: str) -> None:
    """Refuse devices this machine does not have (``cuda`` without CUDA, unknown names)."""
    from flowfill.devices import resolve_device

    resolve_device(device)


_REMOVE_DESCRIPTION = """\
Fill the masked region of INPUT and write OUTPUT. Outside the mask the output
equals the input; the output appears only when it is complete, and bad input
stops the run with a one-line error before anything is written.

INPUT   a movie (anything FFmpeg decodes), a folder of frames (PNG, TIFF, JPEG,
        EXR, DPX, ...), a pattern such as shot.%04d.exr or shot.####.exr, or
        one image
MASK    a folder of mask images, a pattern, one image for all frames, a mask
        movie, or 'alpha' (./alpha for a folder of that name); nonzero = remove
        (above half for JPEG and movie masks)
        'alpha': the input's alpha channel is the matte, as a roto in alpha is
        white where the object is: pixels whose alpha is above 0 are removed,
        alpha 0 is kept; the alpha itself is written back unchanged
OUTPUT  a movie: .mp4 .m4v .mkv (H.264), .mov (ProRes 422 HQ), .avi (lossless
        FFV1), .webm (VP9), keeping the input's audio (copied), frame times
        and timecode; or a folder (out/) or a pattern (out/shot.%04d.exr,
        whose extension picks the format), in the input's bit depth; frames
        there numbered beyond the last one written (a longer earlier run's)
        are removed at the end, except with --frames; hidden temporaries of
        the same output left by killed runs are removed

Channels: an input with alpha (PNG, TIFF, EXR, WebP, DPX, ProRes 4444, ...)
is written back with its alpha unchanged by outputs that hold one (PNG, TIFF,
EXR, WebP, DPX frames; .mov as ProRes 4444, .avi as FFV1 RGBA); the others
drop it, with a note. Greyscale frames are filled as grey and written back
as one channel (PNG, TIFF, EXR, JPEG, ...)."""

_STABILISE_DESCRIPTION = """\
Stabilise INPUT and write OUTPUT at the input's size. The camera path is
measured from frame-to-frame motion of the background (tracked corners, a
similarity per frame: shift, roll, zoom; a moving object's corners are
outliers), smoothed, and every frame is warped onto the smooth path at full
resolution. In fill mode the borders the warp uncovers are filled by
flowfill from what other frames saw; crop mode zooms in instead. A shot cut
(motion not found) starts a new path. Rolling-shutter wobble and parallax
are out of scope: a 2D path cannot undo them.

INPUT and OUTPUT: as for `flowfill remove` (movies keep their audio)."""

_FLOW_DESCRIPTION = """\
Estimate the optical flow from image A to image B and write it to OUT as a
Middlebury .flo file, with a colour-wheel picture of it beside it (OUT with
.png for .flo: hue is the direction of motion, saturation its size, white is
still). Both appear only when complete.

A, B    two images of the same size (PNG, JPEG, TIFF, EXR, DPX, ...)
OUT     the .flo file to write"""

_TRAIN_EDGES_DESCRIPTION = """\
Train the gated edge net that completes motion edges inside the hole, from
scratch and reproducibly from --seed, on layered synthetic motion plus (unless
--no-clips) DIS flows of the first 60% of the shared clips in ../shared/clips
when they are present. Writes the checkpoint to --out and a JSON-lines log
beside it (OUT with .log.jsonl); an existing OUT is replaced only when
training completes. After training, the decision threshold is calibrated on
held-apart synthetic samples and the softness of the edges that cut the flow
fill on held-apart clip flows (frames 60-70%; synthetic flows without the
clips). --calibrate-only does just that to an existing OUT. Prints the final
record on one line.

--kind image trains the same net to continue a picture's own strong edges
(luminance) through the hole instead, on layered synthetic pictures plus the
shared clips' frames; only its threshold is calibrated."""

def add_raft_options(parser: argparse.ArgumentParser) -> None:
    """Add --raft-weights, --raft-iters and --flow-max-side (unset: None) with their help."""
    d = Options()
    parser.add_argument("--raft-weights", metavar="PATH",
                        help="RAFT checkpoint (default: $FLOWFILL_RAFT_WEIGHTS; never downloaded)")
    parser.add_argument("--raft-iters", type=int, metavar="N",
                        help=f"RAFT refinement iterations (default {d.raft_iters})")
    parser.add_argument("--flow-max-side", type=int, metavar="PX",
                        help="estimate flow on a proxy at most PX pixels on its long side; "
                        f"0: full size (default {d.flow_max_side or 0})")


def _max_side(value: int | None) -> int | None:
    """The proxy long side from --flow-max-side: unset keeps the default, 0 means full size."""
    if value is None:
        return Options().flow_max_side
    if value < 0:
        raise InputError("--flow-max-side", "must not be negative (0 means full size)")
    return value or None


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """The fill engine's options (the fields of :class:`Options`), shared by every command that
    fills holes (``remove``, ``stabilise``)."""
    d = Options()
    parser.add_argument("--dilate", type=int, metavar="PX",
                    help="internal growth of the hole in pixels (default: scaled with size)")
    parser.add_argument("--grow", type=int, metavar="PX",
                    help=f"grow the mask itself by PX pixels (default {d.grow})")
    parser.add_argument("--window", type=int, metavar="N",
                    help=f"frames per processing window (default {d.window})")
    parser.add_argument("--overlap", type=int, metavar="N",
                    help=f"frames shared by consecutive windows (default {d.overlap})")
    parser.add_argument("--max-keyframes", type=int, metavar="N",
                    help=f"hallucinated keyframes per window at most (default {d.max_keyframes})")
    parser.add_argument("--alpha", type=float, metavar="A",
                    help=f"candidate weight temperature in pixels (default {d.alpha})")
    parser.add_argument("--max-chain-error", type=float, metavar="PX",
                    help="a pixel whose only source came through a round-trip flow error above "
                    "PX pixels at 480p (scaled with size) is filled as never seen "
                    f"(default {d.max_chain_error}; inf: off)")
    parser.add_argument("--agreement", type=float, metavar="TOL",
                    help="blend only the candidates within this RMS colour (0..1) of the "
                    f"majority's (default {d.agreement}; inf: blend all)")
    parser.add_argument("--flow-prefill", action=argparse.BooleanOptionalAction, default=None,
                        help="estimate flow on frames whose hole is smoothed over from the pixels "
                        "around it, not on the logo, blank or object it holds "
                        f"(default {'on' if d.flow_prefill else 'off'})")
    parser.add_argument("--refine-hops", action=argparse.BooleanOptionalAction, default=None,
                        help="move each hop of a hole pixel to a neighbouring frame by the "
                        "sub-pixel shift that best matches the known pixels around it in its own "
                        "frame with those around where it lands "
                        f"(default {'on' if d.refine_hops else 'off'})")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="fill the hole N times; from the second round on, the neighbouring "
                        "frames' flow is estimated again through the previous fill, which keeps "
                        "the motion edges the completed flow blurs (1: one round, the fastest; "
                        "each round costs about a third to a half of the first) "
                        f"(default {d.rounds})")
    parser.add_argument("--first-round-proxy", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="with several rounds, fill the first on the flow's proxy "
                        "(--flow-max-side), where the next round's flow looks through it, not "
                        "at full size "
                        f"(default {'on' if d.first_round_proxy else 'off'})")
    parser.add_argument("--nearest-first", action=argparse.BooleanOptionalAction, default=None,
                        help="where a neighbouring frame gives a trusted source, take none from "
                        "distant (non-local, reference) frames, which may show a moving object "
                        f"there (default {'on' if d.nearest_first else 'off'})")
    parser.add_argument("--colour-weight", type=float, metavar="W",
                    help="pull of the Poisson fusion towards the candidates' colours "
                    f"(screened Poisson; default {d.colour_weight}: gradients only)")
    parser.add_argument("--consistency", action=argparse.BooleanOptionalAction, default=None,
                        help="drop flow hops that fail the forward-backward occlusion test "
                        f"(default {'on' if d.consistency else 'off'}: the chain error and the "
                        "agreement vote judge sources)")
    parser.add_argument("--no-object-flow", dest="object_flow", action="store_false", default=None,
                    help="do not re-estimate flow near the hole that moves like the object")
    parser.add_argument("--fill", metavar="METHOD",
                    help=f"fill for pixels no frame saw: {', '.join(FILL_METHODS)} "
                    f"(default {d.fill})")
    parser.add_argument("--unseen", choices=UNSEEN_MODES, default=None,
                    help="pixels the background never shows (a static logo on a still shot): "
                    "background fills each frame from its own rim with detail that moves with "
                    f"the background; flow carries them along the completed flow (default "
                    f"{d.unseen})")
    parser.add_argument("--image-edges", choices=IMAGE_EDGE_MODES, default=None,
                    help="pixels no frame saw: on continues the picture's strong edges through "
                    "the hole (the image-edge net) and fills each side from its own rim; off: "
                    f"the plain smooth fill (default {d.image_edges})")
    parser.add_argument("--image-edge-weights", metavar="PATH",
                    help="image-edge-net checkpoint from `flowfill train-edges --kind image` "
                    "(default: shipped)")
    parser.add_argument("--grain", choices=GRAIN_MODES, default=None,
                    help="film grain in the fill: auto adds grain matched to the ring around the "
                    "hole (strength per channel and luminance band, size, channel correlation) "
                    f"where the fill is smoother; off keeps the fill smooth (default {d.grain}; "
                    "auto with --mask auto)")
    parser.add_argument("--unveil", action=argparse.BooleanOptionalAction, default=None,
                    help="line defects (film scratches) that let the picture through: undo the "
                    "white or black overlay along each line-shaped part of the mask instead of "
                    "replacing the picture, keeping the frame's own detail and grain (default "
                    f"{'on' if d.unveil else 'off'}; on with --mask auto)")
    parser.add_argument("--fill-budget", type=float, metavar="S",
                    help="seconds an iterative fill (dip, siren) may spend per keyframe")
    parser.add_argument("--tiny-hole", type=int, metavar="PX",
                    help="stop inventing keyframes once no frame has more than PX pixels left "
                    f"(default {d.tiny_hole})")
    parser.add_argument("--flow", metavar="METHOD",
                    help=f"optical flow: {', '.join(FLOW_METHODS)} (default {d.flow})")
    add_raft_options(parser)
    parser.add_argument("--flow-precision", metavar="P",
                    help=f"RAFT arithmetic on CUDA: {', '.join(FLOW_PRECISIONS)} "
                    f"(default {d.flow_precision})")
    parser.add_argument("--flow-tone", choices=("auto", *FLOW_TONES), default="auto",
                    help="how the frames encode light, fixing the one curve every frame takes "
                    "to the flow: display (video, 8/16-bit images: as they are), linear "
                    "(scene-linear plates: x/(1+x)); auto (default): linear for float "
                    "input such as EXR, display otherwise", dest="flow_tone_arg")
    parser.add_argument("--nonlocal-frames", type=int, metavar="K",
                    help="key frames per window that every frame also gets flows to and from "
                    f"(default {d.nonlocal_frames}; 0: off)")
    parser.add_argument("--nonlocal-scale", type=float, metavar="S",
                    help="flows to and from key and reference frames are estimated and completed "
                    "on a proxy this fraction of the adjacent flows' (its long side at least "
                    f"480 px, so small clips are unaffected) (default {d.nonlocal_scale}; 1: "
                    "the same proxy)")
    parser.add_argument("--reference-frames", type=int, metavar="K",
                    help="frames picked across a shot longer than a window that every window "
                    f"also takes candidates from (default {d.reference_frames}; 0: off)")
    parser.add_argument("--nonlocal-align", action=argparse.BooleanOptionalAction, default=None,
                    help="pre-align distant frames by a homography before non-local flow "
                    f"(default {'on' if d.nonlocal_align else 'off'})")
    parser.add_argument("--edges", choices=EDGE_MODES, default=None,
                    help="cut the flow fill at motion edges completed by the edge net: on, off, "
                    f"or auto (only where motion edges reach the hole) (default {d.edges})")
    parser.add_argument("--edge-weights", metavar="PATH",
                    help="edge-net checkpoint from `flowfill train-edges` (default: shipped)")
    parser.add_argument("--edge-precision", choices=NET_PRECISIONS, default=None,
                    help="edge nets' arithmetic: fp32, bf16, or auto: bf16 where the CPU has it "
                    f"natively (AVX512-BF16, AMX), fp32 elsewhere (default {d.edge_precision})")
    parser.add_argument("--flow-dilate", type=int, metavar="PX",
                    help="extra hole growth for flow completion (default: scaled with size)")
    parser.add_argument("--cut-threshold", type=float, metavar="T",
                    help=f"shot-cut sensitivity (default {d.cut_threshold})")
    parser.add_argument("--device", metavar="DEV",
                    help=f"auto, cpu, cuda or cuda:N (default {d.device})")
    parser.add_argument("--seed", type=int, metavar="N", help=f"random seed (default {d.seed})")
    parser.add_argument("--frame-threads", type=int, metavar="N",
                    help="threads a window's frames are worked on at once (flow, completion, "
                    "gather, fusion); the output is the same for any N (default: one per CPU, "
                    "at most 4; one with a GPU; one per worker with --ray)")


def add_clip_options(parser: argparse.ArgumentParser) -> None:
    """How a clip is read and written: --fps, --codec, --quality, --frames."""
    parser.add_argument("--fps", metavar="F",
                    help="frame rate of a movie made from image frames (default 25)")
    parser.add_argument("--codec", choices=list(CODECS), metavar="CODEC",
                    help="movie codec: " + ", ".join(CODECS) + " (default by extension: "
                    + ", ".join(f"{e} {c}" for e, c in DEFAULT_CODEC.items()) + "). Outside "
                    "the hole a movie input's picture is re-encoded from its own decoded "
                    "planes when the codec can store its pixel format")
    parser.add_argument("--quality", choices=QUALITIES, default="high",
                    help="movie quality: review (small), high (default; visually lossless), "
                    "master (4:4:4 10-bit, ProRes 4444 XQ, DNxHR 444), lossless (bit-exact RGB: "
                    "ffv1, or h264/h265/vp9 that few players open)")
    parser.add_argument("--frames", metavar="A:B",
                    help="process only the input's frames A to B-1, counted from 0 in input "
                    "order, like a Python slice (50:, :100, and --frames=-10: for the last "
                    "ten also work); a mask folder or "
                    "movie with one mask per input frame is narrowed the same way, one with a "
                    "mask per selected frame is used as is, one mask image applies to all")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``flowfill`` and its subcommands."""
    parser = _Parser(
        prog=PROG,
        description="Remove objects, logos, scratches and borders from video by flow-guided "
        "video completion: holes are filled with what other frames saw.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    rm = commands.add_parser(
        "remove", help="fill the masked region of a clip",
        description=_REMOVE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rm.add_argument("input", metavar="INPUT", help="clip to fix")
    rm.add_argument("--mask", "-m", required=True, metavar="MASK",
                    help="what to remove: mask images or a mask movie (see above), 'alpha' for "
                    "the input's alpha, 'borders' for the black border of footage stabilised "
                    "elsewhere (borders:R,G,B, 0-255, for another colour), or 'auto' for the "
                    "dust, dirt and scratches found in the input (auto:dust or auto:scratches "
                    "for one kind; `flowfill detect` writes them to inspect first)")
    rm.add_argument("--output", "-o", required=True, metavar="OUTPUT", help="where to write")
    add_engine_options(rm)
    add_clip_options(rm)
    rm.add_argument("--resume", action="store_true",
                    help="continue an interrupted run: windows it finished (kept in a hidden "
                    "folder beside the output) are not computed again; refused when another "
                    "flowfill version, other edge-net weights, input or options made them")
    rm.add_argument("--threads", type=int, metavar="N",
                    help="CPU threads of torch and OpenCV (default: their defaults here); the "
                    "edge net and Canny on a hole's crop always use one torch thread; with "
                    "--ray every worker uses the same counts as this process, which keeps the "
                    "output the local run's bit for bit")
    rm.add_argument("--ray", metavar="CLUSTER",
                    help="fill the windows on a Ray cluster: local (a cluster on this machine, "
                    "one worker per CPU), local:N (N workers here) or a running cluster's "
                    "address (host:port); the output is the local run's, bit for bit (needs "
                    "pip install 'flowfill[ray]')")
    rm.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    _add_stabilise_parser(commands)
    add_detect_parser(commands)
    _add_flow_parser(commands)
    _add_train_edges_parser(commands)
    commands.add_parser(
        "evaluate", help="quality and speed benchmark (see flowfill evaluate --help)",
        add_help=False,
    )
    add_serve_parser(commands)
    _add_batch_parser(commands)
    return parser


def _add_batch_parser(commands: argparse._SubParsersAction) -> None:
    from flowfill.batch.command import add_batch_parser

    add_batch_parser(commands)


def _add_stabilise_parser(commands: argparse._SubParsersAction) -> None:
    st = commands.add_parser(
        "stabilise", aliases=["stabilize"], help="smooth the camera and fill the borders",
        description=_STABILISE_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    st.add_argument("input", metavar="INPUT", help="shaky clip")
    st.add_argument("--output", "-o", required=True, metavar="OUTPUT", help="where to write")
    st.add_argument("--mode", choices=MODES, default="fill",
                    help="fill (default): keep the full frame and fill the uncovered borders "
                    "from other frames; crop: zoom in until no frame shows a border")
    st.add_argument("--smoothness", type=float, default=DEFAULT_SMOOTHNESS, metavar="S",
                    help="time scale of the path smoother in frames: shake faster than about "
                    f"6 x S frames is taken out (default {DEFAULT_SMOOTHNESS:g}); larger is "
                    "steadier, with larger borders")
    st.add_argument("--max-shift", type=float, default=100 * DEFAULT_MAX_SHIFT, metavar="PCT",
                    help="how far a frame may move to meet the smooth path, in percent of its "
                    f"width and height (default {100 * DEFAULT_MAX_SHIFT:g}); roll at most "
                    f"{math.degrees(MAX_ROLL):g} degrees, zoom {100 * MAX_ZOOM:g}%%")
    add_engine_options(st)
    add_clip_options(st)
    st.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")


def _add_flow_parser(commands: argparse._SubParsersAction) -> None:
    fl = commands.add_parser(
        "flow", help="optical flow between two images, as .flo and a colour picture",
        description=_FLOW_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fl.add_argument("image_a", metavar="A", help="first image (flow starts here)")
    fl.add_argument("image_b", metavar="B", help="second image")
    fl.add_argument("--output", "-o", required=True, metavar="OUT", help="the .flo file to write")
    fl.add_argument("--flow", default="dis", choices=FLOW_METHODS, metavar="METHOD",
                    help=f"optical flow: {', '.join(FLOW_METHODS)} (default dis)")
    add_raft_options(fl)
    fl.add_argument("--device", default="auto", metavar="DEV",
                    help="auto, cpu, cuda or cuda:N, for RAFT (default auto)")
    fl.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")


def _add_train_edges_parser(commands: argparse._SubParsersAction) -> None:
    from flowfill.edges.complete import WEIGHTS
    from flowfill.edges.train import TrainConfig

    d = TrainConfig()
    te = commands.add_parser(
        "train-edges", help="train the flow-edge completion net",
        description=_TRAIN_EDGES_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    te.add_argument("--kind", choices=("flow", "image"), default="flow",
                    help="flow: the motion-edge net of the flow fill (default); image: the net "
                    "that continues a picture's edges through the hole (issue 16)")
    te.add_argument("--out", "-o", default=None, metavar="PATH",
                    help="checkpoint to write (default: the shipped weights of --kind, "
                    f"flowfill/edges/weights/{WEIGHTS.name} or image_edge_net.pt)")
    te.add_argument("--steps", type=int, default=d.steps, metavar="N",
                    help=f"optimiser steps (default {d.steps})")
    te.add_argument("--batch", type=int, default=d.batch, metavar="N",
                    help=f"crops per step (default {d.batch})")
    te.add_argument("--crop", type=int, default=d.crop, metavar="PX",
                    help=f"square crop side, a multiple of 4, at least 32 (default {d.crop})")
    te.add_argument("--lr", type=float, default=d.lr, metavar="LR",
                    help=f"peak learning rate (default {d.lr:g})")
    te.add_argument("--seed", type=int, default=d.seed, metavar="N",
                    help=f"random seed (default {d.seed})")
    te.add_argument("--no-clips", dest="clips", action="store_false",
                    help="synthetic motion only (do not use the shared clips)")
    te.add_argument("--device", default="cpu", metavar="DEV",
                    help="auto, cpu, cuda or cuda:N (default cpu)")
    te.add_argument("--calibrate-only", action="store_true",
                    help="do not train: calibrate the existing checkpoint OUT again (threshold "
                    "and softness), rewrite it and append the record to its log")
    te.add_argument("--quiet", "-q", action="store_true",
                    help="no progress; print only the final record and errors")


_OPTION_ARGS = ("dilate", "grow", "window", "overlap", "max_keyframes", "alpha", "consistency",
                "max_chain_error", "agreement", "refine_hops", "rounds", "flow_prefill",
                "first_round_proxy", "nearest_first",
                "colour_weight", "object_flow", "grain", "unveil", "unseen", "image_edges",
                "image_edge_weights", "fill", "fill_budget", "tiny_hole", "flow", "raft_weights",
                "raft_iters", "flow_precision", "nonlocal_frames", "nonlocal_scale",
                "reference_frames", "nonlocal_align", "edges",
                "edge_weights", "edge_precision", "flow_dilate", "cut_threshold", "device", "seed",
                "frame_threads")


def options_from_args(args: argparse.Namespace) -> Options:
    """The :class:`Options` the command line asks for (unset flags keep the defaults); a
    subcommand without some of the flags (``flow``) leaves those at their defaults too."""
    given = {name: getattr(args, name) for name in _OPTION_ARGS
             if getattr(args, name, None) is not None}
    given["flow_max_side"] = _max_side(args.flow_max_side)
    if str(getattr(args, "mask", "")).split(":")[0] == AUTO:  # film restoration:
        given.setdefault("grain", "auto")  # the fill keeps the film's grain
        given.setdefault("unveil", True)  # and scratches give back the picture under them
    return Options(**given).validated()


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def summary(stats: Stats, frames: int, seconds: float, output: str) -> str:
    """The closing report: what was filled, how, and how fast."""
    holes = stats.hole_pixels
    cuts = stats.cuts
    if cuts:
        shown = ", ".join(str(c) for c in cuts[:10]) + (", ..." if len(cuts) > 10 else "")
        cut_text = f"{len(cuts)} (at frames {shown})"
    else:
        cut_text = "none"
    per_frame = seconds / frames if frames else 0.0
    width = len(f"{max(stats.filled_propagation, stats.filled_hallucination, 0):,}")
    shares = stats.clock.shares(seconds) if any(stats.clock.seconds.values()) else {}
    stages = ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    resumed = (f"  {stats.resumed_frames} frames taken from the interrupted run"
               if stats.resumed_frames else None)
    lost = f" ({stats.workers_lost} lost, their windows run again)" if stats.workers_lost else ""
    remote = (f"  cluster: {stats.windows_remote} windows computed by the workers{lost}"
              if stats.windows_remote or stats.workers_lost else None)
    lines = [
        f"{PROG}: {frames} frames, {holes:,} hole pixels",
        f"  filled by propagation:   {stats.filled_propagation:>{width},} "
        f"({_percent(stats.filled_propagation, holes)})",
        f"  filled by hallucination: {stats.filled_hallucination:>{width},} "
        f"({_percent(stats.filled_hallucination, holes)})",
        f"  keyframes: {stats.keyframes}; shot cuts: {cut_text}",
        f"  {per_frame:.3f} s/frame ({seconds:.1f} s in all)",
        f"  time: {stages}" if shares else None,
        resumed,
        remote,
        f"  wrote {output}",
    ]
    return "\n".join(line for line in lines if line is not None)


def _prepare(
    args: argparse.Namespace,
) -> tuple[Options, FrameSource, MaskSource, Fraction | None, FlowEstimator]:
    options = options_from_args(args)
    check_device(options.device)
    fps = parse_fps(args.fps) if args.fps is not None else None
    source = open_frames(args.input, keep_alpha=True)
    tone = args.flow_tone_arg
    if tone == "auto":
        tone = "linear" if source.info.dtype == "float32" else "display"
    options = replace(options, flow_tone=tone)
    estimator = flow_estimator(options)  # RAFT weights are checked here, before any output
    if args.frames is not None:
        source.select(*parse_frames(args.frames, source.info.count))
    if fps is not None and source.info.kind == "movie":
        if fps != source.info.fps:
            raise InputError(
                "--fps", f"the input movie runs at {source.info.fps} fps and keeps its own "
                "timing and audio; --fps is for image-sequence input",
            )
        fps = None  # the movie's own clock (and its audio) apply
    masks = open_masks(args.mask, source).validate()
    check_output_encoding(args.output, args.codec, args.quality)  # before any work
    return options, source, masks, fps, estimator


@dataclass
class ClipRun:
    """One clip's ``remove``, validated: sources open, options resolved, checkpoint set up
    (nothing written yet)."""

    args: argparse.Namespace
    options: Options
    source: FrameSource
    masks: MaskSource
    fps: Fraction | None
    estimator: FlowEstimator
    checkpoint: Checkpoint


def prepare_clip(args: argparse.Namespace) -> ClipRun:
    """Validate one clip's run (input, mask, options, output encoding) without writing."""
    options, source, masks, fps, estimator = _prepare(args)
    info = source.info
    checkpoint = Checkpoint(
        folder_for(args.output),
        fingerprint(source_files(source) | frozenset(masks.paths), options,
                    {"input": os.path.abspath(args.input), "mask": args.mask,
                     "frames": info.count, "size": info.size_text,
                     "range": source.selection}),
        resume=args.resume, identity=run_identity(options),
    )
    return ClipRun(args, options, source, masks, fps, estimator, checkpoint)


def scan_for_plan(run: ClipRun, progress: Progress,
                  distributed: bool) -> tuple[Plan | None, ReferenceFrames | None]:
    """The clip's plan and reference frames when a scan is needed (reference frames in a clip
    longer than a window, or windows filled elsewhere: then no references are read here)."""
    options, info = run.options, run.source.info
    if not distributed and not (options.reference_frames
                                and (info.count is None or info.count > options.window)):
        return None, None
    open_clip = lambda: (run.source, run.masks)  # noqa: E731
    found = scan_clip(open_clip, options, progress)
    clip_plan = plan(found.areas, found.cuts, options)
    if distributed:
        return clip_plan, None
    return clip_plan, ReferenceFrames.read(open_clip, clip_plan.picks, clip_plan.shots, options)


def write_clip(run: ClipRun, progress: Progress, stats: Stats, clip_plan: Plan | None,
               references: ReferenceFrames | None, fill: WindowFill | None) -> int:
    """Stream the clip through the pipeline into its atomic sink; return the frames written."""
    args, source, masks = run.args, run.source, run.masks
    with open_sink(args.output, source, fps=run.fps, protect=masks.paths, codec=args.codec,
                   quality=args.quality) as sink:
        if source.yields_alpha and not sink.keeps_alpha and not args.quiet:
            print(f"{PROG}: note: {args.output} cannot store alpha: the input's alpha "
                  "is dropped (PNG, TIFF, EXR frames, .mov and .avi keep it)",
                  file=sys.stderr)
        bar = progress.bar("write")
        for frame in remove_stream(source, masks, run.options, progress, stats,
                                   estimator=run.estimator, references=references,
                                   checkpoint=run.checkpoint, plan=clip_plan, fill=fill):
            sink.write(frame)
            bar.update(1)
        masks.finish()
    return sink.written


def remove_command(args: argparse.Namespace) -> int:
    """Run ``flowfill remove``: validate everything, stream the clip through, commit the output.

    Finished windows go to a checkpoint beside the output as they complete; it is deleted once
    the output is committed, dropped on bad input, and kept when the run is interrupted, for
    ``--resume``.
    """
    started = time.perf_counter()
    target = None
    if args.ray is not None:  # before any work: a missing Ray or a bad target is bad input
        from flowfill.dist.cluster import import_ray, parse_target

        target = parse_target(args.ray)
        import_ray()
    apply_threads(args.threads)
    bound_heap()  # a process-wide allocator setting: the command's to make, not the library's
    run = prepare_clip(args)
    checkpoint = run.checkpoint
    show_bars = bars_wanted(args.quiet)
    progress = Progress(enabled=show_bars, total=run.source.info.count)
    stats = Stats()
    try:
        clip_plan, references = scan_for_plan(run, progress, target is not None)
        with contextlib.ExitStack() as stack:
            pool = None
            if target is not None:
                assert clip_plan is not None
                pool = _ray_pool(stack, target, run, clip_plan, progress)
            written = write_clip(run, progress, stats, clip_plan, references,
                                 None if pool is None else pool.fill)
            if pool is not None:
                stats.windows_remote, stats.workers_lost = pool.computed, pool.lost
    except InputError:
        checkpoint.discard()  # bad input: nothing is left behind
        raise
    except BaseException:
        if os.path.isdir(checkpoint.folder):
            print(f"{PROG}: finished windows are kept in {checkpoint.folder}; run the same "
                  "command with --resume to continue", file=sys.stderr)
        raise
    finally:
        progress.close()
    checkpoint.discard()
    if not args.quiet:
        seconds = time.perf_counter() - started
        print(summary(stats, written, seconds, args.output), file=sys.stderr)
    return 0


def apply_threads(threads: int | None) -> None:
    """``--threads N``: torch's and OpenCV's counts for this process (unset: their defaults)."""
    if threads is not None:
        if threads < 1:
            raise InputError("--threads", f"must be at least 1, not {threads}")
        Threads(threads, threads).apply()  # process-wide, like the heap setting


def ray_clip(run: ClipRun):  # -> flowfill.dist.worker.Clip
    """Where a worker reads the clip from: absolute paths, the ``--frames`` selection."""
    from flowfill.dist.worker import Clip

    args = run.args
    kind = run.masks.kind
    mask = args.mask if kind in (ALPHA, BORDERS, AUTO) else os.path.abspath(args.mask)
    info = run.source.info
    return Clip(os.path.abspath(args.input), mask, run.source.selection,
                (info.width, info.height))


def finished_windows(checkpoint: Checkpoint, clip_plan: Plan) -> set[int]:
    """The first frames of the plan's windows a resumed ``checkpoint`` already holds."""
    skip: set[int] = set()
    if checkpoint.resumed:
        for work in clip_plan.to_fill:
            record = checkpoint.load(work.window.start)
            if record is not None and len(record.outputs) == work.window.keep:
                skip.add(work.window.start)
    return skip


def _ray_pool(stack: contextlib.ExitStack, target: Target, run: ClipRun, clip_plan: Plan,
              progress: Progress):  # -> flowfill.dist.driver.WindowPool
    """Connect to the cluster (for as long as ``stack`` lasts) and start the workers on the
    windows the checkpoint does not hold; the pool's ``fill`` takes their results."""
    from flowfill.dist.cluster import connected, worker_count
    from flowfill.dist.driver import WindowPool

    ray = stack.enter_context(connected(target, run.args.quiet))
    pool = WindowPool(ray, ray_clip(run), clip_plan, worker_count(ray, target), Threads.here(),
                      progress, finished_windows(run.checkpoint, clip_plan))
    stack.callback(pool.close)
    return pool


def stabilise_command(args: argparse.Namespace) -> int:
    """Run ``flowfill stabilise``: measure the path, warp onto its smoothed form, fill or crop."""
    started = time.perf_counter()
    bound_heap()
    if args.smoothness < 0:
        raise InputError("--smoothness", f"must not be negative, not {args.smoothness:g}")
    if not 0 <= args.max_shift < 50:
        raise InputError("--max-shift", f"must be from 0 to under 50 (%), not {args.max_shift:g}")
    options = options_from_args(args)
    check_device(options.device)
    fps = parse_fps(args.fps) if args.fps is not None else None
    source = open_frames(args.input)
    tone = args.flow_tone_arg
    if tone == "auto":
        tone = "linear" if source.info.dtype == "float32" else "display"
    options = replace(options, flow_tone=tone)
    estimator = flow_estimator(options)
    if args.frames is not None:
        source.select(*parse_frames(args.frames, source.info.count))
    if fps is not None and source.info.kind == "movie" and fps != source.info.fps:
        raise InputError("--fps", f"the input movie runs at {source.info.fps} fps and keeps "
                         "its own timing and audio; --fps is for image-sequence input")
    check_output_encoding(args.output, args.codec, args.quality)
    show_bars = bars_wanted(args.quiet)
    progress = Progress(enabled=show_bars, total=source.info.count)
    stats = Stats()
    try:
        path = measure_path(source, tone, progress)
        warps, zoom = plan_warps(path, args.mode, args.smoothness, args.max_shift / 100)
        with open_sink(args.output, source, fps=fps, codec=args.codec,
                       quality=args.quality, keep_planes=False) as sink:
            bar = progress.bar("write")
            for frame in stabilised(source, warps, args.mode, options, progress, stats,
                                    estimator=estimator):
                sink.write(frame)
                bar.update(1)
    finally:
        progress.close()
    if not args.quiet:
        seconds = time.perf_counter() - started
        planned = jitter(path.smoothed(args.smoothness, args.max_shift / 100), path.spans(),
                         path.width, path.height)
        lines = [f"{PROG}: camera shake {path.jitter():.2f} px RMS in, {planned:.2f} px out; "
                 f"{len(path.segments)} path segment(s)"]
        if args.mode == "crop":
            lines.append(f"  cropped to {zoom:.1%} of the frame, scaled back to "
                         f"{source.info.size_text}")
            lines.append(f"  {seconds / max(sink.written, 1):.3f} s/frame; wrote {args.output}")
        else:
            lines.append(summary(stats, sink.written, seconds, args.output))
        print("\n".join(lines), file=sys.stderr)
    return 0


def flow_command(args: argparse.Namespace) -> int:
    """Run ``flowfill flow``: check everything, estimate A -> B, commit the .flo and its picture."""
    import numpy as np

    from flowfill.flow import estimate
    from flowfill.flow.colour import flow_to_colour
    from flowfill.flow.flo import write_flo
    from flowfill.io.atomic import check_file_target, check_parent, remove_quietly, temp_name_beside
    from flowfill.io.images import read_image, write_image

    out = args.output
    stem, ext = os.path.splitext(out)
    if ext.lower() != ".flo":
        raise InputError(out, "the output must be a .flo file (its picture goes beside it as .png)")
    picture = stem + ".png"
    options = options_from_args(args)  # the same checks as for remove
    check_device(options.device)
    inputs = frozenset(os.path.realpath(p) for p in (args.image_a, args.image_b))
    for target in (out, picture):
        check_parent(target)
        check_file_target(target, True, inputs, "is a folder, not a file")
    frame_a, frame_b = read_image(args.image_a).rgb, read_image(args.image_b).rgb
    if frame_a.shape != frame_b.shape:
        (ha, wa), (hb, wb) = frame_a.shape[:2], frame_b.shape[:2]
        raise InputError(args.image_b, f"is {wb}x{hb} but {args.image_a} is {wa}x{ha}; "
                         "the two images must be the same size")
    started = time.perf_counter()
    flow = estimate(frame_a, frame_b, method=options.flow, weights=options.raft_weights,
                    iters=options.raft_iters, device=options.device,
                    max_side=options.flow_max_side)
    seconds = time.perf_counter() - started
    temps = [temp_name_beside(out), temp_name_beside(picture)]
    try:
        write_flo(temps[0], flow)
        write_image(temps[1], flow_to_colour(flow).astype(np.float32) / 255, "uint8")
        os.replace(temps[1], picture)
        os.replace(temps[0], out)  # the .flo last: when it is there, both are complete
    except BaseException:
        for temp in temps:
            remove_quietly(temp)
        raise
    if not args.quiet:
        mean = float(np.hypot(flow[..., 0], flow[..., 1]).mean())
        height, width = flow.shape[:2]
        print(f"{PROG}: flow {width}x{height}, {args.flow} in {seconds:.2f} s, "
              f"mean |flow| {mean:.2f} px; wrote {out} and {picture}", file=sys.stderr)
    return 0


def train_edges_config(args: argparse.Namespace):  # -> flowfill.edges.train.TrainConfig
    """The :class:`TrainConfig` the command line asks for; InputError naming a bad option."""
    import math

    from flowfill.edges.net import MULTIPLE
    from flowfill.edges.train import TrainConfig

    if args.steps < 1:
        raise InputError("--steps", f"must be at least 1, not {args.steps}")
    if args.batch < 1:
        raise InputError("--batch", f"must be at least 1, not {args.batch}")
    if args.crop < 32 or args.crop % MULTIPLE:
        raise InputError("--crop", f"must be a multiple of {MULTIPLE} of at least 32, "
                         f"not {args.crop}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise InputError("--lr", f"must be a positive number, not {args.lr}")
    return TrainConfig(steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
                       seed=args.seed, kind=args.kind)


def _check_clip_crop(crop: int) -> None:
    """Real crops are cut from the shared clips at their evaluation size: refuse a crop that
    does not fit when any training clip is present (before minutes of flow estimation)."""
    from flowfill.evaluate.clips import EVAL_SIZE, shared_clips_dir

    root = shared_clips_dir()
    present = any((root / name).exists() for name in ("tennis", "bmx-trees", "running_car.mp4"))
    if present and crop > min(EVAL_SIZE):
        raise InputError("--crop", f"at most {min(EVAL_SIZE)} with the shared clips (their "
                         "height); use --no-clips for larger crops")


def train_edges_command(args: argparse.Namespace) -> int:
    """Run ``flowfill train-edges``: check the options and the output, train, commit."""
    import contextlib
    import json
    from pathlib import Path

    from flowfill.devices import resolve_device
    from flowfill.edges.train import recalibrate, train
    from flowfill.io.atomic import check_parent

    config = train_edges_config(args)
    device = resolve_device(args.device)
    if args.clips and not args.calibrate_only:
        _check_clip_crop(config.crop)
    if args.out is None:
        from flowfill.edges.complete import WEIGHTS
        from flowfill.edges.image import IMAGE_WEIGHTS

        out = IMAGE_WEIGHTS if config.kind == "image" else WEIGHTS
    else:
        out = Path(args.out)
    log = out.with_suffix(".log.jsonl")
    for target in (out, log):
        if target.is_dir():
            raise InputError(target, "is a folder, not a file")
    if args.calibrate_only and not out.is_file():
        raise InputError(out, "no such file (--calibrate-only calibrates an existing checkpoint)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(out.parent, f"cannot create the output folder ({err.strerror})") from None
    check_parent(str(out))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # notes on skipped clips: stdout is the record
            if args.calibrate_only:
                record = recalibrate(out, device, use_clips=args.clips, quiet=args.quiet)
            else:
                record = train(config, out, device=device, use_clips=args.clips,
                               quiet=args.quiet)
    except BaseException:  # both write under these names and rename at the end
        for temp in (out.with_name(out.name + ".tmp"), log.with_name(log.name + ".tmp")):
            temp.unlink(missing_ok=True)
        raise
    print(json.dumps(record))
    if not args.quiet:
        print(f"{PROG}: wrote {out} and {log}", file=sys.stderr)
    return 0


def evaluate_command(argv: list[str]) -> int:
    """Run ``flowfill evaluate``: hand the arguments to the benchmark's own parser."""
    try:
        from flowfill.evaluate.benchmark import main as benchmark_main
    except ImportError as err:
        raise InputError("evaluate", f"the benchmark is not available ({err})") from None
    try:
        code = benchmark_main(argv)
    except SystemExit as done:  # its argparse exits on --help and on usage errors
        code = done.code
    if code is None or isinstance(code, int):
        return int(code or 0)
    print(code, file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flowfill`` command; returns the exit code (2 for bad input)."""
    if argv is None and threading.current_thread() is threading.main_thread():
        # run as the program: an interrupt stops the run (and removes partial output) even when
        # the parent ignores Ctrl-C, as a background job's shell and some hosts make children do
        signal.signal(signal.SIGINT, signal.default_int_handler)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "evaluate":
            return evaluate_command(argv[1:])
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help and --version
            return int(done.code or 0)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        if args.command in ("stabilise", "stabilize"):
            return stabilise_command(args)
        if args.command == "detect":
            return detect_command(args)
        if args.command == "flow":
            return flow_command(args)
        if args.command == "train-edges":
            return train_edges_command(args)
        if args.command == "serve":
            return serve_command(args)
        if args.command == "batch":
            from flowfill.batch.command import batch_command

            return batch_command(args)
        return remove_command(args)
    except (InputError, _UsageError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
