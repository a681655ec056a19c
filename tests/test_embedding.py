"""What a host embedding flowfill relies on: a quiet import, progress, cancel, alpha."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import square_masks, synthetic_frames

import flowfill
from flowfill import Cancelled, Options

PROBE = """
import json, os, sys
import cv2, torch, av, numpy, scipy, kornia, tqdm   # the dependencies' own import effects
env = dict(os.environ)
state = (torch.get_num_threads(), cv2.getNumThreads(), sys.getswitchinterval())
import flowfill, flowfill.cli, flowfill.io, flowfill.server.server, flowfill.shot
from flowfill import pipeline
print(json.dumps({
    "env": sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k)),
    "state": state == (torch.get_num_threads(), cv2.getNumThreads(), sys.getswitchinterval()),
    "libc_loaded": pipeline._glibc.cache_info().currsize,
    "threads": __import__("threading").active_count(),
}))
"""


def test_import_has_no_process_wide_effects():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True)
    seen = json.loads(out.stdout)
    assert seen == {"env": [], "state": True, "libc_loaded": 0, "threads": 1}


def clip(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return np.stack(synthetic_frames(n)).astype(np.float32) / 255, np.stack(square_masks(n))


FAST = Options(fill="telea", nonlocal_frames=0, edges="off", window=5, overlap=1)


def test_progress_callback_reports_every_stage():
    frames, masks = clip()
    calls: list[tuple[str, int, int | None]] = []
    out = list(flowfill.remove_stream(frames, masks, FAST,
                                      on_progress=lambda *a: calls.append(a)))
    assert len(out) == 8
    flow = [done for stage, done, _ in calls if stage == "flow"]
    assert flow == sorted(flow) and flow[-1] == 8  # every frame counted once
    assert {"flow", "propagate"} <= {stage for stage, _, _ in calls}


def test_cancel_stops_the_run_between_steps():
    frames, masks = clip()
    polls = []
    stream = flowfill.remove_stream(frames, masks, FAST,
                                    cancelled=lambda: polls.append(1) or len(polls) > 6)
    got = []
    with pytest.raises(Cancelled):
        for frame in stream:
            got.append(frame)
    assert len(got) < 8 and len(polls) == 7  # stopped at the first poll that said so


def test_rgba_in_rgba_out_alpha_untouched():
    frames, masks = clip()
    alpha = np.linspace(0, 1, frames[..., 0].size, dtype=np.float32).reshape(frames.shape[:3])
    rgba = np.concatenate([frames, alpha[..., None]], axis=3)
    out = flowfill.remove(rgba, masks, fill="telea", nonlocal_frames=0, edges="off")
    assert out.shape == rgba.shape
    assert np.array_equal(out[..., 3], alpha)
    assert np.array_equal(out[~masks], rgba[~masks])
    assert np.array_equal(out[..., :3],
                          flowfill.remove(frames, masks, fill="telea", nonlocal_frames=0,
                                          edges="off"))
    with pytest.raises(flowfill.InputError, match="expected H x W x 3 \\(RGB\\) or H x W x 4"):
        flowfill.remove(frames[..., :2], masks)


def test_library_masks_checked_like_the_cli():
    frames, masks = clip(4)
    full = masks.copy()
    full[2] = True
    with pytest.raises(flowfill.InputError, match="mask 2 covers the whole frame"):
        flowfill.remove(frames, full, fill="telea")
    with pytest.raises(flowfill.InputError, match=r"mask 0 has shape \(32, 48, 2\), expected"):
        flowfill.remove(frames, np.stack([masks, masks], axis=3))
    keep = dict(fill="telea", nonlocal_frames=0, edges="off")
    assert np.array_equal(flowfill.remove(frames, masks[..., None], **keep),
                          flowfill.remove(frames, masks, **keep))


def test_small_work_runs_torch_on_one_thread_and_gives_the_count_back():
    import torch

    from flowfill.devices import small_work
    from flowfill.edges.complete import EdgeCompleter

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        completer = EdgeCompleter("cpu")
        inner = completer._probability

        def spy(*args):
            seen.append(torch.get_num_threads())
            return inner(*args)

        completer._probability = spy
        flow = np.zeros((48, 64, 2), np.float32)
        flow[:, 32:, 0] = 3.0
        hole = np.zeros((48, 64), bool)
        hole[16:32, 24:40] = True
        completer.strength(flow, hole, whole=False)  # the flow fill's call: small work
        completer.strength(flow, hole, whole=True)  # the whole frame: the process's count
        assert seen == [1, 2] and torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), small_work("cpu"):
            raise RuntimeError("a failing stage")
        assert torch.get_num_threads() == 2  # restored on the way out of an error too
        # overlapping blocks (two renders in one host): the last to leave gives the count back
        outer, inner = small_work("cpu"), small_work("cpu")
        outer.__enter__()
        inner.__enter__()
        outer.__exit__(None, None, None)
        assert torch.get_num_threads() == 1
        inner.__exit__(None, None, None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_small_work_in_two_threads_lowers_each_and_gives_each_its_count_back():
    """Two renders on two threads of one host: torch's count is each thread's own (OpenMP), so
    a block lowers its own thread's, and one leaving never lowers or restores the other's."""
    import threading

    import torch

    from flowfill.devices import count_is_per_thread, small_work

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        inside, leave, seen = threading.Event(), threading.Event(), {}

        def render() -> None:
            torch.set_num_threads(2)
            with small_work("cpu"):
                seen["worker inside"] = torch.get_num_threads()
                inside.set()
                leave.wait(10)
                seen["worker after main left"] = torch.get_num_threads()
            seen["worker after"] = torch.get_num_threads()

        worker = threading.Thread(target=render)
        worker.start()
        assert inside.wait(10)
        with small_work("cpu"):  # entered while the worker's block is open
            seen["main inside"] = torch.get_num_threads()
        seen["main after"] = torch.get_num_threads()  # left first: its own count is back
        leave.set()
        worker.join(10)
        # a process-wide count (torch without OpenMP) comes back when the last block leaves
        assert seen == {"worker inside": 1, "main inside": 1,
                        "main after": 2 if count_is_per_thread() else 1,
                        "worker after main left": 1, "worker after": 2}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
