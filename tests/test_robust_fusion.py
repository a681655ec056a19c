"""Robust candidate fusion: untrusted chains are dropped, the majority's colour wins, and a
source that disagrees is not averaged in (issue 21)."""

import numpy as np

from flowfill.grid import DIRECTIONS
from flowfill.propagate import Pointers, gather
from flowfill.propagate.candidates import select_inliers

H, W = 8, 10


def _stack():
    """Three source frames: flat grey, flat red, and a frame with a dark vertical edge."""
    stack = np.zeros((4, H, W, 3), np.float32)
    stack[0] = 0.5
    stack[1] = (0.9, 0.1, 0.1)
    stack[2] = 0.5
    stack[2, :, 6:] = 0.1
    stack[3] = 0.52
    return stack


def _ptr(idx, frame, x, y, err):
    n = idx.size
    return Pointers(idx, np.full(n, frame, np.int32), np.full(n, x, np.float32),
                    np.full(n, y, np.float32), np.full(n, err, np.float32))


def _nowhere(idx):
    """A candidate that found no source for any of the pixels ``idx``."""
    n = idx.size
    return Pointers(idx, np.full(n, -1, np.int32), *np.zeros((3, n), np.float32))


def test_majority_wins_over_the_candidate_with_the_smallest_error():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([3 * W + 3])
    # two grey sources agree, the red one has the smallest chain error
    cands = [_ptr(idx, 0, 3, 3, 0.5), _ptr(idx, 1, 3, 3, 0.1), _ptr(idx, 3, 3, 3, 0.6)]
    plain = gather(cands, stack, known, alpha=0.1)
    robust = gather(cands, stack, known, alpha=0.1, agree=0.06)
    assert plain.colour[0, 0] > 0.8  # today's blend follows the smallest error: red
    np.testing.assert_allclose(robust.colour[0], [0.505, 0.505, 0.505], atol=0.02)


def test_without_a_majority_the_error_weights_decide_as_before():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([2 * W + 2])
    cands = [_ptr(idx, 0, 2, 2, 0.3), _ptr(idx, 1, 2, 2, 0.2)]
    plain = gather(cands, stack, known, alpha=0.1)
    robust = gather(cands, stack, known, alpha=0.1, agree=0.06)
    np.testing.assert_allclose(robust.colour, plain.colour, atol=1e-6)
    w = np.exp(-1.0)  # the grey source, 0.1 px worse, weighs exp(-1) against the red one
    np.testing.assert_allclose(robust.colour[0], (stack[1, 2, 2] + w * stack[0, 2, 2]) / (1 + w),
                               atol=1e-5)


def test_a_lone_source_above_the_error_bound_is_not_trusted_but_an_agreed_one_is():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([3 * W + 2])
    lone = [_ptr(idx, 1, 2, 3, 5.0), _nowhere(idx)]
    assert not gather(lone, stack, known, alpha=0.1, max_err=2.0, agree=0.06).found[0]
    pair = [_ptr(idx, 0, 2, 3, 5.0), _ptr(idx, 3, 2, 3, 6.0)]  # both far, but they agree
    g = gather(pair, stack, known, alpha=0.1, max_err=2.0, agree=0.06)
    assert g.found[0]
    np.testing.assert_allclose(g.colour[0], 0.5, atol=0.02)


def test_untrusted_chains_leave_the_pixel_in_the_hole():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([1, 2, 3])
    err = np.array([0.5, 3.0, 9.0], np.float32)
    cand = Pointers(idx, np.zeros(3, np.int32), np.full(3, 4.0, np.float32),
                    np.full(3, 4.0, np.float32), err)
    g = gather([cand], stack, known, alpha=0.1, max_err=2.0)
    np.testing.assert_array_equal(g.found, [True, False, False])
    assert g.colour.shape == (1, 3)


def test_inlier_gradients_come_only_from_agreeing_sources():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([4 * W + 5])
    # frame 2 sampled at x=5 sees the dark edge to its right; frames 0 and 3 are flat
    cands = [_ptr(idx, 0, 5, 4, 0.3), _ptr(idx, 3, 5, 4, 0.4), _ptr(idx, 2, 5.0, 4, 0.05)]
    plain = gather(cands, stack, known, alpha=0.1)
    robust = gather(cands, stack, known, alpha=0.1, agree=0.06)
    right = DIRECTIONS.index((0, 1))
    assert plain.step[right, 0, 0] < -0.3  # the edge of the lowest-error source
    assert abs(robust.step[right, 0, 0]) < 0.03  # the flat majority


