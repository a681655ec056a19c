"""Movies through PyAV: decode to float RGB, encode back with the audio, timing and tags kept."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from flowfill.errors import InputError
from flowfill.io.atomic import (
    FrameSink,
    check_file_target,
    commit_file,
    remove_quietly,
    temp_name_beside,
)
from flowfill.io.codecs import CODECS, Encoder, check_codec, encoder_for
from flowfill.io.images import quantize
from flowfill.io.source import FrameInfo, FrameSource, check_size

MOVIE_EXTS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"})
"""Output extensions written as movies (any file FFmpeg decodes is accepted as input)."""

DEFAULT_FPS = Fraction(25)
"""Frame rate of a movie made from an image sequence when none is given."""

# Metadata that describes the old file rather than the footage: never copied.
_STALE_TAGS = ("encoder", "major_brand", "minor_version", "compatible_brands", "duration",
               "number_of_frames", "number_of_bytes", "bps", "_statistics", "vendor_id")

# swscale's automatic slice threading (FFmpeg 8 in PyAV 18) sometimes leaves a row of a
# converted frame unconverted; one thread per conversion is exact and fast enough.
SWS_THREADS = 1

# AVColorSpace (frame tags) -> swscale matrix, for the conversions we tag.
_SWS_MATRIX = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}


def _av_problem(err: Exception) -> str:
    text = getattr(err, "strerror", None) or str(err)
    return " ".join(str(text).split())


def _open_input(path: str) -> av.container.InputContainer:
    try:
        return av.open(path, "r")
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder with no image frames") from None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(
            path, f"cannot open: not a movie or image that FFmpeg reads ({_av_problem(err)})"
        ) from None


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.VideoStream:
    streams = [s for s in container.streams.video if not (s.disposition & 0x400)]  # attached pic
    if not streams:
        # FFmpeg drops an MP4/MOV track without samples, so a zero-length movie lands here too.
        raise InputError(path, "has no video: no video stream, or one with no frames")
    return streams[0]


def _count_frames(path: str, stream_index: int) -> int:
    """Count video packets without decoding (for containers that do not store the count)."""
    with _open_input(path) as container:
        stream = container.streams[stream_index]
        return sum(1 for p in container.demux(stream) if p.size and not p.is_discard)


def _is_stale(key: str) -> bool:
    key = key.lower()
    return any(key.startswith(t) for t in _STALE_TAGS)


def _copy_tags(src: dict, dst: dict) -> None:
    for key, value in src.items():
        if not _is_stale(key):
            dst[key] = value


class MovieSource(FrameSource):
    """Frames of a movie's first video stream, decoded lazily by FFmpeg."""

    def __init__(self, path: str) -> None:
        self.path = path
        with _open_input(path) as container:
            stream = _video_stream(container, path)
            self.stream_index = stream.index
            try:
                first = next(iter(container.decode(stream)), None)
            except (av.error.FFmpegError, ValueError) as err:
                problem = _av_problem(err)
                raise InputError(path, f"cannot decode the first frame ({problem})") from None
            if first is None:
                raise InputError(path, "has no video frames (zero-length movie)")
            fmt = first.format
            self.pix_fmt = fmt.name
            bits = max(c.bits for c in fmt.components)
            self.has_alpha = any(c.is_alpha for c in fmt.components)
            self.deep = bits > 8
            count = stream.frames or _count_frames(path, stream.index)
            fps = stream.average_rate or stream.guessed_rate or stream.base_rate
            ctx = stream.codec_context
            self.color = {
                "colorspace": int(first.colorspace), "color_range": int(first.color_range),
                "color_primaries": int(getattr(first, "color_primaries", 0) or 0),
                "color_trc": int(getattr(first, "color_trc", 0) or 0),
            }
            self.rotation = int(getattr(first, "rotation", 0) or 0)
            self.sample_aspect_ratio = ctx.sample_aspect_ratio
            self.info = FrameInfo(
                path=path, kind="movie", width=first.width, height=first.height,
                count=count or None,
                dtype="uint16" if self.deep else "uint8",
                fps=Fraction(fps) if fps else None,
                time_base=Fraction(stream.time_base) if stream.time_base else None,
                has_alpha=self.has_alpha, codec=ctx.name,
                bits=bits if bits in (10, 12) else None,
            )
        check_size(path, self.info.width, self.info.height)
        self.total = self.info.count
        self.timestamps: list[int] = []
        """Presentation timestamps (in ``info.time_base``) of the frames decoded so far (of a
        selection: shifted so that it starts where the movie starts)."""
        self.shift = 0
        """Time (in ``info.time_base``) from the movie's first frame to the selection's."""

    def select(self, start: int, stop: int | None) -> None:
        """Narrow the movie to its frames ``start:stop`` (decoding stops after ``stop - 1``)."""
        super().select(start, stop)
        self.timestamps = []

    @property
    def shift_seconds(self) -> Fraction:
        """Seconds from the movie's first frame to the selection's first (0 without one)."""
        return self.shift * (self.info.time_base or 0)

    def _readable_hint(self, index: int) -> str:
        return f"; --frames 0:{index} processes the readable part" if index else ""

    def _decoded(self) -> Iterator[av.VideoFrame]:
        start, stop = self.selection or (0, None)
        with _open_input(self.path) as container:
            stream = container.streams[self.stream_index]
            stream.thread_type = "AUTO"
            index = 0
            first_pts = 0
            try:
                for frame in container.decode(stream):
                    if index == 0:
                        first_pts = frame.pts or 0
                    if index == start:
                        self.shift = (frame.pts or 0) - first_pts if start else 0
                    if index >= start:
                        if index - start == len(self.timestamps):
                            pts = None if frame.pts is None else frame.pts - self.shift
                            self.timestamps.append(self._timestamp(pts))
                        yield frame
                    index += 1
                    if stop is not None and index >= stop:
                        return  # not one packet more is decoded: the rest may be damaged
            except (av.error.FFmpegError, ValueError) as err:
                raise InputError(
                    self.path, f"cannot decode frame {index}: {_av_problem(err)}"
                    f"{self._readable_hint(index)}",
                ) from None
        expected = self.total if stop is None else min(stop, self.total or stop)
        if expected is not None and index < expected:
            raise InputError(
                self.path, f"decoding failed at frame {index}: the movie ends there but holds "
                f"{self.total} frames (damaged or truncated){self._readable_hint(index)}",
            )

    def _timestamp(self, pts: int | None) -> int:
        if not self.timestamps:
            return pts if pts is not None else 0
        last = self.timestamps[-1]
        if pts is None or pts <= last:
            return last + self.frame_duration()
        return pts

    def frame_duration(self) -> int:
        """One frame's duration in ``info.time_base`` units (at least 1)."""
        fps, tb = self.info.fps, self.info.time_base
        if not fps or not tb:
            return 1
        return max(1, round(1 / (fps * tb)))

    def timestamp(self, index: int) -> int:
        """Presentation timestamp of frame ``index`` (extrapolated past the frames decoded)."""
        if index < len(self.timestamps):
            return self.timestamps[index]
        if not self.timestamps:
            return index * self.frame_duration()
        return self.timestamps[-1] + (index - len(self.timestamps) + 1) * self.frame_duration()

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.yields_alpha:
            rgb = "rgba64le" if self.deep else "rgba"
        else:
            rgb = "rgb48le" if self.deep else "rgb24"
        peak = np.float32(65535 if self.deep else 255)
        for frame in self._decoded():
            pixels = frame.to_ndarray(format=rgb, threads=SWS_THREADS)
            yield pixels.astype(np.float32) / peak

    def alphas(self) -> Iterator[np.ndarray]:
        """Bool H x W per frame: True where the movie's alpha is nonzero."""
        if not self.has_alpha:
            raise InputError(self.path, "has no alpha channel (needed by --mask alpha)")
        rgba = "rgba64le" if self.deep else "rgba"
        for frame in self._decoded():
            yield frame.to_ndarray(format=rgba, threads=SWS_THREADS)[:, :, 3] > 0


