"""Finished windows kept on disk, so an interrupted run continues where it stopped (--resume).

Each finished window is saved, as it completes, beside the output in a hidden folder
``.NAME.flowfill-resume``: the filled values of its frames inside the mask (outside it the
output is the input), the filled overlap it hands to the next window, and its statistics. A
manifest fingerprints the input files, mask files and options, the flowfill version and the
edge-net weights' contents; a resumed run with anything different is refused. Re-running
takes finished windows from the folder instead of computing them, re-encodes the output from
the start (cheap next to filling) and deletes the folder once the output is committed. Files
are written under a temporary name and renamed, so a kill at any moment leaves only complete
windows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np

from flowfill.errors import InputError
from flowfill.io.atomic import remove_quietly
from flowfill.options import Options

VERSION = 1


@dataclass
class WindowRecord:
    """What a finished window produced: per output frame the values inside its mask (m x C),
    the same for the overlap frames handed on, and the window's statistics."""

    outputs: list[np.ndarray]
    carry: list[np.ndarray]
    counts: dict[str, int] = field(default_factory=dict)


def file_digest(path: str | os.PathLike) -> str | None:
    """SHA-256 of a file's contents (None when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def run_identity(options: Options) -> dict[str, str | None]:
    """What besides the input and options decides the filled values: the flowfill version and,
    when the edge net runs (``edges`` on or auto), the contents of its weights file."""
    from flowfill import __version__

    weights = None
    if options.edges != "off":
        from flowfill.edges.complete import WEIGHTS

        weights = file_digest(options.edge_weights or WEIGHTS)
    return {"flowfill": __version__, "edge_weights": weights}


def fingerprint(files: frozenset[str] | set[str], options: Options, extra: dict) -> str:
    """A digest of the files' names, sizes and modification times, the options (but the thread
    count), ``extra``, the flowfill version and the edge-net weights' contents
    (:func:`run_identity`)."""
    entries = []
    for path in sorted(files):
        try:
            st = os.stat(path)
            entries.append([path, st.st_size, st.st_mtime_ns])
        except OSError:
            entries.append([path, None, None])
    # the thread count changes how fast the windows are filled, not their values
    chosen = {k: v for k, v in dataclasses.asdict(options).items() if k != "frame_threads"}
    text = json.dumps({"version": VERSION, "files": entries, "extra": extra,
                       "options": chosen, "run": run_identity(options)},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def folder_for(output: str) -> str:
    """The hidden folder beside ``output`` (in its nearest existing folder, for an output
    folder still to be made) that holds its finished windows."""
    target = os.path.abspath(os.path.normpath(output))
    parent = os.path.dirname(target)
    while not os.path.isdir(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    name = os.path.relpath(target, parent).replace(os.sep, "_").replace("%", "_")
    return os.path.join(parent, f".{name}.flowfill-resume")


class Checkpoint:
    """Finished windows of one run in ``folder``; ``resume`` says whether to use what is there.

    Without ``resume`` an old folder is replaced when the first window is saved (not before,
    so a run that fails on bad input leaves it alone).
    """

    def __init__(self, folder: str, digest: str, resume: bool,
                 identity: dict[str, str | None] | None = None) -> None:
        from flowfill import __version__

        self.folder, self.digest = folder, digest
        self.identity = dict(identity) if identity is not None else {"flowfill": __version__}
        """The run's :func:`run_identity`, kept in the manifest to say why a resume is refused."""
        self.manifest = os.path.join(folder, "manifest.json")
        self.resumed = False
        self._fresh = True
        if resume and os.path.isdir(folder):
            try:
                with open(self.manifest) as fh:
                    found = json.load(fh)
                if not isinstance(found, dict):
                    raise ValueError
            except (OSError, ValueError):
                found = {}
            self._check(found)
            self.resumed = True
            self._fresh = False

    def _check(self, found: dict) -> None:
        """Refuse a folder whose windows another version, other weights or other input made."""
        advice = "delete it, or run without --resume to start over"
        ours = self.identity.get("flowfill")
        theirs = found.get("flowfill")
        if theirs != ours:
            by = f"flowfill {theirs}" if theirs else "an older flowfill"
            raise InputError(self.folder, f"was left by {by} and this is flowfill {ours}: "
                                          f"windows of two versions are never mixed; {advice}")
        if "edge_weights" in self.identity and found.get("edge_weights") != self.identity[
                "edge_weights"]:
            raise InputError(self.folder, "was left by a run with other edge-net weights "
                                          f"(--edge-weights or --edges); {advice}")
        if found.get("digest") != self.digest:
            raise InputError(self.folder, f"was left by a run with other input or options; "
                                          f"{advice}")

    def _path(self, start: int) -> str:
        return os.path.join(self.folder, f"window-{start:08d}.npz")

    def load(self, start: int) -> WindowRecord | None:
        """The record of the window starting at clip frame ``start``, if one was finished."""
        if not self.resumed:
            return None
        path = self._path(start)
        if not os.path.exists(path):
            return None
        with np.load(path) as data:
            n_out, n_carry = int(data["n_out"]), int(data["n_carry"])
            outputs = [data[f"out{i}"] for i in range(n_out)]
            carry = [data[f"carry{i}"] for i in range(n_carry)]
            counts = json.loads(str(data["counts"]))
        return WindowRecord(outputs, carry, counts)

    def save(self, start: int, record: WindowRecord) -> None:
        """Store the window starting at clip frame ``start`` (atomically)."""
        if self._fresh:
            remove_quietly(self.folder)
            os.makedirs(self.folder)
            with open(self.manifest, "w") as fh:
                json.dump({"version": VERSION, "digest": self.digest, **self.identity}, fh)
            self._fresh = False
        arrays = {f"out{i}": a for i, a in enumerate(record.outputs)}
        arrays.update({f"carry{i}": a for i, a in enumerate(record.carry)})
        tmp = os.path.join(self.folder, f".tmp-{start:08d}.npz")
        with open(tmp, "wb") as fh:
            np.savez(fh, n_out=len(record.outputs), n_carry=len(record.carry),
                     counts=json.dumps(record.counts), **arrays)
        os.replace(tmp, self._path(start))

    def discard(self) -> None:
        """Delete the folder (the output is complete)."""
        remove_quietly(self.folder)