def test_select_inliers_ties_and_invalid():
    flat = (np.zeros((3, 4, 2, 3), np.float32), np.zeros((3, 4, 2), bool))  # centres only
    colour = np.zeros((3, 2, 3), np.float32)
    colour[1] = 1.0
    ok = np.array([[True, False], [True, False], [False, True]])
    dist = np.array([[0.5, np.inf], [0.2, np.inf], [np.inf, 0.1]], np.float32)
    keep = select_inliers(colour, ok, dist, 0.06, *flat)
    # pixel 0: two that disagree, no majority: both kept; pixel 1: the only valid one
    np.testing.assert_array_equal(keep, [[True, False], [True, False], [False, True]])
    colour[2, 0] = 0.02  # a third source near the first: a majority of two
    ok[2, 0] = True
    dist[2, 0] = 0.9
    keep = select_inliers(colour, ok, dist, 0.06, *flat)
    np.testing.assert_array_equal(keep[:, 0], [True, False, True])


def test_nearest_first_drops_distant_sources_where_a_neighbour_gives_a_trusted_one():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([3 * W + 3, 4 * W + 4])
    none = _nowhere(idx)
    # pixel 0: the backward chain (grey, 0.5 px) is trusted; two distant frames show red there,
    # as a moving object seen elsewhere in time would. Pixel 1: only the chain's error is
    # above the bound, so the distant sources are all there is.
    back = Pointers(idx, np.array([0, 0], np.int32), np.float32([3, 4]), np.float32([3, 4]),
                    np.float32([0.5, 9.0]))
    distant = [Pointers(idx, np.array([1, 1], np.int32), np.float32([3, 4]), np.float32([3, 4]),
                        np.float32([0.2, 0.2])) for _ in range(2)]
    cands = [back, none, *distant]
    outvoted = gather(cands, stack, known, alpha=0.1, max_err=4.0, agree=0.06)
    nearest = gather(cands, stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2)
    assert outvoted.colour[0, 0] > 0.8  # two distant sources outvote the neighbour
    np.testing.assert_allclose(nearest.colour[0], stack[0, 3, 3], atol=1e-6)
    np.testing.assert_allclose(nearest.colour[1], stack[1, 4, 4], atol=1e-6)
    assert nearest.found.all()


def test_distant_sources_decide_between_neighbours_that_disagree():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([3 * W + 3])
    # both chains are trusted and disagree: the backward one shows grey, the forward one red
    # (smaller error); two distant frames show grey, so grey wins and red is not blended in
    back = _ptr(idx, 0, 3, 3, 0.5)  # the hole's frame is 0 (``here``): both are near
    ahead = _ptr(idx, 1, 3, 3, 0.2)
    distant = [_ptr(idx, 3, 3, 3, 5.0), _ptr(idx, 0, 3, 3, 7.0)]
    g = gather([back, ahead, *distant], stack, known, alpha=0.1, max_err=4.0, agree=0.06,
               local=2, here=0)
    np.testing.assert_allclose(g.colour[0], stack[0, 3, 3], atol=1e-6)
    # without the distant frames the two neighbours blend, weighted by error, as before
    g2 = gather([back, ahead], stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2, here=0)
    assert 0.1 < g2.colour[0, 1] < 0.5


def test_a_chain_that_ends_far_in_time_does_not_outweigh_distant_sources():
    from flowfill.propagate.candidates import NEAR_SPAN

    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([3 * W + 3])
    none = _nowhere(idx)
    # the forward chain crossed the hole for many frames and lands on red (frame 1); two
    # distant frames agree on grey
    ahead = _ptr(idx, 1, 3, 3, 0.2)
    distant = [_ptr(idx, 0, 3, 3, 5.0), _ptr(idx, 3, 3, 3, 6.0)]
    cands = [none, ahead, *distant]
    near = gather(cands, stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2, here=0)
    far = gather(cands, stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2,
                 here=1 + NEAR_SPAN + 1)
    np.testing.assert_allclose(near.colour[0], stack[1, 3, 3], atol=1e-6)  # one frame away
    assert abs(far.colour[0, 1] - 0.5) < 0.03  # far away: the distant majority wins



def test_rim_range_is_the_colours_around_each_hole_pixel():
    from flowfill.propagate.rim import outside_rim, rim_range

    frame = np.full((40, 60, 3), 0.9, np.float32)  # flat snow ...
    frame[:, :10] = 0.1  # ... beside a dark tree trunk
    known = np.ones((40, 60), bool)
    known[15:25, 30:40] = False  # the hole, in the snow
    idx = np.flatnonzero(~known)
    low, high = rim_range(frame, known, idx, radius=8)
    assert np.allclose(low, 0.9) and np.allclose(high, 0.9)  # only snow within 8 px
    low, high = rim_range(frame, known, idx, radius=25)
    assert np.isclose(low.min(), 0.1)  # the trunk is within reach of the hole's left side
    deep = rim_range(frame, ~np.ones_like(known), idx, radius=4)  # nothing known near
    assert np.isneginf(deep[0]).all() and np.isposinf(deep[1]).all()
    rim = rim_range(frame, known, idx, radius=8)
    candidates = np.stack([np.full((len(idx), 3), 0.85, np.float32),
                           np.full((len(idx), 3), 0.3, np.float32)])
    stray = outside_rim(candidates, rim)
    assert not stray[0].any() and stray[1].all()  # snow fits, a dark fragment does not



