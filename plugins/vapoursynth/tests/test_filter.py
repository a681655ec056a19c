"""flowfill_vs.remove against the real VapourSynth core, and against ``flowfill remove``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import flowfill_vs
import numpy as np
import pytest
import vapoursynth as vs
from conftest import BIN, OPTIONS, ROOT, SAMPLE, Server, flowfill_command, run_cli
from flowfill_vs.connection import Connection

core = vs.core
EXAMPLE = ROOT / "plugins" / "vapoursynth" / "examples" / "remove_pngs.vpy"
TOL = 1e-5


def as_float(frames: np.ndarray) -> np.ndarray:
    """uint8 samples as flowfill reads 8-bit files: value / 255 in float32."""
    return frames.astype(np.float32) / np.float32(255)


def planes(frame: vs.VideoFrame) -> np.ndarray:
    """A frame's planes as H x W x planes."""
    return np.stack([np.asarray(frame[p]) for p in range(frame.format.num_planes)], axis=-1)


def clips(sample: tuple[np.ndarray, np.ndarray], fmt: int = vs.RGBS,
          count: int | None = None) -> tuple[vs.VideoNode, vs.VideoNode]:
    """The sample (its first ``count`` frames) as a clip of ``fmt`` and a GRAY8 mask clip."""
    frames, masks = sample
    frames, masks = frames[:count], masks[:count]
    data = {vs.RGBS: as_float(frames), vs.RGB24: frames,
            vs.RGB48: frames.astype(np.uint16) * 257,
            vs.RGB30: np.rint(as_float(frames) * 1023).astype(np.uint16)}[fmt]
    return (flowfill_vs.clip_from_arrays(list(data), fmt),
            flowfill_vs.clip_from_arrays(list(masks), vs.GRAY8))


def quantize8(rgb: np.ndarray) -> np.ndarray:
    """Float RGB as flowfill writes it to an 8-bit file."""
    return np.rint(np.clip(rgb, 0, 1) * np.float32(255)).astype(np.uint8)


def windows_filled(node: vs.VideoNode) -> int:
    """How many windows the server has filled for ``node`` so far."""
    return flowfill_vs.stats(node)["windows_filled"]


def filling_windows(count: int, options: dict[str, object]) -> int:
    """How many windows flowfill's plan fills for ``count`` frames without cuts (asked of the
    environment that has flowfill, next to ``$FLOWFILL_EXECUTABLE``)."""
    python = Path(flowfill_command()).parent / "python"
    code = ("import sys; from flowfill.plan import plan_windows; "
            "plan = plan_windows(int(sys.argv[1]), [], int(sys.argv[2]), int(sys.argv[3])); "
            "print(sum(not w.only_carry for w in plan))")
    done = subprocess.run([str(python), "-c", code, str(count), str(options["window"]),
                           str(options["overlap"])], capture_output=True, text=True, check=True)
    return int(done.stdout)


# -- the same answer as the CLI ------------------------------------------------------------


def test_linear_float_equals_cli_and_fills_each_window_once(sample, cli_reference):
    clip, mask = clips(sample)
    out = flowfill_vs.remove(clip, mask, **OPTIONS)
    assert out.format.id == vs.RGBS.value and out.num_frames == 30
    got = np.stack([planes(out.get_frame(n)) for n in range(out.num_frames)])
    assert np.abs(got - cli_reference).max() <= TOL
    assert filling_windows(30, OPTIONS) == 5
    assert windows_filled(out) == 5  # each window filled once


def test_backwards_rgb24_equals_cli(sample, cli_reference):
    """Scrubbing backwards (last frame first) still fills each window once."""
    clip, mask = clips(sample, vs.RGB24)
    out = flowfill_vs.remove(clip, mask, **OPTIONS)
    assert out.format.id == vs.RGB24.value
    got = {n: planes(out.get_frame(n)) for n in reversed(range(30))}
    assert windows_filled(out) == 5
    for n in range(30):
        assert got[n].dtype == np.uint8
        np.testing.assert_array_equal(got[n], quantize8(cli_reference[n]), err_msg=f"frame {n}")
        outside = sample[1][n] == 0
        np.testing.assert_array_equal(got[n][outside], sample[0][n][outside])


