"""What every frame source offers: its description (:class:`FrameInfo`) and lazy iteration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from flowfill.errors import InputError
from flowfill.options import MIN_SIZE

"""Smallest frame width and height we accept: below it there is nothing to propagate from."""


@dataclass
class FrameInfo:
    """A clip's description, known before any frame is decoded past the first."""

    path: str
    kind: str
    """'movie' or 'sequence'."""
    width: int
    height: int
    count: int | None
    dtype: str
    """Depth of the source: 'uint8', 'uint16' or 'float32'; writing back restores it."""
    fps: Fraction | None = None
    time_base: Fraction | None = None
    has_alpha: bool = False
    paths: list[str] = field(default_factory=list)
    """The frame files of a sequence, in order (empty for a movie)."""
    numbers: list[int] | None = None
    """Frame numbers of a numbered sequence (from a pattern or the files' names), else None."""
    codec: str | None = None
    """Video codec of a movie (e.g. 'h264', 'prores')."""
    bits: int | None = None
    """Significant bits when fewer than ``dtype`` holds (10-bit DPX or video), else None."""
    grey: bool = False
    """Greyscale frames (one colour channel): yielded as RGB, written back as one channel."""

    @property
    def size_text(self) -> str:
        """'WxH', the way people read frame sizes."""
        return f"{self.width}x{self.height}"


class FrameSource:
    """Iterable of float32 H x W x 3 RGB frames, one at a time; iterating again re-opens.

    With ``keep_alpha`` set, an input with alpha yields H x W x 4 RGBA frames instead.
    """

    info: FrameInfo
    keep_alpha: bool = False
    selection: tuple[int, int | None] | None = None
    """The input's frames ``start:stop`` this source is narrowed to (``select``), or None."""
    total: int | None = None
    """Frames in the whole input (``info.count`` before a selection)."""

    @property
    def yields_alpha(self) -> bool:
        """Whether the frames come with their alpha as a 4th channel."""
        return self.keep_alpha and self.info.has_alpha

    def select(self, start: int, stop: int | None) -> None:
        """Narrow the source to the input's frames ``start:stop`` (stop None: to the end)."""
        self.total = self.info.count
        self.selection = (start, stop)
        end = stop if stop is not None else self.total
        self.info.count = None if end is None else end - start

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def __len__(self) -> int:
        if self.info.count is None:
            raise TypeError("frame count unknown")
        return self.info.count

    def alphas(self) -> Iterator[np.ndarray]:
        """Bool H x W per frame from the alpha channel (nonzero alpha = remove)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        i = self.info
        return f"<{type(self).__name__} {i.path!r} {i.size_text} x{i.count} {i.dtype}>"


def check_size(path: str, width: int, height: int) -> None:
    """Refuse frames too small to work on."""
    if width < MIN_SIZE or height < MIN_SIZE:
        raise InputError(
            path, f"frames are {width}x{height}; at least {MIN_SIZE}x{MIN_SIZE} pixels needed"
        )