def test_a_neighbour_that_fits_the_rim_beats_distant_sources_that_fit_nothing():
    """A fast pan's flat sky at the frame's edge: the neighbouring chain fails its round trip
    but lands on sky, two distant frames agree on a dark tree line that the colours around the
    hole (sky and a textured snow bank, so the rim is not flat) do not hold: the trees are
    dropped, and the sky, backed by the rim, is trusted."""
    stack = _stack()
    stack[0] = 0.85  # frame 0: the neighbour, sky
    stack[2] = 0.15  # frames 2 and 3: the distant frames, trees
    stack[3] = 0.15
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([3 * W + 3])
    none = _nowhere(idx)
    ahead = _ptr(idx, 0, 3, 3, 30.0)  # the round trip fails (flat sky, a large pan)
    distant = [_ptr(idx, 2, 3, 3, 2.0), _ptr(idx, 3, 3, 3, 3.0)]
    rim = (np.full((1, 3), 0.5, np.float32), np.full((1, 3), 0.95, np.float32))  # textured
    cands = [none, ahead, *distant]
    g = gather(cands, stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2, rim=rim,
               here=1)
    assert g.found[0]
    np.testing.assert_allclose(g.colour[0], 0.85, atol=1e-6)
    # alone, the same chain is not trusted (its round trip fails): left to the hallucination
    g = gather([none, ahead], stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2,
               rim=rim, here=1)
    assert not g.found[0]
    # a neighbour outside the rim too gives no reason to doubt the distant frames
    stack[0] = 0.05
    g = gather(cands, stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2, rim=rim,
               here=1)
    np.testing.assert_allclose(g.colour[0], 0.15, atol=1e-6)
    # nor does one far away in time
    stack[0] = 0.85
    g = gather(cands, stack, known, alpha=0.1, max_err=4.0, agree=0.06, local=2, rim=rim,
               here=9)
    np.testing.assert_allclose(g.colour[0], 0.15, atol=1e-6)


def test_a_neighbour_far_closer_to_a_round_trip_than_any_distant_source_is_trusted():
    stack = _stack()
    known = np.ones(stack.shape[:3], bool)
    idx = np.array([3 * W + 2])
    none = _nowhere(idx)
    # flat picture in a fast pan: every round trip fails. The adjacent frame's chain (grey) fails
    # by 3 px, above the 2-px bound; two distant frames agree on red at 20 and 25 px.
    back = _ptr(idx, 2, 2, 3, 3.0)
    far = [_ptr(idx, 1, 2, 3, 20.0), _ptr(idx, 1, 2, 3, 25.0)]
    g = gather([back, none, *far], stack, known, alpha=0.1, max_err=2.0, agree=0.06, local=2,
               here=0)
    np.testing.assert_allclose(g.colour[0], stack[2, 3, 2], atol=1e-6)
    # distant sources only twice as poor: the neighbour is not trusted, their majority wins
    far = [_ptr(idx, 1, 2, 3, 6.0), _ptr(idx, 1, 2, 3, 7.0)]
    g = gather([back, none, *far], stack, known, alpha=0.1, max_err=2.0, agree=0.06, local=2,
               here=0)
    np.testing.assert_allclose(g.colour[0], stack[1, 3, 2], atol=1e-6)


def test_disagreeing_distant_sources_alone_on_flat_picture_the_one_that_fits_around_wins():
    from flowfill.propagate.rim import rim_range

    stack = _stack()
    stack[3] = 0.62  # lighter grey: close enough to the rim's colours to pass its check
    known = np.ones(stack.shape[:3], bool)
    known[0, 2:5, 2:5] = False  # the hole in the hole's frame (0), flat grey around it
    idx = np.array([3 * W + 3])
    none = _nowhere(idx)
    # no neighbouring chain; two distant frames disagree, the lighter one with the smaller error
    far = [_ptr(idx, 3, 3, 3, 5.0), _ptr(idx, 2, 2, 3, 9.0)]
    kw = dict(alpha=0.1, max_err=2.0, agree=0.06, local=2)
    g = gather([none, none, *far], stack, known, rim=rim_range(stack[0], known[0], idx, 3),
               here=0, **kw)
    assert g.found[0]
    np.testing.assert_allclose(g.colour[0], stack[2, 3, 2], atol=1e-6)  # grey, as around
    # on textured picture (a rim spanning black to white) the chain errors still decide
    textured = stack.copy()
    textured[0, :, :2] = 0.0
    textured[0, :, 6:] = 1.0
    g = gather([none, none, *far], textured, known, rim=rim_range(textured[0], known[0], idx, 4),
               here=0, **kw)
    np.testing.assert_allclose(g.colour[0], 0.62, atol=1e-6)
    # without the hole's frame to compare with, as before too
    g = gather([none, none, *far], stack, known, **kw)
    np.testing.assert_allclose(g.colour[0], 0.62, atol=1e-6)


