"""Evaluation clips as float32 RGB arrays at the protocol's 432x240 (the sample stays 320x180).

Shared clips (``tennis``, ``bmx-trees``, ``running_car``) live outside the repo in
``../shared/clips`` (override with ``FLOWFILL_SHARED_CLIPS``); absent ones are skipped with a
note. The ``sample`` clip is the shipped procedural scene, whose object-free render is its truth.
The hard clips (``fastpan``, ``crossing``, ``cut``, ``still``: :mod:`flowfill.evaluate.hard`)
are built from the shared clips and skipped like them when a source is absent.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from flowfill.evaluate import scenes

EVAL_SIZE = (432, 240)
"""Width and height every shared clip is brought to (ProPainter's evaluation size)."""

CLIP_NAMES = ("tennis", "bmx-trees", "running_car", "sample")
"""The benchmark's default clips."""
HARD_CLIP_NAMES = ("fastpan", "crossing", "cut", "still")
"""Hard clips built from the shared ones (:mod:`flowfill.evaluate.hard`): run on request."""
EXTRA_CLIP_NAMES = ("shaky",)
"""Clips run on request, built from the procedural scene: ``shaky`` (:func:`load_shaky`)."""
ALL_CLIP_NAMES = CLIP_NAMES + HARD_CLIP_NAMES + EXTRA_CLIP_NAMES
SHAKE = {"seed": 3, "shift": 0.03, "degrees": 1.0}
"""The shaking camera of ``shaky`` and of the shipped ``sample_clips/shaky.mp4``
(:func:`flowfill.evaluate.shake.shake_frames`)."""
SHAKY_FRAMES = 48
"""Frames of ``shaky`` and ``shaky.mp4``."""
MOVIE_FRAME_CAP = 80
"""Frames read from ``running_car.mp4`` (of 292) unless another cap is asked for."""

_SOURCE_TREE = Path(__file__).resolve().parents[2]
"""The checkout this package was imported from, when it was (an installed wheel has none)."""


@dataclass
class EvalClip:
    """A clip to complete: what goes in, what a perfect result is, and any object masks."""

    name: str
    frames: np.ndarray
    """float32 N x H x W x 3 RGB in [0, 1]: the input to the method."""
    truth: np.ndarray
    """float32 N x H x W x 3: the reference the composited output is scored against."""
    object_masks: np.ndarray | None = None
    """bool N x H x W: the object whose removal ``truth`` shows (None: no object truth)."""


def shared_clips_dir() -> Path:
    """The shared clip folder: ``$FLOWFILL_SHARED_CLIPS``, else ``../shared/clips`` beside a
    source checkout, else ``shared/clips`` under the working directory (an installed package
    has no checkout to look beside)."""
    env = os.environ.get("FLOWFILL_SHARED_CLIPS")
    if env:
        return Path(env)
    if (_SOURCE_TREE / "pyproject.toml").is_file() and (_SOURCE_TREE / "flowfill").is_dir():
        return (_SOURCE_TREE / ".." / "shared" / "clips").resolve()
    return Path.cwd() / "shared" / "clips"


def _to_float(rgb8: np.ndarray) -> np.ndarray:
    return rgb8.astype(np.float32) / np.float32(255.0)


def _fit(rgb8: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` (w, h) with INTER_AREA unless already that size."""
    if (rgb8.shape[1], rgb8.shape[0]) == size:
        return rgb8
    return cv2.resize(rgb8, size, interpolation=cv2.INTER_AREA)


def load_frame_folder(folder: Path, max_frames: int | None = None,
                      size: tuple[int, int] | None = EVAL_SIZE) -> np.ndarray:
    """Read a folder of PNG/JPG frames (sorted by name) as float32 N x H x W x 3 RGB."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    paths = paths[:max_frames] if max_frames else paths
    frames = []
    for path in paths:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"{path}: not a readable image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        frames.append(_to_float(_fit(rgb, size) if size else rgb))
    return np.stack(frames)


def load_mask_folder(folder: Path, max_frames: int | None = None) -> np.ndarray:
    """Read a folder of 8-bit masks as bool N x H x W (nonzero = remove)."""
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    paths = paths[:max_frames] if max_frames else paths
    return np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 0 for p in paths])


def load_movie(path: Path, max_frames: int | None = MOVIE_FRAME_CAP,
               size: tuple[int, int] = EVAL_SIZE) -> np.ndarray:
    """Decode a movie's first video stream with PyAV, resized (INTER_AREA), as float32 RGB."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(_to_float(_fit(frame.to_ndarray(format="rgb24"), size)))
            if max_frames and len(frames) >= max_frames:
                break
    if not frames:
        raise OSError(f"{path}: no video frames")
    return np.stack(frames)


def load_sample(max_frames: int | None = None) -> EvalClip:
    """The shipped pan scene and its truth, rendered (bit-identical to ``sample_clips/pan``, as
    the tests check, so no file is needed: an installed package has none)."""
    spec = scenes.pan_scene()
    n = min(spec.frames, max_frames) if max_frames else spec.frames
    rgb, masks = (a[:n] for a in scenes.render(spec))
    frames = _to_float(rgb)
    truth = np.stack([_to_float(scenes.render_frame(spec, t, with_object=False)[0])
                      for t in range(n)])
    return EvalClip("sample", frames, truth, masks)


def load_shaky(max_frames: int | None = None) -> EvalClip:
    """The shipped street without its ball, through a shaking camera (up to 3% shift and a
    degree of roll on every frame, zoomed in so no border shows), as ``sample_clips/shaky.mp4``
    but lossless: a film scan's gate weave at its worst, over brick walls and fences. Its truth
    is itself, like the shared clips'."""
    from flowfill.evaluate.shake import shake_frames

    spec = scenes.pan_scene(frames=SHAKY_FRAMES)
    street = np.stack([_to_float(scenes.render_frame(spec, t, with_object=False)[0])
                       for t in range(spec.frames)])
    frames = shake_frames(street, **SHAKE)  # the warps depend on the frame count: all, then cut
    frames = frames[:max_frames] if max_frames else frames
    return EvalClip("shaky", frames, frames)


def load_clip(name: str, max_frames: int | None = None) -> EvalClip | None:
    """Load one evaluation clip by name; None (with a note on stdout) when it is not on disk."""
    if name == "sample":
        return load_sample(max_frames)
    if name == "shaky":
        return load_shaky(max_frames)
    if name in HARD_CLIP_NAMES:
        from flowfill.evaluate import hard

        return hard.load_hard(name, max_frames)
    if name not in CLIP_NAMES:
        raise ValueError(f"unknown clip {name!r}; choose from {ALL_CLIP_NAMES}")
    root = shared_clips_dir()
    if name == "running_car":
        path = root / "running_car.mp4"
        if not path.is_file():
            print(f"note: skipping {name}: {path} not found", file=sys.stdout)
            return None
        frames = load_movie(path, max_frames or MOVIE_FRAME_CAP)
    else:
        folder = root / name
        if not folder.is_dir():
            print(f"note: skipping {name}: {folder} not found", file=sys.stdout)
            return None
        frames = load_frame_folder(folder, max_frames)
    return EvalClip(name, frames, frames)
