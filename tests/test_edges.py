"""Flow edges: Canny of the flow magnitude, the gated edge net, synthetic motion, training, the
completion of edges into the hole, and ``flowfill train-edges``."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from flowfill import cli
from flowfill.complete import complete_flow
from flowfill.edges.calibrate import SOFTNESSES, THRESHOLDS
from flowfill.edges.canny import canny, canny_sigma, flow_edges, normalised_magnitude
from flowfill.edges.complete import WEIGHTS, EdgeCompleter, complete_edges, load_edge_net
from flowfill.edges.net import EdgeNet, GatedConv2d
from flowfill.edges.synthetic import layered_flow, random_hole
from flowfill.edges.train import TrainConfig, precision_recall, train
from flowfill.errors import InputError

H, W = 96, 128
RECT = (slice(30, 66), slice(36, 96))  # rows 30..65, columns 36..95


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These tensors are tiny: one intra-op thread is as fast, and on a busy machine two threads
    spin against each other (a 3-step training run takes ~15 s instead of ~0.3 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def rect_flow(h: int = H, w: int = W, rect=RECT, inside=(4.0, 2.0), outside=(0.0, 0.0)
              ) -> np.ndarray:
    """float32 H x W x 2: ``outside`` motion everywhere, ``inside`` motion on the rectangle."""
    flow = np.empty((h, w, 2), np.float32)
    flow[:] = outside
    flow[rect] = inside
    return flow


def rect_mask(h: int = H, w: int = W, rect=RECT) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[rect] = True
    return m


def boundary(region: np.ndarray) -> np.ndarray:
    """Pixels on either side of the region's outline (4-neighbours differ)."""
    r = region.astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    return (cv2.dilate(r, k) != cv2.erode(r, k))


