"""Fixtures for the VapourSynth filter's tests: the sample clip and the CLI's answer for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowfill.options import cli_flags

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "sample_clips"
BIN = Path(sys.executable).parent

OPTIONS = {"window": 8, "overlap": 2, "nonlocal_frames": 0, "edges": "off"}
"""Small windows (30 frames: 5 windows, overlaps cross-faded) and the cheaper stages off."""


def run_cli(frames: Path, masks: Path, out: Path, options: dict[str, object]) -> np.ndarray:
    """Run ``flowfill remove`` into float EXR files and read them back (N x H x W x 3 float32)."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [str(BIN / "flowfill"), "remove", str(frames), "--mask", str(masks),
           "--output", str(out / "%05d.exr"), "--quiet", *cli_flags(options)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return read_exrs(out)


def read_exrs(folder: Path) -> np.ndarray:
    """Float EXR frames of a folder, sorted, as RGB float32 (flowfill writes EXR as float32)."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    out = []
    for path in sorted(folder.glob("*.exr")):
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert pixels is not None and pixels.dtype == np.float32, path
        out.append(pixels[:, :, ::-1])
    return np.stack(out)


def read_pngs(folder: Path, grey: bool = False) -> np.ndarray:
    """The PNGs of a folder, sorted: RGB uint8 N x H x W x 3 (or grey N x H x W)."""
    flag = cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR
    pixels = [cv2.imread(str(p), flag) for p in sorted(folder.glob("*.png"))]
    return np.stack(pixels if grey else [p[:, :, ::-1] for p in pixels])


@pytest.fixture(scope="session")
def sample() -> tuple[np.ndarray, np.ndarray]:
    """The sample clip (30 frames, 320x180, RGB uint8) and its masks (uint8, 0 or 255)."""
    return read_pngs(SAMPLE / "pan"), read_pngs(SAMPLE / "pan_mask", grey=True)


@pytest.fixture(scope="session")
def cli_reference(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """What ``flowfill remove`` writes for the sample clip with OPTIONS (float32 EXR)."""
    out = tmp_path_factory.mktemp("cli")
    return run_cli(SAMPLE / "pan", SAMPLE / "pan_mask", out, OPTIONS)


@pytest.fixture(scope="session")
def vs_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for vspipe: VapourSynth configured for this venv's Python in a private
    config folder (``vapoursynth config`` would otherwise write to ~/.config)."""
    config = tmp_path_factory.mktemp("vsconfig")
    env = dict(os.environ, XDG_CONFIG_HOME=str(config))
    done = subprocess.run([str(BIN / "vapoursynth"), "config"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "successfully" in done.stdout, done.stdout + done.stderr
    return env
