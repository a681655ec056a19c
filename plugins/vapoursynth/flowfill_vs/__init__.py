"""flowfill for VapourSynth: ``remove(clip, mask)`` fills the masked region of an RGB clip.

The filter is a thin layer over :class:`flowfill.shot.Shot`, which does the windowing: asking
for frame n fills the window that outputs n once, the window's other frames come from the
Shot's bounded cache, and the answer equals what ``flowfill remove`` writes for frame n. Frames
and masks are pulled from the source clips (``get_frame``) as the Shot reads them, so nothing
but the Shot's cache (the filled values of the last windows and a few reference frames) is held,
whatever the clip's length.

    import vapoursynth as vs
    import flowfill_vs
    clip = flowfill_vs.remove(clip, mask, window=40)      # clip: RGB, mask: GRAY

See plugins/vapoursynth/README.md.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import vapoursynth as vs

try:
    from flowfill import InputError, Options
    from flowfill.shot import Shot
except ImportError as _err:  # the filter runs in VapourSynth's Python: flowfill must be there
    raise ImportError(
        "flowfill_vs needs flowfill installed in the Python that runs VapourSynth "
        "(pip install /path/to/flowfill); see plugins/vapoursynth/README.md"
    ) from _err

__all__ = ["FlowfillError", "clip_from_arrays", "remove", "shot_of"]
__version__ = "0.1.0"

_SHOTS: weakref.WeakKeyDictionary[vs.VideoNode, Shot] = weakref.WeakKeyDictionary()

_TO_RGB = ("core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s=\"709\") (or RGB24/RGB48; "
           "use the clip's own matrix, e.g. \"470bg\" for SD)")


class FlowfillError(vs.Error, ValueError):
    """A bad argument to :func:`remove` (clip format, mask, option): raised at call time."""


def remove(
    clip: vs.VideoNode,
    mask: vs.VideoNode | None = None,
    *,
    alpha: vs.VideoNode | None = None,
    cache_windows: int = 2,
    **options: Any,
) -> vs.VideoNode:
    """Fill where ``mask`` (or the clip's alpha) is set; returns a clip in ``clip``'s format.

    ``clip``: RGB, float (RGBS, RGBH) or integer (RGB24, RGB30, RGB48, ...), constant format
    and size. ``mask``: a GRAY clip of the same size and length; a pixel is removed where its
    value is above half the range (float: above 0.5). With ``mask=None`` the clip's alpha is
    used: the ``alpha`` clip if given, else the ``_Alpha`` frame property of ``clip``'s frames.
    ``options``: fields of :class:`flowfill.Options` (``window``, ``overlap``, ``dilate``,
    ``fill``, ``flow``, ...), checked now. ``cache_windows``: filled windows kept for reuse.
    Frame properties of the source frames pass through unchanged.
    """
    fmt = _check_clip(clip)
    opts = _options(options)
    if mask is None:
        mask = _alpha_clip(clip, alpha)
        what = "alpha"
    else:
        if alpha is not None:
            raise FlowfillError("flowfill_vs.remove: give either mask or alpha, not both")
        what = "mask"
    _check_mask(mask, clip, what)
    if cache_windows < 1:
        raise FlowfillError("flowfill_vs.remove: cache_windows must be at least 1")

    peak = _peak(fmt)
    threshold = _peak(mask.format) / 2 if mask.format.sample_type == vs.INTEGER else 0.5
    src, matte = clip, mask

    def read(i: int) -> tuple[np.ndarray, np.ndarray]:
        rgb = _to_float(_planes(src.get_frame(i)), peak)
        return rgb, np.asarray(matte.get_frame(i)[0]) > threshold

    try:
        shot = Shot(clip.num_frames, read, opts, cache_windows=cache_windows)
    except (InputError, ValueError, RuntimeError, OSError) as err:
        raise FlowfillError(f"flowfill_vs.remove: {err}") from err

    def render(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()  # keeps the source frame's properties (and its _Alpha)
        filled = shot.render(n)
        _write(out, _from_float(filled, fmt, peak))
        return out

    result = clip.std.ModifyFrame(clips=clip, selector=render)
    _SHOTS[result] = shot
    return result


def shot_of(node: vs.VideoNode) -> Shot:
    """The :class:`flowfill.shot.Shot` behind a clip :func:`remove` returned (its counters,
    ``windows_filled``, ``clock``), for inspection."""
    return _SHOTS[node]


def clip_from_arrays(
    frames: Sequence[np.ndarray] | Callable[[int], np.ndarray],
    format: int = vs.RGBS,  # noqa: A002 - VapourSynth's own keyword name
    *,
    length: int | None = None,
    fps: tuple[int, int] = (30, 1),
) -> vs.VideoNode:
    """A clip of numpy frames (H x W x C, or H x W for GRAY) in ``format``, written as given.

    ``frames`` is a sequence, or a function of the frame number (then ``length`` is needed);
    integer formats take integer samples, float formats float ones. For scripts and tests
    without a source plugin.
    """
    get = frames if callable(frames) else frames.__getitem__
    count = length if length is not None else len(frames)  # type: ignore[arg-type]
    first = np.asarray(get(0))
    blank = vs.core.std.BlankClip(format=format, width=first.shape[1], height=first.shape[0],
                                  length=count, fpsnum=fps[0], fpsden=fps[1], keep=True)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        _write(out, np.asarray(get(n)))
        return out

    return blank.std.ModifyFrame(clips=blank, selector=fill)


# -- checks ---------------------------------------------------------------------------------


def _check_clip(clip: vs.VideoNode) -> vs.VideoFormat:
    if not isinstance(clip, vs.VideoNode):
        raise FlowfillError(f"flowfill_vs.remove: clip must be a vs.VideoNode, not "
                            f"{type(clip).__name__}")
    fmt = clip.format
    if fmt is None or clip.width == 0 or clip.height == 0:
        raise FlowfillError("flowfill_vs.remove: the clip has a variable format or size; make "
                            "it constant first (e.g. core.resize.Bicubic(clip, width=W, "
                            "height=H, format=vs.RGBS))")
    if fmt.color_family != vs.RGB:
        family = {vs.YUV: "YUV", vs.GRAY: "GRAY"}.get(fmt.color_family, str(fmt.color_family))
        raise FlowfillError(f"flowfill_vs.remove: the clip is {fmt.name} ({family}); flowfill "
                            f"needs RGB: convert it first, e.g. {_TO_RGB}")
    if fmt.sample_type == vs.FLOAT and fmt.bits_per_sample not in (16, 32):
        raise FlowfillError(f"flowfill_vs.remove: unsupported float format {fmt.name}")
    if fmt.sample_type == vs.INTEGER and fmt.bits_per_sample > 16:
        raise FlowfillError(f"flowfill_vs.remove: unsupported {fmt.bits_per_sample}-bit "
                            f"format {fmt.name}; use RGB48 or RGBS")
    if clip.num_frames < 1:
        raise FlowfillError("flowfill_vs.remove: the clip has no frames")
    return fmt


def _options(options: dict[str, Any]) -> Options:
    try:
        opts = Options.from_kwargs(**options)
        from flowfill.devices import resolve_device

        resolve_device(opts.device)
    except (InputError, TypeError, ValueError, RuntimeError) as err:
        raise FlowfillError(f"flowfill_vs.remove: bad option: {err}") from err
    return opts


def _alpha_clip(clip: vs.VideoNode, alpha: vs.VideoNode | None) -> vs.VideoNode:
    if alpha is not None:
        return alpha
    try:
        return clip.std.PropToClip(prop="_Alpha")
    except vs.Error as err:
        raise FlowfillError(
            "flowfill_vs.remove: no mask given and the clip's frames carry no alpha (_Alpha "
            "frame property); pass mask=GRAY clip, or alpha=GRAY clip, or attach one with "
            f"core.std.ClipToProp(clip, alpha_clip, prop=\"_Alpha\") ({err})"
        ) from err


def _check_mask(mask: vs.VideoNode, clip: vs.VideoNode, what: str) -> None:
    if not isinstance(mask, vs.VideoNode):
        raise FlowfillError(f"flowfill_vs.remove: {what} must be a vs.VideoNode, not "
                            f"{type(mask).__name__}")
    fmt = mask.format
    if fmt is None or mask.width == 0 or mask.height == 0:
        raise FlowfillError(f"flowfill_vs.remove: the {what} clip has a variable format or "
                            "size; make it constant")
    if fmt.color_family != vs.GRAY:
        raise FlowfillError(
            f"flowfill_vs.remove: the {what} clip is {fmt.name}; it must be GRAY (take one "
            f"plane: core.std.ShufflePlanes({what}, 0, vs.GRAY))"
        )
    if (mask.width, mask.height) != (clip.width, clip.height):
        raise FlowfillError(f"flowfill_vs.remove: the {what} is {mask.width}x{mask.height} but "
                            f"the clip is {clip.width}x{clip.height}")
    if mask.num_frames != clip.num_frames:
        raise FlowfillError(f"flowfill_vs.remove: the {what} has {mask.num_frames} frames but "
                            f"the clip has {clip.num_frames}")


# -- pixels ---------------------------------------------------------------------------------


def _peak(fmt: vs.VideoFormat) -> float:
    """The integer format's largest sample (255, 1023, 65535...); 1.0 for float."""
    if fmt.sample_type == vs.FLOAT:
        return 1.0
    return float((1 << fmt.bits_per_sample) - 1)


def _planes(frame: vs.VideoFrame) -> np.ndarray:
    """The frame's planes as one H x W x planes array (copied)."""
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)], axis=-1)


def _write(frame: vs.VideoFrame, pixels: np.ndarray) -> None:
    """Write H x W x planes (or H x W) samples into a writable frame."""
    pixels = pixels if pixels.ndim == 3 else pixels[:, :, None]
    for p in range(frame.format.num_planes):
        np.copyto(np.asarray(frame[p]), pixels[:, :, p], casting="unsafe")


def _to_float(samples: np.ndarray, peak: float) -> np.ndarray:
    """Samples to float32 in [0, 1] as flowfill reads files (8-bit / 255, 16-bit / 65535)."""
    if samples.dtype == np.float32:
        return samples
    if samples.dtype == np.float16:
        return samples.astype(np.float32)
    return samples.astype(np.float32) / np.float32(peak)


def _from_float(rgb: np.ndarray, fmt: vs.VideoFormat, peak: float) -> np.ndarray:
    """float32 RGB back to the clip's samples (integers rounded, as flowfill writes files)."""
    if fmt.sample_type == vs.FLOAT:
        return rgb.astype(np.float16 if fmt.bits_per_sample == 16 else np.float32, copy=False)
    values = np.rint(np.clip(rgb, 0, 1) * np.float32(peak))
    return values.astype(np.uint8 if fmt.bytes_per_sample == 1 else np.uint16)

