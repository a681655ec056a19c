"""Sinks that write under a temporary name beside the target and rename it into place at the end.

On success the output appears complete; on any error nothing is left behind and an existing
output is untouched.
"""

from __future__ import annotations

import os
import secrets
import shutil
from types import TracebackType

import numpy as np

from flowfill.errors import InputError


class FrameSink:
    """Takes float32 H x W x 3 RGB frames in order; ``close()`` commits, ``abort()`` discards.

    Use as a context manager: it commits when the block ends normally and aborts on an exception.
    """

    path: str
    written: int = 0
    _done: bool = False

    def write(self, frame: np.ndarray) -> None:
        """Append one frame (same scale as the source)."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish writing and move the output into place."""
        raise NotImplementedError

    def abort(self) -> None:
        """Delete everything written so far; the target is left as it was."""
        raise NotImplementedError

    def __enter__(self) -> FrameSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def check_parent(path: str) -> str:
    """The existing directory that will hold ``path``; InputError when it is missing."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise InputError(path, f"output folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(path, f"output folder {parent} is not writable")
    return parent


def check_file_target(
    path: str, overwrite: bool, protect: frozenset[str], folder_hint: str
) -> None:
    """Refuse a file output that would overwrite the input, is a folder, or exists unwanted."""
    if os.path.realpath(path) in protect:
        raise InputError(path, "would overwrite the input")
    if os.path.isdir(path):
        raise InputError(path, folder_hint)
    if not overwrite and os.path.lexists(path):
        raise InputError(path, "exists (not overwriting)")


def temp_name_beside(path: str, make_dir: bool = False) -> str:
    """A fresh hidden name ``.NAME.tmp-XXXX.ext`` beside ``path`` (made as a folder if asked)."""
    parent = check_parent(path)
    base = os.path.basename(os.path.normpath(path))
    stem, ext = (base, "") if make_dir else os.path.splitext(base)
    for _ in range(100):
        candidate = os.path.join(parent, f".{stem}.tmp-{secrets.token_hex(4)}{ext}")
        if os.path.lexists(candidate):
            continue
        if make_dir:
            try:
                os.mkdir(candidate)
            except FileExistsError:
                continue
            except OSError as err:
                raise InputError(path, f"cannot write here: {err.strerror or err}") from None
        return candidate
    raise InputError(path, "cannot find a free temporary name beside the output")


def remove_quietly(path: str) -> None:
    """Remove a file or folder tree if it exists, ignoring errors (used when aborting)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)
    except OSError:
        pass


def commit_file(temp: str, target: str) -> None:
    """Atomically replace ``target`` by ``temp``."""
    os.replace(temp, target)


def commit_folder(temp: str, target: str, names: list[str]) -> None:
    """Move the files ``names`` of folder ``temp`` into ``target`` (created when absent)."""
    if not os.path.exists(target):
        try:
            os.rename(temp, target)
            return
        except OSError:
            os.makedirs(target, exist_ok=True)
    for name in names:
        os.replace(os.path.join(temp, name), os.path.join(target, name))
    remove_quietly(temp)
