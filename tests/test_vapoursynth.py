"""The VapourSynth filter (plugins/vapoursynth), tested against the real core in a 3.12 venv.

VapourSynth's wheels (R74+) need Python >= 3.12, the main venv is 3.11: this test builds (or
reuses) ``.venv-vs`` on Python 3.12 with vapoursynth, numpy, pytest, OpenCV (the example reads
PNGs with it) and the filter (editable), but neither torch nor flowfill: the filter is a client
of the render server, which the plugin's tests run from this environment's ``flowfill``
(``$FLOWFILL_EXECUTABLE``). A missing Python 3.12 is a failure, not a skip: CI must provide it.

Run ``python tests/test_vapoursynth.py`` to only build the venv (prints where it is).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-vs"
MARKER = VENV / "flowfill-vs-marker.json"
PLUGIN = ROOT / "plugins" / "vapoursynth"
REQUIREMENTS = ["vapoursynth==81", "numpy", "pytest", "opencv-contrib-python-headless==4.14.0.94"]
"""Installed first; then the filter, editable. No torch: a 3.12 torch from the package index
is the 5 GB CUDA build, and the filter does not need it (see plugins/vapoursynth/README.md)."""
FLOWFILL = Path(sys.executable).parent / "flowfill"
"""This environment's ``flowfill`` command: the plugin's tests run the CLI and the server with
it."""
INSTALL_TIMEOUT = 3600
TEST_TIMEOUT = 1200


def find_python312() -> str:
    """Path of a working Python >= 3.12 interpreter, or raise RuntimeError saying what to do."""
    candidates = [os.environ.get("FLOWFILL_PYTHON312", "")]
    candidates += [shutil.which(name) or "" for name in ("python3.12", "python3.13")]
    home = os.path.expanduser("~")
    for minor in ("3.12", "3.13"):
        pattern = f"{home}/.pyenv/versions/{minor}*/bin/python{minor}"
        candidates += sorted(glob.glob(pattern), reverse=True)
    for path in filter(None, candidates):
        try:  # a pyenv shim exists on PATH but fails when the version is not selected
            done = subprocess.run([path, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.strip() == "True":
            return path
    raise RuntimeError(
        "the VapourSynth tests need Python >= 3.12 (VapourSynth's wheels require it) and none "
        "was found: tried $FLOWFILL_PYTHON312, python3.12/python3.13 on PATH and "
        "~/.pyenv/versions/3.12*/bin/python3.12; install one (e.g. `pyenv install 3.12`) or set "
        "FLOWFILL_PYTHON312=/path/to/python3.12"
    )


def _fingerprint(python: str) -> dict[str, str]:
    """What the venv was built from; a change in any of it rebuilds the venv."""
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    digest = hashlib.sha256((PLUGIN / "pyproject.toml").read_bytes())
    return {"root": str(ROOT), "python": os.path.realpath(python), "version": version,
            "requirements": " ".join(REQUIREMENTS), "pyprojects": digest.hexdigest()}


def _run(cmd: list[str], log: list[str]) -> None:
    log.append("$ " + " ".join(cmd))
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    log.append(done.stdout[-4000:] + done.stderr[-4000:])
    if done.returncode != 0:
        raise RuntimeError(f"building {VENV} failed:\n" + "\n".join(log))


def ensure_venv() -> Path:
    """Build ``.venv-vs`` unless its marker says it is up to date; return its python."""
    python = find_python312()
    want = _fingerprint(python)
    VENV.parent.mkdir(exist_ok=True)
    tag = hashlib.sha1(bytes(ROOT)).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"flowfill-venv-vs-{tag}.lock"
    with open(lock_path, "w") as lock:  # one builder at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        with contextlib.suppress(OSError, ValueError):
            if json.loads(MARKER.read_text()) == want and (VENV / "bin" / "python").exists():
                return VENV / "bin" / "python"
        shutil.rmtree(VENV, ignore_errors=True)
        log: list[str] = []
        t0 = time.perf_counter()
        _run([python, "-m", "venv", str(VENV)], log)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        _run(pip + REQUIREMENTS, log)
        _run(pip + ["-e", str(PLUGIN)], log)
        MARKER.write_text(json.dumps(want, indent=1))
        print(f"built {VENV} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return VENV / "bin" / "python"


def test_vapoursynth_filter_in_python312() -> None:
    """The filter's own tests pass against the real VapourSynth core on Python >= 3.12."""
    python = ensure_venv()
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
         "--rootdir", str(PLUGIN), str(PLUGIN / "tests")],
        cwd=ROOT, capture_output=True, text=True, timeout=TEST_TIMEOUT,
        env=dict(os.environ, FLOWFILL_EXECUTABLE=str(FLOWFILL)),
    )
    assert done.returncode == 0, (
        f"VapourSynth tests failed in {VENV}:\n{done.stdout[-12000:]}\n{done.stderr[-4000:]}"
    )
    assert " passed" in done.stdout


if __name__ == "__main__":
    print(ensure_venv())
