"""RAFT: checkpoint loading (official and torchvision names), equivalence with the official code
(tests/data/raft_reference.npz, made by benchmarks/make_raft_reference.py), and the estimator.

Weights are synthetic and deterministic (made here, saved to tmp_path): no checkpoint is needed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import hole_psnr

from flowfill.errors import InputError
from flowfill.flow import estimate
from flowfill.flow.prep import from_proxy, to_proxy
from flowfill.flow.raft import RAFTFlow, raft_proxy_size
from flowfill.flow.raft_net import RAFTNet
from flowfill.flow.raft_weights import expected_shapes, load_state, resolve_weights

REFERENCE = Path(__file__).parent / "data" / "raft_reference.npz"


def hash_uniform(n: int, seed: int) -> np.ndarray:
    """n values in [-1, 1) from a 32-bit integer hash: bit-identical on any platform/version."""
    mask = np.uint64(0xFFFFFFFF)
    h = (np.arange(n, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B9)) & mask
    for _ in range(2):
        h = (((h >> np.uint64(16)) ^ h) * np.uint64(0x45D9F3B)) & mask
    h = (h >> np.uint64(16)) ^ h
    return h.astype(np.float64) / 2.0**31 - 1.0


def make_weights(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Deterministic weights for official key -> shape (in official order).

    Convs: unit-variance uniform / sqrt(fan_in); biases 0.1 u; BN weight 1 + 0.1 u, running_var
    1 + 0.5 u (positive). The duplicated shortcut BN gets its norm3 values under downsample.1.
    """
    state: dict[str, torch.Tensor] = {}
    for index, (name, shape) in enumerate(shapes.items()):
        twin = re.sub(r"\.downsample\.1\.", ".norm3.", name)
        if twin != name and twin in state:
            state[name] = state[twin].clone()
            continue
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0, dtype=torch.int64)
            continue
        u = hash_uniform(math.prod(shape), index + 1).reshape(shape)
        if len(shape) == 4:
            value = u * math.sqrt(3.0 / math.prod(shape[1:]))
        elif name.endswith("running_var"):
            value = 1.0 + 0.5 * u
        elif name.endswith("weight"):  # BN scale
            value = 1.0 + 0.1 * u
        else:  # biases, BN shift, running_mean
            value = 0.1 * u
        state[name] = torch.from_numpy(value.astype(np.float32))
    return state


def official_to_torchvision(name: str, small: bool) -> str | None:
    """The torchvision raft_large/raft_small key of an official key (None: no torchvision twin)."""
    if re.match(r"cnet\.layer\d\.0\.norm3\.", name):
        return None  # torchvision keeps the shortcut BN only as downsample.1
    name = re.sub(r"^fnet\.", "feature_encoder.", name)
    name = re.sub(r"^cnet\.", "context_encoder.", name)
    name = re.sub(r"^(\w+_encoder)\.conv1\.", r"\1.convnormrelu.0.", name)
    name = re.sub(r"^(\w+_encoder)\.norm1\.", r"\1.convnormrelu.1.", name)
    name = re.sub(r"^(\w+_encoder)\.conv2\.", r"\1.conv.", name)
    name = re.sub(r"(layer\d\.\d)\.conv(\d)\.", r"\1.convnormrelu\2.0.", name)
    name = re.sub(r"(layer\d\.\d)\.norm(\d)\.", r"\1.convnormrelu\2.1.", name)
    motion = "update_block.motion_encoder"
    name = re.sub(r"^update_block\.encoder\.convc(\d)\.", rf"{motion}.convcorr\1.0.", name)
    name = re.sub(r"^update_block\.encoder\.convf(\d)\.", rf"{motion}.convflow\1.0.", name)
    name = re.sub(r"^update_block\.encoder\.conv\.", f"{motion}.conv.0.", name)
    name = re.sub(r"^update_block\.gru\.conv([zrq])(\d?)\.",
                  lambda m: f"update_block.recurrent_block.convgru{m[2] or 1}.conv{m[1]}.", name)
    name = re.sub(r"^update_block\.mask\.0\.", "mask_predictor.convrelu.0.", name)
    return re.sub(r"^update_block\.mask\.2\.", "mask_predictor.conv.", name)


