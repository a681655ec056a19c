"""--mask borders: the border that stabilisation leaves, found per frame on real pixels."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import read_rgb, write_rgb

from flowfill import cli
from flowfill.detect.borders import border_mask
from flowfill.errors import InputError
from flowfill.io import open_frames, open_masks

PAN = Path(__file__).resolve().parent.parent / "sample_clips" / "pan"
SQUARE = np.ones((3, 3), np.uint8)


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A real 180x320 frame, float32 RGB in [0, 1] (no pixel of it is near black)."""
    bgr = cv2.imread(str(PAN / "00000.png"))
    assert bgr is not None
    return bgr[:, :, ::-1].astype(np.float32) / np.float32(255)


def grown(mask: np.ndarray) -> np.ndarray:
    """``mask`` dilated by one pixel (3 x 3)."""
    return cv2.dilate(mask.astype(np.uint8), SQUARE).astype(bool)


def shifted(picture: np.ndarray, left=0, top=0, right=0, bottom=0, value=0.0):
    """The picture moved right by ``left`` and down by ``top`` (or up and left), with an
    integer border of those widths in ``value``; and the border as a bool mask."""
    h, w = picture.shape[:2]
    frame = np.full_like(picture, value)
    frame[top:h - bottom, left:w - right] = picture[bottom:h - top, right:w - left]
    border = np.ones((h, w), bool)
    border[top:h - bottom, left:w - right] = False
    return frame, border


@pytest.mark.parametrize("widths", [dict(left=7, top=5), dict(right=3, bottom=1),
                                    dict(left=2), dict(left=4, top=1, right=6, bottom=9)])
def test_integer_shift_border_plus_a_one_pixel_seam_exactly(picture, widths):
    frame, border = shifted(picture, **widths)
    assert np.array_equal(border_mask(frame), grown(border))


def test_compressed_black_border_counts(picture):
    frame, border = shifted(picture, left=7, top=5)
    noise = np.random.default_rng(0).uniform(0, 2 / 255, frame.shape).astype(np.float32)
    frame[border] += noise[border]  # H.264 brings black back within a level or two of 0
    assert np.array_equal(border_mask(frame), grown(border))


