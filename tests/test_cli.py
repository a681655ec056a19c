"""The flowfill command: a real run, one-line errors with nothing written, atomic output."""

from __future__ import annotations

import hashlib
import os
import sys
import types
from fractions import Fraction

import numpy as np
import pytest
from conftest import (
    hole_psnr,
    read_rgb,
    square_masks,
    synthetic_frames,
    trivial_fills,
    write_audio_only,
    write_movie,
    write_rgb,
)

import flowfill
from flowfill import cli
from flowfill.errors import InputError
from flowfill.io import open_frames

H, W, N = 48, 64, 6


@pytest.fixture
def shot(tmp_path):
    """Six 48x64 PNG frames with a moving square, and a folder of masks over the square."""
    frames, masks = synthetic_frames(N, H, W), square_masks(N, H, W)
    (tmp_path / "in").mkdir()
    (tmp_path / "mask").mkdir()
    for i, (img, m) in enumerate(zip(frames, masks, strict=True)):
        write_rgb(tmp_path / "in" / f"f{i + 1:03d}.png", img)
        write_rgb(tmp_path / "mask" / f"m{i + 1:03d}.png", m.astype(np.uint8) * 255)
    return tmp_path, frames, masks


def run(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def tree_digest(*roots) -> dict[str, str]:
    digest = {}
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as fh:
                    digest[path] = hashlib.sha256(fh.read()).hexdigest()
    return digest


def test_removes_the_square_and_keeps_everything_else(shot, capsys):
    tmp, frames, masks = shot
    before = tree_digest(tmp / "in", tmp / "mask")
    # --grain off: the background's static per-pixel noise reads as film grain, and grain
    # matched to it (right in look) costs up to 3 dB of PSNR against this one realisation
    code, out, err = run(["remove", tmp / "in", "--mask", tmp / "mask", "-o", tmp / "out",
                          "--grain", "off"], capsys)
    assert code == 0, err
    names = sorted(os.listdir(tmp / "out"))
    assert names == [f"f{i + 1:03d}.png" for i in range(N)]
    truth = synthetic_frames(N, H, W, square=False)  # the background behind the square
    ours, telea = [], []
    for name, img, m, bg in zip(names, frames, masks, truth, strict=True):
        result = read_rgb(tmp / "out" / name)
        assert result.shape == (H, W, 3) and result.dtype == np.uint8
        assert np.array_equal(result[~m], img[~m])  # bit-exact outside the hole
        # the background in the hole: about 28-30 dB here; the square left in scores 7-8,
        # black 9-10, the frame's mean colour 12-16
        got = hole_psnr(result, bg, m, 255)
        trivial = {k: hole_psnr(v, bg, m, 255) for k, v in trivial_fills(img, m).items()}
        assert got > 24 and got > trivial["mean"] + 8, (name, got, trivial)
        ours.append(got)
        telea.append(trivial["telea"])
    # and no worse than OpenCV's Telea inpainting of each frame (27.5-28 dB) on the whole
    assert np.mean(ours) > np.mean(telea) - 1, (ours, telea)
    assert tree_digest(tmp / "in", tmp / "mask") == before  # the input is never modified
    assert out == ""
    assert f"{N} frames" in err and "hole pixels" in err and "propagation" in err
    assert "hallucination" in err and "s/frame" in err and str(tmp / "out") in err
    assert sorted(os.listdir(tmp)) == ["in", "mask", "out"]


def test_quiet_prints_nothing(shot, capsys):
    tmp, _, _ = shot
    code, out, err = run(
        ["remove", tmp / "in", "--mask", tmp / "mask", "-o", tmp / "o.mp4", "--quiet"], capsys
    )
    assert (code, out, err) == (0, "", "")
    assert open_frames(tmp / "o.mp4").info.count == N


def test_movie_in_movie_out_keeps_audio(tmp_path, capsys):
    src = write_movie(tmp_path / "in.mp4", synthetic_frames(N, H, W), audio="aac",
                      rate=Fraction(25))
    write_rgb(tmp_path / "logo.png", square_masks(1, H, W)[0].astype(np.uint8) * 255)
    code, _, err = run(["remove", src, "-m", tmp_path / "logo.png", "-o", tmp_path / "out.mov",
                        "-q"], capsys)
    assert code == 0, err
    import av

    with av.open(str(tmp_path / "out.mov")) as c:
        assert c.streams.video[0].codec_context.name == "prores"
        assert c.streams.audio[0].codec_context.name == "aac"
    back = open_frames(tmp_path / "out.mov")
    assert back.info.count == N and back.info.fps == 25


def test_alpha_mask_and_fps(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    pairs = zip(synthetic_frames(N, H, W), square_masks(N, H, W), strict=True)
    for i, (rgb, m) in enumerate(pairs):
        write_rgb(tmp_path / "in" / f"{i}.png", np.dstack([rgb, m.astype(np.uint8) * 255]))
    code, _, err = run(["remove", tmp_path / "in", "-m", "alpha", "-o", tmp_path / "o.mp4",
                        "--fps", "23.976", "-q"], capsys)
    assert code == 0, err
    assert open_frames(tmp_path / "o.mp4").info.fps == Fraction(24000, 1001)


# ---------------------------------------------------------------- bad input


def _corrupt(tmp):
    path = tmp / "in" / "f003.png"
    path.write_bytes(path.read_bytes()[:50])
    return ["remove", tmp / "in", "-m", tmp / "mask"], "f003.png"


def _mask_image(tmp, values, name="m.png"):
    write_rgb(tmp / name, values)
    return ["remove", tmp / "in", "-m", tmp / name], name


def _folder_of(tmp, count):
    (tmp / "few").mkdir()
    for i, m in enumerate(square_masks(count, H, W)):
        write_rgb(tmp / "few" / f"{i}.png", m.astype(np.uint8) * 255)
    return ["remove", tmp / "in", "-m", tmp / "few"], "few"


def _movie_input(tmp, frames, audio, name):
    path = write_movie(tmp / name, frames, audio=audio)
    return ["remove", path, "-m", tmp / "mask"], name


def _audio_only(tmp):
    path = write_audio_only(tmp / "sound.m4a")
    return ["remove", path, "-m", tmp / "mask"], "sound.m4a"


def _damaged(tmp):
    from test_io import wipe_packets

    path = write_movie(tmp / "cam.mp4", synthetic_frames(N, H, W), audio=None)
    wipe_packets(path, 4)
    write_rgb(tmp / "one.png", square_masks(1, H, W)[0].astype(np.uint8) * 255)
    return ["remove", path, "-m", tmp / "one.png"], "cam.mp4: cannot decode frame 2"


def _with(*extra, names):
    return lambda tmp: (["remove", tmp / "in", "-m", tmp / "mask", *extra], names)


CASES = {
    "missing input": lambda tmp: (["remove", tmp / "nope", "-m", tmp / "mask"], "nope"),
    "missing mask": lambda tmp: (["remove", tmp / "in", "-m", tmp / "nomask.png"], "nomask.png"),
    "mask size": lambda tmp: _mask_image(tmp, np.full((30, 20), 255, np.uint8)),
    "mask count": lambda tmp: _folder_of(tmp, 4),
    "empty mask": lambda tmp: _mask_image(tmp, np.zeros((H, W), np.uint8)),
    "full mask": lambda tmp: _mask_image(tmp, np.full((H, W), 255, np.uint8)),
    "corrupt frame": _corrupt,
    "zero-length movie": lambda tmp: _movie_input(tmp, [], "aac", "empty.mkv"),
    "no video": _audio_only,
    "not a movie": lambda tmp: ((tmp / "junk.mov").write_bytes(b"junk" * 40) and None) or (
        ["remove", tmp / "junk.mov", "-m", tmp / "mask"], "junk.mov"),
    "unknown flow": _with("--flow", "farneback", names="--flow"),
    "unknown fill": _with("--fill", "magic", names="--fill"),
    "bad fill budget": _with("--fill", "dip", "--fill-budget", "0", names="--fill-budget"),
    "bad tiny hole": _with("--tiny-hole", "-3", names="--tiny-hole"),
    "raft without weights": _with("--flow", "raft", names="--raft-weights"),
    "missing raft weights": lambda tmp: _with("--flow", "raft-small", "--raft-weights",
                                              tmp / "none.pth", names="none.pth")(tmp),
    "junk raft weights": lambda tmp: ((tmp / "w.pth").write_bytes(b"not a checkpoint") and None)
    or _with("--flow", "raft", "--raft-weights", tmp / "w.pth", names="w.pth")(tmp),
    "bad non-local count": _with("--nonlocal-frames", "-1", names="--nonlocal-frames"),
    "unknown edges mode": _with("--edges", "sometimes", names="--edges"),
    "missing edge weights": lambda tmp: _with("--edge-weights", tmp / "none.pt",
                                              names="none.pt")(tmp),
    "junk edge weights": lambda tmp: ((tmp / "e.pt").write_bytes(b"not a checkpoint") and None)
    or _with("--edges", "on", "--edge-weights", tmp / "e.pt", names="e.pt")(tmp),
    "not an int": _with("--window", "abc", names="--window"),
    "overlap": _with("--window", "4", "--overlap", "4", names="--overlap"),
    "bad device": _with("--device", "tpu", names="--device"),
    "bad fps": _with("--fps", "fast", names="--fps"),
    "missing --mask": lambda tmp: (["remove", tmp / "in"], "--mask"),
    "empty --frames": _with("--frames", "4:2", names="--frames"),
    "not a --frames range": _with("--frames", "2-4", names="--frames"),
    "--frames past the end": _with("--frames", "6:", names="--frames"),
    "masks fit neither range": lambda tmp: _folder_of(tmp, 4)[0][:4] and (
        ["remove", tmp / "in", "-m", tmp / "few", "--frames", "1:4"], "--frames"),
    "damaged movie": _damaged,
}


@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing"])
@pytest.mark.parametrize("output", ["out.mp4", "out"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(shot, capsys, case, output, existing):
    tmp, _, _ = shot
    argv, names = CASES[case](tmp)
    target = tmp / output
    if existing:
        if output == "out":
            target.mkdir()
            (target / "f001.png").write_bytes(b"old frame")
        else:
            target.write_bytes(b"old movie")
    before = tree_digest(tmp)
    listing = sorted(os.listdir(tmp))
    code, out, err = run([*argv, "-o", target], capsys)
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowfill: error: "), err
    assert names in lines[0]
    assert out == ""
    assert sorted(os.listdir(tmp)) == listing  # no output, no temporary files
    assert tree_digest(tmp) == before  # inputs and an existing output untouched


def test_cuda_request_without_cuda(shot, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    tmp, _, _ = shot
    code, _, err = run(["remove", tmp / "in", "-m", tmp / "mask", "-o", tmp / "o",
                        "--device", "cuda"], capsys)
    assert code == 2 and err.startswith("flowfill: error: --device: ") and err.count("\n") == 1
    assert not (tmp / "o").exists()


def test_fps_with_a_movie_input_is_refused(tmp_path, capsys):
    src = write_movie(tmp_path / "in.mp4", synthetic_frames(N, H, W), audio=None)
    write_rgb(tmp_path / "m.png", square_masks(1, H, W)[0].astype(np.uint8) * 255)
    code, _, err = run(["remove", src, "-m", tmp_path / "m.png", "-o", tmp_path / "o.mp4",
                        "--fps", "30"], capsys)
    assert code == 2 and "--fps" in err
    assert not (tmp_path / "o.mp4").exists()


def test_output_onto_the_input_is_refused(shot, capsys):
    tmp, _, _ = shot
    before = tree_digest(tmp)
    code, _, err = run(["remove", tmp / "in", "-m", tmp / "mask", "-o", tmp / "in"], capsys)
    assert code == 2 and "input" in err
    assert tree_digest(tmp) == before


# ---------------------------------------------------------------- atomic output


def _failing_pipeline(error: BaseException):
    def remove_stream(frames, masks, options, progress=None, stats=None, **_):
        for i, (frame, _) in enumerate(zip(frames, masks, strict=True)):
            if i == 2:
                raise error
            yield frame

    return remove_stream


@pytest.mark.parametrize("output", ["out.mp4", "out.mov", "out", "out/x.%04d.png"])
def test_pipeline_failure_midway_leaves_nothing(shot, capsys, monkeypatch, output):
    tmp, _, _ = shot
    monkeypatch.setattr(cli, "remove_stream", _failing_pipeline(InputError(None, "went wrong")))
    code, _, err = run(["remove", tmp / "in", "-m", tmp / "mask", "-o", tmp / output], capsys)
    assert code == 2 and err == "flowfill: error: went wrong\n"
    assert sorted(os.listdir(tmp)) == ["in", "mask"]


def test_interrupt_leaves_nothing(shot, capsys, monkeypatch):
    tmp, _, _ = shot
    monkeypatch.setattr(cli, "remove_stream", _failing_pipeline(KeyboardInterrupt()))
    code, _, err = run(["remove", tmp / "in", "-m", tmp / "mask", "-o", tmp / "o.mkv"], capsys)
    assert code == 130 and err.count("\n") == 1
    assert sorted(os.listdir(tmp)) == ["in", "mask"]


# ---------------------------------------------------------------- the rest of the command


def test_version(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and flowfill.__version__ in out


def test_no_command_shows_help(capsys):
    code, _, err = run([], capsys)
    assert code == 2 and "remove" in err


def test_evaluate_forwards_its_arguments(capsys, monkeypatch):
    seen = []
    fake = types.ModuleType("flowfill.evaluate.benchmark")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "flowfill.evaluate.benchmark", fake)
    code, _, _ = run(["evaluate", "--clips", "x", "--help"], capsys)
    assert code == 0 and seen == [["--clips", "x", "--help"]]


def test_fps_parsing():
    assert cli.parse_fps("29.97") == Fraction(30000, 1001)
    assert cli.parse_fps("24000/1001") == Fraction(24000, 1001)
    assert cli.parse_fps("25") == 25
    with pytest.raises(InputError):
        cli.parse_fps("0")


def test_method_switches_reach_the_options():
    from flowfill.cli import build_parser, options_from_args

    args = build_parser().parse_args(
        ["remove", "in", "-m", "m", "-o", "o.mp4", "--no-object-flow", "--consistency",
         "--window", "12", "--overlap", "3", "--edges", "off", "--edge-weights", "w.pt",
         "--no-refine-hops", "--no-flow-prefill", "--rounds", "1"])
    opts = options_from_args(args)
    assert (opts.object_flow, opts.consistency, opts.window, opts.overlap) == (False, True, 12, 3)
    assert (opts.edges, opts.edge_weights, opts.refine_hops) == ("off", "w.pt", False)
    assert not opts.flow_prefill and opts.rounds == 1
    defaults = options_from_args(build_parser().parse_args(["remove", "in", "-m", "m", "-o", "o"]))
    assert defaults.object_flow and not defaults.consistency and defaults.refine_hops
    assert defaults.flow_prefill and defaults.rounds == 2


# ---------------------------------------------------------------- damaged movies, --frames


def test_damaged_movie_names_the_frame_and_frames_processes_the_readable_part(tmp_path, capsys):
    from test_io import truncated_movie

    frames = synthetic_frames(12, H, W)
    path = truncated_movie(tmp_path / "cam.mov", frames, keep=8)
    write_rgb(tmp_path / "m.png", square_masks(1, H, W)[0].astype(np.uint8) * 255)
    argv = ["remove", path, "-m", tmp_path / "m.png", "-o", tmp_path / "out", "--edges", "off"]
    code, _, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "cam.mov: decoding failed at frame 6" in err and "--frames 0:6" in err
    assert "masks" not in err and not (tmp_path / "out").exists()
    code, _, err = run([*argv, "--frames", "0:6", "-q"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == [f"{i:05d}.png" for i in range(1, 7)]


def test_frames_narrows_the_clip_and_its_mask_folder_alike(shot, capsys):
    tmp, frames, masks = shot
    code, _, err = run(["remove", tmp / "in", "-m", tmp / "mask", "-o", tmp / "out",
                        "--frames", "2:5", "--edges", "off", "--grain", "off", "-q"], capsys)
    assert code == 0, err
    names = sorted(os.listdir(tmp / "out"))
    assert names == ["f003.png", "f004.png", "f005.png"]  # named like the frames they are
    truth = synthetic_frames(N, H, W, square=False)
    for name, t in zip(names, range(2, 5), strict=True):
        result = read_rgb(tmp / "out" / name)
        m = masks[t]  # the mask of the same input frame
        assert np.array_equal(result[~m], frames[t][~m])
        got = hole_psnr(result, truth[t], m, 255)
        mean_fill = hole_psnr(trivial_fills(frames[t], m)["mean"], truth[t], m, 255)
        assert got > 23 and got > mean_fill + 8, (name, got, mean_fill)  # 26-27.5 against 14-15
    # masks made for the selection only are taken as they are
    (tmp / "sel").mkdir()
    for j, t in enumerate(range(3, 6)):
        write_rgb(tmp / "sel" / f"{j}.png", masks[t].astype(np.uint8) * 255)
    code, _, err = run(["remove", tmp / "in", "-m", tmp / "sel", "-o", tmp / "out2",
                        "--frames=-3:", "--edges", "off", "-q"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp / "out2")) == ["f004.png", "f005.png", "f006.png"]
    result = read_rgb(tmp / "out2" / "f006.png")
    assert np.array_equal(result[~masks[5]], frames[5][~masks[5]])


def test_frames_of_a_movie_keep_their_audio_span(tmp_path, capsys):
    import av

    frames = synthetic_frames(24, H, W)
    src = write_movie(tmp_path / "in.mkv", frames, audio="aac", rate=Fraction(24))
    write_rgb(tmp_path / "m.png", square_masks(1, H, W)[0].astype(np.uint8) * 255)
    code, _, err = run(["remove", src, "-m", tmp_path / "m.png", "-o", tmp_path / "out.mov",
                        "--frames", "6:18", "--edges", "off", "-q"], capsys)
    assert code == 0, err
    with av.open(str(tmp_path / "out.mov")) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        got = [f.to_ndarray(format="rgb24", threads=1) for f in c.decode(video)]
        c.seek(0)
        packets = [p for p in c.demux(audio) if p.size]
    assert len(got) == 12
    keep = ~square_masks(1, H, W)[0]
    decoded = [(f * 255).round().astype(np.uint8) for f in open_frames(src)]
    for j, img in enumerate(got):  # frame j of the output is frame 6 + j of the input
        errors = [np.abs(img[keep].astype(int) - decoded[t][keep]).mean()
                  for t in (5 + j, 6 + j, 7 + j)]
        assert errors[1] < 2.5 and min(errors[0], errors[2]) > 3 * errors[1], errors
    starts = [float(p.pts * p.time_base) for p in packets]
    end = float((packets[-1].pts + packets[-1].duration) * packets[-1].time_base)
    first_pts = min(starts)
    assert -0.05 <= first_pts <= 0.05 and abs(end - 0.5) <= 0.05, (first_pts, end)


# ---------------------------------------------------------------- killed and earlier runs


def test_rerun_cleans_what_killed_and_longer_runs_left(shot, capsys):
    from test_io import dead_pid

    from flowfill.io.atomic import HOST

    tmp, frames, masks = shot
    argv = ["remove", tmp / "in", "-m", tmp / "mask", "-o", tmp / "out", "--edges", "off", "-q"]
    assert run(argv, capsys)[0] == 0
    assert len(os.listdir(tmp / "out")) == N
    dead = tmp / f".out.tmp-{HOST}-{dead_pid()}-0badf00d"
    live = tmp / f".out.tmp-{HOST}-{os.getpid()}-12345678"
    for temp in (dead, live):
        temp.mkdir()
        (temp / "f001.png").write_bytes(b"partial")
    code, _, err = run([*argv, "--resume", "--frames", "1:3"], capsys)
    assert code == 0, err
    assert not dead.exists() and live.exists()  # a live run's temporary is never touched
    assert len(os.listdir(tmp / "out")) == N  # a part of the shot: the other frames stay
    # the input is now three frames: the three frames after them are an earlier run's
    for sub in ("in", "mask"):
        for name in sorted(os.listdir(tmp / sub))[3:]:
            os.remove(tmp / sub / name)
    assert run(argv, capsys)[0] == 0
    assert sorted(os.listdir(tmp / "out")) == ["f001.png", "f002.png", "f003.png"]
    result = read_rgb(tmp / "out" / "f003.png")
    assert np.array_equal(result[~masks[2]], frames[2][~masks[2]])
