"""flowfill.io masks: every form (folder, pattern, one image, movie, alpha) and every refusal."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import square_masks, synthetic_frames, write_movie, write_rgb

from flowfill.errors import InputError
from flowfill.io import open_frames, open_masks
from flowfill.io.masks import mask_from_pixels


def grey(mask: np.ndarray, value: int = 255) -> np.ndarray:
    return mask.astype(np.uint8) * value


def check(masks, expected) -> None:
    got = list(masks)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == bool and g.shape == e.shape and np.array_equal(g, e)


def test_folder_of_masks(clip_dir, tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    expected = square_masks()
    for i, m in enumerate(expected):
        write_rgb(folder / f"m{i + 1}.png", grey(m, 1))  # any nonzero value removes
    masks = open_masks(folder, open_frames(clip_dir[0])).validate()
    check(masks, expected)
    check(masks, expected)  # iterable again


def test_pattern_of_masks(clip_dir, tmp_path):
    expected = square_masks()
    for i, m in enumerate(expected):
        write_rgb(tmp_path / f"matte.{i + 11:03d}.png", grey(m))
    check(open_masks(str(tmp_path / "matte.%03d.png"), open_frames(clip_dir[0])), expected)


def test_one_image_for_all_frames(clip_dir, tmp_path):
    m = square_masks()[0]
    write_rgb(tmp_path / "logo.png", grey(m))
    masks = open_masks(tmp_path / "logo.png", open_frames(clip_dir[0]))
    got = list(masks)
    assert len(got) == 6 and all(np.array_equal(g, m) for g in got)
    got[0][:] = True  # each frame gets its own array
    assert not got[1].all()


def test_mask_movie(clip_dir, tmp_path):
    expected = square_masks()
    frames = [np.repeat(grey(m)[:, :, None], 3, axis=2) for m in expected]
    movie = write_movie(tmp_path / "matte.mkv", frames, audio=None)
    got = list(open_masks(movie, open_frames(clip_dir[0])).validate())
    assert len(got) == 6
    for g, e in zip(got, expected, strict=True):  # compression blurs the edge a little
        assert (g != e).mean() < 0.03 and g[e].mean() > 0.9


def test_mask_movie_and_alpha_follow_a_selection_of_frames(clip_dir, tmp_path):
    expected = square_masks()
    frames = [np.repeat(grey(m)[:, :, None], 3, axis=2) for m in expected]
    movie = write_movie(tmp_path / "matte.mkv", frames, audio=None)
    source = open_frames(clip_dir[0])
    source.select(2, 5)
    got = list(open_masks(movie, source).validate())
    assert len(got) == 3
    for g, e, wrong in zip(got, expected[2:5], expected[1:4], strict=True):
        assert (g != e).mean() < 0.03 and (g != wrong).mean() > 0.03
    (tmp_path / "rgba").mkdir()
    for i, (rgb, m) in enumerate(zip(synthetic_frames(), expected, strict=True)):
        write_rgb(tmp_path / "rgba" / f"f{i}.png", np.dstack([rgb, grey(m)]))
    source = open_frames(tmp_path / "rgba")
    source.select(4, None)
    check(open_masks("alpha", source), expected[4:])


def test_alpha_of_rgba_frames(tmp_path):
    expected = square_masks(3)
    for i, (rgb, m) in enumerate(zip(synthetic_frames(3), expected, strict=True)):
        write_rgb(tmp_path / f"f{i}.png", np.dstack([rgb, grey(m)]))
    source = open_frames(tmp_path)
    masks = open_masks("alpha", source).validate()
    check(masks, expected)
    assert np.array_equal(next(iter(source)), synthetic_frames(1)[0] / np.float32(255))


def test_colour_and_alpha_mask_pixels():
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[0, 0, 2] = 9  # only red nonzero
    assert mask_from_pixels(bgr)[0, 0] and mask_from_pixels(bgr).sum() == 1
    bgra = np.dstack([np.full((4, 4, 3), 255, np.uint8), np.zeros((4, 4), np.uint8)])
    bgra[1, 1, 3] = 255  # white everywhere, opaque at one pixel
    assert mask_from_pixels(bgra).sum() == 1
    noisy = np.full((4, 4), 3, np.uint8)
    noisy[2, 2] = 200
    assert mask_from_pixels(noisy, lossy=True).sum() == 1


# ---------------------------------------------------------------- refusals


def _refused(spec, frames) -> InputError:
    with pytest.raises(InputError) as err:
        list(open_masks(spec, frames).validate())
    assert "\n" not in str(err.value)
    return err.value


def test_missing_mask(clip_dir, tmp_path):
    err = _refused(str(tmp_path / "nope.png"), open_frames(clip_dir[0]))
    assert "nope.png" in str(err)


def test_size_mismatch_names_both_sizes(clip_dir, tmp_path):
    write_rgb(tmp_path / "big.png", np.full((40, 60), 255, np.uint8))
    err = _refused(str(tmp_path / "big.png"), open_frames(clip_dir[0]))
    assert "60x40" in err.problem and "48x32" in err.problem


def test_count_mismatch(clip_dir, tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i, m in enumerate(square_masks(4)):
        write_rgb(folder / f"m{i}.png", grey(m))
    err = _refused(str(folder), open_frames(clip_dir[0]))
    assert "4 masks but 6 frames" in err.problem


def test_mask_movie_count_mismatch(clip_dir, tmp_path):
    frames = [np.repeat(grey(m)[:, :, None], 3, axis=2) for m in square_masks(3)]
    movie = write_movie(tmp_path / "matte.mp4", frames, audio=None)
    assert "3 masks but 6 frames" in _refused(movie, open_frames(clip_dir[0])).problem


def test_empty_mask(clip_dir, tmp_path):
    write_rgb(tmp_path / "black.png", np.zeros((32, 48), np.uint8))
    err = _refused(str(tmp_path / "black.png"), open_frames(clip_dir[0]))
    assert err.problem == "mask is empty: nothing to remove"


def test_empty_over_every_frame_of_a_folder(clip_dir, tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i in range(6):
        write_rgb(folder / f"m{i}.png", np.zeros((32, 48), np.uint8))
    assert "empty" in _refused(str(folder), open_frames(clip_dir[0])).problem


def test_full_mask_names_the_frame(clip_dir, tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i, m in enumerate(square_masks()):
        write_rgb(folder / f"m{i}.png", grey(np.ones_like(m) if i == 3 else m))
    err = _refused(str(folder), open_frames(clip_dir[0]))
    assert err.path == str(folder / "m3.png") and "whole frame" in err.problem


def test_alpha_without_alpha_channel(clip_dir):
    with pytest.raises(InputError, match="no alpha"):
        open_masks("alpha", open_frames(clip_dir[0]))


def test_empty_alpha_is_refused_after_the_last_frame(tmp_path):
    for i, rgb in enumerate(synthetic_frames(2)):
        write_rgb(tmp_path / f"f{i}.png", np.dstack([rgb, np.zeros((32, 48), np.uint8)]))
    masks = open_masks("alpha", open_frames(tmp_path)).validate()
    with pytest.raises(InputError, match="empty"):
        list(masks)


def test_corrupt_mask_is_named(clip_dir, tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i, m in enumerate(square_masks()):
        write_rgb(folder / f"m{i}.png", grey(m))
    (folder / "m2.png").write_bytes(b"not a png")
    assert _refused(str(folder), open_frames(clip_dir[0])).path == str(folder / "m2.png")
