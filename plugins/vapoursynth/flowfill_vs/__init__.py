"""flowfill for VapourSynth: ``remove(clip, mask)`` fills the masked region of an RGB clip.

The filter is a client of flowfill's render server (``flowfill serve``, plugins/PROTOCOL.md):
VapourSynth's Python needs only numpy, the engine runs in flowfill's own environment and stays
loaded between scripts, and a server is started when none answers. Asking for frame n renders
it on the server, which fills the window that outputs n once and serves the window's other
frames from its cache; the frames it needs are pulled from the source clips (``get_frame``) and
sent as it asks for them, so neither side holds more than a few windows, whatever the clip's
length. The answer equals what ``flowfill remove`` writes for frame n.

    import vapoursynth as vs
    import flowfill_vs
    clip = flowfill_vs.remove(clip, mask, window=40)      # clip: RGB, mask: GRAY

See plugins/vapoursynth/README.md.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import vapoursynth as vs

from flowfill_vs.connection import Connection, ServerError

__all__ = ["FlowfillError", "clip_from_arrays", "remove", "stats"]
__version__ = "0.1.0"

_SHOTS: weakref.WeakKeyDictionary[vs.VideoNode, _Shot] = weakref.WeakKeyDictionary()

_TO_RGB = ("core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s=\"709\") (or RGB24/RGB48; "
           "use the clip's own matrix, e.g. \"470bg\" for SD)")


class FlowfillError(vs.Error, ValueError):
    """A bad argument to :func:`remove` (clip format, mask, option), or no render server:
    raised at call time."""


class _Shot:
    """A shot open on the server for one output node: its own connection, one render at a
    time (VapourSynth calls the filter from several threads)."""

    def __init__(self, connection: Connection, shot: str, shape: tuple[int, int],
                 fetch: Callable[[int], tuple[np.ndarray, np.ndarray]]) -> None:
        self.connection, self.id, self.shape, self.fetch = connection, shot, shape, fetch
        self.lock = threading.Lock()

    def render(self, n: int) -> np.ndarray:
        with self.lock:
            return self.connection.render(self.id, n, self.shape, self.fetch)

    def stats(self) -> dict:
        with self.lock:
            return self.connection.progress(self.id)


def remove(
    clip: vs.VideoNode,
    mask: vs.VideoNode | None = None,
    *,
    alpha: vs.VideoNode | None = None,
    server: str | None = None,
    **options: Any,
) -> vs.VideoNode:
    """Fill where ``mask`` (or the clip's alpha) is set; returns a clip in ``clip``'s format.

    ``clip``: RGB, float (RGBS, RGBH) or integer (RGB24, RGB30, RGB48, ...), constant format
    and size. ``mask``: a GRAY clip of the same size and length; a pixel is removed where its
    value is above half the range (float: above 0.5). With ``mask=None`` the clip's alpha is
    used: the ``alpha`` clip if given, else the ``_Alpha`` frame property of ``clip``'s frames.
    ``options``: fields of ``flowfill.Options`` (``window``, ``overlap``, ``dilate``, ``fill``,
    ``flow``, ...), checked now by the server. ``server``: its endpoint (a socket path or
    ``tcp://127.0.0.1:PORT``); default ``$FLOWFILL_SERVER`` or the per-user socket, where a
    server is started (``$FLOWFILL_EXECUTABLE`` or ``flowfill`` on PATH) if none answers.
    Frame properties of the source frames pass through unchanged.
    """
    fmt = _check_clip(clip)
    if mask is None:
        mask = _alpha_clip(clip, alpha)
        what = "alpha"
    else:
        if alpha is not None:
            raise FlowfillError("flowfill_vs.remove: give either mask or alpha, not both")
        what = "mask"
    _check_mask(mask, clip, what)

    peak = _peak(fmt)
    threshold = _peak(mask.format) / 2 if mask.format.sample_type == vs.INTEGER else 0.5
    src, matte = clip, mask

    def fetch(i: int) -> tuple[np.ndarray, np.ndarray]:
        rgb = _to_float(_planes(src.get_frame(i)), peak)
        removed = np.asarray(matte.get_frame(i)[0]) > threshold
        return rgb, removed.astype(np.float32)

    try:
        connection = Connection(server)
    except (ServerError, OSError) as err:
        raise FlowfillError(f"flowfill_vs.remove: {err}") from err
    try:
        shot_id = connection.open_shot(clip.width, clip.height, clip.num_frames, options)
    except (ServerError, OSError) as err:
        connection.close()
        raise FlowfillError(f"flowfill_vs.remove: bad option: {err}"
                            if getattr(err, "code", "") == "input"
                            else f"flowfill_vs.remove: {err}") from err
    shot = _Shot(connection, shot_id, (clip.height, clip.width), fetch)

    def render(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()  # keeps the source frame's properties (and its _Alpha)
        try:
            filled = shot.render(n)
        except (ServerError, OSError) as err:
            raise vs.Error(f"flowfill_vs.remove: frame {n}: {err}") from err
        _write(out, _from_float(filled, fmt, peak))
        return out

    result = clip.std.ModifyFrame(clips=clip, selector=render)
    _SHOTS[result] = shot
    weakref.finalize(shot, connection.close)
    return result


def stats(node: vs.VideoNode) -> dict:
    """What the server reports of the shot behind a clip :func:`remove` returned:
    ``windows_filled`` (windows filled so far), ``cuts`` (shot cuts found, once scanned)."""
    return _SHOTS[node].stats()


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

