"""flowfill.io: frame sources and atomic sinks (images, sequences, movies with audio)."""

from __future__ import annotations

import os
from fractions import Fraction

import av
import numpy as np
import pytest
from conftest import read_rgb, synthetic_frames, write_audio_only, write_movie, write_rgb

from flowfill.errors import InputError
from flowfill.io import natural_key, open_frames, open_sink
from flowfill.io.images import depth_for


def copy_through(source, out, **kwargs) -> None:
    with open_sink(out, source, **kwargs) as sink:
        for frame in source:
            sink.write(frame)


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------- images and sequences


def test_png8_reads_to_unit_range_and_round_trips_bit_exactly(clip_dir, tmp_path):
    folder, frames = clip_dir
    source = open_frames(folder)
    info = source.info
    assert (info.kind, info.count, info.width, info.height, info.dtype) == (
        "sequence", 6, 48, 32, "uint8")
    got = list(source)
    assert got[0].dtype == np.float32 and got[0].shape == (32, 48, 3)
    assert np.array_equal(got[2], frames[2].astype(np.float32) / 255)  # RGB order, /255
    copy_through(source, tmp_path / "out")
    assert listing(tmp_path / "out") == listing(folder)  # named like the input's frames
    for name in listing(folder):
        assert np.array_equal(read_rgb(tmp_path / "out" / name), read_rgb(folder / name))


def test_jpeg_round_trip_is_close(tmp_path):
    folder = tmp_path / "jpg"
    folder.mkdir()
    frames = synthetic_frames(3)
    for i, img in enumerate(frames):
        write_rgb(folder / f"f{i}.jpg", img)
    source = open_frames(folder)
    assert source.info.dtype == "uint8"
    copy_through(source, tmp_path / "out")
    for name in listing(folder):
        a = read_rgb(folder / name).astype(int)
        b = read_rgb(tmp_path / "out" / name).astype(int)
        assert np.abs(a - b).mean() < 3


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_round_trips_bit_exactly(tmp_path, ext):
    folder = tmp_path / "deep"
    folder.mkdir()
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 65536, (32, 48, 3), dtype=np.uint16) for _ in range(3)]
    for i, img in enumerate(frames):
        write_rgb(folder / f"f{i}{ext}", img)
    source = open_frames(folder)
    assert source.info.dtype == "uint16"
    assert np.array_equal(next(iter(source)), frames[0].astype(np.float32) / 65535)
    copy_through(source, tmp_path / "out")
    for i, img in enumerate(frames):
        back = read_rgb(tmp_path / "out" / f"f{i}{ext}")
        assert back.dtype == np.uint16 and np.array_equal(back, img)


def test_float_exr_round_trips_bit_exactly_above_one(tmp_path):
    folder = tmp_path / "exr"
    folder.mkdir()
    rng = np.random.default_rng(2)
    frames = [(rng.random((32, 48, 3)) * 4).astype(np.float32) for _ in range(3)]
    for i, img in enumerate(frames):
        write_rgb(folder / f"shot.{i + 1001:04d}.exr", img)
    source = open_frames(folder / "shot.%04d.exr")
    assert source.info.dtype == "float32" and source.info.numbers == [1001, 1002, 1003]
    got = list(source)
    assert got[1].max() > 1 and np.array_equal(got[1], frames[1])
    copy_through(source, tmp_path / "out" / "res.%04d.exr")
    for i, img in enumerate(frames):
        back = read_rgb(tmp_path / "out" / f"res.{i + 1001:04d}.exr")
        assert back.dtype == np.float32 and np.array_equal(back, img)


def _dpx10(path, rgb16: np.ndarray) -> None:
    frame = av.VideoFrame.from_ndarray(rgb16, format="rgb48le").reformat(format="gbrp10le",
                                                                         threads=1)
    ctx = av.CodecContext.create("dpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = rgb16.shape[1], rgb16.shape[0], \
        "gbrp10le", 1
    frame.pts = 0
    path.write_bytes(b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)]))


