"""Procedural test scenes with known truth: a street with a panning camera and a rolling ball.

The scene is built from layers (sky and buildings far away, trees, a fence and pavement
nearer, moving faster: parallax) rendered once onto wide canvases and panned with sub-pixel
shifts, plus a shaded ball in front, the object to remove. Because the ball is drawn last,
the same scene without it is the exact ground truth. Only numpy arithmetic is used, so the
shipped ``sample_clips/pan`` frames are reproduced bit-exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

SUPERSAMPLE = 2
"""Canvases are rendered at this many samples per pixel side, then box-averaged (anti-aliasing)."""


@dataclass(frozen=True)
class SceneSpec:
    """Everything that determines a scene; the same spec always renders the same pixels."""

    width: int = 320
    height: int = 180
    frames: int = 30
    pan: float = 2.0
    """Far-layer motion in px/frame at 180 px height (camera pans right, content moves left)."""
    parallax: float = 1.7
    """Speed of the near layer (trees, fence, pavement) relative to the far layer."""
    ball_from: float = 0.88
    """Ball centre x at the first frame, as a fraction of the width."""
    ball_to: float = 0.12
    """Ball centre x at the last frame, as a fraction of the width."""
    bounces: float = 1.5
    """Number of bounces over the clip (0: the ball rolls)."""
    ball_radius: float = 0.1
    """Ball radius as a fraction of the height."""
    seed: int = 2024


def pan_scene(width: int = 320, height: int = 180, frames: int = 30) -> SceneSpec:
    """The shipped sample: panning camera, parallax, a ball bouncing across against the pan."""
    return SceneSpec(width=width, height=height, frames=frames)


def static_scene(width: int = 320, height: int = 180, frames: int = 30) -> SceneSpec:
    """Static camera and a ball that drifts by only its radius: the hole's core is never seen."""
    radius = SceneSpec.ball_radius * height
    drift = radius / width
    return SceneSpec(width=width, height=height, frames=frames, pan=0.0, ball_from=0.45,
                     ball_to=0.45 + drift, bounces=0.0)


def long_scene(frames: int, width: int = 432, height: int = 240) -> SceneSpec:
    """A longer, larger pan of the same street (for memory and speed runs on long clips)."""
    return replace(pan_scene(width, height, frames), ball_from=1.2, ball_to=-0.2)


# --------------------------------------------------------------------------- noise


