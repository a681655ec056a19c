"""`flowfill batch MANIFEST.csv`: every row checked before any work; clips filled locally or on
the two-node Ray cluster (tests/conftest.py) with outputs equal bit for bit to `flowfill
remove` of each clip; a bad clip fails alone; --resume after a killed driver skips finished
clips and computes only the missing windows.

Ray is a test dependency (``pip install -e '.[test,ray]'``): these tests fail, never skip,
when it is missing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import RAY_FAST as FAST
from conftest import kill_once_saved, read_rgb, repo_env

from flowfill import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_clips"
HEADER = "input,mask,output,window,nearest-first\n"
ROWS = ("a,a_mask,out_a,,\n"  # the batch's options
        "b,b_mask,out_b,5,off\n")  # overrides: another window size, a switch turned off
B_OPTIONS = ["--window", "5", "--no-nearest-first"]


def flowfill(*args: str, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "flowfill", *args], capture_output=True,
                          text=True, timeout=300, env=repo_env(), cwd=ROOT)
    assert done.returncode == code, done.stderr
    return done


def copy_clip(folder: Path, first: int, count: int) -> None:
    """Frames ``first`` to ``first + count - 1`` of the sample clip and their masks."""
    (folder.parent / f"{folder.name}_mask").mkdir()
    folder.mkdir()
    for t in range(first, first + count):
        name = f"{t:05d}.png"
        (folder / name).write_bytes((SAMPLE / "pan" / name).read_bytes())
        (folder.parent / f"{folder.name}_mask" / name).write_bytes(
            (SAMPLE / "pan_mask" / name).read_bytes())


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Clip a (6 frames), clip b (9 frames, later in the sample) and clip bad (6 frames, the
    third not a PNG any more: found only when the run reads it), with their masks."""
    root = tmp_path_factory.mktemp("clips")
    copy_clip(root / "a", 0, 6)
    copy_clip(root / "b", 10, 9)
    copy_clip(root / "bad", 0, 6)
    (root / "bad" / "00002.png").write_bytes(b"not a png")
    return root


@pytest.fixture(scope="module")
def removed(clips, tmp_path_factory) -> dict[str, Path]:
    """`flowfill remove` of clips a and b with the options their manifest rows give."""
    out = tmp_path_factory.mktemp("removed")
    for name, extra in (("a", []), ("b", B_OPTIONS)):
        flowfill("remove", str(clips / name), "-m", str(clips / f"{name}_mask"), "-o",
                 str(out / name), *FAST, *extra, "--quiet")
    return {"a": out / "a", "b": out / "b"}


def manifest(folder: Path, clips: Path, text: str = HEADER + ROWS) -> Path:
    """The manifest in ``folder``, its clips linked beside it (paths are relative to it)."""
    for name in ("a", "b", "bad"):
        for suffix in ("", "_mask"):
            if not (folder / f"{name}{suffix}").exists():
                (folder / f"{name}{suffix}").symlink_to(clips / f"{name}{suffix}")
    path = folder / "clips.csv"
    path.write_text(text)
    return path