def distance_to(target: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest True pixel of ``target``."""
    return cv2.distanceTransform((~target).astype(np.uint8), cv2.DIST_L2, 5)


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    k = np.ones((2 * px + 1, 2 * px + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def disk(h: int, w: int, cy: int, cx: int, r: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def outline_found(edges: np.ndarray, region: np.ndarray, exclude: np.ndarray | None = None,
                  tol: float = 2.0) -> tuple[float, float]:
    """(share of edge pixels within ``tol`` of the outline, share of outline pixels with an edge
    within ``tol``), the outline taken away from ``exclude`` and the frame border."""
    outline = boundary(region)
    precision = float((distance_to(outline)[edges] <= tol).mean()) if edges.any() else 0.0
    keep = outline.copy()
    if exclude is not None:
        keep &= ~exclude
    keep[:4], keep[-4:], keep[:, :4], keep[:, -4:] = False, False, False, False
    recall = float((distance_to(edges)[keep] <= tol).mean())
    return precision, recall


# ---------------------------------------------------------------- Canny


@pytest.mark.parametrize("background", [(0.0, 0.0), (-1.5, 0.5)], ids=["still", "moving"])
def test_canny_finds_the_moving_rectangle_and_nothing_by_the_hole(background):
    flow = rect_flow(outside=background)
    hole = disk(H, W, 48, 96, 10)  # over the rectangle's right side
    flow[hole] = (40.0, -30.0)  # whatever moves in the hole
    edges = flow_edges(flow, hole)
    assert edges.dtype == bool and edges.shape == (H, W)
    precision, recall = outline_found(edges, rect_mask(), exclude=grow(hole, 4))
    assert precision == 1.0, "every edge lies within 2 px of the rectangle's outline"
    assert edges.sum() < 1.2 * 2 * (36 + 60), "one pixel thin (about the perimeter)"
    assert recall >= 0.9, "most of the outline away from the hole is found"
    assert not (edges & grow(hole, 1)).any(), "nothing in the hole or on its 1-px rim"


def test_canny_finds_nothing_on_constant_flow():
    hole = disk(H, W, 40, 60, 12)
    for value in [(3.0, -1.0), (0.0, 0.0), (0.2, 0.1)]:
        flow = np.empty((H, W, 2), np.float32)
        flow[:] = value
        assert not flow_edges(flow, hole).any()
        assert not flow_edges(flow, np.zeros((H, W), bool)).any()


def test_canny_on_tensors_matches_numpy_entry_and_batches():
    flow = rect_flow()
    hole = disk(H, W, 48, 96, 10)
    mag = normalised_magnitude(flow, ~hole)
    known = torch.as_tensor(~hole)
    one = canny(mag[None, None], known[None, None], 2.0)
    two = canny(torch.stack([mag, mag])[:, None], torch.stack([known, known])[:, None], 2.0)
    assert one.dtype == torch.bool and one.shape == (1, 1, H, W)
    assert torch.equal(two[0], one[0]) and torch.equal(two[1], one[0])
    assert np.array_equal(one[0, 0].numpy(), flow_edges(flow, hole, sigma=2.0))
    # torch input to flow_edges, and a non-bool mask, give the same answer
    assert np.array_equal(flow_edges(torch.as_tensor(flow), hole.astype(np.uint8), sigma=2.0),
                          one[0, 0].numpy())


def test_hysteresis_by_labels_equals_hysteresis_by_dilation():
    import importlib

    canny_mod = importlib.import_module("flowfill.edges.canny")  # the package exports canny()
    rng = np.random.default_rng(3)
    for _ in range(10):
        h, w = (int(v) for v in rng.integers(5, 120, 2))
        weak = torch.from_numpy(rng.random((2, 1, h, w)) < rng.uniform(0.3, 0.7))
        strong = torch.from_numpy(rng.random((2, 1, h, w)) < 0.02)
        cur, weak_f = (strong & weak).float(), weak.float()
        while True:  # the device path's rule, run to the end
            grown = F.max_pool2d(cur, 3, stride=1, padding=1) * weak_f
            if torch.equal(grown, cur):
                break
            cur = grown
        got = canny_mod._hysteresis_labels(strong, weak)
        assert torch.equal(got, cur.bool())
        assert got.any() and not torch.equal(got, weak)  # some weak pixels kept, some not


def test_canny_agrees_with_skimage():
    feature = pytest.importorskip("skimage.feature")
    h, w = 120, 160
    flow = np.zeros((h, w, 2), np.float32)
    flow[:] = (0.5, 0.0)
    flow[disk(h, w, 40, 50, 22)] = (3.0, 1.0)
    flow[20:100, 100:130] = (-2.0, 0.0)  # a bar
    flow = cv2.GaussianBlur(flow, (0, 0), 1.0)  # estimators blur motion boundaries
    hole = disk(h, w, 75, 60, 12)
    flow[hole] = (25.0, 25.0)
    ours = flow_edges(flow, hole, sigma=2.0)
    mag = normalised_magnitude(flow, ~hole).numpy()
    ref = feature.canny(mag, sigma=2.0, low_threshold=0.1, high_threshold=0.2, mask=~hole)
    assert ours.sum() > 100 and ref.sum() > 100
    near_ref, near_ours = grow(ref, 1), grow(ours, 1)
    # skimage interpolates in non-maximum suppression: compare with a 1-px tolerance
    assert (ours & near_ref).sum() / ours.sum() > 0.9
    assert (ref & near_ours).sum() / ref.sum() > 0.9


def test_normalisation_ignores_the_speed_in_the_hole():
    flow = rect_flow(inside=(2.0, 0.0), outside=(0.5, 0.0))
    hole = disk(H, W, 70, 30, 12)  # away from the rectangle
    slow, fast = flow.copy(), flow.copy()
    slow[hole] = 0.0
    fast[hole] = (80.0, 60.0)  # the object being removed moves fast
    for f in (slow, fast):
        mag = normalised_magnitude(f, ~hole)
        assert float(mag[torch.as_tensor(~hole)].max()) == pytest.approx(1.0)
    a, b = flow_edges(slow, hole), flow_edges(fast, hole)
    assert a.any() and np.array_equal(a, b)
    # the same fast motion known (no hole) would have scaled the rectangle's edge away
    assert flow_edges(fast, np.zeros((H, W), bool))[RECT].sum() < a[RECT].sum() / 2


def test_still_shot_noise_is_not_blown_up():
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 0.05, (H, W, 2)).astype(np.float32)  # still camera, estimator noise
    assert normalised_magnitude(flow, np.ones((H, W), bool)).max() < 0.5
    assert not flow_edges(flow, np.zeros((H, W), bool)).any()


def test_sigma_scales_with_frame_size():
    assert canny_sigma((480, 854)) == 2.0
    assert canny_sigma((854, 480)) == 2.0  # the short side decides
    assert canny_sigma((1080, 1920)) == pytest.approx(4.5)
    assert canny_sigma((240, 432)) == 1.0
    assert canny_sigma((120, 160)) == 1.0 and canny_sigma((16, 16)) == 1.0


def test_the_same_step_edge_is_found_at_240p_and_480p():
    """Thresholds follow the smoothing: a strong step is found at both sizes, as one line, and a
    weak one (a tenth of the top speed) at neither."""
    for step in (0.3, 0.1):
        counts = []
        for scale in (1, 2):
            h, w = 240 * scale, 432 * scale
            rect = (slice(60 * scale, 180 * scale), slice(100 * scale, 300 * scale))
            flow = rect_flow(h, w, rect, inside=(5.0 - 5.0 * step, 0.0), outside=(5.0, 0.0))
            flow = cv2.GaussianBlur(flow, (0, 0), 1.0 * scale)  # the same blur, scaled
            edges = flow_edges(flow, np.zeros((h, w), bool))
            counts.append(int(edges.sum()))
            if step == 0.3:
                precision, recall = outline_found(edges, rect_mask(h, w, rect), tol=2.0 * scale)
                assert precision == 1.0 and recall >= 0.95, (scale, precision, recall)
        if step == 0.3:
            assert counts[1] == pytest.approx(2 * counts[0], rel=0.15)  # twice as long
            assert counts[0] < 1.2 * 2 * (120 + 200)  # thin: about the rectangle's perimeter
        else:
            assert counts == [0, 0]


# ---------------------------------------------------------------- the net


@pytest.mark.parametrize("shape", [(1, 32, 48), (2, 36, 20), (1, 8, 8)])
def test_edge_net_output_matches_input_size(shape):
    b, h, w = shape
    torch.manual_seed(0)
    for net in (EdgeNet(), EdgeNet(blocks=4, dilations=(2, 4, 8, 4))):  # 8: wider than 1/4 size
        with torch.inference_mode():
            out = net(torch.rand(b, 3, h, w))
        assert out.shape == (b, 1, h, w) and torch.isfinite(out).all()


def test_gated_conv_gate_gates():
    torch.manual_seed(0)
    layer = GatedConv2d(2, 3, 3)
    x = torch.randn(1, 2, 10, 12)
    with torch.no_grad():
        layer.conv.bias[3:] = -1e4  # second half of the channels: the gates
        closed = layer(x)
        layer.conv.bias[3:] = 1e4
        opened = layer(x)
        features = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), layer.conv.weight[:3],
                            layer.conv.bias[:3])
    assert closed.shape == (1, 3, 10, 12)
    assert closed.abs().max() < 1e-6
    assert torch.allclose(opened, F.elu(features), atol=1e-5)
    plain = GatedConv2d(2, 3, 3, act=False)
    with torch.no_grad():
        plain.conv.bias[3:] = 1e4
        plain_f = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), plain.conv.weight[:3],
                           plain.conv.bias[:3])
        assert torch.allclose(plain(x), plain_f, atol=1e-5)


# ---------------------------------------------------------------- synthetic motion


def test_layered_flow_is_deterministic_per_seed():
    a = layered_flow(np.random.default_rng(7), 64, 80)
    b = layered_flow(np.random.default_rng(7), 64, 80)
    c = layered_flow(np.random.default_rng(8), 64, 80)
    assert a.dtype == np.float32 and a.shape == (64, 80, 2)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.isfinite(a).all()


def test_layered_flow_has_motion_boundaries():
    found = 0
    for seed in range(6):
        flow = layered_flow(np.random.default_rng(seed), H, W)
        edges = flow_edges(flow, np.zeros((H, W), bool))
        found += int(edges.sum() >= 20)
    assert found >= 5


def test_random_hole_shapes():
    sil = np.zeros((240, 432), bool)
    sil[60:200, 150:230] = True  # a person-sized box as a real silhouette
    for seed in range(40):
        for h, w, silhouettes in ((64, 64, None), (120, 160, [sil])):
            hole = random_hole(np.random.default_rng(seed), h, w, silhouettes=silhouettes)
            assert hole.dtype == bool and hole.shape == (h, w)
            assert hole.any() and hole.mean() < 0.6, (seed, h, w)
    a = random_hole(np.random.default_rng(3), 64, 64)
    assert np.array_equal(a, random_hole(np.random.default_rng(3), 64, 64))


def test_precision_recall_counts_with_tolerance():
    truth = np.zeros((20, 20), bool)
    truth[10, 2:18] = True
    pred = np.zeros((20, 20), bool)
    pred[11, 2:18] = True  # one pixel off
    pred[3, 3] = True  # a stray
    region = np.ones((20, 20), bool)
    assert precision_recall(pred, truth, region, tol=1) == (16, 17, 16, 16)
    assert precision_recall(pred, truth, region, tol=0) == (0, 17, 0, 16)
    region[:, 10:] = False
    assert precision_recall(pred, truth, region, tol=1) == (8, 9, 8, 8)


# ---------------------------------------------------------------- training and completion

TINY = TrainConfig(steps=3, batch=2, crop=64, val_samples=8, log_every=1, calibration_samples=3)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("edges") / "net.pt"
    record = train(TINY, out, use_clips=False)
    return out, record


def test_training_writes_checkpoint_and_log(checkpoint):
    out, record = checkpoint
    log = out.with_suffix(".log.jsonl")
    assert out.is_file() and log.is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["net.log.jsonl", "net.pt"]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[0]["config"]["steps"] == 3 and lines[0]["real_flows"] == 0
    assert [r["step"] for r in lines[1:-1]] == [1, 2, 3]
    for r in lines[1:-1]:
        assert {"train_loss", "seconds", "val_loss", "val_precision", "val_recall",
                "val_f1"} <= r.keys()
        assert 0 <= r["val_f1"] <= 1 and np.isfinite(r["train_loss"])
    calibrated = lines[-1]  # threshold and softness chosen on held-apart samples
    assert calibrated["threshold"] in THRESHOLDS and 0 <= calibrated["val_f1_at_threshold"] <= 1
    assert calibrated["softness"] in SOFTNESSES
    assert (calibrated["softness_source"], calibrated["softness_samples"]) == ("synthetic", 3)
    errors = calibrated["hole_epe_by_softness"]
    assert len(errors) == len(SOFTNESSES)
    assert errors[f"{calibrated['softness']:g}"] == min(errors.values())
    assert record == {**lines[-2], **calibrated}
    blob = torch.load(out, map_location="cpu", weights_only=True)
    assert {"config", "state", "train", "threshold", "softness"} <= blob.keys()
    assert blob["threshold"] == calibrated["threshold"]
    assert blob["softness"] == calibrated["softness"]
    assert blob["train"]["steps"] == 3 and blob["config"]["dilations"] == [2, 4, 8, 4]


def test_training_is_reproducible_from_the_seed(checkpoint, tmp_path):
    out, _ = checkpoint
    again = tmp_path / "again.pt"
    train(TrainConfig(steps=3, batch=2, crop=64, val_samples=0, log_every=1), again,
          use_clips=False)
    a = torch.load(out, weights_only=True)["state"]
    b = torch.load(again, weights_only=True)["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_loads(checkpoint):
    out, _ = checkpoint
    net = load_edge_net(out)
    assert isinstance(net, EdgeNet) and not net.training
    assert net.config == {"widths": [8, 24, 48], "blocks": 4, "dilations": [2, 4, 8, 4]}
    assert load_edge_net(out) is net  # loaded once


@pytest.mark.parametrize("size", [(H, W), (336, 360)], ids=["small", "proxy"])
def test_completed_edges_keep_known_edges_outside_the_hole(checkpoint, size):
    out, _ = checkpoint
    h, w = size
    flow = layered_flow(np.random.default_rng(4), h, w)
    hole = disk(h, w, h // 2, w // 2, h // 5)
    edges = complete_edges(flow, hole, weights=out)
    assert edges.dtype == bool and edges.shape == (h, w)
    outside = ~grow(hole, 1)
    known = flow_edges(flow, hole)
    assert known[outside].any()
    assert np.array_equal(edges[outside], known[outside])
    completer = EdgeCompleter(weights=out)
    known2, prob = completer.probability(flow, hole)
    assert np.array_equal(known2, known)
    assert prob.shape == (h, w) and prob.min() >= 0 and prob.max() <= 1
    assert not prob[outside].any()


def test_soft_edges_follow_the_probability(checkpoint):
    out, _ = checkpoint
    flow = layered_flow(np.random.default_rng(4), H, W)
    hole = disk(H, W, H // 2, W // 2, H // 5)
    completer = EdgeCompleter(weights=out, softness=0.05)
    known, prob = completer.probability(flow, hole)
    strength = completer.strength(flow, hole)
    assert strength.dtype == np.float32 and strength.min() >= 0 and strength.max() <= 1
    outside = ~grow(hole, 1)
    assert np.array_equal(strength[outside], known[outside].astype(np.float32))
    np.testing.assert_allclose(strength[hole], 1 - np.exp(-prob[hole] / 0.05), atol=1e-6)
    assert prob[hole].any()
    softer = EdgeCompleter(weights=out, softness=0.2).strength(flow, hole)
    assert (softer[hole] <= strength[hole]).all() and (softer[hole] < strength[hole]).any()
    # the fill asks without Canny of the whole frame: only the hole's region is set
    assert not completer.strength(flow, hole, whole=False)[outside].any()


def test_completion_without_a_hole_is_canny(checkpoint):
    out, _ = checkpoint
    flow = rect_flow()
    no_hole = np.zeros((H, W), bool)
    assert np.array_equal(complete_edges(flow, no_hole, weights=out), flow_edges(flow, no_hole))


def test_missing_or_bad_weights_are_input_errors(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(InputError, match="nope.pt.*not found"):
        load_edge_net(missing)
    with pytest.raises(InputError, match="nope.pt"):
        EdgeCompleter(weights=missing)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint\n" * 10)
    with pytest.raises(InputError, match="garbage.pt.*not a flowfill edge-net checkpoint"):
        load_edge_net(garbage)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(InputError, match="other.pt"):
        complete_edges(rect_flow(), rect_mask(), weights=other)
    folder = tmp_path / "folder.pt"
    folder.mkdir()
    with pytest.raises(InputError, match="folder.pt"):
        load_edge_net(folder)


def test_shipped_weights_complete_edges():
    if not WEIGHTS.is_file():
        pytest.skip(f"{WEIGHTS} not trained yet")
    flow = rect_flow()
    hole = disk(H, W, 48, 96, 8)  # over the rectangle's right side
    edges = complete_edges(flow, hole)
    assert edges.dtype == bool and edges.shape == (H, W)
    assert edges[hole].any(), "the outline is carried into the hole"


def test_shipped_soft_edges_keep_a_motion_boundary_in_the_hole():
    if not WEIGHTS.is_file():
        pytest.skip(f"{WEIGHTS} not trained yet")
    completer = EdgeCompleter()
    assert completer.softness in SOFTNESSES and completer.threshold in THRESHOLDS
    flow = rect_flow()
    for cy, cx in ((48, 96), (30, 66), (66, 50)):  # over the right, top and bottom sides
        hole = disk(H, W, cy, cx, 10)
        plain = complete_flow(flow, hole)
        guided = complete_flow(flow, hole, completer.strength(flow, hole))
        err_plain, err_guided = (float(np.linalg.norm(f - flow, axis=-1)[hole].mean())
                                 for f in (plain, guided))
        assert err_guided < 0.8 * err_plain, (cy, cx)


# ---------------------------------------------------------------- flowfill train-edges


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_edges_command_writes_the_checkpoint(tmp_path, capsys):
    out = tmp_path / "new" / "x.pt"  # the folder is created
    code, stdout, err = run(["train-edges", "--steps", 2, "--batch", 2, "--crop", 64,
                             "--no-clips", "--out", out, "--quiet"], capsys)
    assert code == 0, err
    assert err == ""
    assert out.is_file() and out.with_suffix(".log.jsonl").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["x.log.jsonl", "x.pt"]
    record = json.loads(stdout)  # the final record on one line
    assert stdout.count("\n") == 1 and record["step"] == 2 and "val_f1" in record
    blob = torch.load(out, weights_only=True)
    assert blob["train"]["steps"] == 2 and blob["train"]["crop"] == 64
    assert isinstance(load_edge_net(out), EdgeNet)


def test_train_edges_without_shared_clips_trains_on_synthetic_motion(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setenv("FLOWFILL_SHARED_CLIPS", str(tmp_path / "no-clips-here"))
    out = tmp_path / "x.pt"
    code, stdout, err = run(["train-edges", "--steps", 1, "--batch", 1, "--crop", 32,
                             "--out", out, "--quiet"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["step"] == 1 and stdout.count("\n") == 1  # notes go to stderr
    assert "skipping tennis" in err
    head = json.loads(out.with_suffix(".log.jsonl").read_text().splitlines()[0])
    assert head["real_flows"] == 0


def test_train_edges_calibrate_only_recalibrates_a_checkpoint(checkpoint, tmp_path, capsys):
    src, _ = checkpoint
    out = tmp_path / "x.pt"
    out.write_bytes(src.read_bytes())
    log = out.with_suffix(".log.jsonl")
    log.write_text(src.with_suffix(".log.jsonl").read_text())
    before = torch.load(out, weights_only=True)
    lines = log.read_text().splitlines()
    code, stdout, err = run(["train-edges", "--calibrate-only", "--no-clips", "--out", out,
                             "--quiet"], capsys)
    assert code == 0, err
    record = json.loads(stdout)
    assert record["recalibrated"] and record["softness_samples"] == 3  # the run's config
    assert record["threshold"] == before["threshold"]  # the same held-apart batches
    after = torch.load(out, weights_only=True)
    assert all(torch.equal(before["state"][k], after["state"][k]) for k in before["state"])
    assert after["softness"] == record["softness"]
    new_lines = log.read_text().splitlines()
    assert new_lines[:-1] == lines and json.loads(new_lines[-1]) == record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.log.jsonl", "x.pt"]


def test_train_edges_calibrate_only_refuses_a_missing_or_bad_checkpoint(tmp_path, capsys):
    missing = tmp_path / "sub" / "nope.pt"
    code, stdout, err = run(["train-edges", "--calibrate-only", "--no-clips", "--out", missing,
                             "--quiet"], capsys)
    assert code == 2 and "nope.pt: no such file" in err and err.count("\n") == 1
    assert stdout == "" and not missing.parent.exists()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    code, stdout, err = run(["train-edges", "--calibrate-only", "--no-clips", "--out", bad,
                             "--quiet"], capsys)
    assert code == 2 and "bad.pt" in err and "not a flowfill edge-net checkpoint" in err
    assert bad.read_bytes() == b"not a checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


def test_train_edges_refuses_crops_taller_than_the_shared_clips(tmp_path, capsys, monkeypatch):
    clips = tmp_path / "clips"
    (clips / "tennis").mkdir(parents=True)
    monkeypatch.setenv("FLOWFILL_SHARED_CLIPS", str(clips))
    out = tmp_path / "x.pt"
    code, _, err = run(["train-edges", "--crop", 256, "--out", out, "--quiet"], capsys)
    assert code == 2 and "--crop" in err and "--no-clips" in err and not out.exists()


def test_train_edges_defaults():
    args = cli.build_parser().parse_args(["train-edges"])
    d = TrainConfig()
    assert args.out is None and args.kind == "flow"  # the shipped weights of the kind
    assert (args.steps, args.batch, args.crop, args.lr, args.seed) == (
        d.steps, d.batch, d.crop, d.lr, d.seed)
    assert args.clips is True and args.device == "cpu" and args.quiet is False


@pytest.mark.parametrize("option, value", [
    ("--crop", 30), ("--crop", 66), ("--steps", 0), ("--batch", 0), ("--lr", 0),
    ("--lr", "nan"), ("--lr", -1), ("--device", "tpu"), ("--steps", "many"),
])
def test_train_edges_refuses_bad_values(tmp_path, capsys, option, value):
    out = tmp_path / "sub" / "x.pt"
    argv = ["train-edges", "--steps", 2, "--batch", 2, "--crop", 64, "--no-clips",
            "--out", out, "--quiet", option, value]
    code, stdout, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("flowfill: error:") and option in err
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the folder


def test_train_edges_refuses_a_folder_as_out(tmp_path, capsys):
    code, _, err = run(["train-edges", "--steps", 1, "--crop", 32, "--no-clips",
                        "--out", tmp_path, "--quiet"], capsys)
    assert code == 2 and str(tmp_path) in err and err.count("\n") == 1


def test_train_edges_keeps_an_existing_out_when_training_stops(tmp_path, capsys, monkeypatch):
    import flowfill.edges.train as train_mod

    out = tmp_path / "x.pt"
    out.write_bytes(b"old weights")

    def interrupted(config, out, **kwargs):  # writes its temporaries, then is stopped
        out.with_name(out.name + ".tmp").write_bytes(b"partial")
        log = out.with_suffix(".log.jsonl")
        log.with_name(log.name + ".tmp").write_text("{}\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "train", interrupted)
    code, _, err = run(["train-edges", "--steps", 1, "--crop", 32, "--no-clips",
                        "--out", out, "--quiet"], capsys)
    assert code == 130 and "interrupted" in err
    assert out.read_bytes() == b"old weights"
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_edge_precision_bf16_where_the_cpu_has_it_and_close_to_fp32(monkeypatch):
    """bf16 (autocast) gives the fp32 net's probabilities to within a few thousandths; auto
    takes it only where the CPU computes bf16 natively; an unknown precision is refused."""
    import flowfill.edges.complete as complete_mod
    from flowfill.options import Options

    flow = rect_flow()
    hole = disk(H, W, 48, 96, 10)
    fp32, bf16 = EdgeCompleter(precision="fp32"), EdgeCompleter(precision="bf16")
    assert not fp32.bf16 and bf16.bf16
    p32, p16 = fp32.probability(flow, hole)[1], bf16.probability(flow, hole)[1]
    gap = float(np.abs(p32 - p16).max())
    assert 0 < gap < 0.01  # another arithmetic, the same edges
    assert ((p32 >= fp32.threshold) == (p16 >= fp32.threshold)).mean() > 0.999
    for native in (True, False):
        monkeypatch.setattr(complete_mod, "native_bf16", lambda device, n=native: n)
        assert EdgeCompleter().bf16 is native and not EdgeCompleter(precision="fp32").bf16
    with pytest.raises(ValueError, match="fp16"):
        EdgeCompleter(precision="fp16")
    with pytest.raises(InputError, match="--edge-precision"):
        Options(edge_precision="fp16").validated()


def test_net_crops_repeat_sizes_and_keep_the_probabilities(monkeypatch):
    """Holes a few pixels apart run the net on crops of one size (a new size costs oneDNN a new
    set of kernels), each grown from the tight crop with the picture around it: the
    probabilities inside the hole are those of the tightest crop the net takes (a multiple of
    its strides, CROP_STEP = MULTIPLE) within a tenth (a hundredth on average), and the same
    edges but for a pixel or two at the threshold."""
    import flowfill.edges.complete as complete_mod

    completer = EdgeCompleter(precision="fp32")
    flow = rect_flow()
    sizes = []
    run_net = completer._run
    monkeypatch.setattr(completer, "_run", lambda x: sizes.append(x.shape[-2:]) or run_net(x))
    holes = [disk(H, W, 48, 96, r) for r in (8, 9, 10)]
    grown = [completer.probability(flow, hole)[1] for hole in holes]
    assert len(set(sizes)) == 1 and all(s % complete_mod.crop_step(s) == 0 for s in sizes[0])
    monkeypatch.setattr(complete_mod, "CROP_STEP", complete_mod.MULTIPLE)
    sizes.clear()
    tight = [completer.probability(flow, hole)[1] for hole in holes]
    assert len(set(sizes)) > 1
    for hole, a, b in zip(holes, grown, tight, strict=True):
        gap = np.abs(a - b)[hole]
        assert float(gap.max()) < 0.1 and float(gap.mean()) < 0.01
        assert ((a >= completer.threshold) == (b >= completer.threshold))[hole].mean() > 0.98


def test_grown_crop_is_a_multiple_on_the_nets_grid_within_the_frame():
    from flowfill.edges.complete import _grown
    from flowfill.edges.net import MULTIPLE

    for start, stop, size in ((10, 47, 200), (0, 30, 200), (182, 199, 200), (3, 38, 40),
                              (5, 21, 21), (9, 60, 64)):
        a, b, pad = _grown(start, stop, size, 16)
        assert 0 <= a <= start and (start - a) % MULTIPLE == 0  # the net's grid kept
        assert b <= size and b >= stop and (b - a + pad) % 16 == 0 and pad >= 0
        assert pad == 0 or b == size  # padded only past the frame's edge
    from flowfill.edges.complete import crop_step

    assert [crop_step(n) for n in (20, 40, 64, 100, 128, 300)] == [MULTIPLE, 4, 8, 8, 16, 16]