def iter_movie_masks(path: str, threshold: float = 0.5) -> Iterator[np.ndarray]:
    """Bool H x W per frame of a mask movie: luma above ``threshold`` of full scale."""
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                grey = frame.to_ndarray(format="gray", threads=SWS_THREADS)
                yield grey > threshold * 255
        except (av.error.FFmpegError, ValueError) as err:
            raise InputError(path, f"cannot decode: {_av_problem(err)}") from None


def movie_frame_count(path: str) -> tuple[int, int, int]:
    """(count, width, height) of a movie's video, for checking a mask movie against the frames."""
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        ctx = stream.codec_context
        count = stream.frames or _count_frames(path, stream.index)
        return count, ctx.width, ctx.height


class _Clock:
    """Output timestamps: the input frames' own, made exact where the input's clock is coarse.

    A Matroska input ticks in milliseconds, so 23.976 fps frames sit at 0, 42, 83, ...; such
    times are snapped to the nominal frame grid (when within one input tick) in a time base that
    holds both clocks exactly. AVI is constant-rate, so its frames always sit on the grid.
    """

    def __init__(self, source: MovieSource | None, rate: Fraction, grid_only: bool) -> None:
        self.source = source
        self.rate = rate
        self.last: int | None = None
        tb_in = source.info.time_base if source is not None else None
        self.tb_in = tb_in
        if source is None or tb_in is None or grid_only:
            self.time_base, self.mode = 1 / rate, "grid"
        elif (1 / (rate * tb_in)).denominator == 1:
            self.time_base, self.mode = tb_in, "copy"
        else:
            common = math.lcm(tb_in.denominator, rate.numerator)
            if common > 2**30:
                self.time_base, self.mode = tb_in, "copy"
            else:
                self.time_base, self.mode = Fraction(1, common), "snap"

    def pts(self, index: int) -> int:
        """Output timestamp (in ``time_base``) of frame ``index``, strictly increasing."""
        if self.source is None:
            out = index
        else:
            pts_in = self.source.timestamp(index)
            if self.mode == "copy":
                out = pts_in
            else:
                seconds = pts_in * self.tb_in
                grid = Fraction(round(seconds * self.rate)) / self.rate
                if self.mode == "snap" and abs(grid - seconds) > self.tb_in:
                    grid = seconds  # a genuinely variable frame rate: keep the time as is
                out = round(grid / self.time_base)
        if self.last is not None and out <= self.last:
            out = self.last + 1
        self.last = out
        return out


