"""A window's kept factorisations (``fuse.kept``): a system that repeats is solved by the
factorisation made the first time, with the same answer, within a budget of unknowns."""

from __future__ import annotations

import numpy as np
from test_rounds import _pan

import flowfill.fuse.anchor as anchor
import flowfill.fuse.poisson as poisson
from flowfill.fuse import poisson_fill
from flowfill.fuse.anchor import reanchor
from flowfill.fuse.kept import KeptSolvers
from flowfill.masks import mask_key
from flowfill.options import Options
from flowfill.window import fill_window


def _counting(monkeypatch, module, name: str) -> list:
    """Record every call of ``module.name`` (and still make it)."""
    made: list = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        made.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return made


def _fusion_case(seed: int):
    rng = np.random.default_rng(seed)
    frame = rng.random((40, 50, 3)).astype(np.float32)
    filled = np.zeros((40, 50), bool)
    filled[10:30, 12:40] = True
    excluded = np.zeros_like(filled)
    excluded[18:22, 20:24] = True
    filled &= ~excluded
    n = int(filled.sum())
    colour = rng.random((n, 3)).astype(np.float32)
    step = (rng.random((4, n, 3)).astype(np.float32) - 0.5) * 0.1
    step_ok = rng.random((4, n)) > 0.2
    return frame, filled, excluded, colour, step, step_ok


def test_a_repeated_fusion_system_is_solved_by_the_kept_factorisation(monkeypatch):
    made = _counting(monkeypatch, poisson, "solver")
    kept = KeptSolvers()
    frame, filled, excluded, colour, step, step_ok = _fusion_case(0)
    first = poisson_fill(frame, filled, excluded, colour, step, step_ok, kept=kept)
    # the same masks, other colours and steps (the next round, or a still mask's next frame)
    frame2, _, _, colour2, step2, ok2 = _fusion_case(1)
    again = poisson_fill(frame2, filled, excluded, colour2, step2, ok2, kept=kept)
    assert len(made) == 1 and len(kept) == 1
    np.testing.assert_array_equal(first, poisson_fill(frame, filled, excluded, colour, step,
                                                      step_ok))
    np.testing.assert_array_equal(again, poisson_fill(frame2, filled, excluded, colour2, step2,
                                                      ok2))
    # another hole, or the same with another colour weight, is a system of its own
    other = filled.copy()
    other[10, 12] = False
    keep = np.flatnonzero(other[filled])
    poisson_fill(frame, other, excluded, colour[keep], step[:, keep], step_ok[:, keep],
                 kept=kept)
    poisson_fill(frame, filled, excluded, colour, step, step_ok, 0.5, kept=kept)
    assert len(made) == 5 and len(kept) == 3  # (four made here, one each for the plain calls)


def test_the_budget_bounds_what_is_kept():
    frame, filled, excluded, colour, step, step_ok = _fusion_case(0)
    kept = KeptSolvers(budget=int(filled.sum()) - 1)
    poisson_fill(frame, filled, excluded, colour, step, step_ok, kept=kept)
    assert len(kept) == 0
    kept = KeptSolvers(budget=int(filled.sum()))
    poisson_fill(frame, filled, excluded, colour, step, step_ok, kept=kept)
    assert len(kept) == 1


def test_mask_keys_tell_masks_apart():
    a = np.zeros((8, 9), bool)
    a[2:5, 3:6] = True
    b = a.copy()
    b[7, 8] = True  # the last bit of the packed bytes
    assert mask_key(a) != mask_key(b)
    assert mask_key(a) != mask_key(a.reshape(9, 8))  # the same bits, another shape
    assert mask_key(a, b) != mask_key(b, a)
    assert mask_key(a) == mask_key(a.copy())


def test_a_sliding_mask_is_reanchored_by_one_kept_membrane(monkeypatch):
    made = _counting(monkeypatch, anchor, "MembraneFill")
    rng = np.random.default_rng(2)
    frame = rng.random((60, 80, 3)).astype(np.float32)
    kept = KeptSolvers()
    outs = []
    for t in range(4):  # the same shape a little further each frame
        mask = np.zeros((60, 80), bool)
        mask[20:35, 10 + 5 * t:30 + 5 * t] = True
        fill = frame + np.float32(0.05 * (t + 1))
        outs.append((reanchor(fill.copy(), frame, mask, kept), reanchor(fill, frame, mask)))
    assert len(kept) == 1
    assert len(made) == 1 + 4  # one kept, and one for each call without the window's store
    for with_kept, alone in outs:
        np.testing.assert_array_equal(with_kept, alone)


def test_the_second_round_factorises_no_fusion_or_reanchoring_system_again(monkeypatch):
    """Two rounds at full size: each frame's re-anchoring membrane is made once for the window
    (the mask is the same in both rounds), and the second round's fusion systems, where the
    hole was found as in the first, are taken from the first; the output is what making them
    again gives."""
    n = 6
    _, _, holes, frames = _pan(n, "blob", seed=4)
    masks = holes.copy()
    holes = np.stack([np.pad(m, 1)[:-2, 1:-1] | m for m in holes])  # a margin beyond the mask
    opts = Options(rounds=2, flow_max_side=None)
    membranes = _counting(monkeypatch, anchor, "MembraneFill")
    systems = _counting(monkeypatch, poisson, "solver")
    got = fill_window(frames.copy(), holes, opts, masks=masks).frames
    assert len(membranes) == len({mask_key(anchor_crop(m)) for m in masks})
    kept_made = len(systems)
    # the same window where nothing is kept: the same output, every system made each time
    monkeypatch.setattr(KeptSolvers, "get", lambda self, key: None)  # noqa: ARG005
    membranes.clear()
    systems.clear()
    plain = fill_window(frames.copy(), holes, opts, masks=masks).frames
    np.testing.assert_array_equal(got, plain)
    assert len(membranes) == 2 * n  # each frame's, in each round
    assert kept_made <= len(systems) - n  # at least one system a frame repeated


def anchor_crop(mask: np.ndarray) -> np.ndarray:
    """The part of ``mask`` that ``reanchor`` factorises (its box and rings)."""
    from flowfill.masks import box

    return mask[box(mask, 1 + anchor.RINGS)]


def test_the_last_round_keeps_only_what_is_asked_for_twice(monkeypatch):
    """In a window's last round no later round asks again: a system is kept only when asked for
    a second time (a still mask's next frame), so a moving mask's are dropped as they are used;
    what an earlier round kept is still taken."""
    made = _counting(monkeypatch, poisson, "solver")
    frame, filled, excluded, colour, step, step_ok = _fusion_case(0)
    other = filled.copy()
    other[10, 12] = False
    keep = np.flatnonzero(other[filled])
    kept = KeptSolvers()
    poisson_fill(frame, other, excluded, colour[keep], step[:, keep], step_ok[:, keep],
                 kept=kept)  # an earlier round's
    kept.last_round()
    for _ in range(3):
        poisson_fill(frame, filled, excluded, colour, step, step_ok, kept=kept)
    assert len(made) == 3 and len(kept) == 2  # made twice, kept the second time, then taken
    poisson_fill(frame, other, excluded, colour[keep], step[:, keep], step_ok[:, keep],
                 kept=kept)
    assert len(made) == 3
    moving = KeptSolvers(last=True)
    for t in range(3):  # a new system each frame: none is kept
        shifted = np.roll(filled, t, axis=1)
        poisson_fill(frame, shifted, np.roll(excluded, t, axis=1), colour, step, step_ok,
                     kept=moving)
    assert len(moving) == 0