def test_window_boundary_and_random_access(sample, cli_reference):
    clip, mask = clips(sample)
    out = flowfill_vs.remove(clip, mask, **OPTIONS)
    # frame 7 lies in the overlap of windows 0..7 and 6..13: its value blends both
    assert np.abs(planes(out.get_frame(7)) - cli_reference[7]).max() <= TOL
    assert windows_filled(out) == 2
    for n in (6, 5, 0, 8, 11):  # all output by those two windows: served from the cache
        assert np.abs(planes(out.get_frame(n)) - cli_reference[n]).max() <= TOL
    assert windows_filled(out) == 2
    for n in (26, 13, 19, 2):  # jumps to windows no longer cached
        assert np.abs(planes(out.get_frame(n)) - cli_reference[n]).max() <= TOL, n


def test_shot_cut_inside_the_clip(sample, tmp_path):
    frames, masks = sample[0][:24].copy(), sample[1][:24]
    frames[12:] = 255 - frames[12:]  # a different shot from frame 12 on
    for name, data in (("frames", frames[:, :, :, ::-1]), ("masks", masks)):
        (tmp_path / name).mkdir()
        for n, pixels in enumerate(data):
            cv2.imwrite(str(tmp_path / name / f"{n:05d}.png"), pixels)
    expected = run_cli(tmp_path / "frames", tmp_path / "masks", tmp_path / "cli", OPTIONS)
    clip, mask = clips((frames, masks))
    out = flowfill_vs.remove(clip, mask, **OPTIONS)
    order = [13, 3, *range(24)]
    got = {n: planes(out.get_frame(n)) for n in order}
    assert flowfill_vs.stats(out)["cuts"] == [12]
    for n in range(24):
        assert np.abs(got[n] - expected[n]).max() <= TOL, n


def counted_script(folder: Path, log: Path) -> Path:
    """A vspipe script: the example, plus a line per frame with the windows filled so far."""
    script = folder / "counted.vpy"
    script.write_text(
        "import runpy\n"
        "import vapoursynth as vs\n"
        "import flowfill_vs\n"
        "args = {k: v for k, v in globals().items() if k in ('frames', 'masks', 'threads', "
        "'options')}\n"
        f"node = runpy.run_path({str(EXAMPLE)!r}, init_globals=args)['filtered']\n"
        "def count(n, f):\n"
        f"    with open({str(log)!r}, 'a') as fh:\n"
        "        fh.write(f'{flowfill_vs.stats(node)[\"windows_filled\"]}\\n')\n"
        "    return f\n"
        "vs.clear_output(0)\n"
        "node.std.ModifyFrame(node, count).set_output()\n"
    )
    return script