class MovieSink(FrameSink):
    """Encodes frames into ``.NAME.tmp-XXXX.ext`` beside the target, with the input's audio.

    A movie ``like`` lends its frame times, audio (copied), tags and colour description;
    ``fps`` is for image-sequence input (given with a movie, frames are retimed, audio dropped).
    """

    def __init__(
        self, path: str, like: FrameSource, fps: Fraction | None = None, overwrite: bool = True,
        protect: frozenset[str] = frozenset(), codec: str | None = None, quality: str = "high",
        keep_planes: bool = True,
    ) -> None:
        self.path = path
        self.keep_planes = keep_planes
        self.like = like
        self.written = 0
        self._done = False
        self.container = None
        self.audio_in = None
        self.plate: _Plate | None = None
        ext = os.path.splitext(path)[1].lower()
        name = check_codec(path, ext, codec, quality)
        check_file_target(path, overwrite, protect, "is a folder; give a movie file name")
        info = like.info
        source = like if isinstance(like, MovieSource) and fps is None else None
        self.source_movie = source
        rate = Fraction(fps or info.fps or DEFAULT_FPS)
        self.clock = _Clock(source, rate, grid_only=ext == ".avi")
        deep = info.dtype != "uint8"
        self.encoder = encoder_for(name, quality, info.width, info.height, deep,
                                   like.yields_alpha and CODECS[name].alpha,
                                   source.pix_fmt if source is not None else None)
        self.pix_fmt = self.encoder.pix_fmt
        self.keeps_alpha = self.encoder.alpha
        self.depth = "uint16" if deep and _bits(self.pix_fmt) > 8 else "uint8"
        if self.pix_fmt == "yuva444p10le":  # 8-bit alpha goes through 16 bits to round-trip
            self.depth = "uint16"
        self.temp = temp_name_beside(path)
        try:
            self._open(self.encoder, rate, ext)
        except BaseException:
            self.abort()
            raise

    def _open(self, encoder: Encoder, rate: Fraction, ext: str) -> None:
        info = self.like.info
        try:
            self.container = av.open(self.temp, "w")
        except (av.error.FFmpegError, OSError) as err:
            raise InputError(self.path, f"cannot write: {_av_problem(err)}") from None
        out = self.container
        try:
            video = out.add_stream(encoder.encoder, rate=rate, options=encoder.options)
        except (ValueError, av.error.FFmpegError) as err:
            raise InputError(self.path, f"cannot hold {encoder.name}: {_av_problem(err)}"
                             ) from None
        if encoder.encoder == "libx265" and ext in (".mp4", ".m4v", ".mov"):
            video.codec_tag = "hvc1"  # the tag Apple's players need for HEVC
        video.width, video.height, video.pix_fmt = info.width, info.height, self.pix_fmt
        video.codec_context.time_base = self.clock.time_base
        video.time_base = self.clock.time_base
        self.video = video
        self.audio_map: dict[int, av.stream.Stream] = {}
        if self.source_movie is not None:
            src = self.source_movie
            color = src.color
            self.audio_in = _open_input(info.path)
            _copy_tags(dict(self.audio_in.metadata), out.metadata)
            _copy_tags(dict(self.audio_in.streams[src.stream_index].metadata), video.metadata)
            if src.sample_aspect_ratio:
                video.codec_context.sample_aspect_ratio = src.sample_aspect_ratio
            if src.rotation:
                video.set_display_rotation(src.rotation)
            self._add_audio(ext)
        else:  # an image sequence: tag it the way HD video is conventionally read
            color = {"colorspace": 1, "color_range": 1, "color_primaries": 1, "color_trc": 1}
        self.sws_matrix = self.sws_range = None
        if not encoder.rgb:  # RGB is stored as it is: no matrix, no tags
            ctx = video.codec_context
            for key, value in color.items():
                setattr(ctx, key, value)
            self.sws_matrix = _SWS_MATRIX.get(color["colorspace"])
            self.sws_range = color["color_range"] or None
        try:
            out.start_encoding()  # write the header now: incompatible streams fail before any work
        except (av.error.FFmpegError, ValueError) as err:
            problem = _av_problem(err)
            raise InputError(self.path, f"cannot write this file type: {problem}") from None
        self._audio_packets = self._demux_audio()
        self._pending: av.Packet | None = None
        src = self.source_movie
        if (self.keep_planes and src is not None and not encoder.rgb
                and src.pix_fmt == self.pix_fmt):
            # same format, same matrix and range (the output is tagged with the input's)
            self.plate = _Plate(src, "uint16" if src.deep else "uint8")

    def _add_audio(self, ext: str) -> None:
        for stream in self.audio_in.streams.audio:
            try:
                copy = self.container.add_stream_from_template(stream)
            except (ValueError, av.error.FFmpegError):
                name = stream.codec_context.name
                raise InputError(
                    self.path, f"the input's {name} audio cannot be stored in a {ext} file "
                    "(audio is copied, not re-encoded); choose another output type such as .mkv",
                ) from None
            _copy_tags(dict(stream.metadata), copy.metadata)
            self.audio_map[stream.index] = copy

    def _demux_audio(self) -> Iterator[av.Packet]:
        if self.audio_in is None or not self.audio_map:
            return iter(())
        streams = [self.audio_in.streams[i] for i in self.audio_map]
        packets = (p for p in self.audio_in.demux(*streams) if p.dts is not None and p.size)
        if self.source_movie is not None and self.source_movie.selection is not None:
            packets = self._shifted(packets)
        if self.container.format.name != "avi":
            return packets
        # AVI has no negative times: drop the encoder-priming packets that end before zero
        # (players discard their samples anyway) instead of shifting the whole file.
        return (p for p in packets if p.pts is None or p.pts + (p.duration or 0) > 0)

    def _shifted(self, packets: Iterator[av.Packet]) -> Iterator[av.Packet]:
        """The audio of a selection of frames: packets from its first frame on, moved so that
        it starts where the movie starts (the end is cut in ``close``)."""
        for packet in packets:
            if packet.pts is None or packet.time_base is None:
                continue
            shift = round(self.source_movie.shift_seconds / packet.time_base)
            if packet.pts < shift:
                continue
            packet.pts -= shift
            packet.dts -= shift
            yield packet

    def _pump_audio(self, until: float | None, end: float | None = None) -> None:
        """Mux the input's audio packets up to time ``until`` seconds (all of them when None;
        those starting at ``end`` seconds or later are dropped)."""
        while True:
            packet = self._pending or next(self._audio_packets, None)
            if packet is None:
                return
            if end is not None and packet.pts is not None and packet.time_base is not None:
                if float(packet.pts * packet.time_base) >= end:
                    self._pending = None
                    continue
            if until is not None and packet.pts is not None and packet.time_base is not None:
                if float(packet.pts * packet.time_base) > until:
                    self._pending = packet
                    return
            self._pending = None
            packet.stream = self.audio_map[packet.stream_index]
            self.container.mux(packet)

    def write(self, frame: np.ndarray) -> None:
        """Encode the next frame at the input frame's presentation time."""
        info = self.like.info
        if frame.shape[:2] != (info.height, info.width):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, not {info.size_text}")
        alpha = self.keeps_alpha and frame.shape[2] == 4
        samples = np.ascontiguousarray(quantize(frame[..., : 4 if alpha else 3], self.depth))
        deep = self.depth == "uint16"
        layout = ("rgba64le" if deep else "rgba") if alpha else ("rgb48le" if deep else "rgb24")
        vf = av.VideoFrame.from_ndarray(samples, format=layout)
        vf = vf.reformat(
            format=self.pix_fmt, dst_colorspace=self.sws_matrix, dst_color_range=self.sws_range,
            threads=SWS_THREADS,
        )
        if self.plate is not None:
            vf = self.plate.keep(vf, samples)
        vf.pts = self.clock.pts(self.written)
        vf.time_base = self.clock.time_base
        self._pump_audio(float(vf.pts * self.clock.time_base))
        for packet in self.video.encode(vf):
            self.container.mux(packet)
        self.written += 1

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio and move the movie into place."""
        if self._done:
            return
        for packet in self.video.encode(None):
            self.container.mux(packet)
        end = None
        src = self.source_movie
        if src is not None and src.selection is not None and src.selection[1] is not None:
            last = self.clock.last
            end = float(last * self.clock.time_base + 1 / self.clock.rate) if self.written else 0.0
        self._pump_audio(None, end)
        self.container.close()
        self.container = None
        if self.plate is not None:
            self.plate.close()
        if self.audio_in is not None:
            self.audio_in.close()
            self.audio_in = None
        commit_file(self.temp, self.path)
        self._done = True

    def abort(self) -> None:
        """Stop writing and delete the temporary movie."""
        if self._done:
            return
        self._done = True
        if self.plate is not None:
            self.plate.close()
        for container in (self.container, self.audio_in):
            if container is not None:
                try:
                    container.close()
                except Exception:
                    pass  # the file is deleted anyway
        self.container = self.audio_in = None
        remove_quietly(self.temp)


def _bits(pix_fmt: str) -> int:
    """Bits per component of an FFmpeg pixel format."""
    return max(c.bits for c in av.VideoFormat(pix_fmt).components)


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Copies of a planar frame's planes (uint8, or uint16 above 8 bits), without padding."""
    dtype = np.uint16 if _bits(frame.format.name) > 8 else np.uint8
    size = np.dtype(dtype).itemsize
    return [np.frombuffer(p, dtype).reshape(p.height, p.line_size // size)[:, : p.width].copy()
            for p in frame.planes]


def _from_planes(planes: list[np.ndarray], like: av.VideoFrame) -> av.VideoFrame:
    """A frame of ``like``'s size and format holding ``planes``."""
    out = av.VideoFrame(like.width, like.height, like.format.name)
    for plane, values in zip(out.planes, planes, strict=True):
        padded = np.zeros((plane.height, plane.line_size // values.itemsize), values.dtype)
        padded[:, : plane.width] = values
        plane.update(padded)
    return out


class _Plate:
    """The input movie decoded a second time beside the output, frame for frame, so that what
    the removal did not change is encoded from the decoded planes themselves: no RGB round trip,
    no second chroma subsampling outside the hole.

    ``keep(converted, samples)``: ``samples`` are the output's quantised RGB(A); pixels equal to
    the input's (decoded as ``MovieSource`` decodes them) keep the input's luma, and a chroma
    sample keeps the input's unless every pixel it covers changed, so no pixel outside the hole
    changes colour (the hole's outermost pixels may keep the input's chroma: the mask's default
    dilation puts background there); the rest come from ``converted`` (the output converted to
    the pixel format).
    """

    def __init__(self, source: MovieSource, depth: str) -> None:
        twin = MovieSource(source.path)
        if source.selection is not None:
            twin.select(*source.selection)
        self.layout = "rgb48le" if depth == "uint16" else "rgb24"
        self.frames = twin._decoded()

    def keep(self, converted: av.VideoFrame, samples: np.ndarray) -> av.VideoFrame:
        original = next(self.frames, None)
        if original is None or (original.width, original.height) != (converted.width,
                                                                     converted.height):
            return converted
        seen = original.to_ndarray(format=self.layout, threads=SWS_THREADS)
        changed = np.any(samples[..., :3] != seen, axis=2)
        if not changed.any():
            out = _from_planes(_planes(original), original)
        else:
            planes = _planes(original)
            new = _planes(converted)
            h, w = changed.shape
            for keep, fresh in zip(planes, new, strict=True):
                ph, pw = keep.shape
                fy, fx = -(-h // ph), -(-w // pw)
                grown = np.ones((ph * fy, pw * fx), bool)  # past the edge: as if changed
                grown[:h, :w] = changed
                region = grown.reshape(ph, fy, pw, fx).all(axis=(1, 3))
                keep[region] = fresh[region]
            out = _from_planes(planes, converted)
        for key in ("colorspace", "color_range"):
            setattr(out, key, getattr(converted, key))
        return out

    def close(self) -> None:
        self.frames.close()
