"""The CPU flow backends beside dis (dis-fine, dis-sparse): the right shape, sign and accuracy on
a real texture moved by a known number of pixels, and a removal run through each of them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import square_masks, synthetic_frames

import flowfill
from flowfill.flow import estimate, make_estimator
from flowfill.options import FLOW_METHODS, Options

REPO = Path(__file__).resolve().parents[1]
CPU_METHODS = [m for m in FLOW_METHODS if not m.startswith("raft")]
NEW_METHODS = [m for m in CPU_METHODS if m != "dis"]


def _real_frame() -> np.ndarray:
    """A real frame as float32 RGB: a shared clip's (tennis), else the shipped sample's."""
    for path in (REPO.parent / "shared" / "clips" / "tennis" / "00010.png",
                 REPO / "sample_clips" / "pan" / "00010.png"):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None:
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    pytest.skip("neither the shared tennis clip nor sample_clips/pan is present")


def _moved_crops(image: np.ndarray, dx: int, dy: int, h: int, w: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Two h x w crops of ``image``: in the second, what is at x in the first shows at x + d."""
    y0 = (image.shape[0] - h) // 2
    x0 = (image.shape[1] - w) // 2
    a = image[y0:y0 + h, x0:x0 + w]
    b = image[y0 - dy:y0 - dy + h, x0 - dx:x0 - dx + w]
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def test_the_new_backends_are_offered():
    assert {"dis-fine", "dis-sparse"} <= set(FLOW_METHODS)
    for method in CPU_METHODS:
        assert Options(flow=method).validated().flow == method
    with pytest.raises(ValueError, match="dis-fine"):
        make_estimator("nope")


@pytest.mark.parametrize("method", CPU_METHODS)
@pytest.mark.parametrize("shift", [(4, -2), (-3, 5)])
def test_backend_gives_the_known_shift_of_a_real_texture(method, shift):
    image = _real_frame()
    a, b = _moved_crops(image, *shift, h=image.shape[0] - 24, w=image.shape[1] - 24)
    flow = estimate(a, b, method=method)
    assert flow.shape == a.shape[:2] + (2,) and flow.dtype == np.float32
    inner = flow[12:-12, 12:-12].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), shift, atol=0.2)  # sign and size
    err = np.linalg.norm(inner - np.float32(shift), axis=1)
    assert np.mean(err < 1.0) > 0.9


@pytest.mark.parametrize("method", NEW_METHODS)
def test_backend_pair_and_proxy(method):
    image = _real_frame()
    a, b = _moved_crops(image, 6, 2, h=image.shape[0] - 16, w=image.shape[1] - 16)
    est = make_estimator(method, max_side=a.shape[1] // 2, cache=2)  # the shift is (3, 1) there
    fwd, bwd = est.pair(a, b, 0, 1)
    assert fwd.shape == bwd.shape == a.shape[:2] + (2,)
    np.testing.assert_allclose(np.median(fwd[16:-16, 16:-16], axis=(0, 1)), [6, 2], atol=0.3)
    np.testing.assert_allclose(np.median(bwd[16:-16, 16:-16], axis=(0, 1)), [-6, -2], atol=0.3)
    np.testing.assert_array_equal(fwd, est(a, b))  # the cached grey frames change nothing


@pytest.mark.parametrize("method", NEW_METHODS)
def test_remove_runs_with_the_backend(method):
    frames = np.stack(synthetic_frames(4, 32, 48))
    masks = np.stack(square_masks(4, 32, 48))
    out = flowfill.remove(frames, masks, flow=method, fill="telea", nonlocal_frames=0,
                          reference_frames=0, edges="off")
    assert out.shape == frames.shape
    np.testing.assert_array_equal(out[~masks], frames[~masks])
    truth = np.stack(synthetic_frames(4, 32, 48, square=False)).astype(np.float32)
    assert np.abs(out - truth)[masks].mean() < 40  # the red square is gone


def test_dis_forgets_an_initial_flow_it_is_not_given_again():
    """OpenCV's DIS keeps the last initial flow and reuses it, at another size reading outside
    it (a crash): a call without one gives what a fresh DIS gives."""
    from flowfill.flow.dis import DISFlow

    image = (_real_frame()[..., 1] * 255).astype(np.uint8)
    a, b = _moved_crops(image, 3, 1, h=image.shape[0] - 24, w=image.shape[1] - 24)
    small_a, small_b = a[:61, :93].copy(), b[:61, :93].copy()
    dis = DISFlow(finest_scale=0)
    dis(a, b, initial=np.full(a.shape + (2,), 40, np.float32))
    np.testing.assert_array_equal(dis(small_a, small_b), DISFlow(finest_scale=0)(small_a, small_b))
    nan = np.full(small_a.shape + (2,), np.nan, np.float32)
    assert np.isfinite(dis(small_a, small_b, initial=nan)).all()


@pytest.mark.parametrize("size", [(240, 432), (32, 48), (17, 23)])
def test_dis_sparse_on_flat_and_tiny_frames(size):
    """OpenCV's sparse-to-dense asks for 128 neighbours however few matches a frame has, and
    reads out of bounds when there are fewer: flowfill's never does, and a frame with too few
    matches gets DIS alone."""
    from flowfill.flow.opencv_flows import MIN_MATCHES, sparse_to_dense

    h, w = size
    flat = np.full((h, w, 3), 0.5, np.float32)
    dotted = flat.copy()
    dotted[h // 3, w // 3] = dotted[h // 2, w // 2] = 1.0
    est = make_estimator("dis-sparse", cache=0)
    for a, b in ((flat, flat), (dotted, np.roll(dotted, 1, axis=1)), (flat, dotted)):
        flow = est(a, b)
        assert flow.shape == (h, w, 2) and np.isfinite(flow).all()
    gray = np.full((h, w), 128, np.uint8)
    assert sparse_to_dense(gray, gray, cv2.ximgproc.createEdgeAwareInterpolator()) is None
    assert MIN_MATCHES >= 3
