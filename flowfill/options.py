"""The knobs of a removal run, shared by the library API, the CLI and the hosts."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from flowfill.errors import InputError

MIN_SIZE = 16
"""Least frame width and height (pixels) any input may have: flow needs some room."""

FLOW_METHODS = ("dis", "dis-fine", "dis-sparse", "raft", "raft-small")
FLOW_PRECISIONS = ("fp32", "fp16", "bf16")
FLOW_TONES = ("display", "linear")
"""How frame values encode light (``Options.flow_tone``; the curves: ``flowfill.flow.prep``)."""
FILL_METHODS = ("csa", "dip", "siren", "telea")
EDGE_MODES = ("auto", "on", "off")
NET_PRECISIONS = ("auto", "fp32", "bf16")
IMAGE_EDGE_MODES = ("on", "off")
GRAIN_MODES = ("auto", "off")
UNSEEN_MODES = ("background", "flow")


@dataclass(frozen=True)
class Options:
    """Every option of :func:`flowfill.remove`; defaults are the CPU-friendly configuration."""

    dilate: int | None = None
    """Pixels the hole is grown by internally (sources and Poisson boundary avoid the object's
    fringe); the output still changes only inside the mask as given. None: 5 px at 480p,
    scaled with size, less around thin parts, and none around parts of the mask that stay the
    same through a window (an overlay such as a logo or text has no fringe)."""
    grow: int = 0
    """Pixels the mask itself is grown by before anything else (the replaced region grows)."""
    flow: str = "dis"
    """Optical flow backend. CPU (OpenCV): dis (DIS, medium preset), dis-fine (DIS down to full
    resolution: less error on small, large and blurred motion, for 3-5x dis's flow time) or
    dis-sparse (dis-fine helped by sparse-to-dense matches, for large motion; 6-11x). raft or
    raft-small (torch; need weights): the most accurate when weights are given."""
    raft_weights: str | None = None
    """RAFT checkpoint (official raft-things.pth etc., or torchvision's); None: the
    FLOWFILL_RAFT_WEIGHTS environment variable. Never downloaded."""
    raft_iters: int = 20
    """RAFT refinement iterations (FGVC and ProPainter use 20)."""
    flow_max_side: int | None = 1024
    """Flow is estimated on a proxy whose long side is at most this many pixels and upsampled
    with its vectors scaled (None: full size). Bounds RAFT's correlation memory at 1080p/4K."""
    flow_precision: str = "fp32"
    """RAFT arithmetic on CUDA: fp32, fp16 or bf16 (autocast; the correlation stays fp32)."""
    flow_tone: str = "display"
    """How the frames encode light, which fixes the one curve that brings every frame to flow's
    input: display (gamma-encoded video and images) or linear (scene-linear light such as EXR
    plates: a log curve). The CLI's ``--flow-tone auto`` picks linear for float input."""
    nonlocal_frames: int = 3
    """Key frames spread through each window that every frame also gets flows to and from,
    giving candidates that adjacent chains cannot reach (FGVC uses 3); 0 turns them off."""
    nonlocal_scale: float = 0.5
    """Size of the proxy that flows to and from key and reference frames are estimated and
    completed on, as a fraction of the adjacent flows' proxy, its long side never below 480 px
    (so clips up to that size are unaffected): those frames are fallback sources (nearest
    first), and at 1080p and above a coarser distant flow costs them little. 1: the adjacent
    flows' proxy."""
    reference_frames: int = 3
    """Frames picked across the whole shot (in each of this many equal stretches, the one with
    the least hole) that every window of a longer shot also takes direct candidates from, so
    background seen far outside a window stays reachable. Needs input that can be read twice
    (files, arrays); 0 turns it off."""
    nonlocal_align: bool = True
    """Pre-align distant frames by a homography (SIFT outside the holes, RANSAC) before
    estimating non-local flow, so the flow only has to explain what the camera motion does not."""
    flow_prefill: bool = True
    """Flow is estimated on frames whose hole is smoothed over first (a push-pull fill of the
    pixels around it), not on what the hole holds: a logo's, a blank's or an object's edges
    pull the flow around them towards their own motion, well past the flow mask's margin, and
    the completion carries that error into the hole. Neighbouring frames are smoothed over
    their own holes, a distant pair over both (docs/METHOD.md 1.2a). Off: the frames as they
    are, better only where the hole shows the scene itself."""
    flow_dilate: int | None = None
    """Extra dilation of the hole for flow completion (flow near the object is unreliable).
    None: scaled with size (FGVC's 15 px at 480p)."""
    edges: str = "auto"
    """Motion edges completed into the hole by the edge net cut the flow fill's smoothness, so
    completed flow keeps sharp object boundaries. on: every flow; auto: flows between
    neighbouring frames (non-local ones keep the plain membrane, as FGVC), and only where Canny
    finds motion edges around the hole for the net to continue; off: the plain membrane."""
    edge_weights: str | None = None
    """Edge-net checkpoint (``flowfill train-edges``); None: the weights shipped with flowfill."""
    edge_precision: str = "auto"
    """Arithmetic of the edge nets (motion and image): fp32, bf16 (a bfloat16 copy of each net,
    autocast's numbers), or auto: bf16 where the CPU computes it natively (AVX512-BF16 or AMX:
    the nets in about half the time, probabilities within 0.003 of fp32's), fp32 elsewhere (a
    GPU included, until measured there). A cluster of mixed CPUs that must give the same
    output everywhere names one."""
    image_edges: str = "off"
    """Pixels no frame saw: on continues the picture's own strong edges through the hole first
    (the image-edge net), draws the patch fill's patches from the same side of them and cuts
    the smooth fills there, so each side takes its own rim's colour (structure before
    texture); off (the default until it measures better on footage, RESULTS.md): no guide."""
    image_edge_weights: str | None = None
    """Image-edge-net checkpoint (``flowfill train-edges --kind image``); None: the shipped one."""
    object_flow: bool = True
    """Also re-estimate flow in a wider ring around the hole where it moves like the removed
    object (flow estimators smear an object's motion beyond its silhouette)."""
    alpha: float = 0.1
    """Temperature, in pixels, of the candidate weight exp(-d / alpha) (FGVC's 0.1)."""
    consistency: bool = False
    """Hard-reject chain hops whose forward-backward round trip fails the occlusion test. Off
    (as FGVC's infinite hard threshold): the reverse flow it checks against was estimated
    towards the hole's unknown pixels, and rejected good hops wholesale; the chain error
    (``max_chain_error``, the weights) and the agreement vote judge sources instead."""
    max_chain_error: float = 8.0
    """A pixel whose one remaining candidate came through a round-trip error above this many
    pixels (given at 480p, scaled with size, at least 1 px) is not trusted: it is filled as if
    no frame had seen it. inf: trust every chain."""
    agreement: float = 0.12
    """Colour tolerance (RMS, 0..1) within which candidates agree: only the majority's are
    blended, so a source that disagrees with the others is dropped. inf: blend all."""
    refine_hops: bool = True
    """Move each hop of a hole pixel to a neighbouring frame by the sub-pixel shift (at most
    1.5 px) that best matches the known pixels of its 5 x 5 window in its own frame with what
    surrounds its landing point (``propagate.refine``): completed flow is interpolated across
    the hole, and where the motion changes inside it (parallax, a fence before a house) a thin
    hole's fill showed specks along every edge. Pixels with fewer than 8 known neighbours in
    the window keep their hop."""
    rounds: int = 2
    """How many times the hole is filled. From the second round on, the neighbouring frames'
    flow is estimated again through the previous fill (which moves with the picture around it)
    and taken as it is: flow completed across the hole interpolates every motion edge it
    crosses (a fence before a house, a limb), and chains along it land on the wrong side. Each
    further round costs another round of adjacent flow, propagation and fills (the distant
    flows are the first round's); 1 is the single round of FGVC."""
    first_round_proxy: bool = True
    """With several rounds, fill the first on the adjacent flows' proxy (``flow_max_side``)
    rather than at full size: its fill is only what the next round's flow looks through, and
    that flow is estimated on the proxy. Frames no larger than the proxy are unaffected."""
    nearest_first: bool = True
    """Where a neighbouring frame's flow chain gives a trusted source, do not take sources from
    distant (non-local, reference) frames: they are the likeliest to show a moving object where
    the hole's frame shows background."""
    colour_weight: float = 0.0
    """Pull of the Poisson fusion towards the blended candidate colours (screened Poisson):
    0 is pure gradient-domain fusion; larger values keep inconsistent gradients from drifting
    the fill away from its sources."""
    grain: str = "off"
    """Film grain in the fill: auto adds synthetic grain where the fill is smoother than the
    ring of known pixels around the hole (blending and the Poisson solve average grain away,
    invented pixels have none), matching its strength per channel and luminance band, its size
    and its channel correlation, seeded by (seed, frame); off (the default) leaves the fill
    smooth: on video the grain reads as noise and costs 0.3-0.5 dB of hole-PSNR
    (``benchmarks/RESULTS.md``). The CLI turns it on for ``--mask auto`` (scanned film)."""
    unveil: bool = False
    """Line defects that let the picture through (film scratches): undo the overlay instead of
    replacing the picture. Where a line lays a share of white or black over the frame, the frame
    still holds the picture, dimmed, with its own grain; the share is estimated along each
    line-shaped part of the mask from the frame and the fill, and divided out. Nearly opaque
    lines, and every other part of the mask, keep the fill (``flowfill.fuse.unveil``). Off by
    default (an object is no overlay); the CLI turns it on for ``--mask auto``."""
    fill: str = "csa"
    """Fill for pixels that no frame saw: csa (coherent patch attention), dip (Deep Image
    Prior), siren (sine coordinate network) or telea (OpenCV). Only keyframes get it; what they
    invent is then carried to the other frames along the flow, so it stays put in time (and one
    anchor frame per window invents the detail of pixels no frame shows; see ``unseen``)."""
    unseen: str = "background"
    """Pixels the background's motion never carries out of the hole (a static logo on a still
    shot, burnt-in text): background (the default) fills them in every frame from that frame's
    rim, with the fill's detail invented once per window and carried by the background's
    motion, so it neither drifts nor flickers; flow carries them along the completed flow like
    any other pixel, as FGVC (``flowfill.propagate.unseen``)."""
    fill_budget: float | None = None
    """Seconds an iterative fill (dip, siren) may spend on one keyframe (None: its step limit)."""
    max_keyframes: int = 8
    """Bound on hallucinated keyframes per window; what remains after is filled per frame."""
    tiny_hole: int = 16
    """The keyframe loop stops once no frame has more than this many pixels left unfilled; the
    leftovers (and everything after ``max_keyframes``) are filled frame by frame."""
    window: int = 80
    """Frames per processing window (memory is bounded by it)."""
    overlap: int = 10
    """Frames shared by consecutive windows, cross-faded in the output."""
    cut_threshold: float = 0.4
    """Shot-cut sensitivity: the histogram distance (0..1) an isolated jump must exceed to count
    as a hard cut; 1 or more disables cut detection."""
    device: str = "auto"
    """Torch device for torch stages: auto, cpu, cuda or cuda:N."""
    frame_threads: int | None = None
    """Threads a window's frames are worked on at once (flow and its completion, each frame's
    gather and fusion, the re-anchoring); the output is the same whatever the count. None: one
    per CPU, at most 4, on the CPU, and one when the torch stages run on a GPU
    (``flowfill.parallel``)."""
    seed: int = 0
    """Seed for anything random, so runs are reproducible."""

    def validated(self) -> Options:
        """Return self after checking every value; raise InputError naming the bad option."""
        if self.flow not in FLOW_METHODS:
            raise InputError("--flow", f"unknown flow method {self.flow!r}; choose {FLOW_METHODS}")
        if self.flow_tone not in FLOW_TONES:
            raise InputError("--flow-tone", f"unknown tone {self.flow_tone!r}; choose display "
                             "or linear")
        if self.flow_precision not in FLOW_PRECISIONS:
            raise InputError("--flow-precision", f"unknown precision {self.flow_precision!r}; "
                                                 f"choose {FLOW_PRECISIONS}")
        if self.raft_iters < 1:
            raise InputError("--raft-iters", "needs at least 1 iteration")
        if self.flow_max_side is not None and self.flow_max_side < 32:
            raise InputError("--flow-max-side", "must be at least 32 pixels")
        if not 0 < self.nonlocal_scale <= 1:  # NaN fails too
            raise InputError("--nonlocal-scale", "must be above 0 and at most 1")
        if self.edges not in EDGE_MODES:
            raise InputError("--edges", f"unknown edge mode {self.edges!r}; choose {EDGE_MODES}")
        if self.edge_precision not in NET_PRECISIONS:
            raise InputError("--edge-precision", f"unknown precision {self.edge_precision!r}; "
                                                 f"choose {NET_PRECISIONS}")
        if self.image_edges not in IMAGE_EDGE_MODES:
            raise InputError("--image-edges", f"unknown mode {self.image_edges!r}; choose "
                             f"{IMAGE_EDGE_MODES}")
        if self.grain not in GRAIN_MODES:
            raise InputError("--grain", f"unknown grain mode {self.grain!r}; choose {GRAIN_MODES}")
        if self.unseen not in UNSEEN_MODES:
            raise InputError("--unseen", f"unknown mode {self.unseen!r}; choose {UNSEEN_MODES}")
        if self.fill not in FILL_METHODS:
            raise InputError("--fill", f"unknown fill {self.fill!r}; choose {FILL_METHODS}")
        if self.fill_budget is not None and self.fill_budget <= 0:
            raise InputError("--fill-budget", "must be positive")
        if self.rounds < 1:
            raise InputError("--rounds", "needs at least 1 round")
        for name in ("grow", "max_keyframes", "overlap", "nonlocal_frames", "tiny_hole",
                     "reference_frames"):
            if getattr(self, name) < 0:
                raise InputError(f"--{name.replace('_', '-')}", "must not be negative")
        for name in ("dilate", "flow_dilate"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(f"--{name.replace('_', '-')}", "must not be negative")
        if self.frame_threads is not None and self.frame_threads < 1:
            raise InputError("--frame-threads", "needs at least 1 thread")
        if self.window < 2:
            raise InputError("--window", "needs at least 2 frames")
        if self.overlap >= self.window:
            raise InputError("--overlap", "must be smaller than --window")
        if self.alpha <= 0:
            raise InputError("--alpha", "must be positive")
        for name in ("max_chain_error", "agreement"):
            if not getattr(self, name) > 0:  # NaN fails too
                raise InputError(f"--{name.replace('_', '-')}", "must be positive (inf: off)")
        if self.colour_weight < 0:
            raise InputError("--colour-weight", "must not be negative")
        return self

    @classmethod
    def from_kwargs(cls, **kwargs: object) -> Options:
        """Build from keyword arguments, rejecting unknown names with a clear error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"unknown option(s) {unknown}; known: {sorted(known)}")
        return replace(cls(), **kwargs).validated()


def cli_flags(options: dict[str, object]) -> list[str]:
    """The ``flowfill remove`` flags that set ``options`` (Options field names to values), for
    tools that build a command line (benchmarks, tests, host scripts)."""
    flags: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags += [flag] if value else ["--no-" + name.replace("_", "-")]
        elif value is not None:
            flags += [flag, str(value)]
    return flags
