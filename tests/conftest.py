"""Tiny synthetic clips for the I/O and CLI tests (written to tmp_path, never sample_clips/)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def no_user_raft_weights(monkeypatch):
    """Tests never pick up a RAFT checkpoint from the environment they run in."""
    monkeypatch.delenv("FLOWFILL_RAFT_WEIGHTS", raising=False)


def synthetic_frames(n: int = 6, h: int = 32, w: int = 48, seed: int = 0,
                     square: bool = True) -> list[np.ndarray]:
    """uint8 RGB frames: a smooth textured background and a bright square moving right
    (without ``square``: the background alone, the truth behind the square)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=2)
    base = np.clip(base + rng.integers(-12, 13, (h, w, 3)), 0, 255)
    frames = []
    for t in range(n):
        img = np.roll(base, t, axis=1).astype(np.uint8)
        y0, x0 = h // 3, 4 + 3 * t
        if square:
            img[y0 : y0 + h // 3, x0 : x0 + w // 6] = (250, 40, 30)
        frames.append(img)
    return frames


def square_masks(n: int = 6, h: int = 32, w: int = 48) -> list[np.ndarray]:
    """Bool masks covering the moving square of :func:`synthetic_frames` with a 1 px margin."""
    masks = []
    for t in range(n):
        m = np.zeros((h, w), bool)
        y0, x0 = h // 3, 4 + 3 * t
        m[y0 - 1 : y0 + h // 3 + 1, x0 - 1 : x0 + w // 6 + 1] = True
        masks.append(m)
    return masks


def hole_psnr(got: np.ndarray, truth: np.ndarray, hole: np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB over the pixels of ``hole`` (any leading axes), on float values up to
    ``peak`` (255 for uint8 frames)."""
    diff = np.asarray(got, np.float64)[hole] - np.asarray(truth, np.float64)[hole]
    return float(10 * np.log10(peak**2 / max(float(np.mean(diff**2)), 1e-12)))


def trivial_fills(frame: np.ndarray, hole: np.ndarray) -> dict[str, np.ndarray]:
    """What a broken engine gives: ``frame`` (H x W x C, uint8, or float with values up to
    about 1) with the hole left as it is, filled with black, with the mean colour of the rest
    of the frame, and OpenCV's Telea inpainting (the cheapest real fill, a smooth guess)."""
    frame = np.asarray(frame)
    floating = frame.dtype != np.uint8
    u8 = np.rint(np.clip(frame, 0, 1) * 255).astype(np.uint8) if floating else frame
    telea = cv2.inpaint(np.ascontiguousarray(u8[..., :3]), hole.astype(np.uint8), 3,
                        cv2.INPAINT_TELEA)
    if floating:
        telea = telea.astype(np.float32) / 255
    out = {"input": frame.copy(), "black": frame.copy(), "mean": frame.copy(),
           "telea": frame.copy()}
    out["black"][hole, :3] = 0
    out["mean"][hole, :3] = frame[~hole, :3].mean(axis=0)
    out["telea"][hole, :3] = telea[hole]
    return out


def write_rgb(path: os.PathLike | str, rgb: np.ndarray) -> None:
    """Write an RGB (or grey) array with OpenCV, independently of flowfill.io."""
    arr = rgb[:, :, ::-1] if rgb.ndim == 3 and rgb.shape[2] == 3 else rgb
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        arr = rgb[:, :, [2, 1, 0, 3]]
    assert cv2.imwrite(str(path), np.ascontiguousarray(arr))


RAY_FAST = ["--window", "4", "--overlap", "1", "--reference-frames", "1", "--flow-max-side",
            "160", "--fill", "telea"]
"""Options of the Ray and batch tests: small windows (so a short clip has several, with reference
frames from outside them) and quick stages; the edge net stays on (``--edges auto``), so the
workers load it too."""


def read_rgb(path: os.PathLike | str) -> np.ndarray:
    """Read an image file as OpenCV stores it, turned to RGB."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert arr is not None, path
    return arr[:, :, ::-1] if arr.ndim == 3 else arr


def write_movie(
    path: os.PathLike | str,
    frames: list[np.ndarray],
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: str | None = "aac",
    rate: Fraction = Fraction(24),
    timecode: str | None = None,
) -> str:
    """Encode uint8 RGB frames (plus a sine tone when ``audio`` names a codec) with PyAV."""
    import av

    path = str(path)
    with av.open(path, "w") as out:
        video = out.add_stream(codec, rate=rate)
        video.height, video.width = frames[0].shape[:2] if frames else (32, 48)
        video.pix_fmt = pix_fmt
        if timecode:
            video.metadata["timecode"] = timecode
        astream = None
        if audio:
            astream = out.add_stream(audio, rate=48000)
            astream.layout = "mono"
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(
                format=pix_fmt, threads=1
            )
            frame.pts = i
            for packet in video.encode(frame):
                out.mux(packet)
        if frames:
            for packet in video.encode(None):
                out.mux(packet)
        else:
            out.start_encoding()  # a valid file with a video stream and no frames
        if astream is not None:
            seconds = max(len(frames), 1) / float(rate)
            samples = int(48000 * seconds)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            fmt = astream.codec_context.format.name
            for start in range(0, samples, 1024):
                chunk = tone[start : start + 1024]
                if fmt == "s16":
                    chunk = (chunk * 32767).astype(np.int16)
                aframe = av.AudioFrame.from_ndarray(chunk[None], format=fmt, layout="mono")
                aframe.sample_rate = 48000
                aframe.pts = start
                for packet in astream.encode(aframe):
                    out.mux(packet)
            for packet in astream.encode(None):
                out.mux(packet)
    return path


def write_audio_only(path: os.PathLike | str) -> str:
    """A short AAC file with no video stream (for the no-video-stream refusals)."""
    import av

    path = str(path)
    with av.open(path, "w") as out:
        stream = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


@pytest.fixture
def clip_dir(tmp_path):
    """A folder of six 32x48 8-bit PNG frames, plus the frames themselves."""
    folder = tmp_path / "clip"
    folder.mkdir()
    frames = synthetic_frames()
    for i, img in enumerate(frames):
        write_rgb(folder / f"frame{i + 1}.png", img)
    return folder, frames


# A two-node Ray cluster on loopback for the session (tests/test_ray.py, tests/test_batch.py).

RAY_HEAD, RAY_NODE = "127.0.0.2", "127.0.0.3"
"""Loopback addresses of the two nodes (127.0.0.1 itself Ray swaps for the machine's address)."""
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def _descendants(roots: list[int]) -> set[int]:
    kids, found, todo = _children(), set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(kids.get(pid, []))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def repo_env() -> dict[str, str]:
    """The environment for a flowfill subprocess that imports this checkout's flowfill."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (_REPO, os.environ.get("PYTHONPATH")) if p))


def watch(proc: subprocess.Popen, act, timeout: float = 300.0, every: float = 0.01) -> bool:
    """Call ``act()`` while ``proc`` runs until it returns True (it has done what it waited
    for: killed a worker, removed a node...); whether it did. ``proc`` is killed if an error
    stops the watch."""
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if act():
                return True
            time.sleep(every)
        return False
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def kill_once_saved(proc: subprocess.Popen, checkpoint: Path) -> None:
    """SIGKILL ``proc`` (a driver) as soon as ``checkpoint`` holds a finished window, and
    wait for it; the caller asserts it was killed, not done."""
    def saved() -> bool:
        if list(checkpoint.glob("window-*.npz")):
            proc.send_signal(signal.SIGKILL)  # the driver dies without a word
            return True
        return False

    watch(proc, saved)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


class TwoNodes:
    """A Ray cluster of a head and one added node (one CPU each) on loopback."""

    def __init__(self) -> None:
        from ray.cluster_utils import Cluster  # a missing Ray fails the tests here

        self.cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "node_ip_address": RAY_HEAD, "include_dashboard": False})
        self.cluster.add_node(num_cpus=1, node_ip_address=RAY_NODE)
        self.cluster.wait_for_nodes()
        self.address = self.cluster.address

    def roots(self) -> list[int]:
        """The processes the cluster started (its nodes' services)."""
        pids = []
        for node in self.cluster.list_all_nodes():
            for infos in node.all_processes.values():
                pids.extend(info.process.pid for info in infos)
        return pids

    def processes(self) -> set[int]:
        """The cluster's processes with every descendant (workers, actors)."""
        return _descendants(self.roots())

    def wait_no_workers(self, timeout: float = 120.0) -> None:
        """Wait until no flowfill worker of an earlier run is alive: the actors of a killed
        driver hold their CPUs and memory until Ray notices the driver is gone."""
        deadline = time.monotonic() + timeout
        while any(_cmdline(p).startswith("ray::WindowWorker") for p in self.processes()):
            assert time.monotonic() < deadline, "workers of a killed driver are still alive"
            time.sleep(0.2)

    def stop(self) -> set[int]:
        """Shut the cluster down and end, by id, any of its processes left; return those."""
        started = self.processes()
        self.cluster.shutdown()
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {p for p in started if _alive(p)}
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        return left


@pytest.fixture(scope="session")
def cluster():
    """A two-node cluster for the session; every process it started is ended after."""
    # the workers import the flowfill under test, whatever the environment has installed
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO, saved) if p)
    nodes = TwoNodes()
    try:
        yield nodes
    finally:
        left = nodes.stop()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
        assert not left, f"cluster processes still running after shutdown: {sorted(left)}"
