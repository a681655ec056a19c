"""The ``flowfill Remove`` node: ComfyUI's IMAGE batch and MASK in, the filled IMAGE batch out.

It calls flowfill's library in ComfyUI's own process (``flowfill.remove_stream``), with the same
reference-frame scan as ``flowfill remove``, so for the same frames, masks and options the node
returns what the command writes. Progress goes to ComfyUI's progress bar and ComfyUI's
interrupt stops the run, when ``comfy`` is importable; elsewhere both are skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

try:
    import flowfill
    from flowfill.options import EDGE_MODES, FILL_METHODS, FLOW_METHODS, Options
    from flowfill.progress import Progress, hooked
    from flowfill.shot import stage_spans
except ImportError as err:  # pragma: no cover - depends on the installation
    raise ImportError(
        "the flowfill custom node needs the flowfill package in ComfyUI's Python: run "
        "`<ComfyUI's python> -m pip install /path/to/flowfill` (or -e for a checkout)"
    ) from err

DEVICES = ("auto", "cpu", "cuda")
STAGE_WEIGHTS = {"scan": 0.05, "fill": 0.75, "write": 0.2}
"""Share of a run each part stands for, for the one progress bar; ``fill`` is the rounds' flow
and propagate stages, split as flowfill's own fraction splits them (``shot.stage_spans``)."""
PROGRESS_STEPS = 100
"""The ComfyUI progress bar counts percent."""


class FlowfillNodeError(ValueError):
    """Input the node cannot fill; ComfyUI shows the message to the user."""


def _options_help() -> dict[str, str]:
    return {
        "fill": "fill for pixels no frame saw: csa (patch attention), dip, siren, telea",
        "dilate": "margin in pixels around the mask treated as unreliable; -1: auto",
        "grow": "grow the mask itself by this many pixels",
        "window": "frames per processing window (memory follows it)",
        "overlap": "frames shared by neighbouring windows (smaller than window)",
        "flow": "optical flow: dis (CPU, no weights), raft or raft-small (need raft_weights)",
        "edges": "cut the flow fill at completed motion edges: auto, on, off",
        "device": "torch device for flowfill's torch stages",
        "raft_weights": "RAFT checkpoint path; empty: $FLOWFILL_RAFT_WEIGHTS (never downloaded)",
        "nonlocal_frames": "key frames per window every frame also gets flows to (0: off)",
        "reference_frames": "frames picked across a clip longer than a window (0: off)",
        "max_keyframes": "hallucinated keyframes per window at most",
        "rounds": "times the hole is filled: from the second on, the flow is estimated again "
                  "through the previous fill (sharper motion edges, a third to a half more "
                  "time each); 1: fastest, for a preview",
        "mask_threshold": "mask values above this are removed (0: any nonzero value)",
    }


