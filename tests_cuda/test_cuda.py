"""The CUDA path against the CPU path: RAFT (fp32, fp16, bf16), the edge net and Canny, the torch
propagation/fusion stages, the image fills and the whole removal.

Run by ``benchmarks/gpu_check.sh`` on a machine with a GPU; not part of ``tests/`` (CI has no
GPU, and a test that always skips there is no test). ``FLOWFILL_TEST_DEVICE`` names the device
under test (default ``cuda``; ``cpu`` only to check this file runs). Without that device every
test fails: a GPU check that finds no GPU must say so.

Each test prints the differences it measured, so one run on a lent device gives the figures even
where a bound is missed (``pytest -s`` shows them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import square_masks, synthetic_frames  # noqa: E402
from test_raft import reference_frames, save_weights  # noqa: E402

import flowfill  # noqa: E402
from flowfill.edges.complete import EdgeCompleter  # noqa: E402
from flowfill.flow.raft import RAFTFlow  # noqa: E402
from flowfill.hallucinate import get_fill  # noqa: E402
from flowfill.options import Options  # noqa: E402
from flowfill.window import fill_window  # noqa: E402

DEVICE = os.environ.get("FLOWFILL_TEST_DEVICE", "cuda")
PAN = ROOT / "sample_clips" / "pan"


@pytest.fixture(autouse=True)
def device_present():
    if DEVICE.startswith("cuda") and not torch.cuda.is_available():
        pytest.fail("no CUDA device: this check needs the GPU it is meant to test")


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> dict[bool, Path]:
    d = tmp_path_factory.mktemp("raft")
    return {small: save_weights(d / f"raft-{'small' if small else 'large'}.pth", small)
            for small in (False, True)}


@pytest.fixture
def exact_fp32():
    """TF32 off for convolutions and matrix products (PyTorch lets cuDNN use it by default):
    the device must then agree with the CPU to float32 rounding."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def report(name: str, **figures: float) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v:.3g}" for k, v in figures.items()), flush=True)


def epe(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and max end-point distance (px) between two H x W x 2 flows."""
    d = np.hypot(*(a - b).transpose(2, 0, 1))
    return float(d.mean()), float(d.max())


def pan_clip(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(PAN.glob("*.png"))[:n]
    frames = np.stack([cv2.imread(str(p))[:, :, ::-1] for p in names]).astype(np.float32) / 255
    masks = np.stack([cv2.imread(str(PAN.parent / "pan_mask" / p.name), cv2.IMREAD_GRAYSCALE) > 127
                      for p in names])
    return frames, masks


# ---------------------------------------------------------------- RAFT


def raft_on_both(weights, small: bool) -> tuple[np.ndarray, np.ndarray, float, float]:
    """RAFT's flow of the reference pair on the CPU and on the device; mean and max EPE."""
    a, b = reference_frames()
    args = dict(small=small, iters=12, max_side=None)
    cpu = RAFTFlow(weights[small], device="cpu", **args)(a, b)
    dev = RAFTFlow(weights[small], device=DEVICE, **args)(a, b)
    return cpu, dev, *epe(dev, cpu)


@pytest.mark.parametrize("small", [False, True], ids=["large", "small"])
def test_raft_fp32_on_the_device_matches_the_cpu(weights, small, exact_fp32):
    cpu, dev, mean, worst = raft_on_both(weights, small)
    report(f"raft {'small' if small else 'large'} fp32 {DEVICE} vs cpu", mean_px=mean,
           max_px=worst, flow_max_px=float(np.abs(cpu).max()))
    assert dev.shape == cpu.shape and dev.dtype == np.float32 and np.isfinite(dev).all()
    assert np.abs(cpu).max() > 0.5  # a real flow, not zeros on both sides
    assert mean < 1e-3 and worst < 5e-3


@pytest.mark.parametrize("small", [False, True], ids=["large", "small"])
def test_raft_with_tf32_stays_near_the_cpu(weights, small):
    """PyTorch's default (TF32 convolutions on the GPU), with the synthetic weights' large,
    chaotic flows: a few hundredths of a pixel."""
    _, dev, mean, worst = raft_on_both(weights, small)
    report(f"raft {'small' if small else 'large'} tf32 {DEVICE} vs cpu", mean_px=mean,
           max_px=worst)
    assert np.isfinite(dev).all() and mean < 0.25


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("small", [False, True], ids=["large", "small"])
def test_raft_half_precision_stays_near_fp32(weights, small, precision):
    a, b = reference_frames()
    args = dict(small=small, iters=12, max_side=None, device=DEVICE)
    full = RAFTFlow(weights[small], precision="fp32", **args)(a, b)
    half = RAFTFlow(weights[small], precision=precision, **args)(a, b)
    mean, worst = epe(half, full)
    scale = float(np.hypot(*full.transpose(2, 0, 1)).mean())
    report(f"raft {'small' if small else 'large'} {precision} vs fp32", mean_px=mean,
           max_px=worst, mean_flow_px=scale)
    assert half.dtype == np.float32 and np.isfinite(half).all()
    if DEVICE.startswith("cuda"):
        assert not np.array_equal(half, full)  # the lower precision really ran
    assert mean < 0.05 * scale + 0.05


def test_raft_at_1080p_with_the_proxy_and_the_feature_cache(weights, exact_fp32):
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.random((1080, 1940, 3)).astype(np.float32), (0, 0), 3.0)
    frames = [(base[:, 6 * t:6 * t + 1920] * 255).astype(np.uint8) for t in range(3)]
    est = RAFTFlow(weights[False], iters=12, device=DEVICE, max_side=1024, cache=4)
    forward, backward = est.pair(frames[0], frames[1], 0, 1)
    again = est(frames[0], frames[1])
    report("raft large 1080p proxy", fwd_abs_max=float(np.abs(forward).max()),
           pair_vs_call=float(np.abs(again - forward).max()))
    assert forward.shape == backward.shape == (1080, 1920, 2)
    assert np.isfinite(forward).all() and np.isfinite(backward).all()
    assert np.abs(again - forward).max() < 1e-3


