"""Read and write one image file (PNG, TIFF, JPEG, EXR, ...) as float32 RGB through OpenCV."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from flowfill.errors import InputError

FFMPEG_IMAGE_EXTS = frozenset({".dpx"})
"""Image formats OpenCV lacks, read and written one frame at a time through FFmpeg (PyAV)."""

IMAGE_EXTS = frozenset(
    {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".exr", ".bmp", ".webp", ".ppm", ".pgm", ".pnm",
     ".hdr", ".jp2"}
) | FFMPEG_IMAGE_EXTS
"""Extensions read (and written) as single images."""

LOSSY_EXTS = frozenset({".jpg", ".jpeg", ".webp", ".jp2"})
"""Formats whose compression noise makes "nonzero" meaningless for masks."""

ALPHA_EXTS = frozenset({".png", ".tif", ".tiff", ".exr", ".webp", ".dpx"})
"""Formats written with an alpha channel when the frames carry one (others drop it)."""

GREY_EXTS = frozenset({".png", ".tif", ".tiff", ".exr", ".jpg", ".jpeg", ".bmp", ".pgm",
                       ".pnm", ".jp2"})
"""Formats written as one channel for greyscale input (others store grey as RGB)."""

_DEPTHS = {
    ".png": ("uint8", "uint16"),
    ".tif": ("uint8", "uint16", "float32"),
    ".tiff": ("uint8", "uint16", "float32"),
    ".pgm": ("uint8", "uint16"),
    ".ppm": ("uint8", "uint16"),
    ".pnm": ("uint8", "uint16"),
    ".dpx": ("uint8", "uint16"),
    ".exr": ("float32",),
    ".hdr": ("float32",),
}


@dataclass
class Image:
    """One decoded image: float32 H x W x 3 RGB, its alpha (float32 H x W or None), its depth."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    dtype: str
    bits: int | None = None
    """Significant bits per sample when the file stores fewer than its type (10-bit DPX)."""
    grey: bool = False
    """The file holds one colour channel (``rgb`` repeats it three times)."""


def is_image_path(path: str | os.PathLike) -> bool:
    """True when the file name has an image extension we read as a single image."""
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTS


def _enable_exr() -> None:
    """Let OpenCV read and write EXR. It reads this variable when it first meets an EXR file,
    so it is set just before the first image is coded, never at import (a host embedding
    flowfill keeps its environment until flowfill actually codes an image)."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings (e.g. about truncated files): we raise our own errors."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def read_raw(path: str | os.PathLike) -> np.ndarray:
    """The file's pixels as OpenCV decodes them (BGR, native depth); InputError if unreadable."""
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() in FFMPEG_IMAGE_EXTS:
        return _read_with_ffmpeg(path)[0]
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    if data.size == 0:
        raise InputError(path, "empty file: not an image")
    try:
        _enable_exr()
        with _quiet_opencv():
            pixels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        pixels = None
    if pixels is None or pixels.size == 0:
        raise InputError(path, "cannot decode: corrupt or not an image")
    return pixels


def _read_with_ffmpeg(path: str) -> tuple[np.ndarray, int]:
    """Decode a one-frame image file with FFmpeg: (pixels in OpenCV's BGR(A) layout, bits)."""
    import av

    if not os.path.exists(path):
        raise InputError(path, "no such file")
    try:
        with av.open(path) as container:
            frame = next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration, ValueError, OSError, IndexError):
        raise InputError(path, "cannot decode: corrupt or not an image") from None
    components = frame.format.components
    bits = max(c.bits for c in components)
    alpha = any(c.is_alpha for c in components)
    layout = ("rgba64le" if alpha else "rgb48le") if bits > 8 else ("rgba" if alpha else "rgb24")
    pixels = frame.to_ndarray(format=layout, threads=1)
    order = [2, 1, 0, 3] if alpha else [2, 1, 0]
    return np.ascontiguousarray(pixels[:, :, order]), bits


def to_float(pixels: np.ndarray, path: str = "") -> tuple[np.ndarray, str]:
    """Scale integer pixels to [0, 1] float32 (8-bit /255, 16-bit /65535); floats stay as is."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255), "uint8"
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) / np.float32(65535), "uint16"
    if pixels.dtype in (np.float32, np.float16, np.float64):
        return pixels.astype(np.float32, copy=False), "float32"
    raise InputError(path or None, f"unsupported pixel type {pixels.dtype}")


def read_image(path: str | os.PathLike) -> Image:
    """Read one image as float32 RGB in the source's scale, with its alpha kept aside."""
    path = os.fspath(path)
    bits = None
    if os.path.splitext(path)[1].lower() in FFMPEG_IMAGE_EXTS:
        pixels, bits = _read_with_ffmpeg(path)
    else:
        pixels = read_raw(path)
    values, dtype = to_float(pixels, path)
    alpha = None
    grey = values.ndim == 2 or values.shape[2] in (1, 2)
    if values.ndim == 2:
        rgb = np.repeat(values[:, :, None], 3, axis=2)
    elif values.shape[2] == 1:
        rgb = np.repeat(values, 3, axis=2)
    elif values.shape[2] == 2:  # grey + alpha
        rgb = np.repeat(values[:, :, :1], 3, axis=2)
        alpha = values[:, :, 1]
    elif values.shape[2] == 3:
        rgb = values[:, :, ::-1]
    elif values.shape[2] == 4:
        rgb = values[:, :, 2::-1]
        alpha = values[:, :, 3]
    else:
        raise InputError(path, f"unsupported image with {values.shape[2]} channels")
    return Image(np.ascontiguousarray(rgb, dtype=np.float32), alpha, dtype,
                 bits if bits in (10, 12) else None, grey)


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """One channel from grey replicated to RGB: the value itself where the three agree (exact
    outside a fill), their mean where a fill made them differ."""
    grey = rgb[..., 0].copy()
    differ = (rgb[..., 1] != grey) | (rgb[..., 2] != grey)
    if differ.any():
        grey[differ] = rgb[differ, :3].mean(axis=1)
    return grey