def _warp(picture, degrees, scale, shift):
    h, w = picture.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
    matrix[:, 2] += shift
    args = dict(dsize=(w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                borderValue=0)
    frame = cv2.warpAffine(picture, matrix, **args)
    coverage = cv2.warpAffine(np.ones((h, w), np.float32), matrix, **args)
    return frame, coverage


def test_rotated_and_scaled_frame_with_border_all_round(picture):
    frame, coverage = _warp(picture, 7, 0.8, (3, -2))
    blended = coverage < 1 - 1e-6  # border and the picture's blended edge pixels
    mask = border_mask(frame)
    assert not (blended & ~mask).any()
    assert not (mask & ~grown(blended)).any()


@pytest.mark.parametrize("degrees, shift", [(2.5, (6, -4)), (-1.5, (-3, 5))])
def test_stabilisation_warp_with_wedges(picture, degrees, shift):
    """A small rotation leaves wedges whose tips graze the frame's edge: all the border is found,
    and of the blended pixels only some on the frame's outermost rows and columns are missed
    (where the picture's edge leaves the frame, a blended pixel need not touch any border)."""
    frame, coverage = _warp(picture, degrees, 1.0, shift)
    blended = coverage < 1 - 1e-6
    mask = border_mask(frame)
    assert not ((coverage == 0) & ~mask).any()
    inner = np.zeros_like(mask)
    inner[1:-1, 1:-1] = True
    assert not (blended & ~mask & inner).any()
    assert not (mask & ~grown(blended)).any()


def test_no_border(picture):
    assert not border_mask(picture).any()


@pytest.mark.parametrize("side", range(4))
def test_dark_textured_picture_at_an_edge_is_no_border(picture, side):
    frame = np.rot90(picture, side).copy()
    third = frame.shape[1] // 3
    dark = frame[:, :third] * np.float32(12 / 255)  # night: 0-12 of 255, its own texture ...
    noise = np.random.default_rng(side).normal(0, 0.7 / 255, dark.shape)  # ... and a little noise
    frame[:, :third] = np.clip(dark + noise.astype(np.float32), 0, None)
    assert (frame[:, :third] < 3 / 255).all(axis=2).any()  # some of it is as dark as a border
    assert not border_mask(frame).any()


def test_black_frames_are_pictures(picture):
    assert not border_mask(np.zeros((64, 96, 3), np.float32)).any()  # a fade's black frame
    title = np.zeros_like(picture)  # a title on black
    title[80:100, 100:220] = picture[80:100, 100:220]
    assert not border_mask(title).any()


def test_white_border_and_alpha_ignored(picture):
    frame, border = shifted(picture, right=6, bottom=4, value=1.0)
    assert np.array_equal(border_mask(frame, (1.0, 1.0, 1.0)), grown(border))
    assert not border_mask(frame).any()  # not black
    rgba = np.dstack([frame, np.zeros(frame.shape[:2], np.float32)])
    assert np.array_equal(border_mask(rgba, (1.0, 1.0, 1.0)), grown(border))


# ---------------------------------------------------------------- as a mask source


def _clip(folder: Path, picture: np.ndarray, sides, value=0.0, alpha=False):
    """96x64 8-bit PNG frames of one still (stabilised) view, each with a border at ``sides``;
    returns the frames (uint8 RGB) and their borders."""
    still = (cv2.resize(picture[:, 40:280], (96, 64), interpolation=cv2.INTER_AREA) * 255).round()
    folder.mkdir()
    frames, borders = [], []
    for i, widths in enumerate(sides):
        frame, border = shifted(still, **widths, value=value * 255)
        frame[~border] = still[~border]  # the view stays put; only its border moves
        frame = frame.astype(np.uint8)
        pixels = np.dstack([frame, np.full(border.shape, 255, np.uint8)]) if alpha else frame
        write_rgb(folder / f"f{i:03d}.png", pixels)
        frames.append(frame)
        borders.append(border)
    return frames, borders


SIDES = [dict(left=6), dict(right=5, top=2), dict(top=4), dict(bottom=3, left=1), {},
         dict(left=3, top=2)]


def test_borders_mask_source(tmp_path, picture):
    _, borders = _clip(tmp_path / "in", picture, SIDES, alpha=True)
    source = open_frames(tmp_path / "in", keep_alpha=True)
    masks = open_masks("borders", source).validate()
    assert masks.kind == "borders" and masks.paths == []
    for _ in range(2):  # iterable again
        got = list(masks)
        assert len(got) == len(SIDES)
        for g, b in zip(got, borders, strict=True):
            assert g.dtype == bool and np.array_equal(g, grown(b))
    source.select(2, 4)
    assert len(list(open_masks("borders", source))) == 2


def test_white_borders_spec_and_its_empty_message(tmp_path, picture):
    _, borders = _clip(tmp_path / "in", picture, SIDES, value=1.0)
    got = list(open_masks("borders:255,255,255", open_frames(tmp_path / "in")))
    assert len(got) == len(SIDES)
    assert all(np.array_equal(g, grown(b)) for g, b in zip(got, borders, strict=True))
    with pytest.raises(InputError) as err:
        list(open_masks("borders", open_frames(tmp_path / "in")))
    assert err.value.problem == f"mask is empty: no black border found in {tmp_path / 'in'}"
    with pytest.raises(InputError, match="no border of colour 9,9,9 found"):
        list(open_masks("borders:9,9,9", open_frames(tmp_path / "in")))


@pytest.mark.parametrize("spec", ["borders:1,2", "borders:", "borders:1,2,x", "borders:256,0,0",
                                  "borders:1,2,3,4"])
def test_bad_borders_spec_is_refused_up_front(clip_dir, spec):
    with pytest.raises(InputError) as err:
        open_masks(spec, open_frames(clip_dir[0]))
    assert err.value.path == spec and "borders:R,G,B" in err.value.problem
    assert "\n" not in str(err.value)


def test_a_folder_named_borders_is_a_folder(clip_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.mkdir("borders")
    for i in range(6):
        mask = np.zeros((32, 48), np.uint8)
        mask[10:20, 10:20] = 255 * (i == 2)
        write_rgb(Path("borders") / f"m{i}.png", mask)
    masks = open_masks("borders", open_frames(clip_dir[0])).validate()
    assert masks.kind == "folder" and [m.any() for m in masks] == [i == 2 for i in range(6)]


# ---------------------------------------------------------------- the command


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_remove_borders_end_to_end(tmp_path, picture, capsys):
    frames, borders = _clip(tmp_path / "in", picture, SIDES)
    still = frames[4]  # the frame without a border
    code, out, err = run(["remove", tmp_path / "in", "--mask", "borders", "-o", tmp_path / "out",
                          "--edges", "off", "--quiet"], capsys)
    assert code == 0, err
    assert out == err == ""
    names = sorted(os.listdir(tmp_path / "out"))
    assert names == sorted(os.listdir(tmp_path / "in"))
    errors = []
    for name, frame, border in zip(names, frames, borders, strict=True):
        result = read_rgb(tmp_path / "out" / name)
        mask = border_mask(frame.astype(np.float32) / 255)
        assert np.array_equal(result[~mask], frame[~mask])  # bit-exact outside the mask
        assert not (result[border] < 3).all(axis=1).any(), name  # no black left
        errors.append(np.abs(result[border] - still[border].astype(int)))
    # the view behind each border shows in other frames: 7 levels off on average here, against
    # about 54 for the frame's mean colour
    assert np.concatenate(errors).mean() < 16
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("spec, sides, message", [
    ("borders:1,2", SIDES, "borders:1,2: expected 'borders' or 'borders:R,G,B'"),
    ("borders", [{}] * 4, "borders: mask is empty: no black border found in "),
])
def test_remove_borders_refusals_write_nothing(tmp_path, picture, capsys, spec, sides, message):
    _clip(tmp_path / "in", picture, sides)
    listing = sorted(os.listdir(tmp_path))
    code, out, err = run(["remove", tmp_path / "in", "--mask", spec, "-o", tmp_path / "out",
                          "--edges", "off", "--quiet"], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"flowfill: error: {message}") and err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == listing  # no output, no temporary files
