"""Hard evaluation clips with exact truth, built from the shared real clips (issues 16, 21).

Four clips, 432x240 and at most :data:`HARD_FRAMES` frames, each the same bytes on every
build (fixed seeds, numpy and OpenCV only):

``fastpan``
    A handheld fast pan across a large real canvas: two frames of ``running_car.mp4`` at their
    native 972x540 side by side (1944x540, feathered seam). A virtual camera moves 16-24 px a
    frame to the right with a slow tilt and handheld jitter; each frame is the average of 9
    sub-frame positions over a half-frame shutter (motion blur along the motion). The blurred
    frames are the truth.
``crossing``
    ``tennis`` with close foreground poles (full height, tilted, striped and grained, 25-40 px a
    frame, motion-blurred the same way) crossing the whole frame, the first left to right, the
    second back. Being full height, a pole crosses every hole of every mask case. The poles are
    part of the truth: a method must keep them and fill the hole with what the pole is in
    front of, or with the pole where it passes through the hole.
``cut``
    A hard shot cut in the middle: the first half is ``bmx-trees``, the second ``tennis``, so
    what the hole's sources showed before the cut is no use after it. The cut lies before
    frame ``n // 2`` (:func:`cut_frame`) for any frame count.

``still``
    A static camera (issue 16): ``tennis`` frames 24-63 warped onto the middle frame by the
    camera's motion (homographies fitted to tracked corners, the player rejected by RANSAC) and
    cropped to what every frame covers, so the wall and court stand still while the player runs
    past. A logo or text over it hides the same background in every frame: nothing behind it is
    ever seen, and what is invented must not move.

The synthetic damage of the benchmark (blob, parked, logo, text, ...) is laid over each as over
any clip; the clip itself is the truth. ``fastpan`` and ``crossing`` with fewer frames are the
first frames of the full clip; ``cut`` keeps its cut in the middle.
"""

from __future__ import annotations

import math
import sys
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from flowfill.evaluate import clips as clipmod

HARD_CLIP_NAMES = clipmod.HARD_CLIP_NAMES
HARD_FRAMES = 40
"""Frames of each hard clip (a smaller ``max_frames`` takes fewer)."""

SUBFRAMES = 9
"""Sub-frame positions averaged into one frame (motion blur)."""
SHUTTER = 0.5
"""Fraction of the frame interval the shutter is open (180 degrees)."""

PAN_SOURCE_FRAMES = (0, 180)
"""Frames of ``running_car.mp4`` laid side by side as the pan's canvas."""
PAN_SEAM = 64
"""Width in px of the cross-fade where the two canvas frames meet."""
PAN_START = (450.0, 200.0)
"""Centre (x, y) of the virtual camera's view on the canvas at frame 0."""

CROSSING_SOURCE = ("tennis", 0)
"""Clip and first frame behind the crossing poles."""
CUT_SOURCES = (("bmx-trees", 0), ("tennis", 30))
"""Clip and first frame of the shots before and after the cut."""
STILL_SOURCE = ("tennis", 24)
"""Clip and first frame held still."""

_SEED = 21  # issue 21


