"""Non-local candidates: key frames, direct hops, homography alignment, and a hole that only a
distant frame saw."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from flowfill.flow import DISEstimator
from flowfill.flow import homography as homog
from flowfill.hops import key_frames
from flowfill.options import Options
from flowfill.propagate import Hops, direct
from flowfill.window import fill_window


def _texture(h, w, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    return (base - base.min()) / (base.max() - base.min())


def test_key_frames_spread_through_the_window():
    assert key_frames(71, 3) == [0, 35, 70]  # FGVC's first, middle, last
    assert key_frames(71, 1) == [35]
    assert key_frames(71, 0) == []
    assert key_frames(4, 9) == [0, 1, 2, 3]
    assert key_frames(2, 3) == []  # two frames: adjacent flows say it all


def test_direct_candidates_land_in_the_key_frame_and_respect_the_hard_test():
    h, w = 10, 20
    idx = np.array([2 * w + 3, 2 * w + 10, 5 * w + 15, 7 * w + 1])
    flow = np.array([[2.5, 1.0], [0.0, 0.0], [6.0, 0.0], [-3.0, 0.0]], np.float32)
    ok = np.array([True, False, True, True])
    err = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    p = direct(Hops(idx, flow, err, ok), 7, (h, w))
    # pixel 0 lands inside at (5.5, 3); 1 fails the round-trip test; 2 and 3 leave the frame
    assert list(p.frame) == [7, -1, -1, -1]
    assert (p.x[0], p.y[0]) == (5.5, 3.0)
    np.testing.assert_allclose(p.err, err)


def _pan_out_and_back(h=80, w=128):
    """A camera that pans away and back; an occluder parked over the left edge from frame 1 on.

    What the occluder hides leaves the frame while the camera is away, so from frame 9 on no
    chain of adjacent frames reaches it: only frame 0 saw it.
    """
    offsets = [0, 0, 8, 16, 24, 32, 24, 16, 8, 0, 0, 0]
    big = _texture(h, w + 40, seed=7)
    frames = np.stack([big[:, o:o + w] for o in offsets])
    masks = np.zeros(frames.shape[:3], bool)
    for t, o in enumerate(offsets[1:], start=1):  # world columns 4..24, top half
        x0, x1 = max(4 - o, 0), max(24 - o, 0)
        masks[t, 20:60, x0:x1] = True
    return frames, masks


@pytest.mark.parametrize("align", [False, True], ids=["plain", "aligned"])
def test_nonlocal_candidates_reach_what_adjacent_chains_cannot(align):
    frames, masks = _pan_out_and_back()
    # the occluder's pixels: the truth 4/255 off, up or down at random (too faint to move the
    # flow; an output that kept them would be 4/255 off everywhere)
    marked = frames.copy()
    marked[masks] += np.random.default_rng(0).choice([-4 / 255, 4 / 255], marked[masks].shape)
    late = slice(9, 12)  # the camera is back; the occluder still stands there
    opts = dict(max_keyframes=0, dilate=0, flow_dilate=4, object_flow=False, nonlocal_align=align)
    local = fill_window(marked, masks, Options(nonlocal_frames=0, **opts))
    assert not local.propagated[late][masks[late]].any()  # chains die while it is off-frame
    far = fill_window(marked, masks, Options(nonlocal_frames=3, **opts))
    assert far.propagated[late][masks[late]].all()  # the key frame 0 saw it
    err = np.abs(far.frames[late] - frames[late])[masks[late]]
    # 0.09 (plain) and 0.05 (aligned) / 255 on average here, 0.7 and 0.2 / 255 at the 99th
    assert err.mean() < 1 / 255 and np.percentile(err, 99) < 3 / 255


def test_homography_alignment_recovers_a_large_zoom_and_shift():
    h, w = 120, 160
    tex = _texture(2 * h, 2 * w, seed=3)
    shift = np.array([[1, 0, w // 2], [0, 1, h // 2], [0, 0, 1.0]])  # a is tex from (w/2, h/2)
    hom = np.array([[1.08, 0.02, -30.0], [-0.01, 1.06, -12.0], [0, 0, 1]])  # a -> b
    a = homog.warp_to(tex, shift, (h, w))
    b = homog.warp_to(tex, shift @ np.linalg.inv(hom), (h, w))  # b(hom x) = a(x)
    none = np.zeros((h, w), bool)
    found = homog.find_homography(
        (a.mean(-1) * 255).astype(np.uint8), (b.mean(-1) * 255).astype(np.uint8), none, none)
    assert found is not None
    gx, gy = np.meshgrid(np.arange(w, dtype=float), np.arange(h, dtype=float))
    tx, ty = homog.apply(hom, gx, gy)
    truth = np.stack([tx - gx, ty - gy], -1)
    est = DISEstimator(max_side=None)
    res_f, res_b = est.pair(a, homog.warp_to(b, found, (h, w)))
    fwd = homog.compose(found, res_f)
    inside = (tx > 8) & (tx < w - 8) & (ty > 8) & (ty < h - 8)
    assert np.median(np.abs(fwd - truth)[inside]) < 0.3
    bwd = homog.compose_back(found, res_b, (h, w))  # b -> a on b's grid: inverse of hom
    ix, iy = homog.apply(np.linalg.inv(hom), gx, gy)
    back_truth = np.stack([ix - gx, iy - gy], -1)
    inside_b = (ix > 8) & (ix < w - 8) & (iy > 8) & (iy < h - 8)
    assert np.median(np.abs(bwd - back_truth)[inside_b]) < 0.3


def test_distant_flows_run_on_a_coarser_proxy_above_the_benchmark_size_and_still_land(
        monkeypatch):
    """Above FAR_MIN_SIDE, flows to key frames are estimated and completed on a proxy half the
    adjacent flows' size (its long side at least FAR_MIN_SIDE), and aligned by features found
    on that proxy too: their hops still land where the camera moved, within a fraction of a
    pixel, on the full-resolution grid."""
    from flowfill import hops as hopsmod
    from flowfill.hops import FAR_MIN_SIDE, estimate_hops, far_proxy
    from flowfill.progress import Progress

    monkeypatch.setattr(hopsmod, "FAR_CROP_SHARE", 0.0)  # whole frames: the proxy's size shows

    assert far_proxy((240, 432), 0.5) == (240, 432)  # the benchmark's clips: unchanged
    assert far_proxy((360, 640), 0.5) == (270, FAR_MIN_SIDE)
    assert far_proxy((576, 1024), 0.5) == (288, 512)
    assert far_proxy((576, 1024), 1.0) == (576, 1024)
    h, w, n = 288, 512, 7
    big = _texture(h + 40, w + 60, seed=5)
    offsets = [(3 * t, 2 * t) for t in range(n)]  # the camera pans right and down
    frames = np.stack([big[oy:oy + h, ox:ox + w] for ox, oy in offsets])
    holes = np.zeros((n, h, w), bool)
    holes[:, 120:170, 200:260] = True
    sizes = []
    found_on = []
    features = homog.features

    def recording_features(gray, hole):
        found_on.append(gray.shape)
        return features(gray, hole)

    monkeypatch.setattr(homog, "features", recording_features)

    class Recording(DISEstimator):
        def pair(self, a, b, key_a=None, key_b=None):
            sizes.append((a.shape[:2], abs(key_a[1] - key_b[1]) if isinstance(key_a, tuple)
                          and isinstance(key_b, tuple) else None))
            return super().pair(a, b, key_a, key_b)

    for scale in (0.5, 1.0):
        sizes.clear()
        found_on.clear()
        # the hole shows the moving scene: the flow sees it (the prefill would hide it)
        opts = Options(nonlocal_scale=scale, nonlocal_frames=3, flow_prefill=False)
        hops = estimate_hops(frames, holes, opts, Recording(max_side=None), Progress(False))
        seen = {size for size, _ in sizes}
        assert seen == ({(h, w), (270, FAR_MIN_SIDE)} if scale < 1 else {(h, w)})
        assert found_on and set(found_on) == ({(270, FAR_MIN_SIDE)} if scale < 1 else {(h, w)})
        for t, pairs in hops.direct.items():
            for k, hop in pairs:
                truth = np.float32([offsets[t][0] - offsets[k][0], offsets[t][1] - offsets[k][1]])
                # frame t's pixel p shows big[p + off_t], found in k at p + off_t - off_k
                err = np.abs(hop.flow - truth).max(axis=1)
                assert np.median(err) < 0.25, (scale, t, k, np.median(err))


def _panned(h, w, n, hole_box, seed=5):
    """n frames of a textured scene panning right and down (3, 2 px a frame) and a still hole."""
    big = _texture(h + 40, w + 60, seed=seed)
    offsets = [(3 * t, 2 * t) for t in range(n)]
    frames = np.stack([big[oy:oy + h, ox:ox + w] for ox, oy in offsets])
    holes = np.zeros((n, h, w), bool)
    holes[(slice(None),) + hole_box] = True
    return frames, holes, offsets


def _distant_hops(frames, holes, share, monkeypatch, min_side=None):
    """Direct hops of every frame with FAR_CROP_SHARE = ``share``, and the sizes the distant
    pairs' flows were estimated at (by an estimator that takes no side under ``min_side``)."""
    from flowfill import hops as hopsmod
    from flowfill.progress import Progress

    monkeypatch.setattr(hopsmod, "FAR_CROP_SHARE", share)
    sizes = []

    class Recording(DISEstimator):
        def pair(self, a, b, key_a=None, key_b=None):
            sizes.append(a.shape[:2])
            assert min_side is None or min(a.shape[:2]) >= min_side
            return super().pair(a, b, key_a, key_b)

    estimator = Recording(max_side=None)
    if min_side is not None:
        estimator.min_side = min_side
    opts = Options(nonlocal_frames=3, flow_prefill=False)
    hops = hopsmod.estimate_hops(frames, holes, opts, estimator, Progress(False))
    return hops.direct, sizes