def assert_identical(got: Path, want: Path) -> None:
    names = sorted(p.name for p in want.iterdir())
    assert sorted(p.name for p in got.iterdir()) == names
    for name in names:
        a, b = read_rgb(got / name), read_rgb(want / name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name


def total(stderr: str) -> dict[str, int]:
    """The numbers of the batch's closing line."""
    line = next(x for x in stderr.splitlines() if x.startswith("flowfill batch:"))
    pairs = re.findall(r"(\d+) (written|already complete|failed|windows? computed|"
                       r"frames resumed)", line)
    return {k.replace("window ", "windows "): int(v) for v, k in pairs}


@pytest.mark.parametrize("text, problem", [
    ("input,mask,output\nmissing,a_mask,out\n", r"row 1 \(line 2\): .*missing"),
    ("input,mask,output,colour\na,a_mask,out\n", "header: unknown column 'colour'"),
    ("input,mask,output,window\na,a_mask,out,\nb,b_mask,out_b,many\n",
     r"row 2 \(line 3\): column window: .*invalid int value: 'many'"),
    ("input,mask,output,window\na,a_mask,out,1\n", "row 1 .*window"),
    ("input,mask,output,nearest_first\na,a_mask,out,maybe\n", "'maybe' is not on or off"),
    ("input,mask,output,ray\na,a_mask,out,local\n", "--ray is the whole batch's"),
    ("input,mask,output\na,a_mask,out\nb,b_mask,out\n", "row 2 .*also the output of row 1"),
    ("input,mask,output\na,a_mask,out\nb,b_mask,a\n", "row 2 .*is the input or mask of row 1"),
    ("input,output\na,out\n", "header: the header lacks mask"),
    ("input,mask,output\na,a_mask\n", "row 1 .*has 2 cells for 3 columns"),
])
def test_a_bad_manifest_is_one_line_before_any_work(clips, tmp_path, capsys, text, problem):
    path = manifest(tmp_path, clips, text)
    before = sorted(os.listdir(tmp_path))
    code = cli.main(["batch", str(path), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(path) in err and re.search(problem, err), err
    assert sorted(os.listdir(tmp_path)) == before  # nothing written


def test_a_local_batch_equals_remove_of_each_clip_and_a_bad_clip_fails_alone(clips, removed,
                                                                            tmp_path):
    path = manifest(tmp_path, clips, HEADER + ROWS + "bad,bad_mask,out_bad,,\n")
    done = flowfill("batch", str(path), *FAST, code=1)
    assert_identical(tmp_path / "out_a", removed["a"])
    assert_identical(tmp_path / "out_b", removed["b"])
    assert not (tmp_path / "out_bad").exists()
    errors = [x for x in done.stderr.splitlines() if "error:" in x]
    assert len(errors) == 1 and "row 3 (line 4)" in errors[0] and "00002.png" in errors[0]
    # a: windows of 4 with overlap 1 over 6 frames -> 2; b: 5 and 1 over 9 -> 2
    assert total(done.stderr) == {"written": 2, "already complete": 0, "failed": 1,
                                  "windows computed": 4, "frames resumed": 0}
    assert "failed: row 3 (line 4)" in done.stderr
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temporaries left


def test_a_batch_on_the_cluster_equals_remove_of_each_clip(cluster, clips, removed, tmp_path):
    path = manifest(tmp_path, clips, HEADER + ROWS + "bad,bad_mask,out_bad,,\n")
    done = flowfill("batch", str(path), *FAST, "--ray", cluster.address, code=1)
    assert_identical(tmp_path / "out_a", removed["a"])
    assert_identical(tmp_path / "out_b", removed["b"])
    assert not (tmp_path / "out_bad").exists()
    assert total(done.stderr) == {"written": 2, "already complete": 0, "failed": 1,
                                  "windows computed": 4, "frames resumed": 0}
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


@pytest.mark.parametrize("where", ["local", "cluster"])
def test_resume_after_a_killed_driver_computes_only_what_is_missing(clips, removed, tmp_path,
                                                                   request, where):
    """The driver is killed once clip a is written and b's first window is checkpointed; the
    resumed batch leaves a alone and computes only b's windows not on disk."""
    ray = ["--ray", request.getfixturevalue("cluster").address] if where == "cluster" else []
    path = manifest(tmp_path, clips)
    proc = subprocess.Popen([sys.executable, "-m", "flowfill", "batch", str(path), *FAST, *ray,
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=repo_env(), cwd=ROOT)
    checkpoint = tmp_path / ".out_b.flowfill-resume"
    kill_once_saved(proc, checkpoint)  # clip a written, b's first window saved
    if where == "cluster":  # the resumed batch needs the CPUs the dead driver's workers held
        request.getfixturevalue("cluster").wait_no_workers()
    assert proc.returncode == -signal.SIGKILL, "the batch ended before it could be killed"
    assert (tmp_path / "out_a").is_dir() and not (tmp_path / "out_b").exists()
    kept = sorted(int(p.stem.split("-")[1]) for p in checkpoint.glob("window-*.npz"))
    assert kept[:1] == [0]  # on a cluster, b's second window may have been saved too

    done = flowfill("batch", str(path), *FAST, *ray, "--resume")
    assert_identical(tmp_path / "out_a", removed["a"])
    assert_identical(tmp_path / "out_b", removed["b"])
    # b's windows: frames 0-4 (outputs 0-3) and 4-8 (outputs 4-8); only the missing ones run
    keep = {0: 4, 4: 5}
    assert total(done.stderr) == {"written": 1, "already complete": 1, "failed": 0,
                                  "windows computed": 2 - len(kept),
                                  "frames resumed": sum(keep[s] for s in kept)}
    assert not checkpoint.exists()