def _planes(path) -> np.ndarray:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        assert frame.format.name == "gbrp10le"
        h, w = frame.height, frame.width
        return np.stack([np.frombuffer(p, np.uint16).reshape(h, -1)[:, :w]
                         for p in frame.planes])


def test_ten_bit_dpx_round_trips_bit_exactly(tmp_path):
    folder = tmp_path / "scan"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):
        _dpx10(folder / f"reel.{i:05d}.dpx", rng.integers(0, 65536, (32, 48, 3), dtype=np.uint16))
    source = open_frames(folder)
    assert (source.info.dtype, source.info.bits) == ("uint16", 10)
    copy_through(source, tmp_path / "out")
    for name in listing(folder):
        assert np.array_equal(_planes(tmp_path / "out" / name), _planes(folder / name))


def test_grey_image_becomes_three_channels(tmp_path):
    grey = synthetic_frames(1)[0][:, :, 0]
    write_rgb(tmp_path / "g.png", grey)
    frame = next(iter(open_frames(tmp_path / "g.png")))
    assert frame.shape == (32, 48, 3)
    assert np.array_equal(frame[:, :, 0], frame[:, :, 2])


def test_printf_pattern_and_hashes_find_frames_with_a_gap(tmp_path):
    frames = synthetic_frames(3)
    for n, img in zip((1, 2, 5), frames, strict=True):
        write_rgb(tmp_path / f"shot.{n:04d}.png", img)
    write_rgb(tmp_path / "shot.12.png", frames[0])  # not %04d: ignored
    for spec in ("shot.%04d.png", "shot.####.png"):
        source = open_frames(tmp_path / spec)
        assert source.info.count == 3 and source.info.numbers == [1, 2, 5]
        got = list(source)
        assert np.array_equal(got[2], frames[2].astype(np.float32) / 255)
    copy_through(open_frames(tmp_path / "shot.%04d.png"), tmp_path / "out" / "clean.%03d.png")
    assert listing(tmp_path / "out") == ["clean.001.png", "clean.002.png", "clean.005.png"]


def test_folder_is_natural_sorted_and_skips_hidden_and_other_files(tmp_path):
    frames = synthetic_frames(3)
    for n, img in zip((10, 2, 1), frames, strict=True):
        write_rgb(tmp_path / f"frame{n}.png", img)
    write_rgb(tmp_path / ".frame0.png", frames[0])
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "sub.png").mkdir()
    source = open_frames(tmp_path)
    assert [os.path.basename(p) for p in source.info.paths] == [
        "frame1.png", "frame2.png", "frame10.png"]
    assert sorted(["frame10", "frame2", "Frame1"], key=natural_key) == [
        "Frame1", "frame2", "frame10"]


def test_source_can_be_iterated_twice(clip_dir):
    source = open_frames(clip_dir[0])
    first, second = list(source), list(source)
    assert len(first) == len(second) == 6
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_depth_follows_what_the_format_holds():
    assert depth_for(".png", "uint16") == "uint16"
    assert depth_for(".jpg", "uint16") == "uint8"
    assert depth_for(".png", "float32") == "uint16"
    assert depth_for(".exr", "uint8") == "float32"
    assert depth_for(".tif", "float32") == "float32"


def test_rgba_png_keeps_alpha_aside(tmp_path):
    rgb = synthetic_frames(1)[0]
    alpha = np.zeros((32, 48), np.uint8)
    alpha[5:9, 7:20] = 255
    write_rgb(tmp_path / "a.png", np.dstack([rgb, alpha]))
    source = open_frames(tmp_path / "a.png")
    assert source.info.has_alpha
    assert np.array_equal(next(iter(source)), rgb.astype(np.float32) / 255)
    assert np.array_equal(next(source.alphas()), alpha > 0)


# ---------------------------------------------------------------- movies


