"""Seeded random inputs to the library and the CLI: each gives a correct result (outside the mask
exactly the input) or one clear error, never a traceback, a hang or a partial file.

Every case is drawn from its seed, so a failure names the case that reproduces it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import synthetic_frames, write_movie, write_rgb

import flowfill
from flowfill.errors import InputError

FLOWFILL = str(Path(sys.executable).parent / "flowfill")
SEEDS = int(os.environ.get("FLOWFILL_FUZZ_SEEDS", "60"))
"""Random library cases (CI's count; set more for a longer hunt). Truncations: a third as many
per format (at least 2)."""
FAST = dict(fill="telea", edges="off", nonlocal_frames=0, max_keyframes=1)
FAST_FLAGS = ["--fill", "telea", "--edges", "off", "--nonlocal-frames", "0", "--quiet"]


def random_case(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Frames (float32 N x H x W x C, any scale, maybe NaN/Inf) and masks of one random case."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 1, 2, 3, 5]))
    tiny = rng.random() < 0.2
    h, w = (int(v) for v in (rng.integers(1, 16, 2) if tiny else rng.integers(16, 49, 2)))
    c = int(rng.choice([3, 4]))
    base = rng.random((h + 2 * n, w + 2 * n, c)).astype(np.float32)
    base = cv2.GaussianBlur(base, (0, 0), 1.5).reshape(base.shape)
    frames = np.stack([base[t:t + h, t:t + w] for t in range(n)])
    scale = float(rng.choice([1.0, 1.0, 1 / 255, 40.0]))
    frames[..., :3] *= scale
    kind = str(rng.choice(["empty", "one", "box", "border", "random", "full"]))
    masks = np.zeros((n, h, w), bool)
    for t in range(n):
        if kind == "one":
            masks[t, rng.integers(h), rng.integers(w)] = True
        elif kind == "box":
            y, x = rng.integers(0, max(h - 1, 1)), rng.integers(0, max(w - 1, 1))
            masks[t, y:y + 1 + h // 3, x:x + 1 + w // 3] = True
        elif kind == "border":  # touches every edge of the frame
            masks[t, 0, :] = masks[t, -1, :] = masks[t, :, 0] = masks[t, :, -1] = True
        elif kind == "random":
            masks[t] = rng.random((h, w)) < 0.3
        elif kind == "full":
            masks[t] = True
    if rng.random() < 0.3:  # a few non-finite pixels
        bad = rng.random(frames.shape[:3]) < 0.02
        frames[bad, int(rng.integers(3))] = rng.choice([np.nan, np.inf, -np.inf])
    return frames, masks, f"{n}x{h}x{w}x{c} scale {scale:g} mask {kind}"


@pytest.mark.parametrize("seed", range(SEEDS))
def test_library_gives_a_result_or_one_clear_error(seed):
    frames, masks, case = random_case(seed)
    try:
        out = flowfill.remove(frames, masks, **FAST)
    except InputError as err:
        text = str(err)
        assert text and "\n" not in text, case
        # the only refusals such a case can earn: too small, or nothing left to fill from
        assert any(words in text for words in ("covers the whole frame", "only NaN or infinite",
                                               "pixels needed")), (case, text)
        return
    assert out.shape == frames.shape and out.dtype == np.float32, case
    keep = ~masks
    np.testing.assert_array_equal(out[keep], frames[keep], err_msg=case)  # NaN == NaN here
    filled = out[masks][..., :3]
    assert np.isfinite(filled).all(), case
    if frames.shape[-1] == 4:
        np.testing.assert_array_equal(out[..., 3], frames[..., 3], err_msg=case)
    finite = np.isfinite(frames[..., :3])
    if masks.any() and finite[~masks].all():  # the fill stays within the picture's own range
        lo, hi = frames[..., :3][~masks].min(), frames[..., :3][~masks].max()
        span = hi - lo + 1e-6
        assert filled.min() >= lo - 0.5 * span and filled.max() <= hi + 0.5 * span, case


@pytest.mark.parametrize("bad", ["int-mask-values", "float-mask", "uint8-frames", "float64",
                                 "2-channel", "mask-too-big", "frames-differ", "no-frames",
                                 "more-masks"])
def test_library_inputs_of_the_wrong_kind(bad):
    frames = np.stack(synthetic_frames(3, 24, 32)).astype(np.float32) / 255
    masks = np.zeros((3, 24, 32), bool)
    masks[:, 8:14, 10:18] = True
    expect_error = None
    if bad == "int-mask-values":
        masks = masks.astype(np.uint8) * 255  # nonzero means remove
    elif bad == "float-mask":
        masks = masks.astype(np.float32)
    elif bad == "uint8-frames":
        frames = (frames * 255).astype(np.uint8)  # taken as values, whatever their scale
    elif bad == "float64":
        frames = frames.astype(np.float64)
    elif bad == "2-channel":
        frames, expect_error = frames[..., :2], "expected H x W x 3"
    elif bad == "mask-too-big":
        masks, expect_error = np.zeros((3, 25, 32), bool), "but the frame is 32x24"
    elif bad == "frames-differ":
        frames = [frames[0], frames[1][:20], frames[2]]
        expect_error = "earlier frames are 32x24"
    elif bad == "no-frames":
        frames, masks, expect_error = frames[:0], masks[:0], "no frames"
    elif bad == "more-masks":
        masks, expect_error = np.concatenate([masks, masks[:1]]), "3 frames but 4 masks"
    if expect_error:
        with pytest.raises(InputError) as err:
            flowfill.remove(frames, masks, **FAST)
        assert expect_error in str(err.value) and "\n" not in str(err.value)
        return
    out = flowfill.remove(frames, masks, **FAST)
    ref = np.asarray(frames, np.float32)
    keep = ~np.asarray(masks).astype(bool)
    np.testing.assert_array_equal(out[keep], ref[keep])
    assert not np.array_equal(out[~keep], ref[~keep])


# ---------------------------------------------------------------- the CLI on damaged files

FORMATS = [".png", ".jpg", ".tif", ".exr", ".webp", ".dpx", ".mp4", ".mov", ".avi", ".mkv"]


def write_input(folder: Path, ext: str) -> tuple[Path, Path]:
    """A small clip as frames (one file per frame) or a movie, and one mask image."""
    frames = synthetic_frames(4, 32, 48)
    mask = folder / "mask.png"
    m = np.zeros((32, 48), np.uint8)
    m[10:20, 14:24] = 255
    cv2.imwrite(str(mask), m)
    if ext in (".mp4", ".mov", ".avi", ".mkv"):
        codec = {".mp4": "libx264", ".mov": "prores_ks", ".avi": "ffv1", ".mkv": "libx264"}[ext]
        pix = {".mov": "yuv422p10le", ".avi": "bgr0"}.get(ext, "yuv420p")
        path = Path(write_movie(folder / f"in{ext}", frames, codec=codec, pix_fmt=pix,
                                audio=None))
        return path, mask
    clip = folder / "in"
    clip.mkdir()
    for i, f in enumerate(frames):
        name = clip / f"f{i:03d}{ext}"
        if ext == ".dpx":
            from test_io import _dpx10

            _dpx10(name, f.astype(np.uint16) * 257)
        elif ext == ".exr":
            assert cv2.imwrite(str(name), np.ascontiguousarray(f[:, :, ::-1]).astype(np.float32)
                               / 255)
        else:
            write_rgb(name, f)
    return clip, mask


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("seed", range(max(2, SEEDS // 30)))
def test_cli_on_truncated_files(tmp_path, ext, seed):
    """A file cut short at a random byte: exit 0 with a complete output (the damage fell where
    nothing is lost to decoding, e.g. trailing metadata), or exit 2 with one line naming the
    file, and no output; never a traceback."""
    rng = np.random.default_rng(seed)
    src, mask = write_input(tmp_path, ext)
    victim = src if src.is_file() else sorted(src.iterdir())[int(rng.integers(4))]
    data = victim.read_bytes()
    cut = int(rng.integers(1, len(data)))
    victim.write_bytes(data[:cut])
    out = tmp_path / "out"
    run = subprocess.run([FLOWFILL, "remove", str(src), "-m", str(mask), "-o", str(out),
                          *FAST_FLAGS], capture_output=True, text=True, timeout=120)
    lines = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr, run.stderr
    if run.returncode == 0:
        assert len(os.listdir(out)) >= 1
    else:
        assert run.returncode == 2 and len(lines) == 1, run.stderr
        assert str(victim.name) in lines[0] or str(src.name) in lines[0], lines[0]
        assert not out.exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")], os.listdir(tmp_path)