def run_vspipe(script: Path, frames: Path, masks: Path, out: Path, options: dict[str, object],
               env: dict[str, str], threads: int) -> int:
    """Run vspipe on ``script``; its peak resident memory in KiB."""
    cmd = [str(BIN / "vspipe"), "-a", f"frames={frames}", "-a", f"masks={masks}",
           "-a", f"threads={threads}", "-a", "options=" + json.dumps(options), str(script),
           str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        err = proc.stderr.read().decode() if proc.stderr else ""
    assert os.waitstatus_to_exitcode(status) == 0, err
    return usage.ru_maxrss


@pytest.mark.parametrize("threads", [4, 1])
def test_vspipe_writes_the_cli_result_filling_each_window_once(cli_reference, vs_env, tmp_path,
                                                               threads):
    raw, log = tmp_path / "out.raw", tmp_path / "windows.log"
    run_vspipe(counted_script(tmp_path, log), SAMPLE / "pan", SAMPLE / "pan_mask", raw,
               OPTIONS, vs_env, threads)
    # vspipe writes planar RGB in G, B, R order
    gbr = np.fromfile(raw, dtype=np.float32).reshape(30, 3, 180, 320)
    got = gbr[:, [2, 0, 1]].transpose(0, 2, 3, 1)
    assert np.abs(got - cli_reference).max() <= TOL
    counts = [int(line) for line in log.read_text().split()]
    assert len(counts) == 30 and max(counts) == 5  # linear: each window once


def test_400_frames_linearly_in_bounded_memory(sample, vs_env, tmp_path):
    """A 400-frame clip through vspipe: the render server and vspipe each peak where they do
    for a 100-frame one (<= 1.1x and 1.2x), and each window is filled once."""
    frames, masks = sample
    options = {"window": 40, "overlap": 4, "nonlocal_frames": 0, "edges": "off",
               "fill": "telea"}
    servers, clients = {}, {}
    for count in (100, 400):
        folder = tmp_path / str(count)
        for sub in ("f", "m", "server"):
            (folder / sub).mkdir(parents=True)
        for n in range(count):
            k = n % 58 if n % 58 < 30 else 58 - n % 58  # the sample clip back and forth
            cv2.imwrite(str(folder / "f" / f"{n:05d}.png"),
                        cv2.resize(frames[k][:, :, ::-1], (128, 72), interpolation=cv2.INTER_AREA))
            cv2.imwrite(str(folder / "m" / f"{n:05d}.png"),
                        cv2.resize(masks[k], (128, 72), interpolation=cv2.INTER_NEAREST))
        log = folder / "windows.log"
        server = Server(folder / "server")  # its own, so that its peak is this clip's
        try:
            clients[count] = run_vspipe(counted_script(folder, log), folder / "f", folder / "m",
                                        folder / "out.raw", options,
                                        dict(vs_env, FLOWFILL_SERVER=server.socket), threads=2)
        finally:
            servers[count] = server.stop()
        counts = [int(line) for line in log.read_text().split()]
        assert len(counts) == count
        assert max(counts) == filling_windows(count, options)  # once each
    # the server once kept every frame put during the first scan: 400 frames were 1.14x
    assert servers[400] <= 1.1 * servers[100], servers
    assert clients[400] <= 1.2 * clients[100], clients


# -- the render server ---------------------------------------------------------------------


def test_a_server_is_started_when_none_answers(sample, cli_reference, tmp_path, monkeypatch):
    """With nothing listening at the endpoint, remove() starts ``flowfill serve`` there (the
    command of $FLOWFILL_EXECUTABLE) and the result is the CLI's; a second node reuses it."""
    where = tmp_path / "run" / "server.sock"
    monkeypatch.setenv("FLOWFILL_SERVER", str(where))
    clip, mask = clips(sample)
    out = flowfill_vs.remove(clip, mask, **OPTIONS)
    try:
        assert where.is_socket() and (tmp_path / "run" / "server.sock.ready").exists()
        assert np.abs(planes(out.get_frame(29)) - cli_reference[29]).max() <= TOL
        again = flowfill_vs.remove(clip, mask, **OPTIONS)
        assert np.abs(planes(again.get_frame(0)) - cli_reference[0]).max() <= TOL
        with Connection(str(where), start=False) as probe:
            assert probe.call({"op": "status"})[0]["shots"] == 2  # the same server, both shots
    finally:
        with Connection(str(where), start=False) as probe:
            probe.call({"op": "shutdown"})


def test_no_server_and_no_flowfill_command_is_a_clear_error(sample, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWFILL_SERVER", str(tmp_path / "none.sock"))
    monkeypatch.setenv("FLOWFILL_EXECUTABLE", str(tmp_path / "no-such-flowfill"))
    clip, mask = clips(sample, count=8)
    with pytest.raises(flowfill_vs.FlowfillError, match="no render server answers.*"
                                                        "FLOWFILL_EXECUTABLE"):
        flowfill_vs.remove(clip, mask, **OPTIONS)
    with pytest.raises(flowfill_vs.FlowfillError, match="no render server answers at tcp://"):
        flowfill_vs.remove(clip, mask, server="tcp://127.0.0.1:9", **OPTIONS)


# -- formats, props, alpha -----------------------------------------------------------------

SMALL = {"window": 8, "overlap": 2, "nonlocal_frames": 0, "edges": "off", "fill": "telea"}


@pytest.mark.parametrize("fmt", [vs.RGB48, vs.RGB30, vs.RGBH], ids=["RGB48", "RGB30", "RGBH"])
def test_output_format_and_props_follow_the_input(sample, fmt):
    clip, mask = clips(sample, vs.RGBS if fmt == vs.RGBH else fmt, count=8)
    if fmt == vs.RGBH:
        clip = core.resize.Point(clip, format=vs.RGBH)
    clip = core.std.SetFrameProps(clip, _Matrix=0, _Primaries=1, _DurationNum=1001,
                                  _DurationDen=30000, Note="kept")
    out = flowfill_vs.remove(clip, mask, **SMALL)
    assert out.format.id == fmt.value
    for n in (5, 0):
        src, res = clip.get_frame(n), out.get_frame(n)
        assert dict(res.props) == dict(src.props)
        a, b = planes(src), planes(res)
        assert b.dtype == a.dtype
        outside = sample[1][n] == 0
        np.testing.assert_array_equal(b[outside], a[outside])
        assert (b[~outside] != a[~outside]).any()


def test_alpha_from_prop_or_clip_equals_mask(sample):
    clip, mask = clips(sample, count=8)
    want = flowfill_vs.remove(clip, mask, **SMALL)
    with_prop = core.std.ClipToProp(clip, mask, prop="_Alpha")
    by_prop = flowfill_vs.remove(with_prop, **SMALL)
    by_clip = flowfill_vs.remove(clip, alpha=mask, **SMALL)
    for n in (0, 7):
        expected = planes(want.get_frame(n))
        np.testing.assert_array_equal(planes(by_prop.get_frame(n)), expected)
        np.testing.assert_array_equal(planes(by_clip.get_frame(n)), expected)
        assert "_Alpha" in by_prop.get_frame(n).props  # the alpha rides along
    with pytest.raises(vs.Error, match="no mask given.*_Alpha"):
        flowfill_vs.remove(clip, **SMALL)


# -- clear errors at call time -------------------------------------------------------------


def test_mask_of_the_wrong_size_length_or_format(sample):
    clip, mask = clips(sample, count=8)
    small = core.resize.Point(mask, 160, 90)
    with pytest.raises(flowfill_vs.FlowfillError, match="mask is 160x90 but the clip is 320x180"):
        flowfill_vs.remove(clip, small)
    with pytest.raises(ValueError, match="mask has 4 frames but the clip has 8"):
        flowfill_vs.remove(clip, mask[:4])
    with pytest.raises(vs.Error, match="must be GRAY"):
        flowfill_vs.remove(clip, clip)
    with pytest.raises(vs.Error, match="either mask or alpha"):
        flowfill_vs.remove(clip, mask, alpha=mask)


def test_yuv_gray_and_variable_clips_are_refused(sample):
    clip, mask = clips(sample, count=8)
    yuv = core.resize.Bicubic(clip, format=vs.YUV420P8, matrix_s="709")
    with pytest.raises(vs.Error, match=r"YUV420P8 \(YUV\).*needs RGB.*resize\.Bicubic"):
        flowfill_vs.remove(yuv, mask)
    with pytest.raises(ValueError, match=r"Gray8 \(GRAY\).*needs RGB"):
        flowfill_vs.remove(mask, mask)
    variable = core.std.Splice([clip, core.resize.Point(clip, 160, 90)], mismatch=True)
    with pytest.raises(vs.Error, match="variable format or size"):
        flowfill_vs.remove(variable, None)


@pytest.mark.parametrize("options, message", [
    ({"window": 1}, "--window: needs at least 2 frames"),
    ({"window": 8, "overlap": 8}, "--overlap: must be smaller"),
    ({"fill": "magic"}, "unknown fill 'magic'"),
    ({"windwo": 8}, r"unknown option\(s\) \['windwo'\]"),
    ({"flow": "raft", "raft_weights": "/nonexistent/raft.pth"}, "raft.pth"),
    ({"device": "tpu"}, "tpu"),
])
def test_bad_options_fail_at_call_time(sample, options, message):
    clip, mask = clips(sample, count=8)
    with pytest.raises(flowfill_vs.FlowfillError, match=message):
        flowfill_vs.remove(clip, mask, **options)


def test_errors_while_filling_come_back_as_frame_errors(sample):
    """A source frame that fails while a window is filled is a VapourSynth error naming it,
    for that request and the next (no hang, no crash)."""
    frames, masks = sample[0][:8], sample[1][:8]

    def frame(n: int) -> np.ndarray:
        if n == 3:
            raise RuntimeError("frame 3 is unreadable")
        return as_float(frames[n])

    clip = flowfill_vs.clip_from_arrays(frame, vs.RGBS, length=8)
    out = flowfill_vs.remove(clip, flowfill_vs.clip_from_arrays(list(masks), vs.GRAY8), **SMALL)
    for n in (0, 5):
        with pytest.raises(vs.Error, match="frame 3 is unreadable"):
            out.get_frame(n)
