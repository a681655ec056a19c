"""The allocator settings of the command's process (pipeline.bound_heap): frame-sized arrays freed
within a window are reused without page faults, and the memory goes back after the window."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from flowfill.pipeline import _glibc

SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from flowfill.pipeline import bound_heap, give_back_memory

    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    def rss_mb():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096 / 2**20

    if sys.argv[1] == "bound":
        bound_heap()
    frame = (2160, 3840, 3)  # a 2160p frame in float32: 100 MB
    a = np.ones(frame, np.float32)
    del a
    before = faults()
    out = {}
    b = np.ones(frame, np.float32)  # a second frame-sized array, after the first was freed
    out["again"] = faults() - before

    held = rss_mb()
    del b
    give_back_memory()
    out["returned_mb"] = held - rss_mb()
    print(json.dumps(out))
""")


def _run(mode: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                          check=True, timeout=120)
    return json.loads(done.stdout)


@pytest.mark.skipif(_glibc() is None, reason="the settings are glibc's (Linux); none elsewhere")
def test_bound_heap_reuses_freed_frames_and_gives_memory_back():
    bound = _run("bound")
    default = _run("default")
    # glibc's own settings map a 100 MB array on its own: each of its pages (2 MB ones where
    # the kernel gives numpy huge pages) faults in again after the first array was unmapped
    assert default["again"] >= 45
    # with bound_heap the freed frame stays the heap's and is reused as it is
    assert bound["again"] < 5
    # and after the window the heap's free memory goes back to the system
    assert bound["returned_mb"] > 80
