"""VapourSynth filter against the CLI: seconds per frame, and peak memory on long clips.

Runs in the Python 3.12 venv that has VapourSynth and the filter (``.venv-vs``, built by
``python tests/test_vapoursynth.py``; no torch there), with ``--flowfill`` the ``flowfill``
command of the project's own environment (default ``.venv/bin/flowfill``), from the repository
root:

    .venv-vs/bin/python benchmarks/vs_filter.py [--repeat 2] [--options '{"window": 40}']

1. Speed on the sample clip (30 frames, 320x180), same options, best wall time of
   ``--repeat`` runs each (process start, imports and output included): ``flowfill remove``;
   ``vspipe`` of plugins/vapoursynth/examples/remove_pngs.vpy against a render server already
   running (warm: what every run after the first sees); and ``vspipe`` with no server running,
   so that the filter starts one (cold: the first run). Outputs compared (max abs difference).
2. Memory: peak RSS of the render server and of vspipe on a 400-frame clip against a 100-frame
   one (the sample clip looped back and forth, scaled to ``--long-size``), each clip with its
   own server, and the CLI's for reference.

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
from flowfill_vs.connection import Connection

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


def stop_server(where: Path) -> float:
    """Shut the server at ``where`` down; its peak resident memory (MiB, from /proc)."""
    with Connection(str(where), start=False) as conn:
        status = Path(f"/proc/{conn.info['pid']}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines()
                    if line.startswith("VmHWM:"))
        conn.call({"op": "shutdown"})
    return peak / 1024


def vspipe(frames: Path, masks: Path, out: Path, options: dict[str, object]) -> list[str]:
    return [str(BIN / "vspipe"), "-a", f"frames={frames}", "-a", f"masks={masks}",
            "-a", "options=" + json.dumps(options), str(EXAMPLE), str(out)]


def cli(flowfill: str, frames: Path, masks: Path, out: str,
        options: dict[str, object]) -> list[str]:
    flags = [f for name, value in options.items()
             for f in ("--" + name.replace("_", "-"), str(value))]
    return [flowfill, "remove", str(frames), "--mask", str(masks), "--output", out, "--quiet",
            *flags]


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
    parser.add_argument("--flowfill", default=str(ROOT / ".venv" / "bin" / "flowfill"),
                        help="the flowfill command (CLI runs and servers)")
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
    os.environ["FLOWFILL_EXECUTABLE"] = args.flowfill  # for the servers started from here

    with tempfile.TemporaryDirectory(prefix="flowfill-vs-bench-") as tmp:
        work = Path(tmp)
        env = dict(os.environ, XDG_CONFIG_HOME=str(work / "config"),
                   FLOWFILL_EXECUTABLE=args.flowfill)
        subprocess.run([str(BIN / "vapoursynth"), "config"], env=env, check=True,
                       capture_output=True)
        print(f"machine: {os.cpu_count()} CPUs; load before: {os.getloadavg()[0]:.2f} "
              f"(1 min avg)")
        print(f"options: {options or 'defaults'}")

        if not args.skip_speed:
            frames, masks = SAMPLE / "pan", SAMPLE / "pan_mask"
            count = len(list(frames.glob("*.png")))
            warm = work / "warm" / "server.sock"
            Connection(str(warm)).close()  # started now, kept for the warm runs
            best = {"cli": float("inf"), "vspipe warm": float("inf"),
                    "vspipe cold": float("inf")}
            for r in range(args.repeat):
                for name in best:
                    run_env = env
                    if name == "cli":
                        cmd = cli(args.flowfill, frames, masks, str(work / f"cli{r}" / "%05d.exr"),
                                  options)
                    else:
                        where = warm if name == "vspipe warm" else work / f"cold{r}" / "s.sock"
                        run_env = dict(env, FLOWFILL_SERVER=str(where))
                        cmd = vspipe(frames, masks, work / f"vs{r}{name[-4:]}.raw", options)
                    seconds, _ = measure(cmd, run_env)
                    if name == "vspipe cold":
                        stop_server(work / f"cold{r}" / "s.sock")
                    best[name] = min(best[name], seconds)
                    print(f"  {name:11s} run {r + 1}: {seconds:7.2f} s "
                          f"({seconds / count:.3f} s/frame)", flush=True)
            stop_server(warm)
            reference = read_exrs(work / "cli0")
            diff = max(np.abs(read_raw_rgbs(work / f"vs0{k}.raw", count, 180, 320)
                              - reference).max() for k in ("warm", "cold"))
            print(f"speed, sample clip ({count} frames, 320x180), best of {args.repeat}: "
                  + ", ".join(f"{k} {v / count:.3f} s/frame" for k, v in best.items())
                  + f"; vspipe warm/CLI = {best['vspipe warm'] / best['cli']:.3f}, cold/CLI = "
                  f"{best['vspipe cold'] / best['cli']:.3f}; max |vspipe - CLI| = {diff:.2e}",
                  flush=True)

        if not args.skip_memory:
            peaks: dict[tuple[str, int], float] = {}
            for count in (100, 400):
                frames, masks = long_clip(work / f"long{count}", count, (width, height))
                seconds, peak = measure(cli(args.flowfill, frames, masks,
                                            str(work / f"clil{count}" / "%05d.exr"),
                                            long_options), env)
                peaks["cli", count] = peak
                print(f"  cli     {count} frames {width}x{height}: peak RSS {peak:7.1f} MiB, "
                      f"{seconds:6.1f} s", flush=True)
                where = work / f"mem{count}" / "server.sock"
                Connection(str(where)).close()  # its own server, started before vspipe
                seconds, peak = measure(vspipe(frames, masks, work / f"vsl{count}.raw",
                                               long_options),
                                        dict(env, FLOWFILL_SERVER=str(where)))
                peaks["vspipe", count] = peak
                peaks["server", count] = stop_server(where)
                print(f"  vspipe  {count} frames {width}x{height}: peak RSS {peak:7.1f} MiB, "
                      f"{seconds:6.1f} s; its server's peak RSS "
                      f"{peaks['server', count]:7.1f} MiB", flush=True)
            for name in ("server", "vspipe", "cli"):
                print(f"memory, {name}: 400 frames / 100 frames peak RSS = "
                      f"{peaks[name, 400] / peaks[name, 100]:.3f} "
                      f"({peaks[name, 100]:.0f} -> {peaks[name, 400]:.0f} MiB)")
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