def reference_frames() -> tuple[np.ndarray, np.ndarray]:
    """The deterministic uint8 pair (130 x 141: both sides need uneven padding) of the fixture."""
    h, w = 130, 141
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)

    def scene(dx: float, dy: float) -> np.ndarray:
        x, y = xx - dx, yy - dy
        r = 0.5 + 0.25 * np.sin(x / 5.0) * np.cos(y / 7.0) + 0.2 * np.sin((x + 2 * y) / 11.0)
        g = 0.5 + 0.3 * np.cos(x / 9.0 - y / 4.0)
        b = 0.5 + 0.3 * np.sin(np.hypot(x - 60, y - 70) / 6.0)
        return np.clip(np.stack([r, g, b], axis=2) * 255, 0, 255).round().astype(np.uint8)

    return scene(0.0, 0.0), scene(2.5, -1.5)


def save_weights(path: Path, small: bool, prefix: str = "module.", fmt: str = "official") -> Path:
    state = make_weights(expected_shapes(small))
    if fmt == "torchvision":
        state = {official_to_torchvision(k, small): v for k, v in state.items()}
        state.pop(None, None)
    torch.save({prefix + k: v for k, v in state.items()}, path)
    return path


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: these tiny tensors gain nothing from more, and OpenMP's spin-waiting
    makes them many times slower when another process shares the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[bool, Path]:
    """Official-format synthetic checkpoints: {False: large, True: small}."""
    d = tmp_path_factory.mktemp("raft")
    return {small: save_weights(d / f"raft-{'small' if small else 'large'}.pth", small)
            for small in (False, True)}


@pytest.fixture(scope="module")
def frames() -> tuple[np.ndarray, np.ndarray]:
    return reference_frames()


# ---------------------------------------------------------------- network and checkpoint loading


@pytest.mark.parametrize("small,keys,params", [(False, 179, 5_257_536), (True, 106, 990_162)])
def test_network_has_the_official_keys_and_parameter_count(small, keys, params):
    net = RAFTNet(small)
    assert len(net.state_dict()) == keys
    assert sum(p.numel() for p in net.parameters()) == params
    if not small:  # the shortcut BN is one module under two names, as in the official code
        assert net.cnet.layer2[0].norm3 is net.cnet.layer2[0].downsample[1]
        assert "cnet.layer3.0.norm3.running_var" in net.state_dict()


@pytest.mark.parametrize("small", [False, True])
def test_strict_load_with_and_without_prefix_and_wrapped(tmp_path, weights, small):
    ref = load_state(weights[small], small)
    assert list(ref) == list(expected_shapes(small))
    bare = save_weights(tmp_path / "bare.pth", small, prefix="")
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": torch.load(weights[small], weights_only=True)}, wrapped)
    for path in (bare, wrapped):
        state = load_state(path, small)
        assert all(torch.equal(state[k], ref[k]) for k in ref)


def _broken(tmp_path: Path, source: Path, edit) -> Path:
    state = torch.load(source, weights_only=True)
    edit(state)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("edit,words", [
    (lambda s: s.pop("module.update_block.gru.convq2.bias"), ["missing", "gru.convq2.bias"]),
    (lambda s: s.__setitem__("module.update_block.flow_head.conv2.weight", torch.zeros(2, 3)),
     ["module.update_block.flow_head.conv2.weight", "(2, 3)", "(2, 256, 3, 3)"]),
    (lambda s: s.__setitem__("module.extra.weight", torch.zeros(1)), ["unexpected", "extra"]),
])
def test_bad_keys_name_the_file_and_the_key(tmp_path, weights, edit, words):
    path = _broken(tmp_path, weights[False], edit)
    with pytest.raises(InputError) as err:
        load_state(path, small=False)
    assert str(path) in str(err.value) and all(w in str(err.value) for w in words)