def _smoothstep(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def _value_noise(
    ys: np.ndarray, xs: np.ndarray, cell: float, rng: np.random.Generator
) -> np.ndarray:
    """Smooth value noise in [-1, 1] on the separable grid ``ys`` x ``xs`` with lattice ``cell``."""
    gh = int(ys.max() // cell) + 2
    gw = int(xs.max() // cell) + 2
    lattice = rng.uniform(-1.0, 1.0, (gh, gw))
    fy, fx = ys / cell, xs / cell
    iy, ix = np.floor(fy).astype(int), np.floor(fx).astype(int)
    wy, wx = _smoothstep(fy - iy)[:, None], _smoothstep(fx - ix)[None, :]
    rows = lattice[iy] * (1.0 - wy) + lattice[iy + 1] * wy
    return rows[:, ix] * (1.0 - wx) + rows[:, ix + 1] * wx


def _fbm(ys: np.ndarray, xs: np.ndarray, cell: float, octaves: int,
         rng: np.random.Generator) -> np.ndarray:
    """Multi-octave value noise, roughly in [-1, 1], coarsest lattice ``cell``."""
    total = np.zeros((len(ys), len(xs)))
    amp, norm = 1.0, 0.0
    for k in range(octaves):
        total += amp * _value_noise(ys, xs, cell / 2**k, rng)
        norm += amp
        amp *= 0.5
    return total / norm


def _colour_field(ys: np.ndarray, xs: np.ndarray, cell: float, strength: float,
                  rng: np.random.Generator) -> np.ndarray:
    """A multiplicative colour tint (H x W x 3) around 1 from three independent fbm fields."""
    shared = _fbm(ys, xs, cell, 4, rng)
    channels = [_fbm(ys, xs, cell * 1.5, 3, rng) for _ in range(3)]
    return 1.0 + strength * (0.7 * shared[..., None] + 0.3 * np.stack(channels, axis=-1))


def _downsample(image: np.ndarray) -> np.ndarray:
    """Box-average SUPERSAMPLE x SUPERSAMPLE blocks."""
    s = SUPERSAMPLE
    h, w = image.shape[0] // s, image.shape[1] // s
    return image[: h * s, : w * s].reshape(h, s, w, s, *image.shape[2:]).mean(axis=(1, 3))


# --------------------------------------------------------------------------- layers


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel sample centres in output-pixel units."""
    s = SUPERSAMPLE
    ys = (np.arange(height * s) + 0.5) / s
    xs = (np.arange(width * s) + 0.5) / s
    return ys, xs


def _far_layer(spec: SceneSpec, width: int) -> np.ndarray:
    """Sky with clouds and a row of buildings with windows or bricks (H x width x 3)."""
    rng = np.random.default_rng([spec.seed, 1])
    h, k = spec.height, spec.height / 180.0
    ys, xs = _grid(h, width)
    yy = ys[:, None]
    horizon = 0.80 * h
    # sky: vertical gradient and soft clouds
    g = np.clip(ys / horizon, 0, 1)[:, None, None]
    top, low = np.array([0.30, 0.50, 0.82]), np.array([0.72, 0.82, 0.93])
    sky = top * (1 - g) + low * g
    cloud = np.clip((_fbm(ys, xs, 60 * k, 4, rng) - 0.05) * 2.5, 0, 1)[..., None]
    image = sky * (1 - cloud) + np.array([0.96, 0.96, 0.97]) * cloud
    # buildings: a random sequence of blocks, looked up per column
    widths, edges = [], [0.0]
    while edges[-1] < width + 80 * k:
        widths.append(rng.uniform(26, 70) * k)
        edges.append(edges[-1] + widths[-1] + rng.uniform(0, 8) * k)
    nb = len(widths)
    starts = np.array(edges[:-1])
    widths_arr = np.array(widths)
    ends = starts + widths_arr
    tops = horizon - rng.uniform(0.25, 0.68, nb) * h
    palette = np.array([[0.62, 0.32, 0.24], [0.80, 0.72, 0.58], [0.55, 0.57, 0.60],
                        [0.40, 0.45, 0.55], [0.85, 0.80, 0.70], [0.50, 0.36, 0.30]])
    colours = palette[rng.integers(0, len(palette), nb)]
    brick = rng.random(nb) < 0.4
    pitch_x = rng.uniform(10, 16, nb) * k
    pitch_y = rng.uniform(12, 18, nb) * k
    lit_table = rng.random(997) < 0.3
    bid = np.clip(np.searchsorted(starts, xs, side="right") - 1, 0, nb - 1)
    inside_x = xs < ends[bid]
    lx = xs - starts[bid]
    building = inside_x[None, :] & (yy >= tops[bid][None, :]) & (yy < horizon)
    ly = yy - tops[bid][None, :]
    tint = _colour_field(ys, xs, 40 * k, 0.18, rng)
    wall = colours[bid][None, :, :] * tint
    # windows on plain buildings
    px, py = pitch_x[bid][None, :], pitch_y[bid][None, :]
    mx, my = 5 * k, 6 * k
    col_i = np.floor((lx[None, :] - mx) / px)
    row_i = np.floor((ly - my) / py)
    in_win = (((lx[None, :] - mx) % px) < 0.55 * px) & (((ly - my) % py) < 0.6 * py)
    in_win &= (lx[None, :] > mx) & (lx[None, :] < widths_arr[bid][None, :] - mx)
    in_win &= (ly > my) & (yy < horizon - 4 * k)
    in_win &= ~brick[bid][None, :]
    lit = lit_table[((col_i * 31 + row_i * 17 + bid[None, :] * 7) % 997).astype(int)]
    glass = np.where(lit[..., None], np.array([0.95, 0.85, 0.52]), np.array([0.16, 0.22, 0.32]))
    wall = np.where(in_win[..., None], glass, wall)
    # bricks: mortar lines, every other course offset by half a brick
    bh, bw = 4.0 * k, 9.0 * k
    course = np.floor(ly / bh)
    offset = (course % 2) * (bw / 2)
    mortar = ((ly % bh) < 0.9 * k) | (((lx[None, :] + offset) % bw) < 0.9 * k)
    wall = np.where((brick[bid][None, :] & mortar)[..., None], np.array([0.78, 0.76, 0.72]), wall)
    # cornice: a dark band at each roof line
    cornice = (ly >= 0) & (ly < 3 * k)
    wall = np.where(cornice[..., None], wall * 0.45, wall)
    image = np.where(building[..., None], wall, image)
    # the far street below the horizon
    street = np.array([0.42, 0.42, 0.44]) * _colour_field(ys, xs, 30 * k, 0.1, rng)
    image = np.where((yy >= horizon)[..., None], street, image)
    return _downsample(np.clip(image, 0, 1))


def _near_layer(spec: SceneSpec, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Trees, a wooden fence and paved ground: premultiplied colour and alpha."""
    rng = np.random.default_rng([spec.seed, 2])
    h, k = spec.height, spec.height / 180.0
    ys, xs = _grid(h, width)
    yy, xx = ys[:, None], xs[None, :]
    colour = np.zeros((len(ys), len(xs), 3))
    alpha = np.zeros((len(ys), len(xs)), dtype=bool)
    ground_y = 0.84 * h
    # trees: trunk plus a canopy of overlapping discs
    foliage = np.array([0.22, 0.45, 0.18]) * _colour_field(ys, xs, 10 * k, 0.35, rng)
    bark = np.array([0.33, 0.24, 0.16]) * _colour_field(ys, xs, 6 * k, 0.2, rng)
    x = rng.uniform(10, 60) * k
    while x < width + 40 * k:
        trunk = (np.abs(xx - x) < 3.5 * k) & (yy > 0.38 * h) & (yy < ground_y)
        colour = np.where(trunk[..., None], bark, colour)
        alpha |= trunk
        canopy = np.zeros_like(alpha)
        for _ in range(int(rng.integers(3, 6))):
            cx = x + rng.uniform(-16, 16) * k
            cy = rng.uniform(0.22, 0.40) * h
            r = rng.uniform(11, 20) * k
            canopy |= (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        shade = 0.75 + 0.25 * np.clip((0.40 * h - yy) / (0.2 * h), 0, 1)
        colour = np.where(canopy[..., None], foliage * shade[..., None], colour)
        alpha |= canopy
        x += rng.uniform(90, 160) * k
    # fence: posts and two rails
    wood = np.array([0.58, 0.40, 0.24]) * (
        1.0 + 0.25 * _fbm(ys / 6.0, xs, 3 * k, 3, rng))[..., None]
    post_pitch, post_w = 34 * k, 5 * k
    posts = ((xx % post_pitch) < post_w) & (yy > 0.57 * h) & (yy < ground_y)
    rails = (((yy > 0.63 * h) & (yy < 0.655 * h)) | ((yy > 0.74 * h) & (yy < 0.765 * h)))
    rails = rails & np.ones_like(xx, dtype=bool)
    fence = posts | rails
    post_shade = np.where(((xx % post_pitch) < 1.2 * k), 0.7, 1.0)
    colour = np.where(fence[..., None], wood * np.where(posts, post_shade, 0.85)[..., None],
                      colour)
    alpha |= fence
    # paved ground with slab seams and a kerb
    slab_w, slab_h = 22 * k, 7 * k
    gy = yy - ground_y
    course = np.floor(gy / slab_h)
    seams = ((gy % slab_h) < 1.0 * k) | (((xx + (course % 2) * slab_w / 2) % slab_w) < 1.0 * k)
    paving = np.array([0.66, 0.62, 0.56]) * _colour_field(ys, xs, 14 * k, 0.15, rng)
    paving = np.where(seams[..., None], paving * 0.6, paving)
    kerb = gy < 2.5 * k
    paving = np.where(kerb[..., None], np.array([0.85, 0.84, 0.80]), paving)
    ground = yy >= ground_y
    ground = ground & np.ones_like(xx, dtype=bool)
    colour = np.where(ground[..., None], paving, colour)
    alpha |= ground
    a = alpha.astype(np.float64)
    return _downsample(np.clip(colour, 0, 1) * a[..., None]), _downsample(a)


def _canvas_width(spec: SceneSpec, speed: float) -> int:
    return spec.width + int(math.ceil(abs(speed) * max(spec.frames - 1, 0))) + 2


@lru_cache(maxsize=4)
def _layers(spec: SceneSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Far canvas, near premultiplied canvas and near alpha, wide enough for the whole pan."""
    k = spec.height / 180.0
    far = _far_layer(spec, _canvas_width(spec, spec.pan * k))
    near, alpha = _near_layer(spec, _canvas_width(spec, spec.pan * k * spec.parallax))
    return far, near, alpha


def _shift(canvas: np.ndarray, offset: float, width: int) -> np.ndarray:
    """The ``width`` columns of ``canvas`` from sub-pixel ``offset`` (linear interpolation)."""
    i = int(math.floor(offset))
    f = offset - i
    left = canvas[:, i : i + width]
    if f == 0.0:
        return left.copy()
    return left * (1.0 - f) + canvas[:, i + 1 : i + 1 + width] * f


# --------------------------------------------------------------------------- the object


def _ball(spec: SceneSpec, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Colour (H x W x 3) and coverage (H x W, 4x4 samples) of the ball at frame ``t``."""
    h, w = spec.height, spec.width
    radius = spec.ball_radius * h
    s = t / max(spec.frames - 1, 1)
    cx = (spec.ball_from + (spec.ball_to - spec.ball_from) * s) * w
    floor = 0.90 * h - radius
    cy = floor - 0.22 * h * abs(math.sin(math.pi * spec.bounces * s))
    roll = -(cx - spec.ball_from * w) / radius
    colour = np.zeros((h, w, 3))
    coverage = np.zeros((h, w))
    y0, y1 = max(int(cy - radius) - 1, 0), min(int(cy + radius) + 2, h)
    x0, x1 = max(int(cx - radius) - 1, 0), min(int(cx + radius) + 2, w)
    if y0 >= y1 or x0 >= x1:
        return colour, coverage
    yy = np.arange(y0, y1)[:, None] + 0.0
    xx = np.arange(x0, x1)[None, :] + 0.0
    sub = (np.arange(4) + 0.5) / 4.0
    sy = (yy[..., None, None] + sub[:, None]) - cy
    sx = (xx[..., None, None] + sub[None, :]) - cx
    coverage[y0:y1, x0:x1] = np.mean(sx * sx + sy * sy < radius * radius, axis=(2, 3))
    # shading at pixel centres (clamped to the rim so edge pixels get a rim colour)
    nx, ny = (xx + 0.5 - cx) / radius, (yy + 0.5 - cy) / radius
    rr = np.minimum(nx * nx + ny * ny, 0.999)
    scale = np.sqrt(rr / np.maximum(nx * nx + ny * ny, 1e-12))
    nx, ny = nx * scale, ny * scale
    nz = np.sqrt(1.0 - rr)
    rx = nx * math.cos(roll) - ny * math.sin(roll)
    ry = nx * math.sin(roll) + ny * math.cos(roll)
    base = np.where((np.abs(rx) < 0.28)[..., None], np.array([0.95, 0.95, 0.92]),
                    np.array([0.85, 0.12, 0.10]))
    base = np.where((ry < -0.75)[..., None], np.array([0.98, 0.80, 0.10]), base)
    light = np.array([-0.45, -0.6, 0.66])
    light = light / np.linalg.norm(light)
    lambert = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0, 1)
    glint = np.clip(2 * lambert * nz - light[2], 0, 1)
    g2 = glint * glint
    g8 = (g2 * g2) * (g2 * g2)
    spec_term = (g8 * g8) * g8  # glint**24 by multiplications only (no libm pow)
    shaded = base * (0.28 + 0.72 * lambert)[..., None] + 0.6 * spec_term[..., None]
    colour[y0:y1, x0:x1] = np.clip(shaded, 0, 1)
    return colour, coverage


# --------------------------------------------------------------------------- rendering


def _quantise(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def render_frame(
    spec: SceneSpec, t: int, with_object: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t`` as uint8 H x W x 3 RGB and the object's mask (bool, every pixel it touches).

    With ``with_object=False`` the frame is the ground truth: identical outside the mask.
    """
    far, near, alpha = _layers(spec)
    k = spec.height / 180.0
    offset = spec.pan * k * t
    back = _shift(far, offset, spec.width)
    a = _shift(alpha, offset * spec.parallax, spec.width)[..., None]
    image = back * (1.0 - a) + _shift(near, offset * spec.parallax, spec.width)
    colour, coverage = _ball(spec, t)
    mask = coverage > 0
    if with_object:
        c = coverage[..., None]
        image = np.where(mask[..., None], image * (1.0 - c) + colour * c, image)
    return _quantise(image), mask


def iter_frames(
    spec: SceneSpec, with_object: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (frame, mask) for every frame, one at a time (bounded memory for long clips)."""
    for t in range(spec.frames):
        yield render_frame(spec, t, with_object)


def render(spec: SceneSpec, with_object: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The whole clip: uint8 N x H x W x 3 RGB frames and bool N x H x W object masks."""
    pairs = list(iter_frames(spec, with_object))
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