# ---------------------------------------------------------------- edges


def test_edge_net_and_canny_on_the_device_match_the_cpu():
    h, w = 240, 432
    yy, xx = np.mgrid[0:h, 0:w]
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0] = 0.5
    box = (np.abs(yy - 120) < 50) & (np.abs(xx - 200) < 70)
    flow[box] = (4.0, 1.0)
    hole = (yy - 120) ** 2 + (xx - 260) ** 2 < 35 ** 2
    cpu_known, cpu_prob = EdgeCompleter("cpu").probability(flow, hole)
    dev_known, dev_prob = EdgeCompleter(DEVICE).probability(flow, hole)
    differ = float((cpu_known != dev_known).mean())
    report("edges", canny_pixels_differing=differ, prob_max_diff=float(
        np.abs(cpu_prob - dev_prob).max()), prob_max=float(cpu_prob.max()))
    assert cpu_known.any() and cpu_prob.max() > 0.05
    assert differ < 1e-3
    assert np.abs(cpu_prob - dev_prob).max() < 1e-2


# ---------------------------------------------------------------- pixel stages


def test_a_window_on_the_device_matches_the_numpy_stages():
    frames = np.stack(synthetic_frames(8, 48, 64)).astype(np.float32) / 255
    holes = np.stack(square_masks(8, 48, 64))
    a = fill_window(frames, holes, Options(edges="off", device="cpu"), backend="numpy")
    b = fill_window(frames, holes, Options(edges="off", device=DEVICE), backend="torch")
    agree = float((a.propagated == b.propagated).mean())
    diff = float(np.abs(a.frames - b.frames).max())
    report("window torch/device vs numpy", propagated_agree=agree, max_diff=diff)
    assert a.keyframes == b.keyframes and a.propagated.any()
    assert agree > 0.999 and diff < 1e-3


@pytest.mark.parametrize("name", ["csa", "dip", "siren", "telea"])
def test_image_fills_on_the_device(name):
    rng = np.random.default_rng(1)
    h, w = 96, 128
    yy, xx = np.mgrid[0:h, 0:w]
    image = np.stack([0.5 + 0.4 * np.sin(xx / 6.0), 0.5 + 0.3 * np.cos(yy / 9.0),
                      0.4 + 0.1 * rng.random((h, w))], axis=2).astype(np.float32)
    mask = (yy - 48) ** 2 + (xx - 64) ** 2 < 14 ** 2
    fill = get_fill(name)
    cpu = fill(image, mask, device="cpu", seed=0)
    dev = fill(image, mask, device=DEVICE, seed=0)

    def psnr(x):
        return float(10 * np.log10(1 / np.mean((x[mask] - image[mask]) ** 2)))

    report(f"fill {name}", psnr_cpu=psnr(cpu), psnr_device=psnr(dev),
           max_diff=float(np.abs(cpu - dev).max()))
    assert dev.shape == image.shape and np.isfinite(dev).all()
    np.testing.assert_array_equal(dev[~mask], image[~mask])
    assert psnr(dev) > psnr(cpu) - 1.5


# ---------------------------------------------------------------- the whole removal


def test_removal_on_the_device_matches_the_cpu_on_the_sample_clip():
    frames, masks = pan_clip(8)
    stats = {d: flowfill.Stats() for d in ("cpu", DEVICE)}
    cpu = flowfill.remove(frames, masks, device="cpu", stats=stats["cpu"])
    dev = flowfill.remove(frames, masks, device=DEVICE, stats=stats[DEVICE])
    mse = float(np.mean((cpu[masks] - dev[masks]) ** 2))
    agreement = 10 * np.log10(1 / max(mse, 1e-12))
    report("removal device vs cpu", hole_psnr_between=agreement,
           max_diff=float(np.abs(cpu - dev).max()))
    assert np.isfinite(dev).all()
    np.testing.assert_array_equal(dev[~masks], frames[~masks])
    assert agreement > 35.0


def test_removal_with_raft_on_the_device(weights):
    frames, masks = pan_clip(6)
    out = flowfill.remove(frames, masks, flow="raft", raft_weights=str(weights[False]),
                          raft_iters=6, flow_precision="bf16", device=DEVICE)
    assert out.shape == frames.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(out[~masks], frames[~masks])
    assert not np.array_equal(out[masks], frames[masks])


def test_render_server_on_the_device(tmp_path):
    """The server a host plugin starts, on the device: frames rendered through the socket equal
    the library's on the same device."""
    import subprocess
    import time

    from flowfill.server.client import Client, shot

    frames, masks = pan_clip(6)
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-m", "flowfill", "serve", "--quiet", "--device",
                             DEVICE, "--socket", str(tmp_path / "s.sock"), "--ready-file",
                             str(ready)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, f"server exited: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        with Client(ready.read_text().strip()) as client, \
                shot(client, frames, masks, options={"device": DEVICE}) as render:
            out = np.stack([render(f) for f in (2, 0)])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    direct = flowfill.remove(frames, masks, device=DEVICE)[[2, 0]]
    report("server frames vs library", max_diff=float(np.abs(out - direct).max()))
    assert np.isfinite(out).all() and np.abs(out - direct).max() < 1e-4
