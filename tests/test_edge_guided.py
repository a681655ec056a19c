"""Edge guidance in the pipeline: completed edges reach the flow fill, for the flows they should."""

import numpy as np
import pytest
from test_propagation import _translating_clip

import flowfill
from flowfill import hops as hops_module
from flowfill.complete.frame import FrameFlowFill
from flowfill.options import Options
from flowfill.progress import Progress
from flowfill.window import fill_window


def _two_motions(h=60, w=80, split=40):
    flow = np.zeros((h, w, 2), np.float32)
    flow[:, :split] = (2.0, 0.0)
    flow[:, split:] = (-3.0, 1.0)
    return flow


def test_the_frame_fill_cuts_at_the_edges_it_is_given():
    flow = _two_motions()
    hole = np.zeros(flow.shape[:2], bool)
    hole[20:40, 30:50] = True
    seen = []

    def band(f, mask):
        seen.append(mask.copy())
        e = np.zeros(mask.shape, bool)
        e[:, 39:41] = True
        return e

    fill = FrameFlowFill(hole, inner_px=2, outer_px=2, edges=band)
    guided = fill.complete(flow)
    plain = fill.complete(flow, edges=False)
    assert len(seen) == 1 and (seen[0] == fill.inner).all()  # asked once, with the flow mask
    off_band = fill.inner.copy()
    off_band[:, 39:41] = False
    err = lambda f: np.linalg.norm(f - flow, axis=-1)[off_band].mean()  # noqa: E731
    assert err(plain) > 0.5 and err(guided) < 0.02 * err(plain)
    assert np.array_equal(FrameFlowFill(hole, 2, 2).complete(flow), plain)


def _pan(n=8, h=48, w=64, speed=2, seed=0):
    rng = np.random.default_rng(seed)
    big = rng.random((h, w + speed * n, 3)).astype(np.float32)
    frames = np.stack([big[:, speed * t: speed * t + w] for t in range(n)])
    holes = np.zeros((n, h, w), bool)
    holes[:, 16:32, 24:40] = True
    return frames, holes


class _Counter:
    """Stands in for the edge net: counts the fill's calls, finds no edges."""

    def __init__(self):
        self.calls = 0

    def strength(self, flow, mask, whole=True):
        self.calls += 1
        return np.zeros(mask.shape, np.float32)


@pytest.mark.parametrize("mode", ["off", "auto", "on"])
def test_auto_guides_adjacent_flows_only_and_on_guides_all(monkeypatch, mode):
    frames, holes = _pan()
    counter = _Counter()
    monkeypatch.setattr(hops_module, "edge_completer",
                        lambda options: None if options.edges == "off" else counter)
    options = Options(edges=mode, nonlocal_frames=3, window=8, overlap=2).validated()
    fill_window(frames, holes, options, Progress(enabled=False))
    n = len(frames)
    adjacent = 2 * (n - 1)  # both directions of every neighbouring pair
    if mode == "off":
        assert counter.calls == 0
    elif mode == "auto":
        assert counter.calls == adjacent
    else:
        assert counter.calls > adjacent  # the non-local flows too


def test_removal_with_edges_keeps_the_frame_and_fills_from_the_scene():
    frames, holes = _translating_clip(n=12)  # 33 px of travel uncover the whole 24 px hole
    damaged = frames.copy()
    damaged[holes] = 0.5  # a grey square standing still while the scene pans
    stats = flowfill.Stats()
    out = flowfill.remove(damaged, holes, edges="on", max_keyframes=0, stats=stats)
    np.testing.assert_array_equal(out[~holes], damaged[~holes])
    assert stats.filled_propagation == stats.hole_pixels
    # 2.6 levels: the chains run up to 8 frames through the standing hole; with the distant
    # frames' direct hops blended in too (--no-nearest-first) 1.2
    assert np.abs(out[holes] - frames[holes]).mean() < 3.5 / 255


def test_bad_edge_mode_and_weights_are_refused(tmp_path):
    with pytest.raises(flowfill.InputError, match="--edges"):
        Options(edges="sometimes").validated()
    frames, holes = _pan(n=3)
    with pytest.raises(flowfill.InputError, match="missing.pt"):
        flowfill.remove(frames, holes, edge_weights=str(tmp_path / "missing.pt"))
