"""A window's frames on several threads: the same output bit for bit, stage times that add up,
a failure or a cancel that stops the other threads, OpenCV's thread count given back."""

from __future__ import annotations

import gc
import threading
import time

import cv2
import numpy as np
import pytest
from conftest import square_masks, synthetic_frames

import flowfill
from flowfill import Cancelled, InputError, Options
from flowfill.complete.frame import FrameFlowFill
from flowfill.complete.laplace import MembraneFill
from flowfill.evaluate import scenes
from flowfill.grid import Factorisation
from flowfill.parallel import FramePool, blocks, frame_threads
from flowfill.resume import fingerprint
from flowfill.timing import StageClock
from flowfill.window import fill_window


def disc_clip(n: int = 14, w: int = 160, h: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A textured pan with a disc swinging across it (the long-shot benchmark's scene)."""
    spec = scenes.long_scene(n, w, h)
    frames = np.stack([scenes.render_frame(spec, t, with_object=False)[0] for t in range(n)])
    yy, xx = np.mgrid[0:h, 0:w]
    masks = np.stack([(xx - w * (0.3 + 0.03 * t)) ** 2 + (yy - h / 2) ** 2 <= (h / 6) ** 2
                      for t in range(n)])
    return frames.astype(np.float32) / 255, masks


def test_the_output_is_the_same_for_any_thread_count(monkeypatch):
    frames, masks = disc_clip()
    seen: dict[int, set[str]] = {}
    complete = FrameFlowFill.complete

    def spied(self, *args, **kwargs):
        seen.setdefault(current, set()).add(threading.current_thread().name)
        return complete(self, *args, **kwargs)

    monkeypatch.setattr(FrameFlowFill, "complete", spied)
    out = {}
    for current in (1, 2, 4):
        out[current] = flowfill.remove(frames, masks, frame_threads=current, device="cpu")
    assert np.array_equal(out[1], out[2]) and np.array_equal(out[1], out[4])
    assert not np.array_equal(out[1][masks], frames[masks])  # the hole was filled
    assert seen[1] == {threading.current_thread().name}
    assert len(seen[2]) == 2 and len(seen[4]) >= 2  # the flows were completed on the threads


def test_key_frames_fitted_from_both_ends_keep_the_later_frames_fit():
    """Two key frames' background motion is fitted from each end (each is the other's
    distant pair); frames worked on in order leave the later frame's fit, and so must threads
    finishing in any order (on 8 frames, 4 threads took one frame each and the fill moved by
    up to 0.027 before)."""
    frames = np.stack(synthetic_frames(8, 48, 64)).astype(np.float32) / 255
    holes = np.stack(square_masks(8, 48, 64))
    one, *others = (fill_window(frames, holes, Options(edges="off", device="cpu",
                                                       frame_threads=k)).frames
                    for k in (1, 4, 4, 4))
    for other in others:
        assert np.array_equal(one, other)


def test_a_failing_task_stops_the_others_and_opencv_gets_its_count_back():
    before = cv2.getNumThreads()
    started = []

    def task(item: int, clock: StageClock) -> int:
        started.append(item)
        assert cv2.getNumThreads() == 1
        time.sleep(0.02)
        if item == 1:
            raise ValueError("frame 1 is broken")
        return item

    with pytest.raises(ValueError, match="frame 1 is broken"), FramePool(2) as pool:
        pool.map(task, range(40))
    assert len(started) < 40
    assert cv2.getNumThreads() == before


def test_stage_times_are_charged_by_share_of_the_wall_time():
    clock = StageClock()

    def task(item: int, clk: StageClock) -> None:
        with clk("flow"):
            time.sleep(0.05)

    t0 = time.perf_counter()
    with FramePool(2, clock) as pool:
        pool.map(task, range(8))
    wall = time.perf_counter() - t0
    # eight 0.05 s tasks on two threads: about 0.2 s of wall time, not 0.4 of thread time
    assert 0.15 < clock.seconds["flow"] <= wall


def test_a_cancel_from_a_frame_thread_stops_the_run_at_once():
    frames, masks = disc_clip(8)
    polls = []
    before = cv2.getNumThreads()
    stream = flowfill.remove_stream(frames, masks, Options(frame_threads=2, device="cpu"),
                                    cancelled=lambda: polls.append(1) or len(polls) > 3)
    with pytest.raises(Cancelled):
        list(stream)
    assert len(polls) == 4  # no thread asked again once one was told to stop
    assert cv2.getNumThreads() == before


def test_blocks_cover_the_frames_in_order():
    for count in (0, 1, 5, 14, 80):
        for threads in (1, 2, 3):
            got = [t for block in blocks(count, threads) for t in block]
            assert got == list(range(count))
            assert all(len(b) for b in blocks(count, threads))
    assert len(blocks(80, 1)) == 1 and len(blocks(80, 2)) == 6


def test_thread_count_choice_and_checks():
    assert frame_threads(3, "cpu") == 3
    assert 1 <= frame_threads(None, "cpu") <= 4
    with pytest.raises(InputError, match="--frame-threads"):
        Options(frame_threads=0).validated()
    # a run resumed with another thread count takes the windows it finished
    assert (fingerprint(set(), Options(frame_threads=1), {})
            == fingerprint(set(), Options(frame_threads=4), {}))


def test_a_backend_unsafe_on_two_threads_estimates_on_one():
    """dis-sparse (OpenCV contrib's edge-aware interpolator) gave other flows when two
    instances ran at once; its pairs stay on one thread, and the output is the same."""
    frames, masks = disc_clip(8)
    one, two = (flowfill.remove(frames, masks, frame_threads=k, flow="dis-sparse", device="cpu")
                for k in (1, 2))
    assert np.array_equal(one, two)


@pytest.mark.parametrize("ldl", [True, False])
def test_superlu_factorisations_are_dropped_on_the_thread_that_made_them(monkeypatch, ldl):
    """scipy never gives back a SuperLU factorisation dropped on another thread than the one
    that made it (grid.factorise): the frame threads' membranes, kept between frames (a still
    mask's, the key frames'), are dropped by their own thread; what the window keeps for all
    its threads (``fuse.kept``) are LDL^T factorisations only, which any thread may drop. Run
    with QDLDL and with SuperLU alone (a host without qdldl)."""
    made, crossed, wrong = [], [], []
    init = MembraneFill.__init__
    if not ldl:
        def no_qdldl(self, a):
            raise ImportError("qdldl")

        monkeypatch.setattr(Factorisation, "__init__", no_qdldl)

    def spied_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.maker = threading.get_ident()
        made.append(self.maker)

    def spied_del(self):
        if getattr(self, "maker", threading.get_ident()) != threading.get_ident():
            crossed.append(self.maker)
            if not isinstance(getattr(self, "solver", None), Factorisation):
                wrong.append(self.maker)

    monkeypatch.setattr(MembraneFill, "__init__", spied_init)
    monkeypatch.setattr(MembraneFill, "__del__", spied_del, raising=False)
    frames, masks = disc_clip(10)
    still = masks.copy()
    still[:] = masks[0]  # a still mask: one membrane kept for every frame of a thread
    for m in (masks, still):
        flowfill.remove(frames, m, frame_threads=2, device="cpu")
    gc.collect()
    assert len(set(made) - {threading.get_ident()}) >= 2  # made on both frame threads
    assert not wrong
    assert bool(crossed) == ldl  # the window's kept LDL^T, dropped where the window ends


def test_ctrl_c_on_the_callers_thread_stops_the_threads_taking_more(monkeypatch):
    """Ctrl-C reaches the thread waiting on the pool; the frame threads then take no more
    frames (a 4K window's flows would otherwise all be worked out before the run stops)."""
    import flowfill.parallel as parallel

    started = []

    def task(item: int, clock: StageClock) -> None:
        started.append(item)
        time.sleep(0.02)

    def interrupted(futures, *args, **kwargs):
        time.sleep(0.1)
        raise KeyboardInterrupt

    monkeypatch.setattr(parallel, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt), FramePool(2) as pool:
        pool.map(task, range(200))
    assert len(started) < 40  # about 10 began before the interrupt, not all 200
