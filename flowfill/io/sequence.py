"""Image sequences: folders of frames and printf patterns, read lazily and written atomically."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import numpy as np

from flowfill.errors import InputError
from flowfill.io.atomic import (
    FrameSink,
    check_file_target,
    check_parent,
    commit_file,
    commit_folder,
    remove_quietly,
    temp_name_beside,
)
from flowfill.io.images import ALPHA_EXTS, IMAGE_EXTS, Image, encode_image, read_image
from flowfill.io.source import FrameInfo, FrameSource, check_size

_PRINTF = re.compile(r"%(0?)(\d*)d")
_HASHES = re.compile(r"#+")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: frame2 < frame10."""
    parts = re.split(r"(\d+)", name)
    # Text sits at even positions and digits at odd ones, so the tuples always compare alike.
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), name


def is_pattern(path: str | os.PathLike) -> bool:
    """True when the file name holds a frame-number placeholder: %d, %04d or ####."""
    base = os.path.basename(os.fspath(path))
    return bool(_PRINTF.search(base) or _HASHES.search(base))


def printf_pattern(path: str | os.PathLike) -> str:
    """The path with a ``####`` placeholder turned into the equivalent ``%04d``."""
    path = os.fspath(path)
    head, base = os.path.split(path)
    if not _PRINTF.search(base):
        base = _HASHES.sub(lambda m: f"%0{len(m.group())}d" if len(m.group()) > 1 else "%d", base,
                           count=1)
    return os.path.join(head, base)


def format_frame(pattern: str, number: int) -> str:
    """The file name of frame ``number`` under a printf pattern."""
    m = _PRINTF.search(pattern)
    if m is None:
        raise ValueError(f"no frame placeholder in {pattern!r}")
    return pattern[: m.start()] + (m.group() % number) + pattern[m.end() :]


def find_pattern(pattern: str | os.PathLike) -> list[tuple[int, str]]:
    """The existing frames of a printf pattern as (number, path), sorted by number."""
    pattern = printf_pattern(pattern)
    folder, base = os.path.split(pattern)
    m = _PRINTF.search(base)
    if m is None:
        raise InputError(pattern, "no frame-number placeholder such as %04d")
    if not os.path.isdir(folder or "."):
        raise InputError(pattern, f"folder {folder or '.'} does not exist")
    prefix, suffix = base[: m.start()], base[m.end() :]
    regex = re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix))
    found = []
    for name in os.listdir(folder or "."):
        hit = regex.fullmatch(name)
        if hit is None:
            continue
        number = int(hit.group(1))
        if format_frame(base, number) == name:  # %04d matches 0012, not 012 or 12
            found.append((number, os.path.join(folder, name)))
    return sorted(found)


def list_folder(folder: str | os.PathLike) -> list[str]:
    """Image files of a folder in natural order, skipping hidden and non-image files."""
    folder = os.fspath(folder)
    try:
        names = os.listdir(folder)
    except OSError as err:
        raise InputError(folder, f"cannot list folder: {err.strerror or err}") from None
    names = [
        n for n in names
        if not n.startswith(".")
        and os.path.splitext(n)[1].lower() in IMAGE_EXTS
        and os.path.isfile(os.path.join(folder, n))
    ]
    return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]


def frame_numbers(paths: list[str]) -> list[int] | None:
    """The last number in each file name, when every file has one and they all differ."""
    numbers = []
    for p in paths:
        digits = re.findall(r"\d+", os.path.splitext(os.path.basename(p))[0])
        if not digits:
            return None
        numbers.append(int(digits[-1]))
    return numbers if len(set(numbers)) == len(numbers) else None


