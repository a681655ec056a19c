"""VapourSynth filter against the CLI: seconds per frame, and peak memory on long clips.

Runs in the Python 3.12 venv that has VapourSynth and flowfill (``.venv-vs``, built by
``python tests/test_vapoursynth.py``), from the repository root:

    .venv-vs/bin/python benchmarks/vapoursynth.py [--repeat 2] [--options '{"window": 40}']

1. Speed: ``vspipe`` of plugins/vapoursynth/examples/remove_pngs.vpy (linear, the core's
   threads) against ``flowfill remove`` on the sample clip (30 frames, 320x180), same options,
   each run ``--repeat`` times alternately, best wall time of each (process start, imports and
   output included for both). The outputs are compared too (max abs difference).
2. Memory: peak RSS of the vspipe process on a 400-frame clip against a 100-frame one (the
   sample clip looped back and forth, scaled to ``--long-size``), with the CLI's for reference.

Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from flowfill.options import cli_flags

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SAMPLE = ROOT / "sample_clips"
EXAMPLE = ROOT / "plugins" / "vapoursynth" / "examples" / "remove_pngs.vpy"


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``cmd``; its wall seconds and peak resident memory (MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024


def vspipe(frames: Path, masks: Path, out: Path, options: dict[str, object]) -> list[str]:
    return [str(BIN / "vspipe"), "-a", f"frames={frames}", "-a", f"masks={masks}",
            "-a", "options=" + json.dumps(options), str(EXAMPLE), str(out)]


def cli(frames: Path, masks: Path, out: str, options: dict[str, object]) -> list[str]:
    return [str(BIN / "flowfill"), "remove", str(frames), "--mask", str(masks), "--output", out,
            "--quiet", *cli_flags(options)]


def read_raw_rgbs(path: Path, count: int, height: int, width: int) -> np.ndarray:
    """vspipe's raw RGBS output (planes G, B, R) as N x H x W x 3 RGB."""
    gbr = np.fromfile(path, dtype=np.float32).reshape(count, 3, height, width)
    return gbr[:, [2, 0, 1]].transpose(0, 2, 3, 1)


def read_exrs(folder: Path) -> np.ndarray:
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    return np.stack([cv2.imread(p, cv2.IMREAD_UNCHANGED)[:, :, ::-1]
                     for p in sorted(glob.glob(str(folder / "*.exr")))])


def long_clip(folder: Path, count: int, size: tuple[int, int]) -> tuple[Path, Path]:
    """``count`` frames of the sample clip played back and forth, scaled to ``size`` (w, h)."""
    frames, masks = folder / "frames", folder / "masks"
    frames.mkdir(parents=True)
    masks.mkdir()
    src = sorted(glob.glob(str(SAMPLE / "pan" / "*.png")))
    msk = sorted(glob.glob(str(SAMPLE / "pan_mask" / "*.png")))
    period = 2 * len(src) - 2
    for n in range(count):
        k = n % period
        k = k if k < len(src) else period - k
        image = cv2.resize(cv2.imread(src[k]), size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(cv2.imread(msk[k], cv2.IMREAD_GRAYSCALE), size,
                          interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(frames / f"{n:05d}.png"), image)
        cv2.imwrite(str(masks / f"{n:05d}.png"), mask)
    return frames, masks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best taken")
    parser.add_argument("--options", default="{}", help="flowfill options as JSON")
    parser.add_argument("--long-options", default=None,
                        help="options for the memory runs (default: --options)")
    parser.add_argument("--long-size", default="160x90", help="WxH of the long clips")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    options = json.loads(args.options)
    long_options = json.loads(args.long_options) if args.long_options else options
    width, height = (int(v) for v in args.long_size.split("x"))

    with tempfile.TemporaryDirectory(prefix="flowfill-vs-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, XDG_CONFIG_HOME=str(work / "config"))
        subprocess.run([str(BIN / "vapoursynth"), "config"], env=env, check=True,
                       capture_output=True)
        print(f"machine: {os.cpu_count()} CPUs; load before: {os.getloadavg()[0]:.2f} "
              f"(1 min avg)")
        print(f"options: {options or 'defaults'}")

        if not args.skip_speed:
            frames, masks = SAMPLE / "pan", SAMPLE / "pan_mask"
            count = len(list(frames.glob("*.png")))
            best = {"cli": float("inf"), "vspipe": float("inf")}
            for r in range(args.repeat):
                for name in ("cli", "vspipe"):
                    if name == "cli":
                        cmd = cli(frames, masks, str(work / f"cli{r}" / "%05d.exr"), options)
                    else:
                        cmd = vspipe(frames, masks, work / f"vs{r}.raw", options)
                    seconds, _ = measure(cmd, env)
                    best[name] = min(best[name], seconds)
                    print(f"  {name:7s} run {r + 1}: {seconds:7.2f} s "
                          f"({seconds / count:.3f} s/frame)", flush=True)
            diff = np.abs(read_raw_rgbs(work / "vs0.raw", count, 180, 320)
                          - read_exrs(work / "cli0")).max()
            ratio = best["vspipe"] / best["cli"]
            print(f"speed, sample clip ({count} frames, 320x180), best of {args.repeat}: "
                  f"CLI {best['cli'] / count:.3f} s/frame, vspipe {best['vspipe'] / count:.3f} "
                  f"s/frame, vspipe/CLI = {ratio:.3f} ({(ratio - 1) * 100:+.1f}%); "
                  f"max |vspipe - CLI| = {diff:.2e}", flush=True)

        if not args.skip_memory:
            peaks: dict[tuple[str, int], float] = {}
            for count in (100, 400):
                frames, masks = long_clip(work / f"long{count}", count, (width, height))
                for name in ("vspipe", "cli"):
                    if name == "cli":
                        cmd = cli(frames, masks, str(work / f"clil{count}" / "%05d.exr"),
                                  long_options)
                    else:
                        cmd = vspipe(frames, masks, work / f"vsl{count}.raw", long_options)
                    seconds, peak = measure(cmd, env)
                    peaks[name, count] = peak
                    print(f"  {name:7s} {count} frames {width}x{height}: peak RSS {peak:7.1f} "
                          f"MiB, {seconds:6.1f} s ({seconds / count:.3f} s/frame)", flush=True)
            info = [str(BIN / "vspipe"), "--info", "-a", f"frames={frames}", "-a",
                    f"masks={masks}", "-a", "options=" + json.dumps(long_options), str(EXAMPLE)]
            _, base = measure(info, env)
            print(f"  vspipe --info (imports, filter built, no frame): peak RSS {base:7.1f} MiB")
            for name in ("vspipe", "cli"):
                print(f"memory, {name}: 400 frames / 100 frames peak RSS = "
                      f"{peaks[name, 400] / peaks[name, 100]:.3f}")
            print(f"memory, vspipe above the --info baseline: 100 frames "
                  f"+{peaks['vspipe', 100] - base:.0f} MiB, 400 frames "
                  f"+{peaks['vspipe', 400] - base:.0f} MiB")
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
