"""Sinks that write under a temporary name beside the target and rename it into place at the end.

On success the output appears complete; on any error nothing is left behind and an existing
output is untouched.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
from types import TracebackType

import numpy as np

from flowfill.errors import InputError


class FrameSink:
    """Takes float32 H x W x 3 RGB (or x 4 RGBA) frames in order; ``close()`` commits,
    ``abort()`` discards.

    Use as a context manager: it commits when the block ends normally and aborts on an exception.
    """

    path: str
    written: int = 0
    keeps_alpha: bool = False
    """Whether the output format stores the alpha of RGBA frames (else it is dropped)."""
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


HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
"""This machine, in temporary names: a process id means something only on its own host."""


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when that cannot be told)."""
    if os.name == "nt" or pid <= 0:
        return True  # no signal-0 probe on Windows: never take a temporary for abandoned
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def stale_temps(parent: str, stem: str, ext: str) -> list[str]:
    """Temporaries ``.STEM.tmp-HOST-PID-XXXX.EXT`` in ``parent`` of processes of this machine
    that are gone (killed before they could clean up); those of live runs are not listed."""
    pattern = re.compile(re.escape(f".{stem}.tmp-") + r"([0-9a-f]{6})-(\d+)-[0-9a-f]{8}"
                         + re.escape(ext))
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    stale = []
    for name in names:
        hit = pattern.fullmatch(name)
        if hit and hit.group(1) == HOST and not process_alive(int(hit.group(2))):
            stale.append(os.path.join(parent, name))
    return stale


def temp_name_beside(path: str, make_dir: bool = False) -> str:
    """A fresh hidden name ``.NAME.tmp-HOST-PID-XXXX.ext`` beside ``path`` (made as a folder if
    asked); temporaries of the same output left by killed runs are removed first."""
    parent = check_parent(path)
    base = os.path.basename(os.path.normpath(path))
    stem, ext = (base, "") if make_dir else os.path.splitext(base)
    for stale in stale_temps(parent, stem, ext):
        remove_quietly(stale)
    for _ in range(100):
        candidate = os.path.join(parent, f".{stem}.tmp-{HOST}-{os.getpid()}-"
                                         f"{secrets.token_hex(4)}{ext}")
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


def frame_name_patterns(names: list[str]) -> list[tuple[re.Pattern[str], int]]:
    """Patterns of numbered file names like ``names`` (same text around the last number, the
    same zero padding), each with the highest number among ``names``."""
    groups: dict[tuple[str, str], tuple[int, int]] = {}
    for name in names:
        hit = re.fullmatch(r"(.*?)(\d+)(\D*)", name)
        if hit is None:
            continue
        prefix, digits, suffix = hit.groups()
        padded = len(digits) if len(digits) > 1 and digits.startswith("0") else 0
        width, top = groups.get((prefix, suffix), (0, -1))
        groups[(prefix, suffix)] = (max(width, padded), max(top, int(digits)))
    patterns = []
    for (prefix, suffix), (width, top) in groups.items():
        number = rf"(\d{{{width}}})" if width else r"(0|[1-9]\d*)"
        patterns.append((re.compile(re.escape(prefix) + number + re.escape(suffix)), top))
    return patterns


def stale_frames(target: str, names: list[str], protect: frozenset[str] = frozenset()) -> list[str]:
    """Files in folder ``target`` numbered like ``names`` but beyond the last of them (the
    frames a longer earlier run wrote there), never one in ``protect``."""
    patterns = frame_name_patterns(names)
    keep = set(names)
    try:
        present = os.listdir(target)
    except OSError:
        return []
    stale = []
    for name in present:
        path = os.path.join(target, name)
        if name in keep:
            continue
        hits = [(p.fullmatch(name), top) for p, top in patterns]
        if not any(hit and int(hit.group(1)) > top for hit, top in hits):
            continue
        if os.path.isfile(path) and not os.path.islink(path) and (
                os.path.realpath(path) not in protect):
            stale.append(path)
    return stale


def commit_folder(temp: str, target: str, names: list[str],
                  protect: frozenset[str] = frozenset(), prune: bool = True) -> None:
    """Move the files ``names`` of folder ``temp`` into ``target`` (created when absent); then,
    with ``prune``, remove the frames of the same numbering beyond the last of ``names`` that
    an earlier, longer run left there."""
    if not os.path.exists(target):
        try:
            os.rename(temp, target)
            return
        except OSError:
            os.makedirs(target, exist_ok=True)
    for name in names:
        os.replace(os.path.join(temp, name), os.path.join(target, name))
    remove_quietly(temp)
    for stale in stale_frames(target, names, protect) if prune else ():
        remove_quietly(stale)
