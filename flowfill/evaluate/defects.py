"""Film defects painted onto clean clips, with their exact footprint: the archival truth.

- dust and dirt: irregular specks 2-15 px across, dark (dirt on the print) or bright (dust on the
  negative), always the one that shows against the picture there, soft-edged, each on one frame
  only;
- line scratches: 1-4 px wide, near vertical, bright or dark, fading along their length, living
  3-30 frames and drifting slowly across the frame;
- film grain: luminance-dependent, slightly clumped, new on every frame (part of the picture);
- a small fast object (a dark ball, motion-blurred) crossing the frame: real picture that a
  detector must not take for dirt.

Everything is deterministic from a seed; footprints are where a defect changes the picture by
more than a trace (its alpha above ``FOOTPRINT_ALPHA`` and the change at least ``VISIBLE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

FOOTPRINT_ALPHA = 0.15
"""A defect's footprint: where its opacity exceeds this ..."""
VISIBLE = 0.02
"""... and it changed the picture by at least this much in some channel (a bright scratch
crossing bright sky leaves no defect there to find)."""


@dataclass
class Defects:
    """A clip with defects painted in, and where each one is."""

    frames: np.ndarray
    """float32 N x H x W x 3: the truth with the defects painted over it."""
    dust: np.ndarray
    """int32 N x H x W: the speck id at each pixel (0: none); each id lives on one frame."""
    scratches: np.ndarray
    """int32 N x H x W: the scratch id at each pixel (0: none); an id lives several frames."""
    dust_size: dict[int, float] = field(default_factory=dict)
    """Each speck's size: the diameter of a disc of its footprint's area, px."""

    @property
    def footprint(self) -> np.ndarray:
        """bool N x H x W: every pixel a defect changed."""
        return (self.dust > 0) | (self.scratches > 0)