class FlowfillRemove:
    """ComfyUI node: remove what the mask covers from a batch of video frames."""

    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("images",)
    FUNCTION = "remove"
    CATEGORY = "image/video"
    DESCRIPTION = ("Removes what the mask covers from a batch of video frames by flow-guided "
                   "video completion (flowfill): holes are filled with what other frames saw. "
                   "One mask for all frames, or one per frame.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, dict[str, tuple]]:  # noqa: N802 - ComfyUI's name
        """The node's inputs and widgets, defaults from :class:`flowfill.Options`."""
        d = Options()
        tip = _options_help()

        def integer(default: int, low: int, high: int, name: str) -> tuple:
            return ("INT", {"default": default, "min": low, "max": high, "step": 1,
                            "tooltip": tip[name]})

        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "the frames, [B,H,W,C] float 0..1"}),
                "mask": ("MASK", {"tooltip": "what to remove: [B,H,W], or one [H,W] for all"}),
                "fill": (list(FILL_METHODS), {"default": d.fill, "tooltip": tip["fill"]}),
                "dilate": integer(-1 if d.dilate is None else d.dilate, -1, 256, "dilate"),
                "grow": integer(d.grow, 0, 256, "grow"),
                "window": integer(d.window, 2, 10000, "window"),
                "overlap": integer(d.overlap, 0, 9999, "overlap"),
                "flow": (list(FLOW_METHODS), {"default": d.flow, "tooltip": tip["flow"]}),
                "edges": (list(EDGE_MODES), {"default": d.edges, "tooltip": tip["edges"]}),
                "device": (list(DEVICES), {"default": d.device, "tooltip": tip["device"]}),
            },
            "optional": {
                "raft_weights": ("STRING", {"default": "", "tooltip": tip["raft_weights"]}),
                "nonlocal_frames": integer(d.nonlocal_frames, 0, 16, "nonlocal_frames"),
                "reference_frames": integer(d.reference_frames, 0, 64, "reference_frames"),
                "max_keyframes": integer(d.max_keyframes, 0, 64, "max_keyframes"),
                "rounds": integer(d.rounds, 1, 8, "rounds"),
                "mask_threshold": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0,
                                             "step": 0.01, "tooltip": tip["mask_threshold"]}),
            },
        }

    def remove(self, images: Any, mask: Any, fill: str = "csa", dilate: int = -1,
               grow: int = 0, window: int = 80, overlap: int = 10, flow: str = "dis",
               edges: str = "auto", device: str = "auto", raft_weights: str = "",
               nonlocal_frames: int = 3, reference_frames: int = 3, max_keyframes: int = 8,
               mask_threshold: float = 0.0, rounds: int = 2) -> tuple[Any]:
        """Fill ``mask`` in ``images``; returns ``(images,)`` on the input's device and dtype."""
        frames = _frames(images)
        count, height, width, channels = frames.shape
        masks = _masks(mask, count, height, width, mask_threshold)
        if not masks.any():
            return (images,)  # nothing to remove: the frames as they came
        full = [i for i in range(count) if masks[i].all()]
        if full:
            raise FlowfillNodeError(f"flowfill Remove: the mask of frame {full[0]} covers the "
                                    "whole frame; nothing is left to fill from")
        try:
            options = Options.from_kwargs(
                fill=fill, dilate=None if dilate < 0 else int(dilate), grow=int(grow),
                window=int(window), overlap=int(overlap), flow=flow, edges=edges,
                device=device, raft_weights=raft_weights.strip() or None,
                nonlocal_frames=int(nonlocal_frames), reference_frames=int(reference_frames),
                max_keyframes=int(max_keyframes), rounds=int(rounds))
            out = _fill(frames, masks, options)
        except flowfill.InputError as err:
            raise FlowfillNodeError(f"flowfill Remove: {err}") from err
        return (_like(out, images),)


def _frames(images: Any) -> np.ndarray:
    """IMAGE ``[B,H,W,C]`` (C 3, or 4 with alpha) as float32 numpy on the CPU."""
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[3] not in (3, 4):
        raise FlowfillNodeError(f"flowfill Remove: images must be [B,H,W,3] (or 4 channels), "
                                f"not {list(shape)}")
    return np.asarray(images.detach().to("cpu").float().numpy(), dtype=np.float32)


def _masks(mask: Any, count: int, height: int, width: int, threshold: float) -> np.ndarray:
    """MASK ``[B,H,W]`` (or ``[1,H,W]``/``[H,W]`` for every frame) as bool ``[B,H,W]``."""
    values = np.asarray(mask.detach().to("cpu").float().numpy(), dtype=np.float32)
    if values.ndim == 4 and 1 in (values.shape[1], values.shape[3]):  # [B,1,H,W], [B,H,W,1]
        values = values.squeeze(1 if values.shape[1] == 1 else 3)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3:
        raise FlowfillNodeError(f"flowfill Remove: mask must be [B,H,W] or [H,W], not "
                                f"{list(values.shape)}")
    if values.shape[1:] != (height, width):
        raise FlowfillNodeError(
            f"flowfill Remove: the mask is {values.shape[2]}x{values.shape[1]} but the images "
            f"are {width}x{height}; resize the mask to the images' size")
    if values.shape[0] not in (1, count):
        raise FlowfillNodeError(
            f"flowfill Remove: {values.shape[0]} masks for {count} images; give one mask per "
            "image or a single mask for all")
    chosen = values > threshold
    return np.broadcast_to(chosen, (count, height, width)) if len(chosen) == 1 else chosen