class SequenceSource(FrameSource):
    """Frames from a list of image files, decoded one at a time."""

    def __init__(self, path: str, paths: list[str], numbers: list[int] | None = None) -> None:
        if not paths:
            raise InputError(path, "no image frames found")
        first = read_image(paths[0])
        h, w = first.rgb.shape[:2]
        check_size(paths[0], w, h)
        self.info = FrameInfo(
            path=path, kind="sequence", width=w, height=h, count=len(paths), dtype=first.dtype,
            has_alpha=first.alpha is not None, paths=list(paths), numbers=numbers,
            bits=first.bits, grey=first.grey,
        )

    def select(self, start: int, stop: int | None) -> None:
        """Narrow the sequence to its frames ``start:stop``."""
        super().select(start, stop)
        self.info.paths = self.info.paths[start:stop]
        if self.info.numbers is not None:
            self.info.numbers = self.info.numbers[start:stop]

    def _read(self, path: str) -> Image:
        image = read_image(path)
        h, w = image.rgb.shape[:2]
        if (w, h) != (self.info.width, self.info.height):
            raise InputError(
                path, f"frame is {w}x{h} but the first frame "
                f"({os.path.basename(self.info.paths[0])}) is {self.info.size_text}; "
                "all frames must have the same size",
            )
        if self.info.grey and not image.grey:
            raise InputError(
                path, "is a colour image but the first frame "
                f"({os.path.basename(self.info.paths[0])}) is greyscale; all frames must have "
                "the same channels",
            )
        return image

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self.info.paths)):
            yield self.frame_at(i)

    def frame_at(self, i: int) -> np.ndarray:
        """Frame ``i`` of the (selected) sequence, read alone: an image sequence needs no
        decoding of the frames before it (a Ray worker reads only its window's)."""
        path = self.info.paths[i]
        image = self._read(path)
        if not self.yields_alpha:
            return image.rgb
        if image.alpha is None:
            raise InputError(path, "has no alpha channel but the first frame "
                             f"({os.path.basename(self.info.paths[0])}) has one")
        return np.dstack([image.rgb, image.alpha])

    def alphas(self) -> Iterator[np.ndarray]:
        """Bool H x W per frame: True where the frame's alpha is nonzero."""
        for path in self.info.paths:
            image = self._read(path)
            if image.alpha is None:
                raise InputError(path, "has no alpha channel (needed by --mask alpha)")
            yield image.alpha > 0


class SequenceSink(FrameSink):
    """Writes image files into a hidden folder, moved into the target folder at the end.

    With ``prune``, frames of the same numbering beyond the last one written, which a longer
    earlier run left in the target folder, are removed once the new frames are in place.
    """

    def __init__(
        self, folder: str, names: list[str], dtype: str, overwrite: bool = True,
        protect: frozenset[str] = frozenset(), display: str | None = None,
        bits: int | None = None, grey: bool = False, prune: bool = True,
    ) -> None:
        self.path = display or folder
        self.prune = prune
        folder = os.path.abspath(folder)
        self.folder = folder
        self.names = names
        self.dtype = dtype
        self.bits = bits
        self.grey = grey
        self.protect = protect
        self.keeps_alpha = all(os.path.splitext(n)[1].lower() in ALPHA_EXTS for n in names)
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise InputError(self.path, f"{folder} exists and is not a folder")
        check_parent(folder)
        for name in names:
            target = os.path.join(folder, name)
            if os.path.realpath(target) in protect:
                raise InputError(self.path, f"would overwrite the input file {target}")
            if not overwrite and os.path.lexists(target):
                raise InputError(self.path, f"{target} exists (not overwriting)")
        self.temp = temp_name_beside(folder, make_dir=True)
        self.written = 0
        self._done = False

    def write(self, frame: np.ndarray) -> None:
        """Encode the next frame into the hidden folder."""
        if self.written >= len(self.names):
            raise ValueError(f"more frames than the {len(self.names)} expected")
        name = self.names[self.written]
        data = encode_image(frame, os.path.splitext(name)[1], self.dtype, self.bits, self.grey)
        with open(os.path.join(self.temp, name), "wb") as fh:
            fh.write(data)
        self.written += 1

    def close(self) -> None:
        """Move the written files into the target folder."""
        if self._done:
            return
        commit_folder(self.temp, self.folder, self.names[: self.written], self.protect,
                      self.prune)
        self._done = True

    def abort(self) -> None:
        """Delete the hidden folder and everything in it."""
        if not self._done:
            remove_quietly(self.temp)
            self._done = True


class ImageSink(FrameSink):
    """Writes a single frame to one image file (temporary name, then rename)."""

    def __init__(
        self, path: str, dtype: str, overwrite: bool = True,
        protect: frozenset[str] = frozenset(), bits: int | None = None, grey: bool = False,
    ) -> None:
        self.path = path
        self.dtype = dtype
        self.bits = bits
        self.grey = grey
        self.keeps_alpha = os.path.splitext(path)[1].lower() in ALPHA_EXTS
        check_file_target(path, overwrite, protect, "is a folder")
        self.temp = temp_name_beside(path)
        self.written = 0
        self._done = False

    def write(self, frame: np.ndarray) -> None:
        """Encode the frame to the temporary file."""
        if self.written:
            raise ValueError("a single-image output takes one frame")
        data = encode_image(frame, os.path.splitext(self.path)[1], self.dtype, self.bits,
                            self.grey)
        with open(self.temp, "wb") as fh:
            fh.write(data)
        self.written = 1

    def close(self) -> None:
        """Rename the temporary file onto the target."""
        if not self._done:
            if self.written:
                commit_file(self.temp, self.path)
            self._done = True

    def abort(self) -> None:
        """Delete the temporary file."""
        if not self._done:
            remove_quietly(self.temp)
            self._done = True