def test_unreadable_files_and_the_wrong_model_are_input_errors(tmp_path, weights):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(weights[False].read_bytes()[:5000])
    notdict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], notdict)
    for path in (truncated, notdict):
        with pytest.raises(InputError, match=re.escape(str(path))):
            load_state(path, small=False)
    with pytest.raises(InputError, match="raft-small checkpoint; use --flow raft-small"):
        load_state(weights[True], small=False)
    with pytest.raises(InputError, match="use --flow raft"):
        load_state(weights[False], small=True)


def test_resolve_weights(tmp_path, monkeypatch, weights):
    monkeypatch.delenv("FLOWFILL_RAFT_WEIGHTS", raising=False)
    with pytest.raises(InputError, match="--raft-weights.*nothing is downloaded"):
        resolve_weights(None)
    with pytest.raises(InputError, match="no such file"):
        resolve_weights(tmp_path / "absent.pth")
    monkeypatch.setenv("FLOWFILL_RAFT_WEIGHTS", str(weights[True]))
    assert resolve_weights(None) == weights[True]


@pytest.mark.parametrize("small,keys", [(False, 169), (True, 106)])
def test_torchvision_checkpoints_load_and_give_the_same_flow(tmp_path, weights, frames, small,
                                                             keys):
    tv = save_weights(tmp_path / "tv.pth", small, prefix="", fmt="torchvision")
    assert len(torch.load(tv, weights_only=True)) == keys
    ref, state = load_state(weights[small], small), load_state(tv, small)
    assert list(state) == list(ref) and all(torch.equal(state[k], ref[k]) for k in ref)
    a, b = frames
    args = dict(small=small, iters=2, device="cpu", max_side=None)
    assert np.array_equal(RAFTFlow(tv, **args)(a, b), RAFTFlow(weights[small], **args)(a, b))


# ---------------------------------------------------------------- equivalence and the estimator


@pytest.mark.parametrize("small", [False, True])
def test_matches_the_official_code(weights, small):
    ref = np.load(REFERENCE)
    assert ref["weights_sum"][int(small)] == pytest.approx(
        sum(float(v.double().abs().sum()) for v in load_state(weights[small], small).values()),
        rel=1e-9)
    est = RAFTFlow(weights[small], small=small, iters=int(ref["iters"]), device="cpu",
                   max_side=None)
    flow = est(ref["frame_a"], ref["frame_b"])
    expected = ref["flow_small" if small else "flow_large"]
    assert flow.shape == expected.shape and flow.dtype == np.float32
    assert np.abs(expected).max() > 0.5  # a real, non-trivial flow
    np.testing.assert_allclose(flow, expected, atol=2e-4, rtol=0)


def test_pair_equals_two_calls_and_cached_features_equal_fresh_ones(weights, frames):
    a, b = frames
    c = np.roll(a, 3, axis=1)
    est = RAFTFlow(weights[True], small=True, iters=3, device="cpu", max_side=None, cache=4)
    fwd, bwd = est.pair(a, b)
    np.testing.assert_allclose(fwd, est(a, b), atol=1e-4)
    np.testing.assert_allclose(bwd, est(b, a), atol=1e-4)

    calls = []
    encode = est.net.encode
    est.net.encode = lambda x: calls.append(1) or encode(x)
    cached = [est.pair(a, b, 0, 1), est.pair(b, c, 1, 2), est.pair(c, a, 2, 0)]
    assert len(calls) == 3  # one encoder pass per frame, not per pair and direction
    fresh = [est.pair(a, b), est.pair(b, c), est.pair(c, a)]
    for got, want in zip(cached, fresh, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, atol=1e-5)


