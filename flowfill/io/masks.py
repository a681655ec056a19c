"""Mask sources: bool H x W per frame, True = remove, from images, a movie, the input's alpha,
the borders found in it, or the film defects (dust, dirt, scratches) found in it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import numpy as np

from flowfill.detect.borders import border_mask
from flowfill.detect.defects import KINDS, detect_defects, parse_kinds
from flowfill.errors import InputError
from flowfill.io.images import LOSSY_EXTS, is_image_path, read_raw
from flowfill.io.movie import iter_movie_masks, movie_frame_count
from flowfill.io.sequence import find_pattern, is_pattern, list_folder
from flowfill.io.source import FrameSource

ALPHA = "alpha"
"""The mask spec that means: the input's own alpha channel."""

BORDERS = "borders"
"""The mask spec that means: the black border stabilisation left (``borders:R,G,B``: that colour,
0-255)."""


AUTO = "auto"
"""The mask spec that means: the film defects found in the input (``auto:dust,scratches``: only
those kinds)."""


def defect_kinds(spec: str) -> tuple[str, ...]:
    """The defect kinds of an ``auto`` or ``auto:KIND,...`` mask spec."""
    if spec == AUTO:
        return KINDS
    try:
        return parse_kinds(spec[len(AUTO) + 1:])
    except InputError as err:
        raise InputError(spec, err.problem) from None