def add_grain(frames: np.ndarray, strength: float = 0.03, seed: int = 0) -> np.ndarray:
    """Film grain over ``frames`` (float32 N x H x W x 3): clumped noise of standard deviation
    up to ``strength`` in the mid-tones (less in shadows and highlights), mostly shared by the
    channels, new on every frame."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(frames)
    for t, frame in enumerate(frames):
        shared = cv2.GaussianBlur(rng.standard_normal(frame.shape[:2]).astype(np.float32),
                                  (0, 0), 0.7)
        own = cv2.GaussianBlur(rng.standard_normal(frame.shape).astype(np.float32), (0, 0), 0.7)
        noise = (0.85 * shared[..., None] + 0.35 * own) / 0.45  # blur at 0.7 keeps std ~0.45
        lum = frame.mean(axis=-1, keepdims=True)
        sigma = strength * (0.45 + 2.2 * lum * (1 - lum))
        out[t] = np.clip(frame + sigma * noise, 0.0, 1.0)
    return out.astype(np.float32)


def add_ball(frames: np.ndarray, seed: int = 0, radius: float = 3.5, speed: float = 18.0
             ) -> tuple[np.ndarray, np.ndarray]:
    """A dark ball crossing the frame at ``speed`` px/frame along a gentle arc, motion-blurred
    over a half-frame shutter; (frames with it, bool N x H x W where it shows)."""
    rng = np.random.default_rng(seed)
    n, h, w = frames.shape[:3]
    out = frames.copy()
    where = np.zeros((n, h, w), dtype=bool)
    x0, y0 = float(rng.uniform(0.05, 0.2) * w), float(rng.uniform(0.3, 0.7) * h)
    direction = 1.0
    colour = np.array(rng.uniform(0.05, 0.2, 3), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for t in range(n):
        alpha = np.zeros((h, w), np.float32)
        for s in np.linspace(0.0, 0.5, 7):  # half-frame shutter
            x = x0 + direction * speed * (t + s)
            # bounce back and forth inside the frame
            period = 2 * (w - 2 * radius - 10)
            p = (x - radius - 5) % period
            x = radius + 5 + (p if p < period / 2 else period - p)
            y = y0 + 0.12 * h * np.sin(0.2 * (t + s))
            disc = np.clip(radius + 0.5 - np.hypot(xx - x, yy - y), 0.0, 1.0)
            alpha += disc / 7
        out[t] = out[t] * (1 - alpha[..., None]) + colour * alpha[..., None]
        where[t] = alpha > FOOTPRINT_ALPHA
    return out.astype(np.float32), where


def _speck_alpha(rng: np.random.Generator, size: float) -> np.ndarray:
    """An irregular soft speck about ``size`` px across, as an alpha patch."""
    r = size / 2
    half = int(np.ceil(r + 3))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    angle = np.arctan2(yy, xx)
    wobble = np.ones_like(angle)
    for k in (2, 3, 5):
        wobble += rng.uniform(-0.18, 0.18) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    stretch = rng.uniform(0.6, 1.0)
    theta = rng.uniform(0, np.pi)
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = (-xx * np.sin(theta) + yy * np.cos(theta)) / stretch
    dist = np.hypot(u, v) / wobble
    alpha = np.clip(r + 0.5 - dist, 0.0, 1.0)
    return cv2.GaussianBlur(alpha, (0, 0), 0.5) * rng.uniform(0.75, 1.0)


def _across_mask(alpha: np.ndarray, contrast: float) -> np.ndarray:
    """Where a scratch of peak opacity ``contrast`` shows: a footprint share of its own peak."""
    return alpha > FOOTPRINT_ALPHA * contrast


def _paint(frame: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    frame[:] = frame * (1 - alpha[..., None]) + colour * alpha[..., None]


def paint_defects(
    truth: np.ndarray,
    seed: int = 0,
    dust_per_frame: tuple[int, int] = (2, 6),
    dust_sizes: tuple[float, float] = (2.0, 15.0),
    scratch_count: int | None = None,
) -> Defects:
    """Paint dust specks (``dust_per_frame`` per frame, ``dust_sizes`` px across) and line
    scratches (about one per 10 frames unless ``scratch_count``) over ``truth``
    (float32 N x H x W x 3), keeping specks and scratches apart so each footprint is its own."""
    rng = np.random.default_rng(seed)
    n, h, w = truth.shape[:3]
    out = truth.astype(np.float32).copy()
    dust = np.zeros((n, h, w), np.int32)
    scratch = np.zeros((n, h, w), np.int32)
    sizes: dict[int, float] = {}
    rows = np.arange(h)

    # scratches: each lives ``life`` frames, drifting slowly, fading along its length
    count = scratch_count if scratch_count is not None else max(1, round(n / 10))
    cols = np.arange(w, dtype=np.float32)
    for k in range(count):
        life = int(rng.integers(3, 31))
        start = int(rng.integers(0, max(n - life, 0) + 1))
        x = float(rng.uniform(0.08, 0.92) * w)
        width = float(rng.uniform(1.0, 4.0))
        span = rng.uniform(0.4, 1.0) * h
        y0 = int(rng.uniform(0, h - span))
        ys = rows[y0:int(y0 + span)]
        colour = np.full(3, 1.0 if rng.integers(0, 2) else 0.0, np.float32)
        contrast = float(rng.uniform(0.2, 0.5))
        slope = float(rng.uniform(-0.01, 0.01))
        drift = float(rng.uniform(-0.6, 0.6))
        fade = 0.6 + 0.4 * np.sin(np.linspace(0, rng.uniform(2, 6), len(ys)) + rng.uniform(0, 6))
        for t in range(start, min(start + life, n)):
            x += drift + float(rng.uniform(-0.3, 0.3))
            centre = x + slope * (ys - h / 2)
            across = np.clip(width / 2 + 0.5 - np.abs(cols[None, :] - centre[:, None]), 0.0, 1.0)
            alpha = np.zeros((h, w), np.float32)
            alpha[ys] = across * (contrast * fade)[:, None]
            before = out[t].copy()
            _paint(out[t], alpha, colour)
            shows = np.abs(out[t] - before).max(axis=-1) >= VISIBLE
            scratch[t][_across_mask(alpha, contrast) & shows] = k + 1

    # dust: one frame each, away from scratches and other specks
    speck_id = 0
    for t in range(n):
        taken = cv2.dilate((scratch[t] > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        for _ in range(int(rng.integers(dust_per_frame[0], dust_per_frame[1] + 1))):
            size = float(np.exp(rng.uniform(np.log(dust_sizes[0]), np.log(dust_sizes[1]))))
            alpha = _speck_alpha(rng, size)
            ph, pw = alpha.shape
            for _try in range(20):
                y, x = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
                if not taken[max(y - 3, 0):y + ph + 3, max(x - 3, 0):x + pw + 3].any():
                    break
            else:
                continue
            speck_id += 1
            # dirt shows dark and dust bright; where the picture is already dark (bright) a speck
            # of that kind would hardly show, so it comes out the other way
            ground = float(truth[t, y:y + ph, x:x + pw].mean())
            bright = ground < 0.35 or (ground <= 0.65 and rng.random() < 0.4)
            level = rng.uniform(0.85, 1.0) if bright else rng.uniform(0.0, 0.15)
            colour = np.full(3, level, np.float32) + rng.uniform(-0.03, 0.03, 3).astype(np.float32)
            region = out[t, y:y + ph, x:x + pw]
            before = region.copy()
            _paint(region, alpha, colour)
            foot = (alpha > FOOTPRINT_ALPHA) & (np.abs(region - before).max(axis=-1) >= VISIBLE)
            dust[t, y:y + ph, x:x + pw][foot] = speck_id
            taken[y:y + ph, x:x + pw] |= foot
            if foot.any():  # (one that does not show is no defect)
                sizes[speck_id] = float(2 * np.sqrt(foot.sum() / np.pi))
    return Defects(np.clip(out, 0.0, 1.0).astype(np.float32), dust, scratch, sizes)