def test_sizes_padding_and_too_small_frames(weights):
    rng = np.random.default_rng(1)
    est = RAFTFlow(weights[True], small=True, iters=1, device="cpu", max_side=None)
    for h, w in ((121, 133), (129, 150)):
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        flow = est(a, np.roll(a, 2, axis=0))
        assert flow.shape == (h, w, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    small = rng.integers(0, 256, (120, 300, 3), dtype=np.uint8)
    with pytest.raises(InputError, match="too small for RAFT.*121"):
        est(small, small)


def test_proxy_flow_is_resized_with_scaled_vectors(weights, frames):
    a, b = (np.repeat(np.repeat(f, 2, axis=0), 2, axis=1) for f in frames)  # 260 x 282
    est = RAFTFlow(weights[True], small=True, iters=2, device="cpu", max_side=141)
    flow = est(a, b)
    assert flow.shape == (260, 282, 2)
    proxy = RAFTFlow(weights[True], small=True, iters=2, device="cpu", max_side=None)
    direct = proxy(*(to_proxy(f / np.float32(255), (130, 141)) for f in (a, b)))  # float
    np.testing.assert_allclose(flow, from_proxy(direct, (260, 282)), atol=1e-3)
    assert np.abs(flow).max() > 1.9 * np.abs(direct).max()  # vectors doubled with the grid


def test_proxy_is_clamped_rather_than_refused():
    assert raft_proxy_size(1080, 1920, 1024) == (576, 1024)
    assert raft_proxy_size(140, 600, 300) == (128, 549)  # 70 x 300 would be too small
    assert raft_proxy_size(125, 600, 300) == (125, 600)
    with pytest.raises(InputError, match="too small"):
        raft_proxy_size(100, 600, None)


def test_estimate_with_raft_and_without_weights(monkeypatch, weights, frames):
    a, b = frames
    flow = estimate(a, b, method="raft-small", weights=str(weights[True]), iters=2, device="cpu")
    assert flow.shape == (*a.shape[:2], 2) and flow.dtype == np.float32
    flow = estimate(a, b, method="raft", weights=str(weights[False]), iters=1, device="cpu")
    assert flow.shape == (*a.shape[:2], 2) and np.isfinite(flow).all()
    monkeypatch.delenv("FLOWFILL_RAFT_WEIGHTS", raising=False)
    with pytest.raises(InputError, match="--raft-weights"):
        estimate(a, b, method="raft", device="cpu")


def test_precision_is_checked_and_ignored_on_cpu(weights, frames):
    a, b = frames
    with pytest.raises(InputError, match="precision"):
        RAFTFlow(weights[True], small=True, precision="fp8", device="cpu")
    args = dict(small=True, iters=2, device="cpu", max_side=None)
    half = RAFTFlow(weights[True], precision="fp16", **args)(a, b)
    assert np.array_equal(half, RAFTFlow(weights[True], **args)(a, b))


def test_removal_runs_end_to_end_with_raft(weights):
    import flowfill

    rng = np.random.default_rng(4)
    tex = cv2.GaussianBlur(rng.random((128, 180, 3)).astype(np.float32), (0, 0), 2.0)
    frames = np.stack([tex[:, 4 * t:4 * t + 136] for t in range(5)])
    masks = np.zeros(frames.shape[:3], bool)
    masks[:, 40:80, 50:90] = True
    damaged = frames.copy()
    damaged[masks] = (0.9, 0.1, 0.1)
    out = flowfill.remove(damaged, masks, flow="raft-small", raft_weights=str(weights[True]),
                          raft_iters=2, device="cpu", max_keyframes=1)
    assert out.shape == frames.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(out[~masks], frames[~masks])
    # filled, not left red or black: 26.6-27.3 dB. (Synthetic weights give no real flow and this
    # blurred texture is nearly flat, its mean colour scores 28: no test of the flow's quality.)
    for t in range(len(frames)):
        assert hole_psnr(out[t], frames[t], masks[t]) > 20
