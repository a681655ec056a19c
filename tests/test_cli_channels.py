"""The command keeps the input's channels: alpha comes back unchanged, grey comes back grey."""

from __future__ import annotations

import os

import av
import cv2
import numpy as np
import pytest
from conftest import hole_psnr, square_masks, synthetic_frames, trivial_fills, write_rgb

from flowfill import cli
from flowfill.io.images import grey_of

H, W, N = 48, 64, 6
FAST = ["--edges", "off", "-q"]


def _raw(path) -> np.ndarray:
    """A file's samples as stored (OpenCV layout turned to RGB(A)), independent of flowfill."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    if arr.ndim == 3:
        arr = arr[:, :, [2, 1, 0, 3]] if arr.shape[2] == 4 else arr[:, :, ::-1]
    return arr


def _alphas(seed: int = 0) -> list[np.ndarray]:
    """8-bit alphas unrelated to the mask: a ramp with noise, never all one value."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, W)[None, :].repeat(H, axis=0)
    return [np.clip(ramp + rng.integers(-20, 21, (H, W)), 0, 255).astype(np.uint8)
            for _ in range(N)]


def _write_masks(folder, masks) -> None:
    folder.mkdir()
    for i, m in enumerate(masks):
        write_rgb(folder / f"m{i:03d}.png", m.astype(np.uint8) * 255)


def _run(*argv) -> int:
    return cli.main([str(a) for a in argv])


@pytest.fixture
def rgb_reference(tmp_path):
    """The RGB clip, its masks, and what the command makes of it without any alpha."""
    frames, masks = synthetic_frames(N, H, W), square_masks(N, H, W)
    (tmp_path / "rgb").mkdir()
    for i, img in enumerate(frames):
        write_rgb(tmp_path / "rgb" / f"f{i:03d}.png", img)
    _write_masks(tmp_path / "mask", masks)
    assert _run("remove", tmp_path / "rgb", "-m", tmp_path / "mask", "-o",
                tmp_path / "ref", *FAST) == 0
    ref = [_raw(tmp_path / "ref" / f"f{i:03d}.png") for i in range(N)]
    # the reference the alpha tests compare with really is filled: the background behind the
    # square at 27.8-29.5 dB, where the frame's mean colour scores 12.2-16.4 and black 9-10
    truth = synthetic_frames(N, H, W, square=False)
    for r, img, bg, m in zip(ref, frames, truth, masks, strict=True):
        got = hole_psnr(r, bg, m, 255)
        assert got > 24 and got > hole_psnr(trivial_fills(img, m)["mean"], bg, m, 255) + 8, got
    return frames, masks, ref


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_rgba_frames_come_back_rgba_with_alpha_unchanged(tmp_path, rgb_reference, ext):
    frames, masks, ref = rgb_reference
    alphas = _alphas()
    (tmp_path / "rgba").mkdir()
    for i, (img, a) in enumerate(zip(frames, alphas, strict=True)):
        write_rgb(tmp_path / "rgba" / f"f{i:03d}{ext}", np.dstack([img, a]))
    assert _run("remove", tmp_path / "rgba", "-m", tmp_path / "mask", "-o", tmp_path / "out",
                *FAST) == 0
    for i in range(N):
        out = _raw(tmp_path / "out" / f"f{i:03d}{ext}")
        assert out.shape == (H, W, 4) and out.dtype == np.uint8
        assert np.array_equal(out[:, :, 3], alphas[i])  # alpha untouched, inside the mask too
        assert np.array_equal(out[~masks[i], :3], frames[i][~masks[i]])
        assert np.array_equal(out[:, :, :3], ref[i])  # the alpha changes nothing in the fill


def test_float_exr_with_alpha_keeps_it_bit_exactly(tmp_path):
    rng = np.random.default_rng(5)
    frames = [img.astype(np.float32) / 255 * 3 for img in synthetic_frames(N, H, W)]  # above 1
    alphas = [rng.random((H, W)).astype(np.float32) for _ in range(N)]
    masks = square_masks(N, H, W)
    truth = synthetic_frames(N, H, W, square=False)
    (tmp_path / "in").mkdir()
    for i, (img, a) in enumerate(zip(frames, alphas, strict=True)):
        write_rgb(tmp_path / "in" / f"s.{i:04d}.exr", np.dstack([img, a]))
    _write_masks(tmp_path / "mask", masks)
    assert _run("remove", tmp_path / "in" / "s.%04d.exr", "-m", tmp_path / "mask", "-o",
                tmp_path / "out" / "o.%04d.exr", *FAST) == 0
    for i in range(N):
        out = _raw(tmp_path / "out" / f"o.{i:04d}.exr")
        assert out.shape == (H, W, 4) and out.dtype == np.float32
        assert np.array_equal(out[:, :, 3], alphas[i])
        assert np.array_equal(out[~masks[i], :3], frames[i][~masks[i]])
        # the square is gone, the background (scaled as the frames) in its place: 27.5-29.8 dB
        # on a peak of 3, where the frame's mean colour scores 12.1-16.3 and black 9-10
        bg = truth[i].astype(np.float32) / 255 * 3
        got = hole_psnr(out[..., :3], bg, masks[i], 3)
        mean_fill = hole_psnr(trivial_fills(frames[i], masks[i])["mean"], bg, masks[i], 3)
        assert got > 24 and got > mean_fill + 8, (got, mean_fill)


