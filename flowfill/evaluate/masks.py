"""Synthetic damage masks (bool N x H x W, True = remove), deterministic from a seed.

Five kinds that stress different parts of a video completer: a moving blob (content seen in
nearby frames), a parked blob (it stands still for the middle of the clip, so what it hides is
seen only in distant frames), a stationary logo (content never seen while the camera is
still), film scratches (thin, short-lived, nearly fixed in x), and the borders a stabiliser
uncovers (strips and wedges along the frame edge that jitter from frame to frame).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from flowfill.evaluate.shake import shake_warps

MASK_KINDS = ("blob", "parked", "logo", "text", "scratches", "borders")


def _blob_shape(rng: np.random.Generator, harmonics: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes and phases of the low-frequency radial warp that makes an ellipse irregular."""
    amps = rng.uniform(0.05, 0.16, harmonics) / np.arange(1, harmonics + 1) ** 0.5
    phases = rng.uniform(0, 2 * np.pi, harmonics)
    return amps, phases


def _travel(s: float) -> float:
    """A blob that travels steadily: progress equals time."""
    return s


def _parks(s: float, arrive: float = 0.2, leave: float = 0.8) -> float:
    """A blob that comes to the middle, stands still from ``arrive`` to ``leave``, moves on."""
    if s < arrive:
        return 0.5 * s / arrive
    if s > leave:
        return 0.5 + 0.5 * (s - leave) / (1 - leave)
    return 0.5


def moving_blob(
    n: int, height: int, width: int, seed: int = 0,
    path: Callable[[float], float] = _travel, size: float = 1 / 12,
) -> np.ndarray:
    """A smooth irregular blob ~1/6 of the frame height across that travels across the frame.

    The blob is an ellipse whose radius is warped by a few angular harmonics that drift
    slowly, so its outline changes smoothly while its centre sweeps left to right (or back).
    ``path`` maps time (0..1) to progress along the way; ``size`` is the radius / height.
    """
    rng = np.random.default_rng(seed)
    amps, phases = _blob_shape(rng)
    drift = rng.uniform(-0.15, 0.15, len(amps))
    radius = height * size
    aspect = rng.uniform(0.75, 1.3)
    tilt = rng.uniform(0, np.pi)
    margin = 2.0 * radius
    x_from, x_to = margin, width - margin
    if rng.random() < 0.5:
        x_from, x_to = x_to, x_from
    y_mid = rng.uniform(0.35, 0.65) * height
    y_amp = rng.uniform(0.05, 0.2) * height
    y_phase = rng.uniform(0, 2 * np.pi)
    reach = radius * (1.0 + amps.sum()) * max(aspect, 1.0 / aspect) + 2
    out = np.zeros((n, height, width), dtype=bool)
    harm = np.arange(1, len(amps) + 1)[:, None, None]
    for t in range(n):
        s = path(t / max(n - 1, 1))
        cx = x_from + (x_to - x_from) * s
        cy = y_mid + y_amp * np.sin(2 * np.pi * s + y_phase)
        y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 1, height)
        x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 1, width)
        dy = np.arange(y0, y1)[:, None] - cy
        dx = np.arange(x0, x1)[None, :] - cx
        rot = tilt + 0.4 * s
        u = dx * np.cos(rot) + dy * np.sin(rot)
        v = (-dx * np.sin(rot) + dy * np.cos(rot)) * aspect
        dist = np.hypot(u, v)
        theta = np.arctan2(v, u)
        angle = harm * theta + (phases + drift * s * (n - 1))[:, None, None]
        warp = np.sum(amps[:, None, None] * np.cos(angle), axis=0)
        out[t, y0:y1, x0:x1] = dist <= radius * (1.0 + warp)
    return out


