"""Frame sources and sinks: movies via PyAV, image sequences and masks.

``open_frames`` reads a clip lazily as float32 RGB, ``open_masks`` pairs it with bool masks, and
``open_sink`` writes the result atomically in the input's depth, with its audio and timing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction

from flowfill.errors import InputError
from flowfill.io.atomic import FrameSink
from flowfill.io.codecs import check_codec
from flowfill.io.images import IMAGE_EXTS, Image, read_image, write_image
from flowfill.io.masks import ALPHA, MaskSource, read_mask
from flowfill.io.movie import DEFAULT_FPS, MOVIE_EXTS, MovieSink, MovieSource
from flowfill.io.sequence import (
    ImageSink,
    SequenceSink,
    SequenceSource,
    find_pattern,
    format_frame,
    frame_numbers,
    is_pattern,
    list_folder,
    natural_key,
    printf_pattern,
)
from flowfill.io.source import FrameInfo, FrameSource

__all__ = [
    "ALPHA", "DEFAULT_FPS", "IMAGE_EXTS", "MOVIE_EXTS", "FrameInfo", "FrameSink", "FrameSource",
    "check_output_encoding",
    "Image", "ImageSink", "MaskSource", "MovieSink", "MovieSource", "SequenceSink",
    "SequenceSource", "find_pattern", "list_folder", "natural_key", "open_frames", "open_masks",
    "open_sink", "read_image", "read_mask", "source_files", "write_image",
]


def open_frames(path: str | os.PathLike, keep_alpha: bool = False) -> FrameSource:
    """Open a movie, a folder of frames, a printf pattern (``shot.%04d.exr``) or one image;
    with ``keep_alpha`` an input with alpha yields RGBA frames."""
    source = _open_frames(os.fspath(path))
    source.keep_alpha = keep_alpha
    return source


def _open_frames(path: str) -> FrameSource:
    if os.path.isdir(path):
        paths = list_folder(path)
        if not paths:
            raise InputError(path, "no image frames in this folder")
        return SequenceSource(path, paths, frame_numbers(paths))
    if is_pattern(path) and not os.path.isfile(path):
        found = find_pattern(path)
        if not found:
            raise InputError(path, "no files match this pattern")
        return SequenceSource(path, [p for _, p in found], [n for n, _ in found])
    if not os.path.lexists(path):
        raise InputError(path, "no such file or folder")
    if os.path.splitext(path)[1].lower() in IMAGE_EXTS:
        return SequenceSource(path, [path], frame_numbers([path]))
    return MovieSource(path)


def open_masks(spec: str | os.PathLike, frames: FrameSource) -> MaskSource:
    """Masks for ``frames``: a folder, a pattern, one image for all frames, a movie or 'alpha'."""
    return MaskSource(os.fspath(spec), frames)


def source_files(source: FrameSource | MaskSource) -> frozenset[str]:
    """Real paths of the files a source reads, which a sink must never overwrite."""
    if isinstance(source, MaskSource):
        files = list(source.paths)
    else:
        files = list(source.info.paths) or [source.info.path]
    return frozenset(os.path.realpath(f) for f in files)


def check_output_encoding(path: str, codec: str | None = None, quality: str = "high") -> None:
    """Refuse ``codec`` / ``quality`` that output ``path`` cannot take (a container that cannot
    hold the codec, a quality it cannot give, either one for an output that is not a movie)."""
    ext = os.path.splitext(path)[1].lower()
    if ext in MOVIE_EXTS:
        check_codec(path, ext, codec, quality)
    elif codec is not None or quality != "high":
        raise InputError(path, "is not a movie: --codec and --quality apply to movie outputs "
                         "(" + ", ".join(sorted(MOVIE_EXTS)) + ")")


def open_sink(
    path: str | os.PathLike,
    like: FrameSource,
    overwrite: bool = True,
    *,
    fps: Fraction | None = None,
    protect: Iterable[str] = (),
    codec: str | None = None,
    quality: str = "high",
    keep_planes: bool = True,
) -> FrameSink:
    """A sink writing frames shaped like ``like``'s: a movie by extension, else image files.

    ``out/`` writes files named like the input's frames (``%05d.png`` for a movie input);
    ``out/shot.%04d.exr`` picks names and format. Files in ``protect`` are never overwritten.
    Frames a longer earlier run left in the output folder, numbered beyond the last one written,
    are removed at the end, unless ``like`` is a selection of frames (one part of a shot).
    ``codec`` and ``quality`` choose a movie's encoding (see ``flowfill.io.codecs``).
    ``keep_planes``: a movie output encodes the pixels equal to the input's from the input's
    decoded planes; off for outputs whose pixels moved (``stabilise``).
    """
    path = os.fspath(path)
    info = like.info
    guard = source_files(like) | frozenset(os.path.realpath(p) for p in protect)
    ext = os.path.splitext(path)[1].lower()
    check_output_encoding(path, codec, quality)
    if ext in MOVIE_EXTS:
        return MovieSink(path, like, fps=fps, overwrite=overwrite, protect=guard, codec=codec,
                         quality=quality, keep_planes=keep_planes)
    count = info.count
    if count is None:
        raise InputError(info.path, "frame count unknown; cannot name the output frames")
    if is_pattern(path):
        pattern = printf_pattern(path)
        folder, base = os.path.split(pattern)
        numbers = info.numbers if info.numbers and len(info.numbers) == count else None
        numbers = numbers or list(range(1, count + 1))
        names = [format_frame(base, n) for n in numbers]
        return SequenceSink(folder or ".", names, info.dtype, overwrite, guard, display=path,
                            bits=info.bits, grey=info.grey, prune=like.selection is None)
    if ext in IMAGE_EXTS and not os.path.isdir(path):
        if count != 1:
            raise InputError(
                path, f"is a single image but the input has {count} frames; give a folder "
                f"(out/) or a pattern (out/frame.%04d{ext})",
            )
        return ImageSink(path, info.dtype, overwrite, guard, bits=info.bits, grey=info.grey)
    if info.kind == "sequence" and len(info.paths) == count:
        names = [os.path.basename(p) for p in info.paths]
    else:
        names = [f"{i:05d}.png" for i in range(1, count + 1)]
    return SequenceSink(path.rstrip("/\\") or path, names, info.dtype, overwrite, guard,
                        display=path, bits=info.bits, grey=info.grey,
                        prune=like.selection is None)
