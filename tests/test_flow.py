"""The flow API on textures whose motion is known: DIS, the proxy, and the estimator cache."""

import cv2
import numpy as np
import pytest

from flowfill.flow import DISEstimator, estimate, to_gray8
from flowfill.flow.estimator import FrameCache
from flowfill.flow.prep import from_proxy, proxy_size, to_unit_rgb


def _texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    return (base - base.min()) / (base.max() - base.min())


def _shifted(image, dx, dy):
    """``image`` moved by (dx, dy): the content at x shows at x + d (sub-pixel, bilinear)."""
    h, w = image.shape[:2]
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("shift", [(3.0, 0.0), (2.5, -1.25), (-4.75, 2.0)])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_dis_gives_the_true_shift_of_a_translating_texture(shift, dtype):
    a = _texture(160, 240, seed=1)
    b = _shifted(a, *shift)
    if dtype == "uint8":
        a, b = (np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8) for a in (a, b))
    flow = estimate(a, b, method="dis")
    assert flow.shape == (160, 240, 2) and flow.dtype == np.float32
    err = np.abs(flow - np.float32(shift))[16:-16, 16:-16]  # away from the borders
    assert np.percentile(err, 95) < 0.5


def test_dis_on_a_proxy_returns_full_size_flow_with_scaled_vectors():
    a = _texture(300, 480, seed=2)
    b = _shifted(a, 6.0, -3.0)
    est = DISEstimator(max_side=240)  # estimated at 240 x 150, where the shift is (3, -1.5)
    flow = est(a, b)
    assert flow.shape == (300, 480, 2)
    np.testing.assert_allclose(np.median(flow[30:-30, 30:-30], axis=(0, 1)), [6.0, -3.0],
                               atol=0.3)


def test_proxy_size_and_vector_scaling():
    assert proxy_size(1080, 1920, 1024) == (576, 1024)
    assert proxy_size(240, 432, 1024) == (240, 432)
    assert proxy_size(2160, 3840, None) == (2160, 3840)
    small = np.zeros((10, 20, 2), np.float32)
    small[..., 0], small[..., 1] = 1.5, -0.5
    big = from_proxy(small, (40, 60))
    assert big.shape == (40, 60, 2)
    np.testing.assert_allclose(big[..., 0], 4.5)  # x scaled by 60 / 20
    np.testing.assert_allclose(big[..., 1], -2.0)  # y scaled by 40 / 10


def test_hdr_frames_are_compressed_not_clipped():
    frame = np.array([[[0.5, 2.0, 8.0]]], np.float32)
    rgb = to_unit_rgb(frame)
    assert rgb.max() < 1.0 and rgb[0, 0, 0] < rgb[0, 0, 1] < rgb[0, 0, 2]  # order kept
    gray = to_gray8(np.array([[[2.0] * 3, [8.0] * 3]], np.float32))
    assert gray[0, 0] < gray[0, 1] < 255  # two highlights stay apart
    ldr = np.array([[[0.25, 0.5, 1.0]]], np.float32)
    np.testing.assert_array_equal(to_unit_rgb(ldr), ldr)  # display-referred frames untouched


def test_pair_matches_two_calls_and_the_cache_is_bounded():
    a = _texture(120, 160, seed=3)
    b = _shifted(a, 2.0, 1.0)
    est = DISEstimator(cache=2)
    fwd, bwd = est.pair(a, b, "a", "b")
    np.testing.assert_array_equal(fwd, est(a, b))
    np.testing.assert_array_equal(bwd, est(b, a))
    cache = FrameCache(2)
    made = []
    for key in ["x", "y", "x", "z", "y"]:
        cache.get(key, lambda k=key: made.append(k) or k)
    assert made == ["x", "y", "z", "y"]  # "y" was the least recently used when "z" came


def test_estimate_rejects_frames_of_different_shapes():
    with pytest.raises(ValueError):
        estimate(np.zeros((20, 30, 3), np.uint8), np.zeros((20, 31, 3), np.uint8))