def parked_blob(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A larger blob (~1/4 of the height across) that drives in, stands still for the middle
    60% of the clip and drives on: what it hides then is seen only in distant frames."""
    return moving_blob(n, height, width, seed=seed, path=_parks, size=1 / 8)


def stationary_logo(
    n: int, height: int, width: int, seed: int = 0, word: str = "TV5"
) -> np.ndarray:
    """A fixed broadcaster-style logo (thick text and a ring) in a corner, the same every frame."""
    rng = np.random.default_rng(seed)
    scale = height / 240.0
    canvas = np.zeros((height, width), dtype=np.uint8)
    font = cv2.FONT_HERSHEY_DUPLEX
    font_scale = 1.1 * scale
    thickness = max(2, round(3 * scale))
    (tw, th), _ = cv2.getTextSize(word, font, font_scale, thickness)
    ring_r = round(0.55 * th) + thickness
    pad = round(12 * scale)
    total_w = 2 * ring_r + pad // 2 + tw
    total_h = max(th, 2 * ring_r)
    corner = int(rng.integers(0, 4))
    x0 = pad if corner in (0, 2) else width - pad - total_w
    y0 = pad if corner in (0, 1) else height - pad - total_h
    centre = (x0 + ring_r, y0 + total_h // 2)
    cv2.circle(canvas, centre, ring_r, 255, thickness, lineType=cv2.LINE_8)
    cv2.circle(canvas, centre, max(1, ring_r // 3), 255, -1, lineType=cv2.LINE_8)
    origin = (x0 + 2 * ring_r + pad // 2, y0 + (total_h + th) // 2)
    cv2.putText(canvas, word, origin, font, font_scale, 255, thickness, lineType=cv2.LINE_8)
    grow = max(1, round(2 * scale))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    logo = cv2.dilate(canvas, kernel) > 0
    return np.repeat(logo[None], n, axis=0)


TEXT_LINES = ("PROPERTY OF THE ARCHIVE", "not for broadcast - reel 2")
"""The burnt-in text of the ``text`` case: capitals and lower case, thin strokes."""


def burnt_in_text(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Two lines of thin burnt-in text (a caption or a watermark), centred in the lower or
    upper third, the same every frame; each stroke grown by a pixel, as a keyer's matte is."""
    rng = np.random.default_rng(seed)
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = 1
    widest = max(cv2.getTextSize(line, font, 1.0, thickness)[0][0] for line in TEXT_LINES)
    font_scale = min(0.55 * height / 240.0, 0.85 * width / widest)
    canvas = np.zeros((height, width), dtype=np.uint8)
    sizes = [cv2.getTextSize(line, font, font_scale, thickness)[0] for line in TEXT_LINES]
    gap = round(1.6 * max(th for _, th in sizes))
    block = gap * (len(TEXT_LINES) - 1) + sizes[0][1]
    top = round(0.72 * height) if rng.random() < 0.5 else round(0.12 * height)
    top = min(top, height - block - 4)
    for i, (line, (tw, th)) in enumerate(zip(TEXT_LINES, sizes, strict=True)):
        origin = ((width - tw) // 2, top + th + i * gap)
        cv2.putText(canvas, line, origin, font, font_scale, 255, thickness, lineType=cv2.LINE_8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return np.repeat((cv2.dilate(canvas, kernel) > 0)[None], n, axis=0)


def scratches(
    n: int,
    height: int,
    width: int,
    seed: int = 0,
    per_frame: int = 3,
    min_gap: int = 8,
) -> np.ndarray:
    """Film scratches: thin (1-3 px) near-vertical lines with slight curvature and jitter.

    Each scratch lives 2-5 frames at a nearly fixed x and spans most of the frame height;
    new ones start whenever fewer than ``per_frame`` are alive, so every frame has at least one.
    A new scratch starts ``min_gap`` px (plus room for its wander) away from live ones, so
    scratches never touch and each stays at most 3 px wide.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((n, height, width), dtype=bool)
    rows = np.arange(height)
    alive: list[dict[str, float | int]] = []
    for t in range(n):
        alive = [s for s in alive if s["end"] > t]
        want = int(rng.integers(1, per_frame + 1))
        tries = 0
        while len(alive) < want and tries < 50:
            tries += 1
            x0 = float(rng.uniform(6, width - 9))
            if any(abs(x0 - float(s["x"])) < min_gap + 12 for s in alive):
                continue
            span = rng.uniform(0.5, 1.0) * height
            y0 = rng.uniform(0, height - span)
            alive.append({
                "x": x0,
                "end": t + int(rng.integers(2, 6)),
                "w": int(rng.integers(1, 4)),
                "y0": int(y0),
                "y1": int(y0 + span),
                "bend": float(rng.uniform(-2.5, 2.5)),
                "phase": float(rng.uniform(0, np.pi)),
                "slope": float(rng.uniform(-0.005, 0.005)),
            })
        for s in alive:
            s["x"] = float(s["x"]) + float(rng.uniform(-0.4, 0.4))
            ys = rows[int(s["y0"]) : int(s["y1"])]
            wobble = float(s["bend"]) * np.sin(np.pi * ys / height + float(s["phase"]))
            jitter = rng.uniform(-0.3, 0.3, len(ys))
            xs = np.rint(float(s["x"]) + float(s["slope"]) * ys + wobble + jitter).astype(int)
            cols = np.clip(xs[:, None] + np.arange(int(s["w"]))[None, :], 0, width - 1)
            out[t, np.repeat(ys, cols.shape[1]), cols.ravel()] = True
    return out


def stabilised_borders(
    n: int, height: int, width: int, seed: int = 0, shift: float = 0.025, degrees: float = 0.8,
) -> np.ndarray:
    """The borders a stabiliser uncovers: the frame is a shaky camera's view warped back onto
    a steady one, so the part of the steady frame that camera did not see is the hole.

    The shake is a handheld wobble of up to ``shift`` of the frame size in x and y and
    ``degrees`` of roll about the centre. A pixel is in the hole where the warped view covers
    it less than fully (bilinear coverage below 1): the strips, wedges and their seam.
    """
    ones = np.ones((height, width), dtype=np.float32)
    out = np.zeros((n, height, width), dtype=bool)
    for t, warp in enumerate(shake_warps(n, height, width, seed, shift, degrees)):
        cover = cv2.warpAffine(ones, warp, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[t] = cover < 1 - 1e-4
    return out


GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "blob": moving_blob,
    "parked": parked_blob,
    "logo": stationary_logo,
    "text": burnt_in_text,
    "scratches": scratches,
    "borders": stabilised_borders,
}


def make_mask(kind: str, n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Masks of ``kind`` (one of :data:`MASK_KINDS`) for ``n`` frames of ``height`` x ``width``."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown mask kind {kind!r}; choose {MASK_KINDS}")
    return GENERATORS[kind](n, height, width, seed=seed)


def dilate_cross(mask: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Dilate each frame with a 3x3 cross ``iterations`` times (ProPainter's test-mask dilation)."""
    if iterations <= 0:
        return mask.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    frames = mask.reshape(-1, *mask.shape[-2:]).astype(np.uint8)
    grown = np.stack([cv2.dilate(f, kernel, iterations=iterations) for f in frames]) > 0
    return grown.reshape(mask.shape)
