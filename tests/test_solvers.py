"""The sparse solvers: Poisson fusion and Laplace flow completion against analytic answers."""

import numpy as np

from flowfill.complete import complete_flow, complete_flows
from flowfill.fuse import poisson_fill
from flowfill.grid import DIRECTIONS


def _steps(field: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Exact colour differences of ``field`` (H x W x C) towards the four neighbours of ``idx``."""
    h, w, c = field.shape
    ys, xs = np.divmod(idx, w)
    out = np.zeros((4, idx.size, c), np.float32)
    for d, (dy, dx) in enumerate(DIRECTIONS):
        ny, nx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
        out[d] = field[ny, nx] - field[ys, xs]
    return out


def test_poisson_recovers_analytic_field_from_its_gradients():
    h, w = 60, 80
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    truth = np.stack([np.sin(xx / 7) + 0.01 * yy**1.5, np.cos(yy / 5) * xx / 80, xx * yy / 4800],
                     -1).astype(np.float32)
    hole = np.zeros((h, w), bool)
    hole[15:45, 20:65] = True
    hole[40:60, 30:40] = True  # touches the image border: Neumann there
    idx = np.flatnonzero(hole)
    frame = truth.copy()
    frame[hole] = 7.0  # garbage inside the hole must not matter
    warm = np.zeros((idx.size, 3), np.float32)  # a poor warm start
    ok = np.ones((4, idx.size), bool)
    sol = poisson_fill(frame, hole, np.zeros_like(hole), warm, _steps(truth, idx), ok)
    np.testing.assert_allclose(sol, truth.reshape(-1, 3)[idx], atol=2e-4)


def test_poisson_emits_each_link_once():
    # docs/METHOD.md 5.2: ends 0 and 1, zero gradients -> the standard answer, not FGVC's 1/3, 2/3
    frame = np.zeros((1, 5, 1), np.float32)
    frame[0, 4] = 1.0
    hole = np.zeros((1, 5), bool)
    hole[0, 1:4] = True
    steps = np.zeros((4, 3, 1), np.float32)
    sol = poisson_fill(frame, hole, np.zeros_like(hole), np.full((3, 1), 0.9, np.float32), steps,
                       np.ones((4, 3), bool))
    np.testing.assert_allclose(sol[:, 0], [0.25, 0.5, 0.75], atol=1e-5)


def test_poisson_floating_region_keeps_warm_start_level():
    # a filled island cut off by unfilled pixels has no boundary: it keeps the propagated mean
    frame = np.zeros((9, 9, 1), np.float32)
    filled = np.zeros((9, 9), bool)
    filled[3:6, 3:6] = True
    excluded = np.zeros((9, 9), bool)
    excluded[2:7, 2:7] = True
    excluded &= ~filled
    idx = np.flatnonzero(filled)
    warm = np.full((idx.size, 1), 0.6, np.float32)
    sol = poisson_fill(frame, filled, excluded, warm, np.zeros((4, idx.size, 1), np.float32),
                       np.ones((4, idx.size), bool))
    np.testing.assert_allclose(sol, 0.6, atol=1e-4)


def test_laplace_reproduces_linear_and_harmonic_flow():
    h, w = 50, 70
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    linear = np.stack([0.05 * xx - 2, 0.03 * yy + 0.5 * 0.01 * xx], -1)
    harmonic = np.stack([(xx**2 - yy**2) / 500, xx * yy / 300], -1)  # discrete-harmonic too
    mask = np.zeros((h, w), bool)
    mask[10:40, 15:50] = True
    for truth in (linear, harmonic):
        damaged = truth.copy()
        damaged[mask] = 50.0
        np.testing.assert_allclose(complete_flow(damaged, mask), truth, atol=1e-4)


def test_laplace_shared_factorisation_and_outside_untouched():
    rng = np.random.default_rng(0)
    flows = [rng.normal(size=(20, 30, 2)).astype(np.float32) for _ in range(2)]
    mask = np.zeros((20, 30), bool)
    mask[5:15, 5:20] = True
    both = complete_flows(flows, mask)
    for f, got in zip(flows, both, strict=True):
        np.testing.assert_array_equal(got[~mask], f[~mask])
        np.testing.assert_allclose(got, complete_flow(f, mask), atol=1e-6)


def test_edges_keep_a_motion_boundary_sharp():
    # left half moves by +4, right half by -4; the hole straddles the boundary at x = 30
    h, w = 40, 60
    truth = np.zeros((h, w, 2), np.float32)
    truth[:, :30, 0] = 4.0
    truth[:, 30:, 0] = -4.0
    mask = np.zeros((h, w), bool)
    mask[10:30, 15:45] = True
    edges = np.zeros((h, w), bool)
    edges[:, 29:31] = True
    plain = complete_flow(truth, mask)
    guided = complete_flow(truth, mask, edges=edges)
    inner = mask & ~edges
    err_plain = np.abs(plain - truth)[inner].mean()
    err_guided = np.abs(guided - truth)[inner].mean()
    assert err_guided < 0.05 < err_plain


def _two_motions(h: int = 60, w: int = 80, split: int = 40) -> np.ndarray:
    """Flow (2, 0) left of column ``split`` and (-3, 1) from it on: one straight motion edge."""
    flow = np.zeros((h, w, 2), np.float32)
    flow[:, :split] = (2.0, 0.0)
    flow[:, split:] = (-3.0, 1.0)
    return flow


def _holed_boundary() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two motions, a hole across their boundary (garbage inside it), and a two-pixel-wide
    edge band on the boundary: (flow, hole, damaged flow, band)."""
    flow = _two_motions()
    hole = np.zeros(flow.shape[:2], bool)
    hole[15:45, 20:60] = True
    damaged = flow.copy()
    damaged[hole] = 50.0
    band = np.zeros_like(hole)
    band[:, 39:41] = True
    return flow, hole, damaged, band


def test_edges_let_the_fill_jump_across_a_motion_boundary():
    flow, hole, damaged, edges = _holed_boundary()
    plain = complete_flow(damaged, hole)
    cut = complete_flow(damaged, hole, edges)
    err_plain = np.linalg.norm(plain - flow, axis=-1)[hole].mean()
    off_band = hole & ~edges
    err_cut = np.linalg.norm(cut - flow, axis=-1)[off_band]
    assert err_plain > 0.5  # the membrane blurs the two motions into each other
    assert err_cut.max() < 1e-3 * err_plain
    # edge pixels keep the membrane's value: strictly between the two motions, not the hole's
    band = cut[15:45, 39:41]
    assert (band[..., 0] > -3.0 + 0.1).all() and (band[..., 0] < 2.0 - 0.1).all()
    assert (band[..., 1] > 0.05).all() and (band[..., 1] < 0.95).all()
    np.testing.assert_array_equal(cut[~hole], damaged[~hole])


def test_soft_edges_cut_in_proportion_to_their_strength():
    flow, hole, damaged, edges = _holed_boundary()
    band = edges.astype(np.float32)
    off_band = hole & (band == 0)
    errors = []
    for strength in (0.0, 0.5, 0.9, 0.999, 1.0):
        out = complete_flow(damaged, hole, strength * band)
        errors.append(float(np.linalg.norm(out - flow, axis=-1)[off_band].mean()))
        np.testing.assert_array_equal(out[~hole], damaged[~hole])
    assert errors == sorted(errors, reverse=True) and errors[0] > 10 * errors[3]
    # strength 0 is the plain membrane; strength 1 is the bool edge
    np.testing.assert_array_equal(complete_flow(damaged, hole, 0 * band),
                                  complete_flow(damaged, hole))
    np.testing.assert_allclose(complete_flow(damaged, hole, band),
                               complete_flow(damaged, hole, band > 0), atol=1e-6)
    # a faint edge everywhere (no boundary) barely moves a smooth fill
    smooth = np.zeros_like(flow)
    smooth[..., 0] = np.linspace(-2, 2, flow.shape[1])[None]
    faint = np.full(hole.shape, 0.3, np.float32)
    np.testing.assert_allclose(complete_flow(smooth, hole, faint)[hole], smooth[hole], atol=1e-4)


def test_a_region_fenced_off_by_edges_takes_its_surroundings_value():
    h, w = 64, 64
    flow = np.zeros((h, w, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0
    hole = np.zeros((h, w), bool)
    hole[12:52, 12:52] = True
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - 32, xx - 32)
    edges = (r >= 9) & (r < 11)  # a closed ring inside the hole: the disc within floats
    damaged = flow.copy()
    damaged[hole] = -40.0
    out = complete_flow(damaged, hole, edges)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[r < 9], np.broadcast_to([3.0, -2.0], out[r < 9].shape),
                               atol=1e-2)  # not lsqr's zero
    np.testing.assert_allclose(out[hole], flow[hole], atol=1e-2)


def test_edges_outside_the_hole_change_nothing():
    flow = _two_motions()
    hole = np.zeros(flow.shape[:2], bool)
    hole[20:30, 5:15] = True
    edges = np.zeros_like(hole)
    edges[:, 39:41] = True
    np.testing.assert_array_equal(complete_flow(flow, hole, edges), complete_flow(flow, hole))


def test_poisson_never_leaves_the_frames_range_of_values():
    # a hole strip along the frame edge with known pixels at one end only: steps that add up
    # (+0.05 a pixel) integrate far beyond white; those pixels take their propagated colour
    # instead of being clipped to white specks (numpy and torch alike)
    import torch

    from flowfill.fuse.poisson_torch import poisson_fill_torch

    w = 40
    frame = np.repeat(np.linspace(0, 1, w, dtype=np.float32)[None, :, None], 3, axis=2)
    frame[0, 0] = 0.5  # the one known pixel; the frame's values span 0..1
    filled = np.zeros((1, w), bool)
    filled[0, 1:] = True
    n = w - 1
    colour = np.full((n, 3), 0.6, np.float32)
    step = np.zeros((4, n, 3), np.float32)
    step_ok = np.zeros((4, n), bool)
    right, left = DIRECTIONS.index((0, 1)), DIRECTIONS.index((0, -1))
    step[right], step[left] = 0.05, -0.05
    step_ok[right], step_ok[left] = True, True
    step_ok[right, -1] = False  # the last pixel has no right neighbour
    excluded = np.zeros((1, w), bool)
    got = poisson_fill(frame, filled, excluded, colour, step, step_ok)
    ramp = 0.5 + 0.05 * np.arange(1, w)
    inside = ramp <= 1.0
    np.testing.assert_allclose(got[inside], np.repeat(ramp[inside, None], 3, 1), atol=1e-4)
    np.testing.assert_allclose(got[~inside], colour[~inside])
    t = poisson_fill_torch(*(torch.as_tensor(a) for a in (frame, filled, excluded, colour, step,
                                                         step_ok)))
    np.testing.assert_allclose(t.numpy(), got, atol=1e-5)
    assert (got >= 0).all() and (got <= 1 + 1e-3).all()


def _disc_system(radius: int):
    """The membrane of a disc of ``radius`` px (with its one-pixel rim of known pixels)."""
    from flowfill.grid import build_system

    size = 2 * radius + 5
    yy, xx = np.mgrid[0:size, 0:size]
    return build_system((yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= radius**2)


def test_large_systems_are_solved_by_multigrid_to_the_lus_answer():
    """Above MULTIGRID_MIN unknowns the solver is multigrid CG; it gives the LU's solution to
    within a float32 colour's rounding (SOLVE_TOL), for one right-hand side or several,
    without falling back."""
    from flowfill.grid import MULTIGRID_MIN, MultigridSolver, factorise, solver

    system = _disc_system(185)
    assert system.n >= MULTIGRID_MIN
    rng = np.random.default_rng(0)
    known = rng.random((system.shape[0] * system.shape[1], 3))
    rhs = system.dirichlet_rhs(known[system.uk_k])
    solve = solver(system.A)
    assert isinstance(solve, MultigridSolver)
    want = factorise(system.A).solve(rhs)
    got = solve.solve(rhs)
    assert got.shape == rhs.shape and np.abs(got - want).max() < 1e-7
    assert np.abs(solve.solve(rhs[:, 1]) - want[:, 1]).max() < 1e-7
    assert np.all(solve.solve(np.zeros(system.n)) == 0)
    # the columns go through the cycle together: a zero one among them stays zero, and a start
    # near the answer (the propagated colours, in fusion) ends at the same answer
    mixed = rhs.copy()
    mixed[:, 1] = 0.0
    got = solve.solve(mixed, guess=want + rng.normal(0, 0.01, want.shape))
    assert np.all(got[:, 1] == 0) and np.abs(got[:, [0, 2]] - want[:, [0, 2]]).max() < 1e-7
    assert solve.fallbacks == 0
    small = _disc_system(40)
    assert small.n < MULTIGRID_MIN and not isinstance(solver(small.A), MultigridSolver)


def test_a_multigrid_solve_that_does_not_converge_is_taken_by_the_lu(monkeypatch):
    """Cut short (one CG step), the multigrid misses the tolerance: the residual check hands
    each column to the LU, whose answer comes back exactly."""
    import flowfill.grid as grid

    system = _disc_system(120)
    rhs = system.dirichlet_rhs(np.random.default_rng(1).random((system.uk_k.size, 2)))
    monkeypatch.setattr(grid, "MAX_CYCLES", 1)
    solve = grid.MultigridSolver(system.A)
    got = solve.solve(rhs)
    assert solve.fallbacks == 2
    assert np.array_equal(got, grid.factorise(system.A).solve(rhs))


def test_without_pyamg_large_systems_are_factorised(monkeypatch):
    """A host without pyamg (the GPU image has none) gets the LU, the same answer."""
    import sys

    import flowfill.grid as grid

    monkeypatch.setitem(sys.modules, "pyamg", None)  # import fails
    system = _disc_system(185)
    assert system.n >= grid.MULTIGRID_MIN
    assert not isinstance(grid.solver(system.A), grid.MultigridSolver)


def test_the_ldl_and_superlu_give_the_same_answer(monkeypatch):
    """The direct solver is QDLDL's LDL^T where qdldl is installed, SuperLU's LU where it is
    not: on a membrane cut at soft edges (weights down to 1e-6, the worst conditioned system
    the stages build) both give one answer, for one right-hand side or several."""
    import sys

    from scipy.sparse.linalg import SuperLU

    import flowfill.grid as grid

    radius = 40
    size = 2 * radius + 5
    yy, xx = np.mgrid[0:size, 0:size]
    rng = np.random.default_rng(3)
    cut = np.where(np.abs(xx - yy) <= 1, 1.0, 0.0) + 0.3 * rng.random((size, size))
    system = grid.build_system((yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= radius**2,
                               cut_mask=cut)
    rhs = system.dirichlet_rhs(rng.random((system.uk_k.size, 3)))
    ldl = grid.factorise(system.A)
    assert isinstance(ldl, grid.Factorisation)
    monkeypatch.setitem(sys.modules, "qdldl", None)  # import fails
    lu = grid.factorise(system.A)
    assert isinstance(lu, SuperLU)
    want = lu.solve(rhs)
    got = ldl.solve(rhs)
    assert got.shape == rhs.shape and np.abs(got - want).max() < 1e-9 * np.abs(want).max()
    assert np.abs(system.A @ got - rhs).max() < 1e-9
    one = ldl.solve(rhs[:, 2])
    assert one.shape == (system.n,) and np.array_equal(one, got[:, 2])


def test_channel_range_is_each_channels_extremes_at_any_size():
    """The frame's range per channel read in one pass: the same numbers as reducing each
    channel on its own, for sizes whose pixel count ROW_PIXELS does not divide, views, one
    channel or four, and one pixel."""
    from flowfill.fuse.poisson import channel_range

    rng = np.random.default_rng(3)
    frames = [rng.normal(size=shape).astype(np.float32)
              for shape in ((240, 432, 3), (7, 5, 3), (3, 5, 1), (1, 1, 3), (17, 33, 4))]
    frames.append(frames[0][::2, 1::3])  # not contiguous
    spike = np.ascontiguousarray(frames[0][:239, :431])  # 103,009 pixels: one left over
    spike[238, 430, 2] = 9.0  # the last pixel, beyond the whole rows: read too
    frames += [spike, spike[:, :430]]
    for frame in frames:
        lo, hi = channel_range(frame)
        assert lo.dtype == np.float64 and hi.dtype == np.float64
        np.testing.assert_array_equal(lo, [frame[..., i].min() for i in range(frame.shape[-1])])
        np.testing.assert_array_equal(hi, [frame[..., i].max() for i in range(frame.shape[-1])])
    assert channel_range(spike)[1][2] == 9.0 and channel_range(spike[:, :430])[1][2] < 9.0
