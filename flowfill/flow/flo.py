"""Middlebury ``.flo`` files: the common interchange format for optical flow fields.

Layout (little-endian): float32 tag 202021.25 (the bytes ``PIEH``), int32 width, int32 height,
then width * height (dx, dy) float32 pairs in row-major order.
"""

from __future__ import annotations

import os

import numpy as np

from flowfill.errors import InputError

FLO_TAG = 202021.25
"""The magic number that opens every .flo file."""

_HEADER = np.dtype([("tag", "<f4"), ("width", "<i4"), ("height", "<i4")])


def write_flo(path: str | os.PathLike, flow: np.ndarray) -> None:
    """Write an H x W x 2 (dx, dy) flow field to ``path`` as a Middlebury .flo file."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be H x W x 2, got {flow.shape}")
    height, width = flow.shape[:2]
    header = np.array([(FLO_TAG, width, height)], dtype=_HEADER)
    with open(path, "wb") as fh:
        fh.write(header.tobytes())
        fh.write(np.ascontiguousarray(flow, dtype="<f4").tobytes())


def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a Middlebury .flo file as float32 H x W x 2; InputError naming it if it is not one."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None
    if len(data) < _HEADER.itemsize:
        raise InputError(path, "truncated .flo file: no complete header")
    tag, width, height = np.frombuffer(data, dtype=_HEADER, count=1)[0].tolist()
    if tag != FLO_TAG:
        raise InputError(path, f"not a .flo file (tag {tag!r}, expected {FLO_TAG})")
    if width <= 0 or height <= 0:
        raise InputError(path, f"bad .flo size {width}x{height}")
    expected = _HEADER.itemsize + 8 * width * height
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise InputError(path, f".flo file {problem}: {len(data)} bytes, expected {expected} "
                         f"for {width}x{height}")
    flow = np.frombuffer(data, dtype="<f4", offset=_HEADER.itemsize)
    return flow.reshape(height, width, 2).astype(np.float32)
