"""Complete flow edges into the hole with the shipped gated edge net (or a user's weights).

Known edges are Canny's, outside the hole; inside the hole (and the one-pixel rim Canny leaves
empty) the net predicts their probability from the masked magnitude, the known edges and the
mask. ``complete_edges`` thresholds it; the flow fill takes it as soft edges instead
(:meth:`EdgeCompleter.strength`, with the checkpoint's calibrated softness). Large
frames are worked on at a proxy whose short side is at most ``WORK_SHORT`` (the net was trained
on motion at about 240p) and the probabilities brought back to full size; the net sees only a
crop around the hole, so its cost follows the hole, not the frame.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from flowfill.devices import native_bf16, resolve_device, small_work
from flowfill.edges.canny import HIGH, LOW, MIN_SPEED, canny, canny_sigma
from flowfill.edges.net import MULTIPLE, EdgeNet
from flowfill.edges.strips import edge_strips
from flowfill.errors import InputError
from flowfill.masks import box
from flowfill.options import NET_PRECISIONS

WEIGHTS = Path(__file__).resolve().parent / "weights" / "edge_net.pt"
"""The shipped weights, trained by ``flowfill train-edges`` (see MODEL_CARD.md beside them)."""
WORK_SHORT = 320
CONTEXT = 32
"""Pixels of known flow around the hole that the net sees (at the working size); 48 until
issue 19, for the same quality figures and a third more of the net's work (RESULTS.md)."""
THRESHOLD = 0.5
"""Probability threshold of a checkpoint that names none (train-edges calibrates its own)."""
SOFTNESS = 0.02
"""Softness of a checkpoint that names none: probability p cuts ``1 - exp(-p / softness)`` of
a link's smoothness (train-edges calibrates its own on held-apart real flows)."""

_cache: dict[tuple[str, str, int], EdgeNet] = {}
_lock = threading.Lock()


def load_edge_net(weights: str | Path | None = None, device: str | torch.device = "cpu"
                  ) -> EdgeNet:
    """The edge net from ``weights`` (default: the shipped file) on ``device``, in eval mode."""
    path = Path(weights) if weights is not None else WEIGHTS
    dev = torch.device(resolve_device(str(device)))
    stamp = path.stat().st_mtime_ns if path.is_file() else 0  # a retrained file reloads
    key = (str(path.resolve()) if path.exists() else str(path), str(dev), stamp)
    with _lock:
        if key not in _cache:
            _, net = read_checkpoint(path)
            _cache[key] = net.to(dev).eval()
        return _cache[key]


def read_checkpoint(path: Path) -> tuple[dict, EdgeNet]:
    """The checkpoint's contents and its net on the CPU, with the calibrated ``threshold`` and
    ``softness`` set (defaults for a checkpoint that names none); InputError naming ``path``
    when it is missing or not an edge-net checkpoint."""
    if not path.is_file():
        raise InputError(str(path), "edge-net weights not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net = EdgeNet(widths=tuple(blob["config"]["widths"]),
                      blocks=int(blob["config"]["blocks"]),
                      dilations=tuple(blob["config"]["dilations"]))
        net.load_state_dict({k: v.float() for k, v in blob["state"].items()})
        net.threshold = float(blob.get("threshold", THRESHOLD))
        net.softness = float(blob.get("softness", SOFTNESS))
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
        raise InputError(str(path), f"not a flowfill edge-net checkpoint ({exc})") from exc
    return blob, net