def test_alpha_mask_removes_where_alpha_is_above_zero(tmp_path, rgb_reference, capsys):
    """--mask alpha: a roto in alpha (white on the object) removes every pixel whose alpha is
    above 0, down to 1/255, exactly as the same matte given as a mask folder; alpha comes back."""
    frames, masks, ref = rgb_reference
    (tmp_path / "rgba").mkdir()
    for i, (img, m) in enumerate(zip(frames, masks, strict=True)):
        alpha = m.astype(np.uint8) * 255
        alpha[m & (np.arange(W)[None, :] % 3 == 0)] = 1  # faint matte values still remove
        write_rgb(tmp_path / "rgba" / f"f{i:03d}.png", np.dstack([img, alpha]))
    assert _run("remove", tmp_path / "rgba", "-m", "alpha", "-o", tmp_path / "out", *FAST) == 0
    for i in range(N):
        out = _raw(tmp_path / "out" / f"f{i:03d}.png")
        src = _raw(tmp_path / "rgba" / f"f{i:03d}.png")
        assert np.array_equal(out[:, :, 3], src[:, :, 3])
        assert np.array_equal(out[:, :, :3], ref[i])  # removed = alpha > 0 = the mask folder
    capsys.readouterr()
    assert _run("remove", "--help") == 0
    assert "alpha is above 0 are removed" in " ".join(capsys.readouterr().out.split())


def test_grey_frames_come_back_grey(tmp_path, rgb_reference):
    frames, masks, _ = rgb_reference
    greys = [img[:, :, 1] for img in frames]
    (tmp_path / "grey").mkdir()
    (tmp_path / "grey3").mkdir()
    for i, g in enumerate(greys):
        write_rgb(tmp_path / "grey" / f"f{i:03d}.png", g)
        write_rgb(tmp_path / "grey3" / f"f{i:03d}.png", np.dstack([g, g, g]))
    for name in ("grey", "grey3"):
        assert _run("remove", tmp_path / name, "-m", tmp_path / "mask", "-o",
                    tmp_path / f"out-{name}", *FAST) == 0
    for i, g in enumerate(greys):
        out = _raw(tmp_path / "out-grey" / f"f{i:03d}.png")
        as_rgb = _raw(tmp_path / "out-grey3" / f"f{i:03d}.png")
        assert out.shape == (H, W) and out.dtype == np.uint8
        assert np.array_equal(out[~masks[i]], g[~masks[i]])
        # the fill is the one of the grey replicated to RGB
        assert np.abs(out.astype(int) - grey_of(as_rgb).astype(int)).max() <= 1
        assert np.abs(out[masks[i]].astype(int) - 40).mean() > 30  # the square (40) is gone


def _rgba_movie(path, frames, alphas) -> None:
    with av.open(str(path), "w") as out:
        video = out.add_stream("ffv1", rate=24)
        video.height, video.width, video.pix_fmt = H, W, "bgra"
        for i, (img, a) in enumerate(zip(frames, alphas, strict=True)):
            frame = av.VideoFrame.from_ndarray(np.dstack([img, a]), format="rgba")
            frame = frame.reformat(format="bgra", threads=1)
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)


def _decode_rgba(path) -> tuple[str, list[np.ndarray]]:
    with av.open(str(path)) as c:
        name = c.streams.video[0].codec_context.name
        if name == "ffv1":  # 8-bit BGRA: read as stored
            frames = [f.to_ndarray(format="rgba", threads=1) for f in c.decode(video=0)]
        else:  # 10/12-bit: through 16 bits (swscale's direct 8-bit alpha path rounds off)
            frames = [np.rint(f.to_ndarray(format="rgba64le", threads=1) / 257).astype(np.uint8)
                      for f in c.decode(video=0)]
        return name, frames


@pytest.mark.parametrize(("ext", "codec"), [(".avi", "ffv1"), (".mov", "prores")])
def test_rgba_movie_keeps_alpha_in_mov_and_avi(tmp_path, ext, codec, capsys):
    frames, masks, alphas = synthetic_frames(N, H, W), square_masks(N, H, W), _alphas(1)
    _rgba_movie(tmp_path / "in.mkv", frames, alphas)
    write_rgb(tmp_path / "m.png", masks[2].astype(np.uint8) * 255)
    assert _run("remove", tmp_path / "in.mkv", "-m", tmp_path / "m.png", "-o",
                tmp_path / f"out{ext}", *FAST) == 0
    name, back = _decode_rgba(tmp_path / f"out{ext}")
    assert name == codec and len(back) == N
    red = []
    for i in range(N):
        assert np.array_equal(back[i][:, :, 3], alphas[i])
        keep = ~masks[2]
        err = np.abs(back[i][keep, :3].astype(int) - frames[i][keep]).max()
        assert err == 0 if ext == ".avi" else err <= 3  # FFV1 lossless, ProRes near
        red.append(np.abs(back[i][masks[2], :3].astype(int) - (250, 40, 30)).sum(axis=1).mean())
    # the hole is filled, not passed through (it held the red square in frame 2); the square
    # moves through the still mask, so its visible parts next to it are a fair source in the
    # frames around 2 (red distance 43 in frame 2, 82-125 in the others, with nearest-first)
    assert np.mean(red) > 60 and min(red) > 30


def test_movie_output_without_alpha_says_it_drops_it(tmp_path, capsys):
    frames, masks, alphas = synthetic_frames(N, H, W), square_masks(N, H, W), _alphas(2)
    _rgba_movie(tmp_path / "in.mkv", frames, alphas)
    write_rgb(tmp_path / "m.png", masks[2].astype(np.uint8) * 255)
    assert _run("remove", tmp_path / "in.mkv", "-m", tmp_path / "m.png", "-o",
                tmp_path / "out.mp4", "--edges", "off") == 0
    err = capsys.readouterr().err
    assert "cannot store alpha" in err and "out.mp4" in err
    assert os.path.isfile(tmp_path / "out.mp4")