def test_a_chain_ending_out_of_span_is_a_distant_source_in_a_dispute():
    """A neighbouring chain that ends many frames away is one distant source among others: on
    nearly flat picture, where it and a distant frame disagree, the one that fits around wins, not
    the smaller round trip (a white shoe from the clip's last frame on clay, `still` text)."""
    import torch

    from flowfill.propagate.candidates import NEAR_SPAN
    from flowfill.propagate.candidates_torch import gather_torch
    from flowfill.propagate.rim import rim_range

    far = NEAR_SPAN + 1  # the chain's end: grey, as around the hole
    stack = np.concatenate([_stack(), np.full((2, H, W, 3), 0.52, np.float32)])
    stack[far + 1] = 0.9  # a distant frame showing white there
    # the hole in frame 0: around it a shading over 0.33 (faint texture, not flat: the
    # distant white is not dropped by the rim check)
    stack[0] = np.linspace(0.3, 0.8, W, dtype=np.float32)[None, :, None]
    known = np.ones(stack.shape[:3], bool)
    known[0, 2:5, 2:5] = False
    idx = np.array([3 * W + 3])
    # the forward chain crossed the hole for many frames and lands on grey, poorly; the distant
    # frame gives white with a round trip three times better
    cands = [_nowhere(idx), _ptr(idx, far, 3, 3, 15.0), _ptr(idx, far + 1, 3, 3, 5.0)]
    kw = dict(alpha=0.1, max_err=3.5, agree=0.06, local=2, here=0)
    rim = rim_range(stack[0], known[0], idx, 3)
    g = gather(cands, stack, known, rim=rim, **kw)
    assert g.found[0]
    np.testing.assert_allclose(g.colour[0], 0.52, atol=1e-6)  # grey, as around: not white
    t = torch.from_numpy
    tg = gather_torch([Pointers(*(t(np.ascontiguousarray(a)) for a in (c.idx, c.frame, c.x, c.y,
                                                                       c.err))) for c in cands],
                      t(stack), t(known), rim=(t(rim[0]), t(rim[1])), **kw)
    np.testing.assert_allclose(tg.colour.numpy(), g.colour, atol=1e-6)


def test_each_candidate_carries_its_own_sources_samples_whatever_comes_with_it():
    """The candidates' sources are sampled together: each pixel's colour and steps are still
    those of its own source, for candidates of any size (one found nowhere)."""
    from flowfill.propagate.sample import sample_with_steps

    rng = np.random.default_rng(4)
    stack = rng.random((4, 24, 30, 3)).astype(np.float32)
    known = rng.random((4, 24, 30)) > 0.1
    idx = np.arange(60) * 7
    owner = rng.integers(0, 3, idx.size)  # the one candidate that found each pixel
    owner[:5] = 0
    cands = []
    for ci in range(4):  # the last finds nothing
        frame = np.where(owner == ci, rng.integers(0, 4, idx.size), -1).astype(np.int32)
        cands.append(Pointers(idx, frame, rng.uniform(-1, 30, idx.size).astype(np.float32),
                              rng.uniform(-1, 24, idx.size).astype(np.float32),
                              np.zeros(idx.size, np.float32)))
    g = gather(cands, stack, known, alpha=0.1)
    colour = np.zeros((idx.size, 3), np.float32)
    steps = np.zeros((4, idx.size, 3), np.float32)
    steps_ok = np.zeros((4, idx.size), bool)
    found = np.zeros(idx.size, bool)
    for ci, cand in enumerate(cands[:3]):
        sel = np.flatnonzero(owner == ci)
        (val, valid, exact), nbs = sample_with_steps(stack, known, cand.frame[sel], cand.x[sel],
                                                     cand.y[sel])
        colour[sel], found[sel] = val, valid
        for d, (nb, nexact) in enumerate(nbs):
            steps[d, sel], steps_ok[d, sel] = nb - val, nexact & exact
    np.testing.assert_array_equal(g.found, found)
    np.testing.assert_array_equal(g.colour, colour[found])
    np.testing.assert_array_equal(g.step_ok, steps_ok[:, found])
    np.testing.assert_array_equal(np.where(g.step_ok[..., None], g.step, 0),
                                  np.where(steps_ok[:, found, None], steps[:, found], 0))
