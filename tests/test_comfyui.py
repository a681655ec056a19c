"""The ComfyUI node (plugins/comfyui), loaded and called the way ComfyUI does it: the package by
path, then INPUT_TYPES, RETURN_TYPES, FUNCTION and the function on torch tensors. ComfyUI itself
is not on the package index; a stand-in ``comfy`` module checks the progress and interrupt
hooks. The node's output is compared with what ``flowfill remove`` writes on the sample clip."""

from __future__ import annotations

import importlib.util
import inspect
import os
import struct
import subprocess
import sys
import types
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from conftest import hole_psnr, square_masks, synthetic_frames, trivial_fills  # noqa: E402

import flowfill  # noqa: E402
from flowfill.options import EDGE_MODES, FILL_METHODS, FLOW_METHODS, Options  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plugins" / "comfyui"
CLIP, MASKS = ROOT / "sample_clips" / "pan", ROOT / "sample_clips" / "pan_mask"
FLOWFILL = Path(sys.executable).parent / "flowfill"
NAME = "comfyui-flowfill"  # the folder name the README tells users to link it under


def load_package():
    """As ComfyUI's load_custom_node does: a module named after the folder, from __init__.py."""
    spec = importlib.util.spec_from_file_location(NAME, PACKAGE / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def package():
    module = load_package()
    yield module
    for name in [n for n in sys.modules if n == NAME or n.startswith(NAME + ".")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def node_class(package):
    return package.NODE_CLASS_MAPPINGS["FlowfillRemove"]


def widget_defaults(node_class) -> dict:
    """The values ComfyUI sends for untouched widgets."""
    types_ = node_class.INPUT_TYPES()
    out = {}
    for group in ("required", "optional"):
        for name, spec in types_.get(group, {}).items():
            if len(spec) > 1 and "default" in spec[1]:
                out[name] = spec[1]["default"]
    return out


def run_node(node_class, images, mask, **changes):
    """Call the node as ComfyUI's executor does: an instance, FUNCTION, keyword inputs."""
    kwargs = widget_defaults(node_class)
    kwargs.update(changes)
    node = node_class()
    result = getattr(node, node_class.FUNCTION)(images=images, mask=mask, **kwargs)
    assert isinstance(result, tuple) and len(result) == len(node_class.RETURN_TYPES)
    return result[0]


def tiny_clip(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    frames = np.stack(synthetic_frames(n)).astype(np.float32) / 255.0
    masks = np.stack(square_masks(n)).astype(np.float32)
    return torch.from_numpy(frames), torch.from_numpy(masks)


CHEAP = dict(fill="telea", nonlocal_frames=0, reference_frames=0, edges="off")


# ------------------------------------------------------------------------------------------
# The node contract


def test_package_exports(package):
    assert set(package.NODE_CLASS_MAPPINGS) == set(package.NODE_DISPLAY_NAME_MAPPINGS)
    assert package.NODE_DISPLAY_NAME_MAPPINGS["FlowfillRemove"] == "flowfill Remove"
    assert "flowfill" in sys.modules and sys.modules["flowfill"] is flowfill  # not shadowed


def test_node_declaration(node_class):
    types_ = node_class.INPUT_TYPES()
    required, optional = types_["required"], types_["optional"]
    assert required["images"][0] == "IMAGE" and required["mask"][0] == "MASK"
    assert node_class.RETURN_TYPES == ("IMAGE",)
    assert isinstance(node_class.CATEGORY, str) and node_class.CATEGORY
    function = getattr(node_class, node_class.FUNCTION)
    parameters = inspect.signature(function).parameters
    for name in [*required, *optional]:
        assert name in parameters, name
    d = Options()
    assert tuple(required["fill"][0]) == FILL_METHODS and required["fill"][1]["default"] == d.fill
    assert tuple(required["flow"][0]) == FLOW_METHODS and required["flow"][1]["default"] == d.flow
    assert tuple(required["edges"][0]) == EDGE_MODES
    defaults = widget_defaults(node_class)
    assert defaults["dilate"] == -1 and d.dilate is None  # -1: auto, as flowfill's None
    for name in ("grow", "window", "overlap", "edges", "device", "nonlocal_frames",
                 "reference_frames", "max_keyframes", "rounds"):
        assert defaults[name] == getattr(d, name), name
    for group in (required, optional):
        for name, spec in group.items():
            if spec[0] in ("INT", "FLOAT"):
                assert spec[1]["min"] <= spec[1]["default"] <= spec[1]["max"], name
            if len(spec) > 1 and "default" in spec[1] and name in parameters:
                assert parameters[name].default == spec[1]["default"], name


# ------------------------------------------------------------------------------------------
# Same answer as the CLI


def exr_pixel_types(path: Path) -> dict[str, int]:
    """Channel name -> OpenEXR pixel type (0 uint, 1 half, 2 float) from the file header."""
    data = path.read_bytes()
    assert data[:4] == b"\x76\x2f\x31\x01", "not an OpenEXR file"
    at = data.index(b"channels\x00chlist\x00") + len(b"channels\x00chlist\x00") + 4
    types_ = {}
    while data[at] != 0:
        end = data.index(b"\x00", at)
        name = data[at:end].decode()
        types_[name] = struct.unpack_from("<i", data, end + 1)[0]
        at = end + 1 + 16  # pixel type, pLinear + reserved, xSampling, ySampling
    return types_


@pytest.fixture(scope="module")
def cli_output(tmp_path_factory):
    """``flowfill remove`` on the sample clip, once per session, as float EXR frames."""
    out = tmp_path_factory.mktemp("cli") / "out"
    run = subprocess.run([str(FLOWFILL), "remove", str(CLIP), "--mask", str(MASKS),
                          "--output", str(out / "%05d.exr"), "--quiet"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    files = sorted(out.glob("*.exr"))
    assert len(files) == 30
    return files


def comfy_load(path: Path, mask: bool = False) -> np.ndarray:
    """A PNG as ComfyUI's LoadImage (RGB / 255.0) or LoadImageMask (a channel / 255.0) gives it."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask:
        channel = pixels if pixels.ndim == 2 else pixels[:, :, 2]
        return channel.astype(np.float32) / 255.0
    rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB) if pixels.ndim == 3 else np.stack([pixels] * 3,
                                                                                     axis=2)
    return rgb.astype(np.float32) / 255.0


def test_node_equals_the_cli_on_the_sample_clip(node_class, cli_output):
    assert all(exr_pixel_types(f) == {"B": 2, "G": 2, "R": 2} for f in cli_output[:3])
    names = sorted(p.name for p in CLIP.glob("*.png"))
    images = torch.from_numpy(np.stack([comfy_load(CLIP / n) for n in names]))
    masks = torch.from_numpy(np.stack([comfy_load(MASKS / n, mask=True) for n in names]))
    assert tuple(images.shape) == (30, 180, 320, 3) and tuple(masks.shape) == (30, 180, 320)
    out = run_node(node_class, images, masks)
    assert out.dtype == images.dtype and out.device == images.device
    assert tuple(out.shape) == tuple(images.shape)
    cli = np.stack([cv2.imread(str(f), cv2.IMREAD_UNCHANGED)[:, :, ::-1] for f in cli_output])
    diff = float(np.abs(out.numpy() - cli).max())
    print(f"ComfyUI node vs flowfill remove, sample clip: max abs diff {diff:.3g}")
    assert diff <= 1e-5
    outside = ~(masks.numpy() > 0)
    assert np.array_equal(out.numpy()[outside], images.numpy()[outside])
    from flowfill.evaluate import scenes

    spec = scenes.pan_scene()
    ours, telea = [], []
    for t in range(30):
        clean = scenes.render_frame(spec, t, with_object=False)[0].astype(np.float32) / 255
        hole = ~outside[t]
        ours.append(hole_psnr(out.numpy()[t], clean, hole))
        telea.append(hole_psnr(trivial_fills(images.numpy()[t], hole)["telea"], clean, hole))
    # against the clip's clean frames: 17.0-22.1 dB, 19.5 on average; Telea 12.4-18.6, 15.9
    assert min(ours) > 15 and np.mean(ours) > np.mean(telea) + 2, (ours, telea)


def test_windows_and_reference_frames_match_flowfill_remove(node_class, comfy):
    """A clip longer than a window: the node scans reference frames as flowfill.remove does."""
    images, masks = tiny_clip(8)
    options = dict(fill="telea", nonlocal_frames=0, edges="off", window=4, overlap=1,
                   reference_frames=1)
    out = run_node(node_class, images, masks, **options)
    expected = flowfill.remove(images.numpy(), masks.numpy() > 0, **options)
    assert float(np.abs(out.numpy() - expected).max()) <= 1e-5
    check_bar(comfy)


def test_rounds_reach_the_engine(node_class):
    """One round (a preview) is flowfill.remove's one round, not its default two."""
    images, masks = tiny_clip(8)
    options = dict(fill="telea", nonlocal_frames=0, edges="off", rounds=1)
    out = run_node(node_class, images, masks, **options)
    one = flowfill.remove(images.numpy(), masks.numpy() > 0, **options)
    two = flowfill.remove(images.numpy(), masks.numpy() > 0, **{**options, "rounds": 2})
    assert float(np.abs(out.numpy() - one).max()) <= 1e-5
    assert float(np.abs(one - two).max()) > 1e-3


# ------------------------------------------------------------------------------------------
# Masks, channels, errors


def test_one_mask_for_all_frames(node_class):
    images, masks = tiny_clip()
    union = masks.amax(dim=0)
    full = run_node(node_class, images, union.expand(len(images), -1, -1).clone(), **CHEAP)
    for single in (union[None], union):  # [1,H,W] and [H,W]
        assert torch.equal(run_node(node_class, images, single, **CHEAP), full)
    inside = union.bool()
    assert torch.equal(full[:, ~inside], images[:, ~inside])
    # the background behind the square, where the union hides more of it: 14.3-25.5 dB per
    # frame, 22.7 on average; the frames' mean colour 13.9, black 9.2, the input left 12.6. At a
    # pan of 1 px a frame most of the union is never seen, so each frame fills it from its own
    # rim; the last frame's hole holds the wrap seam of np.roll's background, a sharp step no
    # rim predicts (14.3 dB; carrying keyframes along the flow, 17.7 there but 17.8 on frame 4)
    truth = np.stack(synthetic_frames(len(images), square=False)).astype(np.float32) / 255
    got = [hole_psnr(f, bg, inside.numpy()) for f, bg in zip(full.numpy(), truth, strict=True)]
    assert min(got) > 13.5 and np.mean(got) > 20, got


def test_mask_of_the_wrong_size_or_count(node_class, package):
    images, masks = tiny_clip()
    error = sys.modules[f"{NAME}.nodes"].FlowfillNodeError
    with pytest.raises(error, match=r"the mask is 40x30 but the images are 48x32; resize"):
        run_node(node_class, images, torch.zeros(6, 30, 40), **CHEAP)
    with pytest.raises(error, match="3 masks for 6 images"):
        run_node(node_class, images, masks[:3], **CHEAP)
    with pytest.raises(error, match="images must be"):
        run_node(node_class, images[..., :2], masks, **CHEAP)
    with pytest.raises(error, match="covers the whole frame"):
        run_node(node_class, images, torch.ones(32, 48), **CHEAP)


def test_empty_mask_returns_the_images(node_class):
    images, _ = tiny_clip()
    out = run_node(node_class, images, torch.zeros(32, 48), **CHEAP)
    assert torch.equal(out, images)
    soft = torch.full((32, 48), 0.2)
    assert torch.equal(run_node(node_class, images, soft, mask_threshold=0.5, **CHEAP), images)


def test_flowfill_input_errors_become_clear_messages(node_class):
    images, masks = tiny_clip()
    error = sys.modules[f"{NAME}.nodes"].FlowfillNodeError
    with pytest.raises(error, match=r"^flowfill Remove: --overlap: must be smaller than"):
        run_node(node_class, images, masks, window=4, overlap=4, **CHEAP)
    with pytest.raises(error, match=r"^flowfill Remove: .*RAFT"):
        run_node(node_class, images, masks, flow="raft", raft_weights="", **CHEAP)


def test_alpha_passes_through_and_dtype_is_kept(node_class):
    images, masks = tiny_clip()
    before = images.clone()
    rgb = run_node(node_class, images, masks, **CHEAP)
    assert torch.equal(images, before)  # the input tensor is not written to
    alpha = torch.rand(images.shape[:3] + (1,))
    rgba = run_node(node_class, torch.cat([images, alpha], dim=3), masks, **CHEAP)
    assert rgba.shape[-1] == 4 and torch.equal(rgba[..., 3:], alpha)
    assert torch.equal(rgba[..., :3], rgb)
    wide = run_node(node_class, images.double(), masks, **CHEAP)
    assert wide.dtype == torch.float64 and torch.equal(wide.float(), rgb)


# ------------------------------------------------------------------------------------------
# ComfyUI's progress bar and interrupt, with a stand-in ``comfy``


class Interrupted(Exception):
    """Stands for comfy.model_management.InterruptProcessingException."""


@pytest.fixture
def comfy(monkeypatch):
    state = types.SimpleNamespace(bars=[], checks=0, interrupt_after=None)

    class ProgressBar:
        def __init__(self, total):
            self.total, self.calls = total, []
            state.bars.append(self)

        def update_absolute(self, value, total=None, preview=None):
            self.calls.append((value, total))

    def throw_exception_if_processing_interrupted():
        state.checks += 1
        if state.interrupt_after is not None and state.checks > state.interrupt_after:
            raise Interrupted("interrupted")

    root = types.ModuleType("comfy")
    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = ProgressBar
    management = types.ModuleType("comfy.model_management")
    management.throw_exception_if_processing_interrupted = (
        throw_exception_if_processing_interrupted)
    management.InterruptProcessingException = Interrupted
    root.utils, root.model_management = utils, management
    for name, module in (("comfy", root), ("comfy.utils", utils),
                         ("comfy.model_management", management)):
        monkeypatch.setitem(sys.modules, name, module)
    return state


def check_bar(state) -> None:
    (bar,) = state.bars
    values = [v for v, _ in bar.calls]
    assert len(values) >= 3 and values == sorted(values) and values[-1] == bar.total
    assert all(total == bar.total for _, total in bar.calls)


def test_progress_reaches_comfyuis_bar(node_class, comfy):
    images, masks = tiny_clip()
    run_node(node_class, images, masks, **CHEAP)
    check_bar(comfy)
    assert comfy.checks > len(images)  # checked within the run, not only between frames


def test_progress_counts_every_round(package, comfy):
    meter = sys.modules[NAME + ".nodes"]._Meter(30, rounds=2)
    seen = []
    for stage in ("flow", "propagate", "reflow", "repropagate", "write"):
        meter.update(stage, 30)
        seen.append(meter.value)
    # the first round (flow with its completion) costs about twice a later one
    assert seen[1] == 50 and seen[3] == 75 and seen[4] == 95
    assert 25 < seen[0] < 50 and 50 < seen[2] < 75


def test_interrupt_stops_the_run(node_class, comfy):
    images, masks = tiny_clip()
    comfy.interrupt_after = 2
    with pytest.raises(Interrupted):
        run_node(node_class, images, masks, **CHEAP)
    assert comfy.checks == 3


def test_no_comfy_no_hooks(node_class, monkeypatch):
    monkeypatch.setitem(sys.modules, "comfy", None)  # import comfy... raises ImportError
    monkeypatch.setitem(sys.modules, "comfy.utils", None)
    monkeypatch.setitem(sys.modules, "comfy.model_management", None)
    images, masks = tiny_clip()
    out = run_node(node_class, images, masks, **CHEAP)
    assert out.shape == images.shape
    holes = masks.numpy() > 0
    assert np.array_equal(out.numpy(), flowfill.remove(images.numpy(), holes, **CHEAP))
    truth = np.stack(synthetic_frames(len(images), square=False)).astype(np.float32) / 255
    for got, bg, hole in zip(out.numpy(), truth, holes, strict=True):
        assert hole_psnr(got, bg, hole) > 24  # 28.1-29.3 dB; mean colour <= 18.8, black 10.6