def border_colour(spec: str) -> tuple[float, float, float]:
    """The border colour of a ``borders`` or ``borders:R,G,B`` mask spec, in [0, 1] scale."""
    if spec == BORDERS:
        return (0.0, 0.0, 0.0)
    try:
        values = [float(v) for v in spec[len(BORDERS) + 1:].split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise InputError(spec, "expected 'borders' or 'borders:R,G,B' with three values from 0 "
                         "to 255, such as borders:255,255,255 for a white border")
    r, g, b = (v / 255 for v in values)
    return (r, g, b)


def mask_from_pixels(pixels: np.ndarray, lossy: bool = False) -> np.ndarray:
    """Bool mask of decoded mask pixels (OpenCV layout): any nonzero colour where alpha is nonzero.

    Lossy files (JPEG, WebP) count only values above half scale, so compression noise is ignored.
    """
    if pixels.dtype == np.uint8:
        cut = 127 if lossy else 0
    elif pixels.dtype == np.uint16:
        cut = 32767 if lossy else 0
    else:
        cut = 0.5 if lossy else 0.0
    if pixels.ndim == 2:
        return pixels > cut
    channels = pixels.shape[2]
    if channels in (2, 4):
        colour, alpha = pixels[:, :, : channels - 1], pixels[:, :, channels - 1]
        return (colour > cut).any(axis=2) & (alpha > cut)
    return (pixels > cut).any(axis=2)


def read_mask(path: str) -> np.ndarray:
    """Read one mask image as bool H x W (True = remove)."""
    lossy = os.path.splitext(path)[1].lower() in LOSSY_EXTS
    return mask_from_pixels(read_raw(path), lossy)


class MaskSource:
    """Iterable of bool H x W masks matching a :class:`FrameSource`, read lazily.

    ``validate()`` reads every mask once up front (cheap: masks are small) so that bad masks fail
    before any output is written; ``finish()`` repeats the whole-clip check after iteration.
    """

    def __init__(self, spec: str, frames: FrameSource) -> None:
        self.spec = spec
        self.frames = frames
        self.paths: list[str] = []
        self._single: np.ndarray | None = None
        self._any = False
        self._skip = 0  # masks of a mask movie before the frames' selection
        self._colour = (0.0, 0.0, 0.0)  # of a border to find
        self._kinds: tuple[str, ...] = ()  # of defects to find
        info = frames.info
        if spec == ALPHA:
            self.kind = ALPHA
            if not info.has_alpha:
                raise InputError(info.path, "has no alpha channel for --mask alpha to use")
        elif spec.split(":")[0] == BORDERS and not os.path.exists(spec):
            self.kind = BORDERS
            self._colour = border_colour(spec)
        elif spec.split(":")[0] == AUTO and not os.path.exists(spec):
            self.kind = AUTO
            self._kinds = defect_kinds(spec)
        elif os.path.isdir(spec):
            self.kind = "folder"
            self.paths = list_folder(spec)
            if not self.paths:
                raise InputError(spec, "no mask images in this folder")
        elif is_pattern(spec) and not os.path.isfile(spec):
            self.kind = "pattern"
            self.paths = [p for _, p in find_pattern(spec)]
            if not self.paths:
                raise InputError(spec, "no mask files match this pattern")
        elif is_image_path(spec):
            self.kind = "image"
            if not os.path.exists(spec):
                raise InputError(spec, "no such file")
            self.paths = [spec]
            self._single = self._check(read_mask(spec), spec)
            self._note(self._single)
        else:
            self.kind = "movie"
            if not os.path.exists(spec):
                raise InputError(spec, "no such file")
            count, width, height = movie_frame_count(spec)
            self._check_size(width, height, spec)
            if self._check_count(count):
                self._skip = frames.selection[0]
            self.paths = [spec]
        if self.kind in ("folder", "pattern") and self._check_count(len(self.paths)):
            start, stop = frames.selection
            self.paths = self.paths[start:stop]

    @property
    def count(self) -> int | None:
        """Number of masks this source yields (the frame count)."""
        return self.frames.info.count

    def __len__(self) -> int:
        return self.frames.info.count or 0

    def _check_count(self, count: int) -> bool:
        """Refuse a mask count that fits neither the frames nor, under ``--frames``, the whole
        input; True when the masks are the whole input's (to be narrowed like the frames)."""
        frames, source = self.frames.info, self.frames
        if source.selection is not None and count == source.total and count != frames.count:
            return True
        if frames.count is not None and count != frames.count:
            if source.selection is None:
                problem = (f"{count} masks but {frames.count} frames in {frames.path}; there must "
                           "be one mask per frame (or a single mask image for all)")
            else:
                problem = (f"{count} masks but {frames.path} has {source.total} frames, "
                           f"{frames.count} of them selected by --frames; give one mask per frame "
                           "of the input or of the selection (or a single mask image for all)")
            raise InputError(self.spec, problem)
        return False

    def _check_size(self, width: int, height: int, where: str) -> None:
        info = self.frames.info
        if (width, height) != (info.width, info.height):
            raise InputError(
                where, f"mask is {width}x{height} but the frames ({info.path}) are {info.size_text}"
            )

    def _check(self, mask: np.ndarray, where: str) -> np.ndarray:
        self._check_size(mask.shape[1], mask.shape[0], where)
        if mask.all():
            raise InputError(where, "mask covers the whole frame: nothing is left to fill from")
        return mask

    def _note(self, mask: np.ndarray) -> None:
        if not self._any and mask.any():
            self._any = True

    def _frame_name(self, i: int) -> str:
        """How an error names the ``i``-th frame read (of the selection): its file, or the
        movie and its frame number in the whole input."""
        info, start = self.frames.info, (self.frames.selection or (0, None))[0]
        return info.paths[i] if info.paths else f"{info.path} (frame {start + i})"

    def _raw(self) -> Iterator[tuple[np.ndarray, str]]:
        if self.kind == ALPHA:
            for i, mask in enumerate(self.frames.alphas()):
                where = self.frames.info.paths[i] if self.frames.info.paths else (
                    f"{self.frames.info.path} (alpha of frame {i})")
                yield mask, where
        elif self.kind == BORDERS:
            for i, frame in enumerate(self.frames):
                yield border_mask(frame[:, :, :3], self._colour), self._frame_name(i)
        elif self.kind == AUTO:
            for i, mask in enumerate(detect_defects(self.frames, self._kinds)):
                yield mask, self._frame_name(i)
        elif self.kind == "image":
            count = self.frames.info.count
            for _ in itertools.count() if count is None else range(count):
                yield self._single.copy(), self.spec
        elif self.kind == "movie":
            count = 0
            wanted = self.frames.info.count
            for i, mask in enumerate(iter_movie_masks(self.spec)):
                if i < self._skip:
                    continue
                if wanted is not None and count == wanted:
                    break
                count += 1
                yield mask, f"{self.spec} (frame {i})"
            if wanted is not None and count < wanted:
                raise InputError(self.spec, f"the mask movie ends at frame {self._skip + count}: "
                                 f"{wanted} masks needed from frame {self._skip} on")
        else:
            for path in self.paths:
                yield read_mask(path), path

    @property
    def random_access(self) -> bool:
        """Whether :meth:`mask_at` can read any mask alone (mask files, not a movie's frames or
        masks computed from the input)."""
        return self.kind in ("folder", "pattern", "image")

    def mask_at(self, i: int) -> np.ndarray:
        """Mask ``i`` of the (selected) clip, read alone and checked (see ``random_access``)."""
        if not self.random_access:
            raise TypeError(f"{self.kind} masks are read in order, not one by one")
        if self.kind == "image":
            return self._single.copy()  # type: ignore[union-attr]
        return self._check(read_mask(self.paths[i]), self.paths[i])

    def __iter__(self) -> Iterator[np.ndarray]:
        for mask, where in self._raw():
            self._check(mask, where)
            self._note(mask)
            yield mask
        self.finish()

    def validate(self) -> MaskSource:
        """Read every mask once: size, coverage, and that some mask is nonempty; return self.

        The input's alpha, borders and defects are checked while iterating instead (they cost
        decoding the clip).
        """
        if self.kind not in (ALPHA, BORDERS, AUTO):
            for mask, where in self._raw():
                self._check(mask, where)
                self._note(mask)
            self.finish()
        return self

    def finish(self) -> None:
        """Raise when no mask so far selected any pixel (call after the last mask)."""
        if not self._any:
            if self.kind == BORDERS:
                border = ("black border" if self.spec == BORDERS else
                          f"border of colour {self.spec[len(BORDERS) + 1:]}")
                raise InputError(self.spec, f"mask is empty: no {border} found in "
                                 f"{self.frames.info.path}")
            if self.kind == AUTO:
                raise InputError(self.spec, f"mask is empty: no {' or '.join(self._kinds)} found "
                                 f"in {self.frames.info.path}")
            raise InputError(self.spec, "mask is empty: nothing to remove")