def file_layout(frame: np.ndarray, ext: str, grey: bool = False) -> np.ndarray:
    """The channels a file of type ``ext`` stores of a float RGB(A) frame: RGBA where the
    format holds alpha and the frame has it, one channel (H x W) for grey input where the
    format holds grey, else RGB (grey with alpha stays RGBA: no format we write has it)."""
    ext = ext.lower()
    alpha = frame.ndim == 3 and frame.shape[2] == 4 and ext in ALPHA_EXTS
    if not alpha and frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[..., :3]
    if grey and not alpha and ext in GREY_EXTS and frame.ndim == 3:
        return grey_of(frame)
    return frame


def depth_for(ext: str, dtype: str) -> str:
    """The depth to write a ``dtype`` frame in a file with extension ``ext`` (best it can hold)."""
    depths = _DEPTHS.get(ext.lower(), ("uint8",))
    if dtype in depths:
        return dtype
    if dtype == "float32" and "uint16" in depths:
        return "uint16"
    return depths[-1] if depths == ("float32",) else depths[0]


def quantize(rgb: np.ndarray, depth: str) -> np.ndarray:
    """Float RGB in the source's scale to the integer (or float) samples of ``depth``."""
    if depth == "float32":
        return np.asarray(rgb, dtype=np.float32)
    peak = np.float32(255 if depth == "uint8" else 65535)
    values = np.rint(np.clip(np.asarray(rgb, dtype=np.float32), 0, 1) * peak)
    return values.astype(np.uint8 if depth == "uint8" else np.uint16)


def _encode_with_ffmpeg(samples: np.ndarray, ext: str, bits: int | None) -> bytes:
    """Encode integer RGB(A) samples as a one-frame file FFmpeg writes (DPX), ``bits`` deep
    (alpha is written at 8 or 16 bits: DPX has no 10-bit RGBA layout in FFmpeg)."""
    import av

    deep = samples.dtype == np.uint16
    if samples.ndim == 3 and samples.shape[2] == 4:
        layout = "rgba64le" if deep else "rgba"
        bits = None
    else:
        layout = "rgb48le" if deep else "rgb24"
    frame = av.VideoFrame.from_ndarray(samples, format=layout)
    pix_fmt = f"gbrp{bits}le" if deep and bits in (10, 12) else frame.format.name
    if pix_fmt != frame.format.name:
        frame = frame.reformat(format=pix_fmt, threads=1)
    ctx = av.CodecContext.create(ext.lstrip(".").lower(), "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = frame.width, frame.height, pix_fmt, 1
    frame.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


def encode_image(rgb: np.ndarray, ext: str, dtype: str, bits: int | None = None,
                 grey: bool = False) -> bytes:
    """Encode float32 H x W x 3 RGB (or x 4 RGBA) as a file of type ``ext`` in the best depth
    it holds; alpha is kept where the format holds it, and ``grey`` input is written as one
    channel (see :func:`file_layout`).

    ``bits`` (10 or 12) keeps a 10/12-bit DPX source at its own depth.
    """
    depth = depth_for(ext, dtype)
    pixels = quantize(file_layout(rgb, ext, grey), depth)
    if ext.lower() in FFMPEG_IMAGE_EXTS:
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        return _encode_with_ffmpeg(np.ascontiguousarray(pixels), ext, bits)
    if pixels.ndim == 2:
        bgr = pixels
    elif pixels.shape[2] == 4:
        bgr = np.ascontiguousarray(pixels[:, :, [2, 1, 0, 3]])
    else:
        bgr = np.ascontiguousarray(pixels[:, :, ::-1])
    params: list[int] = []
    if ext.lower() == ".exr":
        params = [cv2.IMWRITE_EXR_TYPE, cv2.IMWRITE_EXR_TYPE_FLOAT]
    elif ext.lower() in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    elif ext.lower() == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101]  # lossless
    _enable_exr()
    with _quiet_opencv():
        ok, data = cv2.imencode(ext, bgr, params)
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {depth} {ext} image")
    return data.tobytes()


def write_image(
    path: str | os.PathLike, rgb: np.ndarray, dtype: str = "uint8", bits: int | None = None,
    grey: bool = False,
) -> None:
    """Write float32 RGB(A) to ``path`` in the format its extension names, at depth ``dtype``."""
    path = os.fspath(path)
    data = encode_image(rgb, os.path.splitext(path)[1], dtype, bits, grey)
    with open(path, "wb") as fh:
        fh.write(data)
