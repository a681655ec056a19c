"""Strips along the frame's edge (``edges.strips``): a stabilised frame's uncovered border is
left to the membrane, an object reaching into the frame is not."""

import numpy as np

from flowfill.edges.complete import EdgeCompleter
from flowfill.edges.strips import edge_strips

H, W = 240, 432


def _l_border() -> np.ndarray:
    """The uncovered corner of a stabilised frame: a strip along the top and the left."""
    m = np.zeros((H, W), bool)
    m[:14] = True
    m[:, :11] = True
    return m


def _interior() -> np.ndarray:
    """Two holes away from the frame's edge."""
    m = np.zeros((H, W), bool)
    m[20:60, 30:90] = True
    m[170:220, 330:400] = True
    return m


def test_strips_along_the_frame_edge_are_found_and_objects_reaching_in_are_not():
    border = _l_border()
    assert np.array_equal(edge_strips(border), border)
    assert not edge_strips(_interior()).any()
    deep = np.zeros((H, W), bool)
    deep[100:180, :60] = True  # an object leaving the frame on the left: 60 px deep
    both = deep | border
    assert not edge_strips(deep).any()
    assert not edge_strips(both).any()  # connected to the strip: one part, deep
    apart = deep.copy()
    apart[:, W - 12:] = True  # a separate strip down the right edge
    assert np.array_equal(edge_strips(apart), apart & ~deep)


def test_the_net_leaves_a_border_strip_to_the_membrane():
    yy, xx = np.mgrid[:H, :W]
    inside = (yy > 5) & (yy < 120) & (xx > 4) & (xx < 200)
    flow = np.where(inside[..., None], np.float32([3.0, 1.0]), np.float32([0.0, 0.0]))
    flow = flow.astype(np.float32)
    completer = EdgeCompleter("cpu")
    _, strip = completer.probability(flow, _l_border())
    assert not strip.any()
    deep = np.zeros((H, W), bool)
    deep[60:140, :70] = True  # reaches 70 px in: the net continues the rectangle's side
    _, obj = completer.probability(flow, deep)
    assert obj.max() > 0.5


def test_a_border_along_two_edges_splits_into_its_two_bands():
    """The top band and the left band go apart, the corner with the nearer band; the end of a
    band that reaches a few pixels along the next edge stays with its band; one band alone is
    one part; an interior hole has none."""
    from flowfill.hallucinate.strips import edges_along

    border = _l_border()
    top, left = edges_along(border)
    assert not (top & left).any() and np.array_equal(top | left, border)
    assert top[:14, 14:].all() and left[14:, :11].all()
    assert np.nonzero(top)[0].max() < 14 and np.nonzero(left)[1].max() < 14  # the corner split
    right = np.zeros((H, W), bool)
    right[:, W - 9:] = True  # a band down the right edge touches the top and bottom rows too
    (alone,) = edges_along(right)
    assert np.array_equal(alone, right)
    wedge = np.zeros((H, W), bool)
    yy, xx = np.mgrid[:H, :W]
    wedge[yy < 12 - xx / 40] = True  # a rolled frame's wedge, tapering along the top
    (part,) = edges_along(wedge)
    assert np.array_equal(part, wedge)


def test_the_fill_of_a_border_along_two_edges_works_on_thin_crops():
    """The keyframe fill of a border along the top and the right (by_edge): called once per
    band, each a thin box rather than the frame, and the whole border filled, nothing else."""
    from flowfill.hallucinate import patch
    from flowfill.hallucinate.strips import by_edge

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:H, :W]
    image = np.stack([0.5 + 0.3 * np.sin(xx / 9.0), 0.4 + 0.2 * np.cos(yy / 7.0),
                      0.3 + 0.05 * rng.standard_normal((H, W))], -1).astype(np.float32)
    mask = np.zeros((H, W), bool)
    mask[:7] = True
    mask[:, W - 9:] = True
    boxes = []

    def recorded(img, part, **kw):
        ys, xs = np.nonzero(part)
        boxes.append((int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1))
        return patch.fill(img, part, **kw)

    blank = np.where(mask[..., None], np.float32(0.0), image)
    out = by_edge(recorded)(blank, mask)
    assert len(boxes) == 2 and max(min(b) for b in boxes) <= 9  # two thin boxes
    assert sorted(max(b) for b in boxes) == [H - 1, W]  # the corner went to the top band
    assert np.array_equal(out[~mask], blank[~mask])
    err = np.abs(out - image)[mask].mean()
    assert err < 0.5 * np.abs(blank - image)[mask].mean()  # filled with the picture's colours
