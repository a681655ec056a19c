"""flowfill.plan: the windows of a scanned clip (no Ray), and remove_stream run from them."""

from __future__ import annotations

import numpy as np
import pytest
from test_shot import clip

from flowfill import InputError, Options
from flowfill.pipeline import Stats, fill_values, prepared, remove_stream
from flowfill.plan import Planner, Window, plan, plan_windows
from flowfill.progress import Progress
from flowfill.references import ReferenceFrames, scan_clip
from flowfill.timing import StageClock
from flowfill.window import flow_estimator

CASES = [  # count, cuts, window, overlap
    (40, [], 10, 3), (40, [13, 14, 30], 10, 3), (23, [7], 5, 4), (9, [], 12, 2),
    (31, [1, 30], 6, 0), (50, [20], 8, 2),
]


def _options(window: int, overlap: int, refs: int = 3) -> Options:
    return Options(window=window, overlap=overlap, reference_frames=refs).validated()


@pytest.mark.parametrize(("count", "cuts", "window", "overlap"), CASES)
def test_windows_stay_in_their_shot_and_cover_the_clip_once_plus_overlaps(count, cuts, window,
                                                                          overlap):
    areas = np.random.default_rng(count).integers(0, 100, count)
    work = plan(areas, cuts, _options(window, overlap))
    bounds = [0, *cuts, count]
    assert work.shots == [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    outputs: list[int] = []
    previous = None
    for w in work.works:
        a, b = w.shot
        assert (a, b) in work.shots and a <= w.window.start < w.window.stop <= b
        assert not any(w.window.start < c < w.window.stop for c in cuts)  # never across a cut
        assert w.window.size <= window
        outputs.extend(range(w.window.start, w.window.start + w.window.keep))
        if previous is None or previous.shot != w.shot:
            assert w.window.carry == 0 and w.window.start == a
        else:  # the overlap: the frames the previous window filled too
            assert w.window.start == previous.window.start + previous.window.keep
            assert w.window.carry == previous.window.stop - w.window.start
            assert w.window.carry in (0, overlap)
        previous = w
    assert outputs == list(range(count))  # every frame is output once, in order
    filled = [t for w in work.to_fill for t in range(w.window.start, w.window.stop)]
    assert set(filled) == set(range(count))  # and filled by some window


def test_the_planner_streams_the_same_windows():
    for count, cuts, window, overlap in CASES:
        planner = Planner(window, overlap)
        streamed: list[Window] = []
        for i in range(count):
            streamed += planner.push(i, i in cuts)
        streamed += planner.finish(count)
        assert streamed == plan_windows(count, cuts, window, overlap)


def test_references_are_clip_global_picks_of_the_window_shot_outside_it():
    areas = np.full(40, 50)
    areas[[3, 12, 18, 25, 30, 38]] = 0  # the least-hole frame of each stretch
    work = plan(areas, [20], _options(6, 2, refs=3))
    assert work.picks == (3, 12, 18, 25, 30, 38)
    for w in work.works:
        first, last = w.window.start, w.window.stop - 1
        want = [p for p in work.picks if w.shot[0] <= p < w.shot[1] and not first <= p <= last]
        assert list(w.references) == want
    assert work.works[0].references == (12, 18)  # frames 0-5: its shot's other picks
    for w in work.works:  # every window knows all its shot's picks, its own frames' too
        assert w.picks == tuple(p for p in work.picks if w.shot[0] <= p < w.shot[1])
    assert work.works[0].picks == (3, 12, 18)
    assert work.works[-1].references == (25, 30)  # the second shot's picks, by clip index
    assert plan(areas, [], _options(40, 2)).picks == ()  # a window holds the clip: none
    assert plan(areas, [], _options(6, 2, refs=0)).picks == ()


def test_remove_stream_from_a_plan_equals_the_stream_bit_for_bit():
    frames, masks = clip(14, cut=7)
    opts = Options.from_kwargs(fill="telea", nonlocal_frames=0, edges="off", window=5,
                               overlap=2, reference_frames=2)
    open_clip = lambda: (frames, masks)  # noqa: E731
    found = scan_clip(open_clip, opts)
    work = plan(found.areas, found.cuts, opts)
    assert work.cuts == (7,) and work.picks
    refs = ReferenceFrames.read(open_clip, work.picks, work.shots, opts)
    streamed, planned = Stats(), Stats()
    want = np.stack(list(remove_stream(frames, masks, opts, stats=streamed, references=refs)))
    got = np.stack(list(remove_stream(frames, masks, opts, stats=planned, references=refs,
                                      plan=work)))
    assert np.array_equal(got, want)
    assert planned.cuts == streamed.cuts == [7]
    assert planned.hole_pixels == streamed.hole_pixels > 0
    # a fill from elsewhere (here: the windows computed ahead, in reverse) changes nothing
    estimator = flow_estimator(opts)
    items = {item.index: item for item, _ in prepared(frames, masks, opts, detect_cuts=False)}
    ahead = {w.window.start: fill_values([items[t] for t in range(w.window.start,
                                                                   w.window.stop)],
                                         opts, Progress(enabled=False), estimator, StageClock(),
                                         refs)
             for w in reversed(work.to_fill)}
    got = np.stack(list(remove_stream(frames, masks, opts, plan=work,
                                      fill=lambda w, _items: ahead[w.start])))
    assert np.array_equal(got, want)


def test_a_plan_for_another_clip_length_is_refused():
    frames, masks = clip(8)
    opts = Options.from_kwargs(fill="telea", nonlocal_frames=0, edges="off", window=4,
                               overlap=1, reference_frames=0)
    with pytest.raises(InputError, match="planned with 9"):
        list(remove_stream(frames, masks, opts, plan=plan(np.zeros(9), [], opts)))
    with pytest.raises(InputError, match="more frames than the 7"):
        list(remove_stream(frames, masks, opts, plan=plan(np.zeros(7), [], opts)))