def _packets(path, kind):
    with av.open(str(path)) as c:
        stream = getattr(c.streams, kind)[0]
        packets = [(p.pts, p.duration) for p in c.demux(stream) if p.size]
        tb = stream.time_base
    return packets, tb


@pytest.mark.parametrize(
    ("ext", "audio"), [(".mp4", "aac"), (".mov", "pcm_s16le"), (".mkv", "aac")]
)
def test_movie_round_trip_keeps_audio_rate_and_timecode(tmp_path, ext, audio):
    frames = synthetic_frames(6)
    src = write_movie(tmp_path / f"in{ext}", frames, audio=audio, rate=Fraction(24000, 1001),
                      timecode="01:00:10:00")
    source = open_frames(src)
    info = source.info
    assert (info.kind, info.count, info.width, info.height, info.dtype) == (
        "movie", 6, 48, 32, "uint8")
    assert info.fps == Fraction(24000, 1001)
    out = tmp_path / f"out{ext}"
    copy_through(source, out)
    assert listing(tmp_path) == sorted([f"in{ext}", f"out{ext}"])  # no temporary left
    back = open_frames(out)
    assert back.info.count == 6 and back.info.fps == Fraction(24000, 1001)
    got = list(back)
    assert len(got) == 6
    for a, b in zip(source, got, strict=True):  # within codec tolerance of the decoded input
        assert np.abs(a - b).mean() < 0.01 and np.abs(a - b).max() < 0.25
    with av.open(src) as c_in, av.open(str(out)) as c_out:
        assert c_out.streams.audio[0].codec_context.name == audio
        assert c_in.streams.audio[0].codec_context.name == audio
        tags = {k.lower(): v for k, v in c_out.streams.video[0].metadata.items()}
        tags.update({k.lower(): v for k, v in c_out.metadata.items()})
        assert tags.get("timecode") == "01:00:10:00"
    (p_in, tb_in), (p_out, tb_out) = _packets(src, "audio"), _packets(out, "audio")
    assert len(p_in) == len(p_out)
    dur_in = sum(d for _, d in p_in) * tb_in
    dur_out = sum(d for _, d in p_out) * tb_out
    assert abs(float(dur_in - dur_out)) < 0.005


def test_movie_to_avi_is_lossless(tmp_path):
    src = write_movie(tmp_path / "in.mov", synthetic_frames(4), audio="pcm_s16le")
    source = open_frames(src)
    copy_through(source, tmp_path / "out.avi")
    for a, b in zip(source, open_frames(tmp_path / "out.avi"), strict=True):
        assert np.array_equal(a, b)
    assert len(_packets(tmp_path / "out.avi", "audio")[0]) == len(_packets(src, "audio")[0])


def test_ten_bit_movie_decodes_as_16_bit(tmp_path):
    src = write_movie(tmp_path / "in.mov", synthetic_frames(3), codec="prores_ks",
                      pix_fmt="yuv422p10le", audio=None)
    source = open_frames(src)
    assert source.info.dtype == "uint16"
    frame = next(iter(source))
    assert frame.dtype == np.float32 and 0 <= frame.min() and frame.max() <= 1
    copy_through(source, tmp_path / "out")
    assert read_rgb(tmp_path / "out" / "00001.png").dtype == np.uint16


def test_sequence_to_movie_uses_the_given_rate(clip_dir, tmp_path):
    source = open_frames(clip_dir[0])
    copy_through(source, tmp_path / "out.mp4", fps=Fraction(30000, 1001))
    back = open_frames(tmp_path / "out.mp4")
    assert back.info.count == 6 and back.info.fps == Fraction(30000, 1001)


