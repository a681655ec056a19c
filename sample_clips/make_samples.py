"""Regenerate the shipped sample clips from the procedural scene (deterministic).

Writes ``pan/NNNNN.png`` (8-bit RGB), ``pan_mask/NNNNN.png`` (255 = remove) and ``pan.mp4``
(H.264 crf 18, 25 fps, with a short AAC tone) beside this script, and ``shaky.mp4`` for
``flowfill stabilise``: the same street panned over 48 frames, seen through a handheld camera
(``flowfill.evaluate.shake.shake_frames``, seed 3: up to 3% shift and 1 degree of roll, zoomed
in so no border shows), encoded like ``pan.mp4``. Run: ``python sample_clips/make_samples.py``.
The tests check the PNGs still match the generator.
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import cv2
import numpy as np

from flowfill.evaluate import clips, scenes
from flowfill.evaluate.shake import shake_frames

HERE = Path(__file__).resolve().parent
FPS = 25
AUDIO_RATE = 44100
SHAKY_FRAMES = clips.SHAKY_FRAMES
SHAKE = clips.SHAKE
"""The handheld shake of ``shaky.mp4``, shared with the ``shaky`` evaluation clip."""


def write_pngs(frames: np.ndarray, masks: np.ndarray, out: Path) -> None:
    """Frame and mask PNG sequences named 00000.png, ... (old files are replaced)."""
    for sub, images in (("pan", frames), ("pan_mask", masks)):
        folder = out / sub
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        for t, image in enumerate(images):
            data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else (
                image.astype(np.uint8) * 255)
            cv2.imwrite(str(folder / f"{t:05d}.png"), data, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def tone(seconds: float) -> np.ndarray:
    """A soft two-note chime (mono float32, fades in and out) to give the movie an audio track."""
    t = np.arange(int(seconds * AUDIO_RATE)) / AUDIO_RATE
    note = np.where(t < seconds / 2, 440.0, 660.0)
    phase = 2 * np.pi * np.cumsum(note) / AUDIO_RATE
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) / 0.05)
    return (0.25 * envelope * np.sin(phase)).astype(np.float32)


def write_movie(frames: np.ndarray, path: Path) -> None:
    """H.264 (libx264, crf 18, yuv420p) at 25 fps plus an AAC tone as long as the video."""
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height = frames.shape[2], frames.shape[1]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "18"}
        audio = container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        samples = tone(len(frames) / FPS)
        chunk = 1024
        for start in range(0, len(samples), chunk):
            block = samples[start : start + chunk][None, :]
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
            frame.sample_rate = AUDIO_RATE
            frame.pts = start
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    tmp.replace(path)


def main(out: Path = HERE) -> int:
    """Render the pan scene and write every sample file under ``out``."""
    frames, masks = scenes.render(scenes.pan_scene())
    write_pngs(frames, masks, out)
    write_movie(frames, out / "pan.mp4")
    print(f"wrote {len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} to {out}")
    shaky = shaky_frames()
    write_movie(shaky, out / "shaky.mp4")
    print(f"wrote {len(shaky)} shaky frames to {out / 'shaky.mp4'}")
    return 0


def shaky_frames() -> np.ndarray:
    """The pan scene over ``SHAKY_FRAMES`` frames, shaken by ``SHAKE``: uint8 N x H x W x 3."""
    frames, _ = scenes.render(scenes.pan_scene(frames=SHAKY_FRAMES))
    shaken = shake_frames(frames.astype(np.float32) / 255, **SHAKE)
    return np.rint(np.clip(shaken, 0, 1) * 255).astype(np.uint8)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
