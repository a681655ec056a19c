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
