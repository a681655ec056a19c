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


def test_linear_frames_are_compressed_keeping_highlights_apart():
    frame = np.array([[[0.5, 2.0, 8.0]]], np.float32)
    rgb = to_unit_rgb(frame, "linear")
    assert rgb.max() < 1.0 and rgb[0, 0, 0] < rgb[0, 0, 1] < rgb[0, 0, 2]  # order kept
    np.testing.assert_allclose(to_unit_rgb(np.float32([[[0.0, 1.0, 3.0]]]), "linear")[0, 0],
                               [0.0, 0.5, 0.75])
    gray = to_gray8(np.array([[[2.0] * 3, [8.0] * 3]], np.float32), "linear")
    assert gray[0, 0] < gray[0, 1] < 255  # two highlights stay apart
    ldr = np.array([[[0.25, 0.5, 1.0]]], np.float32)
    np.testing.assert_array_equal(to_unit_rgb(ldr), ldr)  # display-referred frames untouched


@pytest.mark.parametrize("tone", ["display", "linear"])
def test_one_hot_pixel_does_not_change_how_the_rest_of_its_frame_looks(tone):
    """The curve is fixed for the run: a highlight above 1.0 in one frame leaves every other
    pixel of that frame as the flow sees it in the frame before (a per-frame decision, as
    before, turned the whole frame darker)."""
    frame = _texture(40, 60, seed=1).astype(np.float32) / 255
    hot = frame.copy()
    hot[5, 5] = 30.0
    a, b = to_gray8(frame, tone), to_gray8(hot, tone)
    b[5, 5] = a[5, 5]
    np.testing.assert_array_equal(a, b)
    flow_a = DISEstimator(tone=tone)(frame, np.roll(frame, 2, axis=1))
    flow_b = DISEstimator(tone=tone)(hot, np.roll(frame, 2, axis=1))
    assert np.abs(flow_a - flow_b).mean() < 0.05


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


@pytest.mark.parametrize("ext,given,tone", [(".exr", "auto", "linear"), (".png", "auto", "display"),
                                            (".exr", "display", "display"),
                                            (".png", "linear", "linear")])
def test_the_cli_picks_the_tone_from_the_input(tmp_path, ext, given, tone):
    from flowfill import cli

    frames = tmp_path / "in"
    frames.mkdir()
    for i in range(2):
        image = _texture(24, 32, seed=i)
        data = image.astype(np.float32) / 255 if ext == ".exr" else image
        assert cv2.imwrite(str(frames / f"{i}{ext}"), data)
    mask = np.zeros((24, 32), np.uint8)
    mask[8:16, 8:16] = 255
    assert cv2.imwrite(str(tmp_path / "m.png"), mask)
    args = cli.build_parser().parse_args(["remove", str(frames), "-m", str(tmp_path / "m.png"),
                                          "-o", str(tmp_path / "out"), "--flow-tone", given])
    options, *_ = cli._prepare(args)
    assert options.flow_tone == tone
    assert cli.main(["remove", str(frames), "-m", str(tmp_path / "m.png"), "-o",
                     str(tmp_path / "out"), "--flow-tone", given, "--quiet"]) == 0


def test_round_trip_in_a_box_reads_the_same_as_over_the_frame():
    from flowfill.flow.consistency import round_trip
    from flowfill.hops import ProxyGrid

    rng = np.random.default_rng(3)
    for full, proxy in (((60, 80), (60, 80)), ((90, 160), (54, 96))):
        fwd = (rng.normal(size=proxy + (2,)) * 4).astype(np.float32)
        bwd = (rng.normal(size=proxy + (2,)) * 4).astype(np.float32)
        whole_err, whole_ok = round_trip(fwd, bwd)
        grid = ProxyGrid(full, proxy)
        hole = np.zeros(full, bool)
        hole[20:41, 30:70] = True
        idx = np.flatnonzero(hole)
        err, ok = round_trip(fwd, bwd, grid.box(idx))
        assert np.array_equal(grid.at(err, idx), grid.at(whole_err, idx))
        assert np.array_equal(grid.at(ok, idx, nearest=True), grid.at(whole_ok, idx, nearest=True))
        assert not ok[0, 0] and err[0, 0] == 0  # outside the box: nothing worked out


def test_dis_estimates_a_pair_the_same_after_a_small_one():
    """OpenCV's DIS lowers its finest scale for good on a small image (a distant pair's box):
    a larger pair after it must still be estimated as by a fresh instance (a batch's or a
    server's clips share one)."""
    from flowfill.flow.dis import DISFlow

    rng = np.random.default_rng(3)

    def pair(h, w):
        a = cv2.GaussianBlur((rng.random((h, w)) * 255).astype(np.uint8), (0, 0), 2)
        return a, np.roll(a, 2, axis=1)

    big, small = pair(90, 160), pair(42, 44)
    dis = DISFlow()
    first = dis(*big)
    alone = DISFlow()(*small)
    np.testing.assert_array_equal(dis(*small), alone)
    np.testing.assert_array_equal(dis(*big), first)
    np.testing.assert_array_equal(dis(*small), alone)