def test_a_distant_pair_is_estimated_on_a_box_around_the_hole_and_lands_as_on_the_whole_frame(
        monkeypatch):
    """Only a hole's hops are read from a distant pair, so its residual flow is estimated on the
    hole's box grown by the completion's ring and some context: a small hole's distant flows
    cost a fraction of the frame's, and land where the whole frame's do, where the camera went."""
    h, w, n = 240, 432, 7
    frames, holes, offsets = _panned(h, w, n, (slice(100, 140), slice(190, 230)))
    cropped, sizes = _distant_hops(frames, holes, 0.5, monkeypatch)
    whole, whole_sizes = _distant_hops(frames, holes, 0.0, monkeypatch)
    assert set(whole_sizes) == {(h, w)}
    far = [s for s in sizes if s != (h, w)]
    assert far and all(s[0] * s[1] < 0.5 * h * w for s in far)  # a box, under half the frame
    assert len(sizes) - len(far) == n - 1  # the adjacent pairs keep the whole frame
    for t, pairs in cropped.items():
        for (k, hop), (k2, hop2) in zip(pairs, whole[t], strict=True):
            assert k == k2
            truth = np.float32([offsets[t][0] - offsets[k][0], offsets[t][1] - offsets[k][1]])
            err = np.abs(hop.flow - truth).max(axis=1)
            assert np.median(err) < 0.25 and np.percentile(err, 95) < 0.6, (t, k)
            assert np.median(np.abs(hop.err - hop2.err)) < 0.25