def test_odd_sized_frames_encode(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    for i, img in enumerate(synthetic_frames(3, h=33, w=47)):
        write_rgb(folder / f"{i}.png", img)
    copy_through(open_frames(folder), tmp_path / "out.mp4")
    assert open_frames(tmp_path / "out.mp4").info.size_text == "47x33"


# ---------------------------------------------------------------- atomic output


@pytest.mark.parametrize("target", ["out.mp4", "out", "out/f.%04d.png"])
def test_failed_write_leaves_nothing_and_keeps_existing_output(clip_dir, tmp_path, target):
    folder, _ = clip_dir
    source = open_frames(folder)
    out = tmp_path / target
    with pytest.raises(RuntimeError):
        with open_sink(out, source) as sink:
            for i, frame in enumerate(source):
                sink.write(frame)
                if i == 1:
                    raise RuntimeError("boom")
    assert listing(tmp_path) == ["clip"]
    # An existing output stays byte-identical.
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"old movie")
    with pytest.raises(RuntimeError):
        with open_sink(existing, source) as sink:
            sink.write(next(iter(source)))
            raise RuntimeError("boom")
    assert existing.read_bytes() == b"old movie"
    assert listing(tmp_path) == ["clip", "out.mp4"]


def test_single_image_in_and_out(tmp_path):
    img = synthetic_frames(1)[0]
    write_rgb(tmp_path / "still.png", img)
    source = open_frames(tmp_path / "still.png")
    assert source.info.count == 1
    copy_through(source, tmp_path / "clean.png")
    assert np.array_equal(read_rgb(tmp_path / "clean.png"), img)
    assert listing(tmp_path) == ["clean.png", "still.png"]


def test_single_image_output_needs_a_single_frame(clip_dir, tmp_path):
    with pytest.raises(InputError, match="single image"):
        open_sink(tmp_path / "x.png", open_frames(clip_dir[0]))


def test_output_never_overwrites_the_input(clip_dir):
    folder, _ = clip_dir
    with pytest.raises(InputError, match="input"):
        open_sink(folder, open_frames(folder))


