"""Per-frame leftovers along the frame's edge filled by Telea, the rest by the chosen fill.

What no chain reached in a strip along the frame's edge (a stabilised frame's uncovered
border) has one side to continue from, and its bounding box is as wide as the frame: the patch
fill worked on the whole frame for a few pixels, a third of a long border shot's time, and
measured no better there than Telea's continuation of the one side (benchmarks/RESULTS.md,
issue 18). Keyframes keep the chosen fill (what they invent is carried to other frames), run
on a border one edge at a time (:func:`by_edge`): the same hole-PSNR, a quarter of the time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowfill.edges.strips import edge_strips
from flowfill.hallucinate import telea


def strips_first(fill: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``fill`` with the hole's strips along the frame's edge (:func:`edge_strips`) filled
    first by Telea; the rest of the hole, if any, by ``fill`` after them."""
    return _strips_then_rest(fill, lambda image, strips, **kw: telea.fill(image, strips))


def by_edge(fill: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``fill`` run on the hole's strips along the frame's edge one edge at a time, then on the
    rest of the hole: a border along two edges is two thin crops, not the whole frame (the
    patch fill matched every hole patch against the whole frame's). A strip pixel goes to the
    nearest edge the strip runs along (:func:`edges_along`)."""
    def one_edge_at_a_time(image: np.ndarray, strips: np.ndarray, **kw: object) -> np.ndarray:
        for part in edges_along(strips):
            image = fill(image, part, **kw)
        return image

    return _strips_then_rest(fill, one_edge_at_a_time)


def _strips_then_rest(fill: Callable[..., np.ndarray],
                      strips_fill: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """A fill that gives the hole's strips along the frame's edge to ``strips_fill(image,
    strips, **kw)`` and the rest of the hole to ``fill``; ``fill`` itself when it is Telea's."""
    if fill is telea.fill:
        return fill

    def filled(image: np.ndarray, mask: np.ndarray, **kw: object) -> np.ndarray:
        strips = edge_strips(mask)
        if not strips.any():
            return fill(image, mask, **kw)
        image = strips_fill(image, strips, **kw)
        rest = mask & ~strips
        return fill(image, rest, **kw) if rest.any() else image

    return filled


def edges_along(strips: np.ndarray) -> list[np.ndarray]:
    """``strips`` (bool H x W, along the frame's edge) split by edge: each pixel with the
    nearest of the edges the strips run along, those where they touch the frame's outermost
    line for more than twice their depth from it (a band's end at a corner, a few pixels on the
    next edge, stays with its band). Top, bottom, left, right; empty parts left out."""
    h, w = strips.shape
    ys, xs = np.nonzero(strips)
    distance = np.stack([ys, h - 1 - ys, xs, w - 1 - xs])  # to top, bottom, left, right
    outer = [strips[0], strips[-1], strips[:, 0], strips[:, -1]]
    nearest = np.argmin(distance, axis=0)
    along = [e for e in range(4)
             if (nearest == e).any() and outer[e].sum() > 2 * (distance[e][nearest == e].max() + 1)]
    if not along:
        return [strips]
    side = np.array(along)[np.argmin(distance[along], axis=0)]
    parts = []
    for e in along:
        part = np.zeros_like(strips)
        part[ys[side == e], xs[side == e]] = True
        if part.any():
            parts.append(part)
    return parts