def batch_magnitude(flow: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """|flow| (B x 2 x H x W) over each sample's max on ``known`` (B x 1 x H x W), >= MIN_SPEED."""
    mag = torch.linalg.vector_norm(flow, dim=1, keepdim=True)
    top = (mag * known).amax(dim=(2, 3), keepdim=True)
    return mag / top.clamp_min(MIN_SPEED)


def predict_region(mask: torch.Tensor) -> torch.Tensor:
    """Where the net decides (B x 1 x H x W float): the hole plus the rim Canny leaves empty."""
    return F.max_pool2d(mask.float(), 3, stride=1, padding=1)


def net_inputs(mag: torch.Tensor, edges: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The net's 3 channels: magnitude with the hole painted 1, known edges, the mask."""
    m = mask.float()
    return torch.cat([mag.clamp(0, 2) * (1 - m) + m, edges.float() * (1 - m), m], dim=1)


def _region(mask: np.ndarray) -> np.ndarray:
    """:func:`predict_region` of one bool H x W mask, as bool numpy."""
    return predict_region(torch.as_tensor(np.asarray(mask, bool))[None, None])[0, 0].numpy() > 0


def _bbox(region: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """A crop (y0, y1, x0, x1) around ``region`` plus ``margin``, within the frame."""
    rows, cols = box(region, margin)
    return rows.start, rows.stop, cols.start, cols.stop


CROP_STEP = 16
"""The net's input is grown to a multiple of this in each direction (of a power of two at most
an eighth of the side, where the side is shorter than 128), with the picture beyond the crop's
far side (replicated past the frame's edge): a convolution's first call at a new size costs
about as much as the call itself (oneDNN builds its kernels per shape), and crops a few pixels
apart then share one, for at most an eighth more of the net's work."""


def crop_step(side: int) -> int:
    """The multiple a crop's ``side`` is grown to (:data:`CROP_STEP`)."""
    return min(CROP_STEP, max(MULTIPLE, 1 << max(0, int(side).bit_length() - 4)))


def _grown(start: int, stop: int, size: int, step: int) -> tuple[int, int, int]:
    """The rows (or columns) [a, b) the net reads for a crop [start, stop) of a side of
    ``size``, and how many it pads past them: ``b - a + pad`` is a multiple of ``step``. The
    crop grows past ``stop``, and where the frame ends there, back from ``start`` by whole
    multiples of the net's strides (:data:`MULTIPLE`: its grid stays put); the rest is padded."""
    want = -(-(stop - start) // step) * step
    over = max(0, start + want - size)
    a = start - min(over // MULTIPLE * MULTIPLE, start // MULTIPLE * MULTIPLE)
    b = min(a + want, size)
    return a, b, want - (b - a)


class EdgeCompleter:
    """Callable ``(flow, mask) -> edges`` with the net loaded once (see :func:`complete_edges`);
    :meth:`strength` gives the soft edges the flow fill uses.

    ``need_context``: skip the net (no edges in the hole) when Canny finds no motion edge within
    CONTEXT pixels of the hole: there is no boundary to continue, and the net's guess at an
    object wholly inside the hole is not worth trusting (``--edges auto``). ``net``: an edge
    net in memory (a run being calibrated) instead of ``weights``. ``precision``: the net's
    arithmetic (``Options.edge_precision``): fp32, bf16 (a bfloat16 copy of the net: what
    autocast computes, without casting the weights at every call), or auto, bf16 where the
    CPU computes it natively (:func:`flowfill.devices.native_bf16`).
    """

    default_weights = WEIGHTS
    low, high = LOW, HIGH
    """Canny's thresholds on the net's signal (see :func:`flowfill.edges.canny.canny`)."""

    def __init__(self, device: str | torch.device = "cpu", weights: str | Path | None = None,
                 threshold: float | None = None, need_context: bool = False,
                 softness: float | None = None,
                 net: EdgeNet | None = None, precision: str = "auto") -> None:
        self.device = torch.device(resolve_device(str(device)))
        if precision not in NET_PRECISIONS:
            raise ValueError(f"unknown edge-net precision {precision!r}")
        self.bf16 = precision == "bf16" or (precision == "auto" and native_bf16(self.device))
        self.net = (load_edge_net(self.default_weights if weights is None else weights,
                                  self.device) if net is None else net.to(self.device))
        self.threshold = getattr(self.net, "threshold", THRESHOLD) if threshold is None \
            else threshold
        self.softness = getattr(self.net, "softness", SOFTNESS) if softness is None else softness
        self._dtype = torch.bfloat16 if self.bf16 else torch.float32
        self._run = copy.deepcopy(self.net).to(self._dtype) if self.bf16 else self.net
        self.need_context = need_context

    def signal(self, data: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """What edges are found in (1 x 1 x H x W) from ``data`` (1 x C x H x W) and the hole
        (1 x 1 x H x W bool): the flow's magnitude over its maximum on the known pixels."""
        return batch_magnitude(data, ~mask)

    def probability(self, flow: np.ndarray, mask: np.ndarray, whole: bool = True
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Known Canny edges (bool H x W) and the net's edge probability (float H x W, 0 outside
        the region it predicts). ``whole=False``: skip Canny of the whole frame (the known
        edges come back empty); only the neighbourhood of the hole is worked on, as small
        work (one torch thread on the CPU, :func:`flowfill.devices.small_work`)."""
        if whole:
            return self._probability(flow, mask, whole)
        with small_work(self.device):
            return self._probability(flow, mask, whole)

    def _probability(self, flow: np.ndarray, mask: np.ndarray, whole: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
        h, w = mask.shape
        dev = self.device
        data = np.asarray(flow, dtype=np.float32)
        data = data[..., None] if data.ndim == 2 else data
        flow_t = torch.as_tensor(np.ascontiguousarray(data), device=dev).permute(2, 0, 1)[None]
        mask_t = torch.as_tensor(np.ascontiguousarray(mask), device=dev).bool()[None, None]
        mag = self.signal(flow_t, mask_t)
        known = (canny(mag, ~mask_t, canny_sigma((h, w)), self.low, self.high)[0, 0].cpu().numpy()
                 if whole else np.zeros((h, w), bool))
        prob = np.zeros((h, w), np.float32)
        if not bool(mask_t.any()):
            return known, prob
        scale = min(1.0, WORK_SHORT / min(h, w))
        if scale < 1.0:  # work on a proxy; area-average magnitude, a mask pixel if any is hole
            sh, sw = max(MULTIPLE, round(h * scale)), max(MULTIPLE, round(w * scale))
            mag_s = F.interpolate(mag, (sh, sw), mode="area")
            mask_s = F.interpolate(mask_t.float(), (sh, sw), mode="area") > 0
        else:
            sh, sw, mag_s, mask_s = h, w, mag, mask_t
        region_s = predict_region(mask_s)
        region_np = region_s[0, 0].cpu().numpy() > 0
        strips = edge_strips(region_np)  # one side to continue from: the membrane alone
        if strips.any():
            region_np &= ~strips
            if not region_np.any():
                return known, prob
            region_s = torch.as_tensor(region_np, device=dev)[None, None].float()
        sigma = canny_sigma((sh, sw))
        cy0, cy1, cx0, cx1 = _bbox(region_np, CONTEXT)
        y0, y1, ph = _grown(cy0, cy1, sh, crop_step(cy1 - cy0))
        x0, x1, pw = _grown(cx0, cx1, sw, crop_step(cx1 - cx0))
        # Canny only around the crop, grown by the smoothing kernel's reach
        reach = int(2 * sigma) + 3
        oy0, oy1 = max(0, y0 - reach), min(sh, y1 + reach)
        ox0, ox1 = max(0, x0 - reach), min(sw, x1 + reach)
        outer = (..., slice(oy0, oy1), slice(ox0, ox1))
        edges_o = canny(mag_s[outer], ~mask_s[outer], sigma, self.low, self.high)
        inner = (..., slice(y0 - oy0, y1 - oy0), slice(x0 - ox0, x1 - ox0))
        near = (..., slice(cy0 - oy0, cy1 - oy0), slice(cx0 - ox0, cx1 - ox0))
        if self.need_context and not bool(edges_o[near].any()):
            return known, prob
        crop = (..., slice(y0, y1), slice(x0, x1))
        x = net_inputs(mag_s[crop], edges_o[inner], mask_s[crop])
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        with torch.inference_mode():
            logits = self._run(x.to(self._dtype))[..., : y1 - y0, : x1 - x0].float()
        full_s = torch.zeros((1, 1, sh, sw), device=dev)
        full_s[crop] = torch.sigmoid(logits) * region_s[crop]
        if scale < 1.0:
            full_s = F.interpolate(full_s, (h, w), mode="bilinear", align_corners=False)
        prob = (full_s[0, 0] * predict_region(mask_t)[0, 0]).cpu().numpy()
        return known, prob

    def __call__(self, flow: np.ndarray, mask: np.ndarray, whole: bool = True) -> np.ndarray:
        """Bool H x W edges: Canny's outside the hole's one-pixel-grown region (only when
        ``whole``), the net's thresholded prediction inside it."""
        known, prob = self.probability(flow, mask, whole)
        region = _region(mask)
        inside = region & (prob >= self.threshold)
        return np.where(region, inside, known)

    def strength(self, flow: np.ndarray, mask: np.ndarray, whole: bool = True) -> np.ndarray:
        """Soft edges (float32 H x W in [0, 1]) for the edge-guided fill: 1 on Canny's edges
        outside the hole's one-pixel-grown region (only when ``whole``), inside it
        ``1 - exp(-p / softness)`` of the net's probability p.

        Why soft: on real flows the net is rarely sure (recall 0.33 at its F1 threshold), yet
        its faint predictions still lie along the boundaries; letting each cut the smoothness in
        proportion took the hole end-point error on the clips' benchmark flows from -6.6%
        (thresholded) to -11.9% against the plain membrane (MODEL_CARD.md), the softness
        calibrated on other frames.
        """
        return soft_edges(*self.probability(flow, mask, whole), mask, self.softness)


def soft_edges(known: np.ndarray, prob: np.ndarray, mask: np.ndarray, softness: float
               ) -> np.ndarray:
    """Edge strength (float32 H x W): ``known`` outside the hole's one-pixel-grown region,
    ``1 - exp(-prob / softness)`` inside it."""
    return np.where(_region(mask), -np.expm1(-prob / softness), known).astype(np.float32)


def complete_edges(flow: np.ndarray, mask: np.ndarray, device: str | torch.device = "cpu",
                   weights: str | Path | None = None) -> np.ndarray:
    """Motion edges (bool H x W) of ``flow`` (H x W x 2), completed inside the hole ``mask``.

    Outside the hole (and its one-pixel rim) they are Canny's edges of the flow magnitude,
    normalised over the known region; inside, the edge net's prediction thresholded at the
    checkpoint's calibrated threshold.
    """
    return EdgeCompleter(device, weights)(flow, mask)