def _fill(frames: np.ndarray, masks: np.ndarray, options: Options) -> np.ndarray:
    """The frames with the masks filled (a 4th channel passes through), reported to ComfyUI."""
    count = len(frames)
    meter = _Meter(count, options.rounds)

    def clip() -> tuple[Iterator[np.ndarray], Iterator[np.ndarray]]:
        return (frames[i, :, :, :3] for i in range(count)), (masks[i] for i in range(count))

    references = None
    if options.reference_frames and count > options.window:  # as flowfill.remove and the CLI
        scan_progress = hooked(Progress(enabled=False), meter.update, meter.cancelled)
        references = flowfill.ReferenceFrames.scan(clip, options, scan_progress)
    out = frames.copy()
    for i, frame in enumerate(flowfill.remove_stream(*clip(), options, references=references,
                                                     on_progress=meter.update,
                                                     cancelled=meter.cancelled)):
        out[i, :, :, :3] = frame
        meter.update("write", i + 1, count)
        meter.check()
    meter.finish()
    return out


def _like(array: np.ndarray, images: Any) -> Any:
    """``array`` as a torch tensor on the device and dtype of ``images``."""
    import torch

    return torch.from_numpy(array).to(device=images.device, dtype=images.dtype)


class _Meter:
    """One fraction from flowfill's stages, sent to ComfyUI's ProgressBar; the interrupt check."""

    def __init__(self, frames: int, rounds: int) -> None:
        self.frames = frames
        spans = stage_spans(rounds)
        scale = STAGE_WEIGHTS["fill"] / max(end for _, end in spans.values())
        self.weights = {"scan": STAGE_WEIGHTS["scan"], "write": STAGE_WEIGHTS["write"]}
        self.weights.update({name: (end - start) * scale for name, (start, end) in spans.items()})
        self.stages: dict[str, tuple[int, int]] = {}
        self.value = 0
        self.bar = _comfy_bar(PROGRESS_STEPS)
        self.interrupt = _comfy_interrupt()

    def update(self, stage: str, done: int, total: int | None = None) -> None:
        """A stage reached ``done`` of ``total`` (None: the clip's frames)."""
        self.stages[stage] = (done, total or self.frames)
        share = sum(weight * min(d / t, 1.0) for name, weight in self.weights.items()
                    for d, t in [self.stages.get(name, (0, 1))])
        value = min(int(share * PROGRESS_STEPS), PROGRESS_STEPS - 1)
        if value > self.value:
            self.value = value
            if self.bar is not None:
                self.bar.update_absolute(value, PROGRESS_STEPS)

    def finish(self) -> None:
        """The run is complete."""
        self.value = PROGRESS_STEPS
        if self.bar is not None:
            self.bar.update_absolute(PROGRESS_STEPS, PROGRESS_STEPS)

    def check(self) -> None:
        """Raise ComfyUI's interrupt exception when the user pressed Cancel."""
        if self.interrupt is not None:
            self.interrupt()

    def cancelled(self) -> bool:
        """remove_stream's cancel check: ComfyUI's interrupt raises out of the run itself."""
        self.check()
        return False


def _comfy_bar(total: int) -> Any:
    try:
        from comfy.utils import ProgressBar
    except ImportError:
        return None
    return ProgressBar(total)


def _comfy_interrupt() -> Callable[[], None] | None:
    try:
        from comfy.model_management import throw_exception_if_processing_interrupted
    except ImportError:
        return None
    return throw_exception_if_processing_interrupted