def test_a_large_hole_keeps_its_distant_flows_on_the_whole_frame(monkeypatch):
    h, w, n = 240, 432, 5
    frames, holes, _ = _panned(h, w, n, (slice(40, 200), slice(80, 350)))
    _, sizes = _distant_hops(frames, holes, 0.5, monkeypatch)
    assert set(sizes) == {(h, w)}


def test_a_distant_pairs_box_is_grown_to_what_the_estimator_takes(monkeypatch):
    """RAFT needs 121 px a side, DIS 48 (OpenCV's DIS crashed on a 15-px strip): a small
    hole's box is grown to that (within the frame), and the hops still land where the camera
    went."""
    from flowfill.flow.dis import MIN_SIDE
    from flowfill.flow.raft import RAFTFlow

    h, w, n = 240, 432, 5
    frames, holes, _ = _panned(h, w, n, (slice(0, 2), slice(200, 212)))  # a sliver at the top
    _, sizes = _distant_hops(frames, holes, 0.5, monkeypatch)
    far = [s for s in sizes if s != (h, w)]
    assert far and all(min(s) == MIN_SIDE for s in far)
    frames, holes, offsets = _panned(h, w, n, (slice(2, 22), slice(400, 430)))  # in a corner
    direct, sizes = _distant_hops(frames, holes, 0.5, monkeypatch, RAFTFlow.min_side)
    far = [s for s in sizes if s != (h, w)]
    assert far and all(min(s) == RAFTFlow.min_side for s in far)
    for t, pairs in direct.items():
        for k, hop in pairs:
            truth = np.float32([offsets[t][0] - offsets[k][0], offsets[t][1] - offsets[k][1]])
            assert np.median(np.abs(hop.flow - truth).max(axis=1)) < 0.25, (t, k)


def test_ratio_matches_are_opencvs_brute_force_matches():
    """The matrix-product matcher finds exactly the pairs OpenCV's brute-force matcher and
    Lowe's ratio test find, on SIFT features of real frames (and none for a tie)."""
    frames = sorted((Path(__file__).resolve().parents[1] / "sample_clips" / "pan").glob("*.png"))
    grey = [cv2.imread(str(f), cv2.IMREAD_GRAYSCALE) for f in frames[:24:6]]
    none = np.zeros(grey[0].shape, bool)
    feats = [homog.features(g, none) for g in grey]
    total = 0
    for (_, da), (_, db) in zip(feats, feats[1:] + feats[:1], strict=True):
        pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(da, db, k=2)
        want = [(m[0].queryIdx, m[0].trainIdx) for m in pairs
                if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
        query, train = homog.ratio_matches(da, db, 0.75)
        assert list(zip(query.tolist(), train.tolist(), strict=True)) == want
        total += len(want)
    assert total > 50
    da = feats[0][1][:5]
    twice = np.concatenate([da, da])  # every descriptor's nearest two are equally near
    assert homog.ratio_matches(da, twice, 0.75)[0].size == 0
    assert homog.ratio_matches(da, da[:1], 0.75)[0].size == 0  # one candidate: no test