def test_output_folder_must_exist(clip_dir, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        open_sink(tmp_path / "missing" / "deeper" / "out.mp4", open_frames(clip_dir[0]))


def test_no_overwrite_refuses_existing(clip_dir, tmp_path):
    (tmp_path / "out.mp4").write_bytes(b"x")
    with pytest.raises(InputError, match="exists"):
        open_sink(tmp_path / "out.mp4", open_frames(clip_dir[0]), overwrite=False)


# ---------------------------------------------------------------- bad input


def _error(path) -> InputError:
    with pytest.raises(InputError) as err:
        list(open_frames(path))
    assert "\n" not in str(err.value)
    return err.value


def test_missing_path(tmp_path):
    assert "no such" in str(_error(tmp_path / "nope.mp4"))


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    assert "no image frames" in str(_error(tmp_path))


def test_pattern_without_matches(tmp_path):
    assert "no files match" in str(_error(tmp_path / "shot.%04d.png"))


def test_corrupt_frame_is_named(clip_dir):
    folder, _ = clip_dir
    (folder / "frame3.png").write_bytes((folder / "frame3.png").read_bytes()[:60])
    err = _error(folder)
    assert err.path == str(folder / "frame3.png")


def test_differing_frame_size_names_the_odd_frame(clip_dir):
    folder, _ = clip_dir
    write_rgb(folder / "frame4.png", synthetic_frames(1, h=40, w=48)[0])
    err = _error(folder)
    assert err.path == str(folder / "frame4.png") and "48x40" in err.problem


def test_tiny_frames_are_refused(tmp_path):
    write_rgb(tmp_path / "t.png", np.zeros((8, 48, 3), np.uint8))
    assert "at least 16x16" in str(_error(tmp_path / "t.png"))


@pytest.mark.parametrize("name", ["empty.mp4", "empty.mkv"])
def test_zero_length_movie(tmp_path, name):
    path = write_movie(tmp_path / name, [], audio="aac")
    assert "no video" in str(_error(path))


def test_movie_without_video(tmp_path):
    path = write_audio_only(tmp_path / "sound.m4a")
    assert "no video stream" in str(_error(path))


def wipe_packets(path, first: int = 0) -> None:
    """Zero the video packets from number ``first`` on (the frames, not the header)."""
    with av.open(str(path)) as movie:
        spans = [(p.pos, p.size) for p in movie.demux(video=0) if p.size and p.pos is not None]
    assert len(spans) > first
    data = bytearray(open(path, "rb").read())
    for pos, size in spans[first:]:
        data[pos : pos + size] = bytes(size)
    open(path, "wb").write(bytes(data))


def truncated_movie(path, frames, keep: int) -> str:
    """An H.264 .mov with its index first (as cameras write them), cut in the middle of packet
    ``keep``: the header still counts every frame, the decoder just stops early."""
    path = str(path)
    h, w = frames[0].shape[:2]
    with av.open(path, "w", options={"movflags": "faststart"}) as out:
        video = out.add_stream("libx264", rate=24)
        video.height, video.width, video.pix_fmt = h, w, "yuv420p"
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p",
                                                                              threads=1)
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    with av.open(path) as movie:
        spans = [(p.pos, p.size) for p in movie.demux(video=0) if p.size and p.pos is not None]
    data = open(path, "rb").read()
    open(path, "wb").write(data[: spans[keep][0] + spans[keep][1] // 2])
    return path


def test_unreadable_first_frame_of_movie(tmp_path):
    path = write_movie(tmp_path / "in.mkv", synthetic_frames(3), audio=None)
    wipe_packets(path)
    with pytest.raises(InputError):
        list(open_frames(path))


def test_damaged_tail_names_the_movie_and_the_frame(tmp_path):
    path = write_movie(tmp_path / "in.mp4", synthetic_frames(12), audio=None)
    intact = list(open_frames(path))
    wipe_packets(path, 8)
    err = _error(path)
    assert err.path == path and "cannot decode frame 6" in err.problem
    assert "--frames 0:6 processes the readable part" in err.problem
    source = open_frames(path)
    source.select(0, 6)  # what the hint offers: the readable part, not one packet more
    got = list(source)
    assert len(got) == 6 and all(np.array_equal(a, b) for a, b in zip(got, intact, strict=False))


def test_truncated_movie_is_not_taken_for_a_mask_problem(tmp_path):
    path = truncated_movie(tmp_path / "cam.mov", synthetic_frames(12), keep=8)
    source = open_frames(path)
    assert source.info.count == 12  # the index still says 12
    err = _error(path)
    assert err.path == path and "decoding failed at frame 6" in err.problem
    assert "12 frames" in err.problem and "--frames 0:6" in err.problem
    source.select(2, 6)
    assert source.info.count == 4 and len(list(source)) == 4


def test_selecting_frames_of_a_sequence_narrows_names_and_numbers(tmp_path):
    frames = synthetic_frames(6)
    for i, img in enumerate(frames):
        write_rgb(tmp_path / f"shot.{i + 1001:04d}.png", img)
    source = open_frames(tmp_path / "shot.%04d.png")
    source.select(1, 4)
    assert (source.info.count, source.total, source.info.numbers) == (3, 6, [1002, 1003, 1004])
    got = list(source)
    assert all(np.array_equal(a, frames[i + 1].astype(np.float32) / 255)
               for i, a in enumerate(got))
    copy_through(source, tmp_path / "out" / "o.%04d.png")
    assert listing(tmp_path / "out") == ["o.1002.png", "o.1003.png", "o.1004.png"]


def test_not_a_movie(tmp_path):
    (tmp_path / "junk.mov").write_bytes(b"\0junk" * 50)
    assert "cannot open" in str(_error(tmp_path / "junk.mov"))


# ---------------------------------------------------------------- killed runs


def dead_pid() -> int:
    """The id of a process that has just ended (and been reaped)."""
    import subprocess
    import sys

    from flowfill.io.atomic import process_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive(child.pid)
    return child.pid


@pytest.mark.parametrize("output", ["out.mkv", "out", "one.png"])
def test_rerun_removes_temporaries_of_dead_runs_only(clip_dir, tmp_path, output):
    from flowfill.io.atomic import HOST

    folder = clip_dir[0]
    if output == "one.png":
        source = open_frames(folder / "frame1.png")
    else:
        source = open_frames(folder)
    stem, ext = os.path.splitext(output)
    dead, alive = dead_pid(), os.getpid()
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    names = {
        "dead": f".{stem}.tmp-{HOST}-{dead}-0badf00d{ext}",
        "alive": f".{stem}.tmp-{HOST}-{alive}-12345678{ext}",  # a run still writing
        "elsewhere": f".{stem}.tmp-abcdef-{dead}-0badf00d{ext}",  # another machine's run
        "other output": f".{stem}2.tmp-{HOST}-{dead}-0badf00d{ext}",
    }
    for name in names.values():
        if ext:
            (tmp_path / name).write_bytes(b"partial")
        else:
            (tmp_path / name).mkdir()
            (tmp_path / name / "frame1.png").write_bytes(b"partial")
    copy_through(source, tmp_path / output)
    left = set(os.listdir(tmp_path))
    assert names["dead"] not in left
    assert {names["alive"], names["elsewhere"], names["other output"], output} <= left
    assert len(left) == 4


def test_temporary_of_a_killed_process_is_cleaned_by_the_next_run(clip_dir, tmp_path):
    """A real SIGKILL in the middle of writing leaves its hidden folder; the next run of the
    same output removes it and leaves nothing hidden."""
    import subprocess
    import sys

    script = (
        "import os, signal, sys\n"
        "from flowfill.io import open_frames, open_sink\n"
        "source = open_frames(sys.argv[1])\n"
        "sink = open_sink(sys.argv[2], source)\n"
        "sink.write(next(iter(source)))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    child = subprocess.run([sys.executable, "-c", script, str(clip_dir[0]), str(tmp_path / "o")],
                           check=False)
    assert child.returncode == -9
    hidden = [n for n in os.listdir(tmp_path) if n.startswith(".o.tmp-")]
    assert len(hidden) == 1 and os.listdir(tmp_path / hidden[0]) == ["frame1.png"]
    copy_through(open_frames(clip_dir[0]), tmp_path / "o")
    assert os.listdir(tmp_path) == ["o"] and len(os.listdir(tmp_path / "o")) == 6


@pytest.mark.parametrize("output", ["out", "out/shot.%04d.png"])
def test_shorter_rerun_removes_the_earlier_runs_extra_frames(clip_dir, tmp_path, output):
    folder, frames = clip_dir
    copy_through(open_frames(folder), tmp_path / output)
    assert len(os.listdir(tmp_path / "out")) == 6
    low = "frame0.png" if output == "out" else "shot.0000.png"  # numbered before: kept
    kept = ["notes.txt", "other.0009.png", "frame9.png.bak", "shot.9.png", low]
    for name in kept:
        (tmp_path / "out" / name).write_bytes(b"not ours")
    part = open_frames(folder)
    part.select(3, 4)  # one part of the shot: nothing else is touched
    copy_through(part, tmp_path / output)
    assert len(os.listdir(tmp_path / "out")) == 6 + len(kept)
    (tmp_path / "short").mkdir()
    for i in range(3):
        write_rgb(tmp_path / "short" / f"frame{i + 1}.png", frames[i])
    copy_through(open_frames(tmp_path / "short"), tmp_path / output)
    names = ["frame1.png", "frame2.png", "frame3.png"] if output == "out" else [
        "shot.0001.png", "shot.0002.png", "shot.0003.png"]
    assert listing(tmp_path / "out") == sorted([*names, *kept])  # frames 4 to 6 are gone
    for name, img in zip(names, frames, strict=False):
        assert np.array_equal(read_rgb(tmp_path / "out" / name), img)
