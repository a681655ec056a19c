"""Long-shot machinery: reference frames across a shot, proxy flow completion, --resume."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import read_rgb, trivial_fills, write_rgb

import flowfill
from flowfill import cli, pipeline
from flowfill.evaluate import scenes
from flowfill.hops import ProxyGrid
from flowfill.options import Options
from flowfill.references import Reference, ReferenceFrames, pick
from flowfill.resume import Checkpoint


def _psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    err = float(np.mean((a[mask] - b[mask]) ** 2))
    return 10 * np.log10(1.0 / max(err, 1e-12))


def _texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A still, detailed background (smooth gradients plus fine noise), float32 in 0..1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([np.sin(xx / 5) * 0.3 + 0.5, np.cos(yy / 7) * 0.3 + 0.5,
                     ((xx + 2 * yy) % 17) / 17 * 0.6 + 0.2], axis=2)
    return np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1).astype(np.float32)


# ------------------------------------------------------------------ reference frames


def test_pick_takes_the_least_hole_frame_of_each_stretch_of_long_shots_only():
    areas = np.array([5, 4, 9, 9, 0, 7, 7, 7, 3, 7, 7, 7])
    assert pick(areas, [(0, 12)], 3, window=4) == [1, 4, 8]
    assert pick(areas, [(0, 4), (4, 12)], 2, window=4) == [4, 8]  # the first shot fits a window
    assert pick(areas, [(0, 12)], 3, window=12) == []
    assert pick(areas, [(0, 12)], 0, window=4) == []


def test_references_of_a_window_come_from_its_own_shot_and_from_outside_it():
    refs = ReferenceFrames([], [(0, 10), (10, 30)])
    refs.refs = [Reference(i, np.zeros((2, 2, 3), np.float32), np.zeros((2, 2), bool))
                 for i in (3, 12, 20, 28)]
    assert [r.index for r in refs.for_window(10, 19)] == [20, 28]
    assert [r.index for r in refs.for_window(18, 27)] == [12, 28]
    assert [r.index for r in refs.for_window(0, 5)] == []  # 3 lies inside the window


def _revealed_late(n: int = 30, h: int = 48, w: int = 64, leave: int = 20):
    """A still shot: an object stands on the background for the first ``leave`` frames, then
    leaves."""
    bg = _texture(h, w)
    frames, masks = [], []
    for t in range(n):
        frame, mask = bg.copy(), np.zeros((h, w), bool)
        if t < leave:
            mask[14:34, 20:44] = True
            frame[mask] = (0.9, 0.1, 0.1)
        frames.append(frame)
        masks.append(mask)
    return bg, frames, masks


def test_reference_frames_bring_background_seen_only_outside_the_window():
    bg, frames, masks = _revealed_late()
    common = dict(window=10, overlap=2, nonlocal_frames=2, edges="off", seed=0)
    with_refs = flowfill.remove(frames, masks, reference_frames=3, **common)
    without = flowfill.remove(frames, masks, reference_frames=0, **common)
    early = range(8)  # the first window never sees the background there
    got = np.mean([_psnr(with_refs[t], bg, masks[t]) for t in early])
    base = np.mean([_psnr(without[t], bg, masks[t]) for t in early])
    assert got > 25 and got > base + 6, (got, base)


def test_scan_reads_cuts_and_keeps_only_the_picked_frames():
    _, frames, masks = _revealed_late()
    options = Options(window=10, reference_frames=3)
    refs = ReferenceFrames.scan(lambda: (frames, masks), options)
    assert refs.shots == [(0, 30)]
    assert [r.index for r in refs.refs] == [0, 10, 20]  # the last stretch's first bare frame
    assert not refs.refs[2].hole.any() and refs.refs[0].hole.any()


# ------------------------------------------------------------------ proxy flow completion


def test_grid_reads_proxy_fields_at_full_resolution_pixels():
    grid = ProxyGrid((40, 60), (20, 30))
    yy, xx = np.mgrid[0:20, 0:30].astype(np.float32)
    field = np.stack([xx * 2 + 1, yy * 3], axis=2)  # linear, so bilinear sampling is exact
    idx = np.array([0, 61, 600, 1234, 2399])
    ys, xs = np.divmod(idx, 60)
    px = np.clip((xs + 0.5) / 2 - 0.5, 0, 29)
    py = np.clip((ys + 0.5) / 2 - 0.5, 0, 19)
    np.testing.assert_allclose(grid.at(field, idx), np.stack([px * 2 + 1, py * 3], 1), atol=1e-5)
    assert grid.hole(np.pad(np.ones((1, 1), bool), ((3, 36), (5, 54)))).sum() == 1
    same = ProxyGrid((20, 30), (20, 30))
    picked = np.array([0, 31, 599])
    assert np.array_equal(same.at(field, picked), field.reshape(-1, 2)[picked])


def test_proxy_completion_keeps_quality_at_a_fraction_of_the_pixels():
    spec = scenes.pan_scene(256, 144, 10)
    frames, _ = scenes.render(spec, with_object=False)
    frames = frames.astype(np.float32) / 255
    masks = np.zeros(frames.shape[:3], bool)
    for t in range(len(frames)):
        masks[t, 50:90, 60 + 4 * t: 110 + 4 * t] = True
    damaged = frames.copy()
    damaged[masks] = (0.9, 0.1, 0.1)  # the object to remove: the truth is not in the input
    full = flowfill.remove(damaged, masks, flow_max_side=None, edges="off")
    proxy = flowfill.remove(damaged, masks, flow_max_side=128, edges="off")
    p_full = np.mean([_psnr(full[t], frames[t], masks[t]) for t in range(len(frames))])
    p_proxy = np.mean([_psnr(proxy[t], frames[t], masks[t]) for t in range(len(frames))])
    p_telea = np.mean([_psnr(trivial_fills(damaged[t], masks[t])["telea"], frames[t], masks[t])
                       for t in range(len(frames))])
    # about 20 dB either way, Telea's smooth guess 14.7 (the frame's mean colour 12, black 6.4)
    assert p_full > p_telea + 3 and p_proxy > p_telea + 3, (p_full, p_proxy, p_telea)
    assert p_proxy > p_full - 1.0, (p_full, p_proxy)
    assert not np.array_equal(full, proxy)  # the proxy path really ran


# ------------------------------------------------------------------ resume


class _Interrupt(Exception):
    pass


def _interrupting(frames, after: int):
    for i, frame in enumerate(frames):
        if i == after:
            raise _Interrupt
        yield frame


def test_resume_skips_finished_windows_and_gives_the_same_frames(tmp_path, monkeypatch):
    bg, frames, masks = _revealed_late(24)
    options = Options(window=8, overlap=2, reference_frames=0, edges="off")
    whole = list(flowfill.remove_stream(frames, masks, options))
    folder = str(tmp_path / ".ck")
    ck = Checkpoint(folder, "digest", resume=False)
    with pytest.raises(_Interrupt):
        for _ in flowfill.remove_stream(_interrupting(frames, 17), masks, options, checkpoint=ck):
            pass
    assert sorted(os.listdir(folder)) == ["manifest.json", "window-00000000.npz",
                                          "window-00000006.npz"]
    calls = []
    real = pipeline.fill_window
    monkeypatch.setattr(pipeline, "fill_window", lambda *a, **k: calls.append(1) or real(*a, **k))
    stats = flowfill.Stats()
    again = list(flowfill.remove_stream(frames, masks, options, stats=stats,
                                        checkpoint=Checkpoint(folder, "digest", resume=True)))
    assert stats.resumed_frames == 12 and len(calls) == 2  # windows at 12 and 18 only
    assert all(np.array_equal(a, b) for a, b in zip(whole, again, strict=True))
    with pytest.raises(flowfill.InputError, match="other input or options"):
        Checkpoint(folder, "another digest", resume=True)


def _write_revealed_late(folder) -> None:
    """A 20-frame revealed-late clip as PNG frames in ``folder/in`` and masks in ``folder/mask``."""
    _, frames, masks = _revealed_late(20)
    for sub, items in (("in", frames), ("mask", masks)):
        (folder / sub).mkdir()
        for t, img in enumerate(items):
            pixels = (img * 255).round().astype(np.uint8) if sub == "in" else img * np.uint8(255)
            write_rgb(folder / sub / f"{t:03d}.png", pixels)


def _interrupt_window(monkeypatch, nth: int) -> list[int]:
    """Make the ``nth`` window fill raise KeyboardInterrupt (as Ctrl-C); returns the call log."""
    real = pipeline.fill_window
    calls: list[int] = []

    def dies(*a, **k):
        calls.append(1)
        if len(calls) == nth:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "fill_window", dies)
    return calls


def test_cli_resume_after_an_interruption(tmp_path, capsys, monkeypatch):
    _write_revealed_late(tmp_path)
    args = ["remove", str(tmp_path / "in"), "-m", str(tmp_path / "mask"), "--window", "8",
            "--overlap", "2", "--edges", "off", "-q"]
    assert cli.main(args + ["-o", str(tmp_path / "ref")]) == 0
    real = pipeline.fill_window
    calls = _interrupt_window(monkeypatch, 3)
    assert cli.main(args + ["-o", str(tmp_path / "out")]) == 130
    assert "--resume" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    kept = tmp_path / ".out.flowfill-resume"
    assert len(list(kept.glob("window-*.npz"))) == 2
    # other options: refused, exit 2, the kept windows untouched
    assert cli.main(args + ["-o", str(tmp_path / "out"), "--resume", "--alpha", "0.2"]) == 2
    assert "other input or options" in capsys.readouterr().err and kept.exists()
    calls.clear()
    monkeypatch.setattr(pipeline, "fill_window", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert cli.main(args + ["-o", str(tmp_path / "out"), "--resume"]) == 0
    assert len(calls) == 1 and not kept.exists()
    names = sorted(os.listdir(tmp_path / "ref"))
    assert names == sorted(os.listdir(tmp_path / "out")) and len(names) == 20
    for name in names:
        assert np.array_equal(read_rgb(tmp_path / "ref" / name), read_rgb(tmp_path / "out" / name))


# ------------------------------------------------------------------ depth end to end


@pytest.mark.parametrize("kind", ["png16", "exr"])
def test_deep_frames_stay_deep_through_windows(tmp_path, kind):
    """16-bit and float (above 1) frames come out at their depth, exact outside the mask and
    with the background put back inside it, across windows, overlap and reference frames."""
    import cv2

    bg, frames, masks = _revealed_late(14, leave=9)
    scale = 4.0 if kind == "exr" else 1.0  # scene-linear highlights above 1
    ext = ".exr" if kind == "exr" else ".png"
    (tmp_path / "in").mkdir()
    (tmp_path / "mask").mkdir()
    for t, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
        rgb = frame * scale
        pixels = rgb.astype(np.float32) if kind == "exr" else (rgb * 65535).round().astype(
            np.uint16)
        write_rgb(tmp_path / "in" / f"{t:03d}{ext}", pixels)
        write_rgb(tmp_path / "mask" / f"{t:03d}.png", mask * np.uint8(255))
    code = cli.main(["remove", str(tmp_path / "in"), "-m", str(tmp_path / "mask"), "-o",
                     str(tmp_path / "out"), "--window", "6", "--overlap", "2", "--edges", "off",
                     "-q"])
    assert code == 0
    for t in (0, 4, 8):
        src = cv2.imread(str(tmp_path / "in" / f"{t:03d}{ext}"), cv2.IMREAD_UNCHANGED)
        out = cv2.imread(str(tmp_path / "out" / f"{t:03d}{ext}"), cv2.IMREAD_UNCHANGED)
        assert out.dtype == src.dtype == (np.float32 if kind == "exr" else np.uint16)
        keep = ~masks[t]
        assert np.array_equal(out[keep], src[keep])
        peak = 1.0 if kind == "exr" else 65535.0
        got = out[:, :, ::-1].astype(np.float32) / peak / scale
        assert _psnr(got, bg, masks[t]) > 22  # a smooth guess scores about 19 here
        if kind == "exr":
            assert out.max() > 1.5  # highlights above 1 survive


# ------------------------------------------------------------------ non-finite pixels


def test_nan_and_inf_next_to_the_hole_never_spread():
    """Non-finite pixels are unknown: kept as they are outside the mask, filled inside it, and
    read by no stage (no numpy warning, nothing non-finite inside the mask)."""
    import warnings

    bg, frames, masks = _revealed_late(12, leave=8)
    bad = {(13, 25): np.nan, (20, 44): np.inf, (34, 30): -np.inf}  # just outside the mask
    for t in range(12):
        for (y, x), value in bad.items():
            frames[t][y, x, t % 3] = value
        frames[t][20, 30, 1] = np.nan  # inside the mask: filled like the rest of it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = flowfill.remove(frames, masks, window=6, overlap=2, edges="off", seed=0)
    for t in range(12):
        got, src, m = out[t], frames[t], masks[t]
        assert np.isfinite(got[m]).all()
        assert np.array_equal(got[~m], src[~m], equal_nan=True)  # NaN and Inf kept outside
        for (y, x), value in bad.items():
            assert np.array_equal(got[y, x, t % 3], value, equal_nan=True)
        if m.any():
            assert _psnr(got, bg, m) > 22  # the background, as for a clean plate


# ------------------------------------------------------------------ resume across versions


def test_fingerprint_follows_the_version_and_the_edge_weights_contents(tmp_path, monkeypatch):
    from flowfill.edges.complete import WEIGHTS
    from flowfill.resume import fingerprint

    weights = tmp_path / "edges.pt"
    weights.write_bytes(WEIGHTS.read_bytes())
    files = frozenset()
    on = Options(edges="on", edge_weights=str(weights))
    off = Options(edges="off", edge_weights=str(weights))
    before = {name: fingerprint(files, o, {}) for name, o in (("on", on), ("off", off))}
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same name, size and options; other contents
    weights.write_bytes(bytes(data))
    assert fingerprint(files, on, {}) != before["on"]
    assert fingerprint(files, off, {}) == before["off"]  # the net does not run
    assert fingerprint(files, Options(edges="auto", edge_weights=str(weights)), {}) != (
        fingerprint(files, Options(edges="auto"), {}))  # auto runs it: the shipped file differs
    monkeypatch.setattr(flowfill, "__version__", "99.0")
    assert fingerprint(files, off, {}) != before["off"]


def test_resume_refuses_windows_of_another_version(tmp_path, capsys, monkeypatch):
    _write_revealed_late(tmp_path)
    args = ["remove", str(tmp_path / "in"), "-m", str(tmp_path / "mask"), "--window", "8",
            "--overlap", "2", "--edges", "off", "-q", "-o", str(tmp_path / "out")]
    real = pipeline.fill_window
    _interrupt_window(monkeypatch, 2)
    assert cli.main(args) == 130
    kept = tmp_path / ".out.flowfill-resume"
    saved = sorted(os.listdir(kept))
    assert "window-00000000.npz" in saved
    monkeypatch.setattr(pipeline, "fill_window", real)
    version = flowfill.__version__
    monkeypatch.setattr(flowfill, "__version__", "99.0")
    capsys.readouterr()
    assert cli.main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(kept) in err
    assert f"left by flowfill {version} and this is flowfill 99.0" in err
    assert sorted(os.listdir(kept)) == saved and not (tmp_path / "out").exists()
    with pytest.raises(flowfill.InputError, match="an older flowfill"):  # no version recorded
        (kept / "manifest.json").write_text('{"version": 1, "digest": "x"}')
        Checkpoint(str(kept), "x", resume=True)
    assert cli.main(args) == 0  # without --resume: started over, in this version
    assert not kept.exists() and len(os.listdir(tmp_path / "out")) == 20


def test_resume_refuses_windows_of_other_edge_weights(tmp_path):
    from flowfill.resume import WindowRecord

    folder = str(tmp_path / ".ck")
    record = WindowRecord([np.zeros((2, 3), np.float32)], [], {"keyframes": 0})
    Checkpoint(folder, "d", resume=False,
               identity={"flowfill": flowfill.__version__, "edge_weights": "aa"}).save(0, record)
    same = Checkpoint(folder, "d", resume=True,
                      identity={"flowfill": flowfill.__version__, "edge_weights": "aa"})
    assert np.array_equal(same.load(0).outputs[0], record.outputs[0])
    with pytest.raises(flowfill.InputError, match="other edge-net weights"):
        Checkpoint(folder, "d", resume=True,
                   identity={"flowfill": flowfill.__version__, "edge_weights": "bb"})