def _quantise(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _shutter_times(t: int) -> np.ndarray:
    """The sub-frame times averaged into frame ``t``, centred on it."""
    return t + SHUTTER * ((np.arange(SUBFRAMES) + 0.5) / SUBFRAMES - 0.5)


def _missing(name: str, path: Path) -> None:
    print(f"note: skipping {name}: {path} not found", file=sys.stdout)


# --------------------------------------------------------------------------- fastpan


@lru_cache(maxsize=2)
def _pan_canvas(root: Path) -> np.ndarray | None:
    """The two ``running_car`` frames side by side, float32 RGB in [0, 1] (None: no movie)."""
    path = root / "running_car.mp4"
    if not path.is_file():
        return None
    import av

    wanted = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in PAN_SOURCE_FRAMES:
                wanted[i] = frame.to_ndarray(format="rgb24")
            if i >= max(PAN_SOURCE_FRAMES):
                break
    if len(wanted) < len(PAN_SOURCE_FRAMES):
        raise OSError(f"{path}: fewer than {max(PAN_SOURCE_FRAMES) + 1} frames")
    left, right = (wanted[i].astype(np.float32) / np.float32(255.0) for i in PAN_SOURCE_FRAMES)
    h, w = left.shape[:2]
    canvas = np.zeros((h, 2 * w - PAN_SEAM, 3), np.float32)
    canvas[:, :w] = left
    canvas[:, w:] = right[:, PAN_SEAM:]
    ramp = ((np.arange(PAN_SEAM, dtype=np.float32) + 0.5) / PAN_SEAM)[None, :, None]
    canvas[:, w - PAN_SEAM : w] = left[:, w - PAN_SEAM :] * (1 - ramp) + right[:, :PAN_SEAM] * ramp
    return canvas


def pan_canvas() -> np.ndarray | None:
    """The fast pan's canvas (float32 RGB, 540 x 1880), or None when the movie is absent."""
    return _pan_canvas(clipmod.shared_clips_dir())


def pan_centre(times: np.ndarray | float) -> np.ndarray:
    """Centre (x, y) of the camera's view on the canvas at (fractional) frame times: K x 2.

    Horizontal speed swings between 16 and 24 px a frame, the camera tilts down 2.5 px a frame,
    and three seeded sinusoids per axis (periods of 6 to 16 frames, 2 px in all) shake it.
    """
    tau = np.atleast_1d(np.asarray(times, dtype=np.float64))
    rng = np.random.default_rng([_SEED, 1])
    omega = 2 * math.pi / 23.0
    phase = rng.uniform(0, 2 * math.pi)
    # x' = 20 + 4 sin(omega tau + phase)
    x = PAN_START[0] + 20.0 * tau - (4.0 / omega) * (np.cos(omega * tau + phase) - math.cos(phase))
    y = PAN_START[1] + 2.5 * tau
    for axis in range(2):
        amps = rng.uniform(0.3, 1.0, 3)
        amps *= 2.0 / amps.sum()
        freqs = rng.uniform(1 / 16, 1 / 6, 3)
        phases = rng.uniform(0, 2 * math.pi, 3)
        shake = np.sum(amps[:, None] * np.sin(2 * math.pi * freqs[:, None] * tau[None, :]
                                              + phases[:, None]), axis=0)
        if axis == 0:
            x = x + shake
        else:
            y = y + shake
    return np.stack([x, y], axis=-1)


def pan_view(canvas: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The 432x240 view of ``canvas`` centred on ``centre`` (bilinear, sub-pixel), float32."""
    w, h = clipmod.EVAL_SIZE
    cx, cy = (float(c) for c in centre)
    # getRectSubPix's centre is in pixel-index coordinates: the view spans cx - (w-1)/2 ...
    return cv2.getRectSubPix(canvas, (w, h), (cx, cy))


def build_fastpan(n: int) -> np.ndarray | None:
    """The fast pan, uint8 N x 240 x 432 x 3 RGB (None when ``running_car.mp4`` is absent)."""
    canvas = pan_canvas()
    if canvas is None:
        return None
    frames = []
    for t in range(n):
        views = [pan_view(canvas, c) for c in pan_centre(_shutter_times(t))]
        frames.append(_quantise(np.mean(views, axis=0)))
    return np.stack(frames)


# --------------------------------------------------------------------------- crossing


POLES = (
    # first frame it is at x0, x0 (centre, px), speed (px/frame), tilt (deg), width (px)
    (0, -70.0, 34.0, 6.0, 54),
    (19, 500.0, -29.0, -9.0, 46),
)
"""The crossing poles: the first left to right over frames 0-17, the second back over 19-39."""


@lru_cache(maxsize=4)
def _pole_sprite(index: int, width: int, length: int) -> np.ndarray:
    """A pole upright as premultiplied RGBA (L+2 x W+2 x 4, float32, a clear 1 px border so the
    warp antialiases its edges).

    Dark painted metal with cylinder shading, a fine seeded grain and streaks, and bands of
    red and white tape every so often: strong texture along the pole, sharp edges across it.
    """
    rng = np.random.default_rng([_SEED, 2, index])
    u = (np.arange(width) + 0.5) / width * 2 - 1  # -1 .. 1 across
    s = np.arange(length, dtype=np.float64)
    light = 0.35 + 0.75 * np.sqrt(np.clip(1 - u * u, 0, 1)) * np.clip(0.7 - 0.5 * u, 0, 1)
    base = np.array([0.13, 0.14, 0.16]) + rng.uniform(-0.02, 0.02, 3)
    colour = np.broadcast_to(base, (length, width, 3)).copy()
    pitch = rng.uniform(70, 110)
    band = (s % pitch) < 0.42 * pitch
    stripe = ((s % pitch) // (0.14 * pitch)).astype(int) % 2 == 0
    tape = np.where(stripe[:, None], np.array([[0.80, 0.10, 0.08]]),
                    np.array([[0.92, 0.90, 0.86]]))
    colour[band] = tape[band][:, None, :]
    grain = cv2.GaussianBlur(rng.normal(0, 1, (length, width)).astype(np.float32), (0, 0), 0.8)
    streaks = cv2.GaussianBlur(rng.normal(0, 1, (length, width)).astype(np.float32), (0, 0),
                               sigmaX=0.6, sigmaY=6.0)
    texture = 1 + 0.18 * grain + 0.5 * streaks
    colour = np.clip(colour * light[None, :, None] * texture[..., None], 0, 1)
    rgba = np.dstack([colour, np.ones((length, width))]).astype(np.float32)
    return cv2.copyMakeBorder(rgba, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)


def _pole_layer(index: int, tau: float, size: tuple[int, int]
                ) -> tuple[int, np.ndarray] | None:
    """Pole ``index`` at time ``tau``: the first column x0 of the band of the frame it covers
    and the band as premultiplied RGBA (H x band width x 4); None when it is off frame."""
    first, x0, speed, tilt, width = POLES[index]
    w, h = size
    cx = x0 + speed * (tau - first)
    reach = int(math.ceil(width / 2 + (h / 2) * abs(math.tan(math.radians(tilt))))) + 3
    left, right = max(int(math.floor(cx)) - reach, 0), min(int(math.ceil(cx)) + reach, w)
    if left >= right:
        return None
    length = int(math.ceil(h / math.cos(math.radians(tilt)))) + 2 * width
    sprite = _pole_sprite(index, width, length)
    sh, sw = sprite.shape[:2]
    # the sprite's centre goes to (cx, the frame's middle row), turned by ``tilt``
    m = cv2.getRotationMatrix2D(((sw - 1) / 2, (sh - 1) / 2), tilt, 1.0)
    m[0, 2] += cx - (sw - 1) / 2 - left
    m[1, 2] += (h - 1) / 2 - (sh - 1) / 2
    band = cv2.warpAffine(sprite, m, (right - left, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return left, band


def crossing_layers(n: int, size: tuple[int, int] = clipmod.EVAL_SIZE
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The motion-blurred poles of frames 0..n-1: premultiplied colour N x H x W x 3 and
    coverage N x H x W, float32 (coverage 1 where a pole hides the background all frame long)."""
    w, h = size
    layers = np.zeros((n, h, w, 4), np.float32)
    for t in range(n):
        for tau in _shutter_times(t):
            for index in range(len(POLES)):  # never two on screen at once
                layer = _pole_layer(index, float(tau), size)
                if layer is not None:
                    left, band = layer
                    layers[t, :, left : left + band.shape[1]] += band
    layers /= np.float32(SUBFRAMES)
    return layers[..., :3], np.clip(layers[..., 3], 0, 1)


def build_crossing(n: int) -> np.ndarray | None:
    """The poles crossing ``tennis``: uint8 N x 240 x 432 x 3 (None when tennis is absent)."""
    back = _source_frames("crossing", *CROSSING_SOURCE, n)
    if back is None:
        return None
    colour, cover = crossing_layers(n)
    return _quantise(back * (1 - cover[..., None]) + colour)


# --------------------------------------------------------------------------- cut


def cut_frame(n: int) -> int:
    """The first frame after the cut of an ``n``-frame ``cut`` clip."""
    return n // 2


def _source_frames(clip: str, name: str, first: int, n: int) -> np.ndarray | None:
    """Frames ``first .. first+n-1`` of shared frame-folder clip ``name`` (float32); None, with
    a note that hard clip ``clip`` is skipped, when the folder is absent."""
    folder = clipmod.shared_clips_dir() / name
    if not folder.is_dir():
        _missing(clip, folder)
        return None
    frames = clipmod.load_frame_folder(folder, first + n)[first:]
    if len(frames) < n:
        raise OSError(f"{folder}: {len(frames) + first} frames, {first + n} needed")
    return frames


def build_cut(n: int) -> np.ndarray | None:
    """Two shots, cut before frame ``n // 2``: uint8 N x 240 x 432 x 3 (None if one is absent)."""
    k = cut_frame(n)
    (a, a0), (b, b0) = CUT_SOURCES
    before = _source_frames("cut", a, a0, k)
    after = _source_frames("cut", b, b0, n - k) if before is not None else None
    if before is None or after is None:
        return None
    return _quantise(np.concatenate([before, after]))


# --------------------------------------------------------------------------- still


def _homography(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The homography taking grey frame ``a`` onto ``b`` (a camera turning: exact for the far
    picture): corners tracked by Lucas-Kanade, moving things rejected by RANSAC (seeded)."""
    corners = cv2.goodFeaturesToTrack(a, 400, 0.01, 6)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(a, b, corners, None)
    good = status[:, 0] == 1
    cv2.setRNGSeed(_SEED)
    fit, _ = cv2.findHomography(corners[good], moved[good], cv2.RANSAC, 1.0)
    return fit.astype(np.float64)


def _to_middle(frames: np.ndarray) -> list[np.ndarray]:
    """For each frame, the homography onto the middle frame: frame-to-frame fits chained,
    then each frame refitted straight against the middle one (no drift accumulates)."""
    grey = [cv2.cvtColor(_quantise(f), cv2.COLOR_RGB2GRAY) for f in frames]
    n, mid = len(grey), len(grey) // 2
    h, w = grey[0].shape
    to_mid = [np.eye(3) for _ in grey]
    for t in range(mid - 1, -1, -1):
        to_mid[t] = to_mid[t + 1] @ _homography(grey[t], grey[t + 1])
    for t in range(mid + 1, n):
        to_mid[t] = to_mid[t - 1] @ np.linalg.inv(_homography(grey[t - 1], grey[t]))
    for t in range(n):
        if t != mid:
            warped = cv2.warpPerspective(grey[t], to_mid[t], (w, h), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT)
            to_mid[t] = _homography(warped, grey[mid]) @ to_mid[t]
    return to_mid


def _covered_box(cover: np.ndarray) -> tuple[int, int, int, int]:
    """A rectangle (y0, y1, x0, x1) inside the True pixels of ``cover``: shrink the side with
    the most uncovered pixels until none is left, then trim to multiples of 8."""
    y0, x0 = 0, 0
    y1, x1 = cover.shape
    while not cover[y0:y1, x0:x1].all():
        box = ~cover[y0:y1, x0:x1]
        sides = (box[0].sum(), box[-1].sum(), box[:, 0].sum(), box[:, -1].sum())
        side = int(np.argmax(sides))
        y0, y1, x0, x1 = (y0 + (side == 0), y1 - (side == 1), x0 + (side == 2), x1 - (side == 3))
    h, w = (y1 - y0) // 8 * 8, (x1 - x0) // 8 * 8
    y0 += (y1 - y0 - h) // 2
    x0 += (x1 - x0 - w) // 2
    return y0, y0 + h, x0, x0 + w


def build_still(n: int) -> np.ndarray | None:
    """``tennis`` held still: uint8 N x 208 x 264 x 3, None when tennis is absent."""
    name, first = STILL_SOURCE
    frames = _source_frames("still", name, first, HARD_FRAMES)
    if frames is None:
        return None
    to_mid = _to_middle(frames)
    h, w = frames.shape[1:3]
    warped, cover = [], np.ones((h, w), bool)
    for f, m in zip(frames, to_mid, strict=True):
        warped.append(cv2.warpPerspective(f, m, (w, h), flags=cv2.INTER_CUBIC,
                                          borderMode=cv2.BORDER_REFLECT))
        ones = cv2.warpPerspective(np.ones((h, w), np.float32), m, (w, h),
                                   flags=cv2.INTER_LINEAR, borderValue=0)
        cover &= ones >= 1 - 1e-4
    y0, y1, x0, x1 = _covered_box(cover)
    return _quantise(np.stack(warped[:n])[:, y0:y1, x0:x1])


# --------------------------------------------------------------------------- loading


def build(name: str, n: int = HARD_FRAMES) -> np.ndarray | None:
    """Hard clip ``name`` as uint8 N x 240 x 432 x 3 RGB (None, with a note, if a source is
    absent)."""
    if name not in HARD_CLIP_NAMES:
        raise ValueError(f"unknown hard clip {name!r}; choose from {HARD_CLIP_NAMES}")
    n = max(1, min(n, HARD_FRAMES))
    if name == "fastpan":
        frames = build_fastpan(n)
        if frames is None:
            _missing(name, clipmod.shared_clips_dir() / "running_car.mp4")
        return frames
    if name == "crossing":
        return build_crossing(n)
    if name == "still":
        return build_still(n)
    return build_cut(n)


def load_hard(name: str, max_frames: int | None = None) -> clipmod.EvalClip | None:
    """Hard clip ``name`` as an evaluation clip whose truth is itself (at most HARD_FRAMES)."""
    rgb = build(name, max_frames or HARD_FRAMES)
    if rgb is None:
        return None
    frames = rgb.astype(np.float32) / np.float32(255.0)
    return clipmod.EvalClip(name, frames, frames)
