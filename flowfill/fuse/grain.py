"""Grain matching: give filled pixels the film grain (sensor noise) their surroundings have.

Blending candidates and the Poisson solve average the grain of the source frames away, and
invented pixels never had any, so a fill in grainy film shows as a smooth, plastic patch.
Here the grain of a ring of known pixels around the hole is measured on its flat pixels (robust
standard deviation of the high-pass residual, per channel and per luminance band; its spatial
size from the residual's lag-1 autocorrelation; its correlation between channels; texture
that passes for grain is refused by plausibility), the fill's own residual power is compared
with it pixel by pixel, and synthetic grain with the missing variance is added inside the mask.
The noise is seeded from (seed, frame index) only, so a frame gets the same grain whichever
window, render or resumed run computes it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from flowfill.masks import box, dilate, scaled_px

RESIDUAL_SIGMA = 1.0
"""Gaussian blur (px) whose difference from the image is the high-pass residual measured."""
BAND_SIGMA = 2.0
"""Blur (px) of the luminance that sorts pixels into bands (grain must not pick its band)."""
RING_INNER = 3
"""Ring of measured pixels starts this many px outside the mask (at least; scaled at 480p)."""
RING_OUTER = 12
"""... and ends this many px outside it (at least; scaled with size above 480p)."""
BANDS = 4
"""Luminance bands (shadows to highlights) whose grain is measured separately, at most."""
MIN_BAND_PIXELS = 200
"""Ring pixels a band needs; with fewer, bands are pooled; under this in all, nothing is done."""
MIN_FILL_PIXELS = 32
"""Pixels the core of a mask needs to be measured instead of the whole mask (metrics)."""
NOISE_FLOOR = 0.6 / 255
"""Residual std (at values up to 1; scaled with the band's level above 1) below which the
surroundings count as clean: nothing is added. The staircase of 8-bit gradients measures up
to 0.48/255; grain this faint (1/255 pixel std at 0.7 px) does not show."""
MIN_THIN = 0.3
"""Where the residual of unit grain over the mask only is below this share of its residual in
the open (isolated pixels, 1-px lines: too thin to measure the fill's), the full grain is
added."""
FLAT_SIGMA = 2.0
"""Neighbourhood (Gaussian px) over which the residual power that tells grain from edges and
texture is taken."""
FLAT_QUANTILE = 0.3
FLAT_FACTOR = 3.0
BAND_SPREAD = 6.0
"""Pixels whose neighbourhood's residual power is at most FLAT_FACTOR x the FLAT_QUANTILE
quantile of their band's are flat (grain alone): nearly all of pure grain, and the smooth
parts of a picture (texture and edges only need to leave a third of the ring smooth). A band's
level is at most BAND_SPREAD x the ring's: grain varies less than that (2.4x in std) from
shadows to mid-tones, so a band of texture alone keeps only its smoothest pixels."""
MAX_GRAIN = 0.04
"""Strongest grain (pixel std, channel mean, at values up to 1; scaled with the level above 1)
taken for grain: heavy 16 mm grain scanned at 2K stays under it; a band above it holds
texture (foliage, gravel), which a smooth fill must not get as noise, and is left out; where
that leaves fewer than half of the bands, the ring is texture and nothing is done."""
NLF_SPREAD = 3.0
"""Most a band's grain (std) may exceed the cleanest band's: film grain is 2-2.5x stronger in
the mid-tones than in deep shadows and highlights at most."""
MIN_FLAT_PIXELS = 64
"""Flat pixels a band needs to be measured; bands with fewer (texture) take their
neighbours' grain."""
FILL_SIGMA = 3.0
"""Neighbourhood (Gaussian px) of the fill's own residual power, compared pixel by pixel with
the grain's: a fill is part propagated (with some grain), part smooth."""
MAX_SAMPLES = 40_000
"""Pixels a statistic is taken over at most (an even stride through them beyond that)."""
MATCHED = 0.9
"""A fill whose residual std is at least this share of the surroundings' grain counts as
grainy enough (measurement scatter alone must not add noise to a fill that carries the grain or
texture of its sources); below, the missing variance is added, scaled to reach full grain."""
MAD_SCALE = 1.4826
"""Median absolute deviation to standard deviation, for Gaussian data."""
CLIP = 2.5
"""Robust stds at which samples are winsorised for correlations."""
MAX_SIZE = 1.5
"""Largest grain size (blur px): a ring whose residual is smoother than grain of this size
(lag-1 correlation) holds smooth texture, not grain, and is left alone."""
_CALIBRATION_SIGMAS = (0.0, 0.3, 0.45, 0.6, 0.75, 0.9, 1.1, 1.3, MAX_SIZE)
_SEED_TAG = 0x6772_6169  # "grai": keeps this stream apart from other users of the seed


def robust_std(x: np.ndarray, axis: int | None = 0) -> np.ndarray:
    """Standard deviation from the median absolute deviation: edges and texture in a
    minority of the pixels do not inflate it (Gaussian-consistent)."""
    x = np.asarray(x, dtype=np.float64)
    if axis == 0:
        x = thinned(x)
    centre = np.median(x, axis=axis, keepdims=True)
    return MAD_SCALE * np.median(np.abs(x - centre), axis=axis)


def thinned(x: np.ndarray) -> np.ndarray:
    """At most ``MAX_SAMPLES`` rows of ``x``, an even stride through it (deterministic)."""
    step = -(-len(x) // MAX_SAMPLES)
    return x[::step] if step > 1 else x


def robust_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two samples winsorised at ``CLIP`` robust stds from their
    medians: edges and texture cannot dominate it, and it scatters far less than a
    correlation built from medians (0 when either sample is constant)."""
    a, b = thinned(np.asarray(a, np.float64)), thinned(np.asarray(b, np.float64))
    sa, sb = float(robust_std(a)), float(robust_std(b))
    if sa <= 0 or sb <= 0:
        return 0.0
    u = np.clip((a - np.median(a)) / sa, -CLIP, CLIP)
    v = np.clip((b - np.median(b)) / sb, -CLIP, CLIP)
    u, v = u - u.mean(), v - v.mean()
    den = float(np.sqrt(np.sum(u * u) * np.sum(v * v)))
    return float(np.sum(u * v)) / den if den > 0 else 0.0


def _ksize(sigma: float) -> int:
    return 2 * int(np.ceil(3 * sigma)) + 1


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (float32, reflected border) of an H x W or H x W x C image."""
    k = _ksize(sigma)
    return cv2.GaussianBlur(np.ascontiguousarray(image, dtype=np.float32), (k, k), sigma,
                            borderType=cv2.BORDER_REFLECT)


def lowpass(image: np.ndarray, weight: np.ndarray | None, sigma: float) -> np.ndarray:
    """Gaussian blur of ``image`` over the pixels where ``weight`` (bool H x W) is set only
    (normalised convolution), so a fill and its surroundings do not bleed into each other."""
    if weight is None:
        return blur(image, sigma)
    w = weight.astype(np.float32)
    wimage = image * (w[..., None] if image.ndim == 3 else w)
    norm = np.maximum(blur(w, sigma), np.float32(1e-6))
    return blur(wimage, sigma) / (norm[..., None] if image.ndim == 3 else norm)


def residual(image: np.ndarray, weight: np.ndarray | None = None,
             sigma: float = RESIDUAL_SIGMA) -> np.ndarray:
    """High-pass residual: the image minus its Gaussian blur (over ``weight`` only, if given).
    Its robust std is the grain measure everywhere in flowfill (also ``evaluate.metrics``)."""
    image = np.asarray(image, dtype=np.float32)
    return image - lowpass(image, weight, sigma)


def ring(mask: np.ndarray, valid: np.ndarray | None = None,
         shape: tuple[int, int] | None = None) -> np.ndarray:
    """The pixels between ``RING_INNER`` and ``RING_OUTER`` px outside ``mask`` (both at
    least, scaled above 480p with ``shape``, the frame's H x W, default the mask's), within
    ``valid``."""
    inner, outer = ring_px(shape or mask.shape)
    out = dilate(mask, outer) & ~dilate(mask, inner)
    return out if valid is None else out & valid


def ring_px(shape: tuple[int, int]) -> tuple[int, int]:
    """Inner and outer distance (px) of the measured ring for a frame of ``shape``."""
    return (max(RING_INNER, scaled_px(RING_INNER, shape)),
            max(RING_OUTER, scaled_px(RING_OUTER, shape)))


def core(mask: np.ndarray) -> np.ndarray:
    """The mask without its 2-px border (where a plain residual also sees the surroundings),
    or the mask itself (the same object) when little is left of it."""
    inner = ~dilate(~mask, 2)
    return inner if inner.sum() >= MIN_FILL_PIXELS else mask


def lag1_corr(res: np.ndarray, region: np.ndarray) -> float:
    """Robust correlation of the residual (H x W) between horizontal and vertical neighbours
    that both lie in ``region``."""
    a, b = [], []
    for da, db, both in ((res[:, :-1], res[:, 1:], region[:, :-1] & region[:, 1:]),
                         (res[:-1], res[1:], region[:-1] & region[1:])):
        a.append(da[both])
        b.append(db[both])
    first, second = np.concatenate(a), np.concatenate(b)
    return robust_corr(first, second) if first.size >= MIN_BAND_PIXELS else 0.0


def flat_pixels(res: np.ndarray, region: np.ndarray,
                bands: np.ndarray | None = None) -> np.ndarray:
    """The pixels of ``region`` where grain alone is: whose neighbourhood carries at most
    ``FLAT_FACTOR`` x the ``FLAT_QUANTILE`` quantile of the residual power of their band
    (``bands``: index per pixel of ``region``), a level capped at ``BAND_SPREAD`` x the whole
    region's (a band of texture alone has no flat pixels), so edges and texture are left out."""
    sq = res * res
    power = lowpass(sq.mean(-1) if sq.ndim == 3 else sq, region, FLAT_SIGMA)[region]
    out = np.zeros(region.shape, bool)
    if not power.size:
        return out
    which = np.zeros(power.size, int) if bands is None else bands
    cap = BAND_SPREAD * np.quantile(power, FLAT_QUANTILE)
    level = np.array([min(np.quantile(power[which == b], FLAT_QUANTILE), cap)
                      if (which == b).any() else 0.0 for b in range(int(which.max()) + 1)])
    out[region] = power <= FLAT_FACTOR * level[which]
    return out


def grain_field(shape: tuple[int, int], size: float, rng: np.random.Generator,
                channels: int = 1) -> np.ndarray:
    """White noise blurred by ``size`` px (0: white), each channel of unit variance."""
    z = rng.standard_normal((*shape, channels), dtype=np.float32)
    if size <= 0:
        return z
    k = cv2.getGaussianKernel(_ksize(size), size).ravel()
    scale = np.float32(1.0 / np.sum(k * k))  # 1 / std of white noise blurred by k x k
    out = blur(z, size) * scale
    return out.reshape(*shape, channels)


@functools.cache
def _calibration() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For grain of each size in ``_CALIBRATION_SIGMAS`` (unit pixel std), measured as a ring
    is (its flat pixels): the lag-1 correlation of its residual and the residual's robust std
    (computed once, on first use)."""
    rng = np.random.default_rng(_SEED_TAG)
    corr, gain = [], []
    full = np.zeros((192, 192), bool)
    full[8:-8, 8:-8] = True
    for size in _CALIBRATION_SIGMAS:
        res = residual(grain_field((192, 192), size, rng)[..., 0])
        flat = flat_pixels(res, full)
        corr.append(lag1_corr(res, flat))
        gain.append(float(robust_std(res[flat])))
    return np.array(_CALIBRATION_SIGMAS), np.array(corr), np.array(gain)


def grain_size(corr: float) -> tuple[float, float] | None:
    """The size (blur px) of grain whose residual has lag-1 correlation ``corr``, and the
    residual std of such grain of unit pixel std; None beyond ``MAX_SIZE`` (texture)."""
    sizes, corrs, gains = _calibration()
    order = np.maximum.accumulate(corrs)  # interp needs ascending; the table nearly is
    if corr > order[-1]:
        return None
    size = float(np.interp(corr, order, sizes))
    return size, float(np.interp(size, sizes, gains))


def channel_mixer(z: np.ndarray) -> np.ndarray:
    """Lower-triangular C x C matrix that gives independent unit noise the robust channel
    correlation of the standardised residuals ``z`` (n x C): film grain is mostly shared."""
    c = z.shape[1]
    corr = np.eye(c)
    for i in range(c):
        for j in range(i):
            corr[i, j] = corr[j, i] = robust_corr(z[:, i], z[:, j])
    vals, vecs = np.linalg.eigh(corr)
    fixed = vecs @ np.diag(np.maximum(vals, 1e-4)) @ vecs.T  # nearest positive definite
    d = np.sqrt(np.diag(fixed))
    return np.linalg.cholesky(fixed / np.outer(d, d))


@dataclass
class RingGrain:
    """The surroundings' grain: per band its median luminance and residual std per channel,
    the grain size (blur px) with its residual gain, and the channel mixer."""

    centres: np.ndarray  # B (bands with enough flat pixels only)
    std: np.ndarray  # B x C residual std, 0 where below the noise floor
    size: float
    gain: float
    mixer: np.ndarray  # C x C


def measure_ring(res: np.ndarray, lum: np.ndarray, region: np.ndarray) -> RingGrain | None:
    """The grain of the residual ``res`` (H x W x C) over the flat pixels of ``region``, with
    band luminance ``lum`` (H x W); None if the region is too small, clean or texture."""
    bands = _band_stats(res, lum, region)
    if bands is None:
        return None
    centres, std, z, flat = bands
    zmap = np.zeros(region.shape, np.float64)
    zmap[flat] = z.mean(axis=1)
    fit = grain_size(lag1_corr(zmap, flat))
    if fit is None:
        return None
    size, gain = fit
    level = np.maximum(1.0, np.abs(centres))[:, None]
    plausible = std.mean(axis=1) / gain <= MAX_GRAIN * level[:, 0]
    if 2 * plausible.sum() < len(plausible):
        return None  # texture all round (a band or two of it is left out, see MAX_GRAIN)
    centres, std, level = centres[plausible], std[plausible], level[plausible]
    std = _consistent(std, NOISE_FLOOR * level)
    std = np.where(std >= NOISE_FLOOR * level, std, 0.0)
    if not std.any():
        return None
    return RingGrain(centres, std, size, gain, channel_mixer(z))


def _band_stats(res: np.ndarray, lum: np.ndarray, region: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Luminance bands of ``region`` (quantiles, at least ``MIN_BAND_PIXELS`` each) with enough
    flat pixels: their median luminance (B), residual std (B x C), the flat pixels' residuals
    standardised by their band's (n x C) and where they are (H x W); None if none is left or
    the region is numerically clean."""
    bands = min(BANDS, int(region.sum()) // MIN_BAND_PIXELS)
    if bands == 0:
        return None
    lm = lum[region].astype(np.float64)
    edges = np.quantile(lm, np.linspace(0, 1, bands + 1)[1:-1])
    flat = flat_pixels(res, region, np.searchsorted(edges, lm))
    r, which, lf = res[flat].astype(np.float64), np.searchsorted(edges, lum[flat]), lum[flat]
    kept = [b for b in range(bands) if (which == b).sum() >= MIN_FLAT_PIXELS]
    if not kept:
        return None
    centres = np.array([np.median(lf[which == b]) for b in kept], dtype=np.float64)
    std = np.stack([robust_std(r[which == b]) for b in kept])
    if not (std > 1e-7 * np.maximum(1.0, np.abs(centres))[:, None]).any():
        return None  # smooth synthetic images
    unit = np.zeros((bands, r.shape[1]))
    unit[kept] = std
    unit = unit[which]
    z = np.where(unit > 0, r / np.where(unit > 0, unit, 1.0), 0.0)
    return centres, std, z, flat


def _consistent(std: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Band stds (B x C) limited to ``NLF_SPREAD`` x the cleanest band's above the ``floor``
    (channel means): grain is in every tone and varies smoothly with it, so a band far above
    the others holds texture (foliage, fine patterns) that no flat pixel escaped."""
    level = std.mean(axis=1)
    above = level >= floor[:, 0]
    if not above.any():
        return std
    cap = NLF_SPREAD * level[above].min()
    return std * np.minimum(1.0, cap / np.maximum(level, 1e-30))[:, None]


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) % 2**63, int(index) % 2**63, _SEED_TAG])


def match_grain(frame: np.ndarray, mask: np.ndarray, values: np.ndarray, seed: int,
                index: int, valid: np.ndarray | None = None) -> np.ndarray:
    """``values`` (the fill of ``mask``'s pixels, m x 3) with grain added where they are
    smoother than the ring around the mask in the output frame (``frame`` with ``values``
    composited), per channel and luminance band; unchanged when the surroundings are clean or
    too small to measure. ``valid`` (H x W) excludes pixels (NaN, Inf) from the measurement.
    The noise depends on (``seed``, ``index``, mask) only."""
    mask = np.asarray(mask, dtype=bool)
    if values.size == 0 or not mask.any():
        return values
    crop = box(mask, ring_px(mask.shape)[1] + _ksize(BAND_SIGMA))
    m = mask[crop]
    ok = np.ones(m.shape, bool) if valid is None else np.asarray(valid, bool)[crop]
    around = ring(m, ok, shape=mask.shape)
    img = np.array(frame[crop][..., :3], dtype=np.float32)
    img[m] = values
    outside = ~m & ok
    grain = measure_ring(residual(img, outside), lowpass(img.mean(-1), outside, BAND_SIGMA),
                         around)
    if grain is None:
        return values
    lum = lowpass(img.mean(-1), m, BAND_SIGMA)[m]
    pixel = np.stack([np.interp(lum, grain.centres, grain.std[:, c] / grain.gain)
                      for c in range(grain.std.shape[1])], axis=1)  # the grain's pixel std
    noise = _noise(m, grain, _rng(seed, index))
    amplitude = pixel * _missing(img, noise, m, pixel, grain.gain)
    out = values + (amplitude * noise[m]).astype(values.dtype)
    return _clip_like(out, frame, valid).astype(values.dtype, copy=False)


def _noise(m: np.ndarray, grain: RingGrain, rng: np.random.Generator) -> np.ndarray:
    """Grain of the ring's size and channel correlation, unit pixel std per channel, over the
    crop ``m`` (H x W x C)."""
    z = grain_field(m.shape, grain.size, rng, channels=grain.mixer.shape[0])
    return np.einsum("ij,hwj->hwi", grain.mixer.astype(np.float32), z)


def _missing(img: np.ndarray, noise: np.ndarray, m: np.ndarray, pixel: np.ndarray,
             gain: float) -> np.ndarray:
    """Share (m x C, 0..1) of the surroundings' grain to add at each fill pixel: the fill's own
    residual power and that of the unit grain, both over the mask only and in the same
    neighbourhood, give the missing variance; a fill with ``MATCHED`` of the grain's has
    enough. Isolated pixels, whose residual over the mask is nil, get the full grain."""
    own = _local_power(residual(img, m), m)
    unit = _local_power(residual(noise, m), m)
    target = pixel**2 * unit
    ratio = np.where(target > 0, own / np.where(target > 0, target, 1.0), 1.0)  # power ratio
    ratio = np.where(unit < (MIN_THIN * gain) ** 2, 0.0, ratio)
    return np.sqrt(np.maximum(1.0 - ratio / MATCHED**2, 0.0))


def _local_power(res: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Mean square of ``res`` (H x W x C) around each pixel of ``m``, over ``m`` (m x C)."""
    return lowpass(res * res, m, FILL_SIGMA)[m].astype(np.float64)


def _clip_like(out: np.ndarray, frame: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Keep grained values in [0, 1] when the frame's values lie there, non-negative when the
    frame has none below 0 (HDR plates are not clipped above)."""
    rgb = frame[..., :3] if valid is None else frame[..., :3][np.asarray(valid, bool)]
    lo, hi = float(np.min(rgb)), float(np.max(rgb))
    if lo < 0:
        return out
    return np.clip(out, 0.0, 1.0) if hi <= 1 else np.maximum(out, 0.0)
