"""Dust and dirt: temporal impulses that no neighbouring frame shows.

A speck of dust or dirt sits on one frame of film. Against both neighbouring frames, carried onto
it along the optical flow, its pixels differ in the same direction (darker or brighter than both)
while the two neighbours agree with each other: the classic spike test, here taken against the
range of each neighbour's 3 x 3 neighbourhood so that texture the flow misplaces by a pixel is no
impulse. Two things still look like dirt and are not: scenery the flow lost, and a small real
object that moves too fast for the flow (a ball, a bird). Both leave a ghost: where the thing is
in each neighbour, the difference to that neighbour has the opposite sign. Dirt has no ghost; a
candidate with a ghost in both neighbours, displaced about oppositely, is picture and is kept.
Where an object's ghosts are lost (it crosses picture as dark as itself), the frames around tell
it: a string of look-alike specks in steady motion (:func:`in_motion`), or the path of specks
seen moving on other frames (:func:`follows`); an object the flow half follows is caught in
pieces, judged joined as well (:func:`grouped`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import cv2
import numpy as np
from scipy import ndimage
from scipy.sparse.csgraph import connected_components

from flowfill.detect.overlay import overlay_misfit
from flowfill.detect.stats import median
from flowfill.masks import hysteresis


@dataclass(frozen=True)
class DustSettings:
    """How strong and how large an impulse must be to count as dirt (luma in [0, 1] units)."""

    strong: float = 0.08
    """A speck's core differs from both neighbours by at least this (or ``deviations`` of the
    noise around it)."""
    weak: float = 0.035
    """Its rim, grown from the core, by at least this (or ``rim_deviations``)."""
    deviations: float = 3.0
    rim_deviations: float = 2.5
    noise_window: float = 0.095
    """The noise a speck must stand out of is measured around it, over a square this share of
    the frame's width across (41 px at 432): the difference to the warped neighbours is grain
    where the flow holds and larger where it fails (a whip pan's blur, parallax), and one level
    for the whole frame took the failures' for the grain's."""
    shared_noise: bool = True
    """Stand out of the geometric mean of the noise toward each neighbour, not the larger: an
    impulse is the smaller of its two differences, so where the flow fails toward one neighbour
    only (an occlusion, a fast car) its noise lies nearer the side that holds."""
    busy: float = 4.0
    """A speck's core stands out this many times above the mean impulse around it."""
    agree: float = 0.8
    """The neighbours must agree within this share of the difference to them."""
    min_area: int = 4
    """Smallest speck, in pixels (a single odd pixel is noise, not dirt)."""
    max_size: float = 0.06
    """Largest speck, as a share of the frame width (larger impulses are motion failures)."""
    motion_edge: float = 1.0
    """Candidates ringed by flow edges steeper than this (px of motion per px) are the
    occlusions of moving things, not dirt."""
    motion_edge_rel: float = 16.0
    """... or this many times the frame's median flow roughness, whichever is larger."""
    picture_edge: float = 0.03
    """Motion edges count only within 2 px of an edge of the picture (luma changing by this much
    a pixel): a moving thing's outline is one, while on a flat court or wall the flow is noise
    and its roughness around a speck (which it drags) no motion edge."""
    search: float = 0.1
    """How far a moving object may travel between frames, as a share of the frame width."""
    ghost_search: float = 0.085
    """How far from a candidate its ghosts are looked for (its motion against the scene's a
    frame), as a share of the width: a speck of dust finds a chance pair of ghosts about as
    often as the fourth power of this (0.1 cost 0.5-0.7 points of dust recall on each seed of
    the archival benchmark); faster objects are left to the string and path tests."""
    reach: float = 0.03
    """How far the flow may be off where a candidate's patch is looked for again in each
    neighbour, as a share of the frame width."""
    registered: float = 0.25
    """Found again in both neighbours this many times closer than the flow put it: a flow
    error, not dirt."""
    chroma: float = 0.35
    """Dust and dirt are grey: a candidate whose colours spread wider (max minus min of RGB) is
    a coloured object. A soft speck lets some of the picture's colour through (a dark one of
    opacity 0.75 over saturated yellow keeps a quarter of its spread, about 0.25): this test only
    sorts out the plainly coloured, ``neutral`` the rest."""
    neutral: float | None = 0.04
    """Dust lays white over the picture and dirt black, so the colour under a speck fades as that
    overlay explains: its chroma may differ from the explained one by this plus 0.3 of the
    chroma the neighbours show there (:func:`.overlay.overlay_misfit`; a red wheel rim the flow
    lost does not). None: no such test."""

    path_level: float = 0.7
    """A small object too faint on the frames around a candidate to be a candidate there still
    stands out on each of them by this many deviations of the noise, averaged over a square
    ``path_square`` of the width across (5 px at 432, a ball's core), on one steady path
    (:func:`on_path`)."""
    path_square: float = 0.012
    path_scene: float = 3.0
    """... a path that leaves the scene's motion by this many px a frame at 432 wide (the
    scene's own texture, which the flow misplaces, moves with the scene)."""
    path_side: float | None = 0.25
    """... or on the two nearest frames on one side of it only, where it also stands out there
    by this share of its own contrast in luma: an object crossing picture as dark (bright) as
    itself vanishes on the other side. None: all four frames."""

    alike: float | None = 0.4
    """A candidate found again in both unwarped neighbours within this share of its strength
    (root mean square over it and a 1-px rim), and ten times closer in mean square than where
    the flow puts it, is a small object that moved (:func:`_found_again`). None: no such
    test."""
    alike_grain: float = 0.5
    """... the best match's mean square less this share of the square of the noise around it
    first: the grain of two frames keeps even the object itself from matching closer than about
    that."""
    found_heading: bool = True
    """A candidate found again in both neighbours, where one steady move takes it to both
    matches, is heading that way (:attr:`Speck.velocity`), and the frames around find the same
    object on its way (:func:`follows`): only ghosts gave a heading, and a ball caught as a lone
    speck, found again on the frames before it but leaving no ghost, was taken for dirt
    (RESULTS.md, issue 17)."""
    isolated: float | None = 0.05
    """A candidate ringed by motion edges is still dirt where the picture 3 to 4 px around it
    hardly reaches its own level (under this share of the ring within half its contrast) and
    its ghosts make no pair (:func:`_moves`, within the looser slack) and it is not faint with a
    ghost in each neighbour (``isolated_faint``): one ghost alone is often a chance blob or the
    neighbour's own dust (`tennis` clean seed 4 lost three specks so; RESULTS.md, issue 17,
    stop 67). None: no such test."""
    isolated_faint: float | None = 0.2
    """... where it stands out of both neighbours by less than this (luma, its median impulse):
    a moving thing's piece by its outline is picture against picture, while dust lays white or
    black over it and stands out more (a pair alone, with no faint ones kept: false detections
    on `tennis` clean up to 0.076% from 0.070%, and 6 px of the ball's edge taken on its grainy
    seed 1). None: a ghost in each neighbour will do, however strong (dust recall 0.1-0.35
    points lower on four seeds of five)."""

    unseen: float | None = 0.5
    """A candidate ringed by motion edges is still dirt where it is darker (brighter) by this
    share of its impulse than anything within ``unseen_reach`` of it in both warped neighbours:
    the impulse a moving limb's outline leaves is of the limb's own stuff, which the neighbours
    show just beside it, while dirt is blacker than the shot around it. None: no such test."""
    unseen_reach: float = 6.0 / 432
    """... as a share of the frame width (beyond the candidate's box)."""
    ghost_deviations: float | None = 2.0
    """A candidate whose ghosts (the pair that makes it seem to move) stand out of the noise
    around by fewer deviations than this, and that is darker (brighter) than anything around it
    as ``unseen`` asks, is dirt: grain and texture leave chance ghosts beside a small speck,
    while a moving object's ghosts are the object itself, as contrasted as it is. None (or
    ``unseen`` None): no such test."""

    steady: float | None = 0.2
    """A candidate's pair of ghosts (:func:`_moves`) makes it seen moving where the two speeds
    are within 3 px a frame and this share of the faster; a pair within 0.4 only makes it
    :attr:`Speck.unsteady`: picture only where a speck seen moving or on a path on a
    neighbouring frame lies where it leads (:func:`leads_to_mover`). With up to six specks a
    frame, dust found a chance pair within 0.4 often (at 0.2: dust recall +0.6 to +1.6 points
    a seed of the archival benchmark; RESULTS.md, issue 17, stop 67). None: any pair within
    0.4 (as before)."""
    steady_area: int = 8
    """... for candidates of this many px and more: a smaller one is often a piece of an object,
    and the centres of its ghosts (as small) are unsure by a pixel or two, too much for the
    tighter pair."""
    lean_hidden: float | None = 0.2
    """A candidate that left a ghost in one neighbour only, where the other would not show its
    ghost (the picture at the place the same motion puts it is as dark, or bright, as its core
    within this share of its strength), leans that way (:attr:`Speck.leans`): it is picture
    where a speck seen moving on another frame heads to it at that velocity, or lies where that
    velocity puts it (:func:`follows`). A ball seen on one frame between two that hide it was
    taken for dirt. None: no such test."""

    pieces: float = 6.0
    """Specks of a sign this many px apart at 432 wide (between their discs of equal area) are
    also judged as one object in pieces (:func:`grouped`)."""

    def reach_px(self, width: int) -> int:
        """``reach`` in pixels for a frame ``width`` wide."""
        return max(int(round(self.reach * width)), 2)


@dataclass
class Speck:
    """One candidate speck found on a frame: where, how large, dark (-1) or bright (+1)."""

    x: float
    y: float
    area: int
    sign: float
    pixels: np.ndarray
    """Flat indices of its footprint in the frame."""
    moving: bool = False
    """Picture, not dirt: it left ghosts of a steady move in both neighbours. Kept in the list
    so the frames around can tell a string of look-alike specks (:func:`in_motion`)."""
    scene: tuple[float, float] = (0.0, 0.0)
    """The scene's motion around it, px a frame forward on the frame's grid."""
    on_path: bool = False
    """Picture, not dirt: the four frames around show a faint impulse of its sign on one steady
    path through it (:func:`on_path`)."""
    ways: np.ndarray | None = None
    """For an ``on_path`` speck: the steady paths through it (K x 2, px a frame, x and y) that the
    frames around show (:func:`on_path`), where :func:`on_way` looks for it on those frames."""
    velocity: tuple[float, float] | None = None
    """Where a ``moving`` speck goes, in px a frame on the frame's own grid (its ghosts' motion
    plus the scene's): the frames around find the same object where it leads (:func:`follows`)."""
    edged: bool = False
    """Picture, not dirt: ringed by the edges of a moving thing, where the flow misses an
    occlusion. Kept in the list: a small object crossing a moving thing's outline is caught so on
    some frames, and the frames around need it for :func:`in_motion` and :func:`follows`."""
    parts: list[Speck] = field(default_factory=list)
    """For specks joined by :func:`grouped`: the pieces (otherwise empty)."""
    strength: float = 0.0
    """How far its core stands out of both neighbours (luma, the median over its pixels)."""
    level: float | None = None
    """Its darkest luma (brightest, for a bright one): its core."""
    unsteady: tuple[float, float] | None = None
    """Where a speck's ghosts make a pair within the looser slack only
    (:attr:`DustSettings.steady`): its velocity from them, px a frame on the frame's own grid
    (:func:`leads_to_mover`)."""
    leans: np.ndarray | None = None
    """Where a speck not seen moving left a ghost in one neighbour only, with the other one's
    ghost hidden (:func:`_leans`): each such ghost's velocity, px a frame on the frame's own grid,
    and the step to the neighbour it was seen in (K x 3). :func:`follows` counts the speck's own
    frame where one of these moves alike a speck seen moving on another frame heading to it, or
    leads to one's place (:func:`_leads_to`)."""
    _shape: tuple[int, float, float] | None = field(default=None, init=False, repr=False,
                                                    compare=False)

    def long_axis(self, width: int) -> tuple[float, float]:
        """How many times longer than wide it is (its pixels' spread, in a frame ``width``
        wide) and the angle of its long axis (radians): worked out once, for each speck is set
        against every look-alike on the frames around (:func:`streaked`)."""
        if self._shape is None or self._shape[0] != width:
            self._shape = (width, *_long_axis(self.pixels, width))
        return self._shape[1], self._shape[2]


def in_motion(speck: Speck, around: list[tuple[int, list[Speck]]], reach: float,
              contrast: float = 1.3, movers: bool = True, sizes: float = 2.0) -> bool:
    """Whether ``speck`` is one of a string of look-alike specks on the frames ``around`` it
    (pairs of frame offset and specks, offsets within +-2) that a steady motion of at most
    ``reach`` px a frame explains: a small object that the flow could not follow, caught as an
    impulse frame after frame. Dust lands at random and lasts one frame. Look-alikes are of its
    sign, area within ``sizes`` times and as deep within ``contrast`` times (:func:`as_deep`):
    an object keeps its size and stands out of its picture about as much from frame to frame,
    while dust of any size and depth lands anywhere; a string of three chance specks of
    different depths made picture of dirt, and with up to six specks a frame so did strings of
    specks up to 3 times apart in area and 1.5 in depth (RESULTS.md, issue 17, stop 66). With
    ``movers``, a string of two specks seen moving
    (:attr:`Speck.moving`; heading its way, where they know their heading) will do whatever
    their size and depth: an object partly hidden on some frames is caught as a smaller,
    fainter speck there, and those already tell an object from dust."""
    points = [(dt, o, _look_alike(o, speck, 1.0 / sizes, sizes, contrast))
              for dt, specks in around for o in specks
              if o.sign == speck.sign and np.hypot(o.x - speck.x, o.y - speck.y) <= reach * abs(dt)]
    points = [p for p in points if p[2] or movers and p[1].moving]
    for i, (dt_a, a, alike_a) in enumerate(points):
        v = np.array([(a.x - speck.x) / dt_a, (a.y - speck.y) / dt_a])
        if np.hypot(*v) < 1.0:  # standing still: not an object the flow missed by moving
            continue
        for dt_b, b, alike_b in points[i + 1:]:
            if dt_b == dt_a or not (alike_a and alike_b or movers and _heading(a, v)
                                    and _heading(b, v)):
                continue
            off = np.array([b.x - speck.x, b.y - speck.y]) - v * dt_b
            if np.hypot(*off) <= 3.0 + 0.15 * np.hypot(*v) * abs(dt_b):
                return True
    return False


def _heading(speck: Speck, velocity: np.ndarray) -> bool:
    """Whether ``speck`` was seen moving (:attr:`Speck.moving`) and, where it knows its heading,
    heads at about ``velocity`` (px a frame, x and y)."""
    if not speck.moving:
        return False
    if speck.velocity is None:
        return True
    off = np.hypot(speck.velocity[0] - velocity[0], speck.velocity[1] - velocity[1])
    return bool(off <= 3.0 + 0.25 * np.hypot(*velocity))


def _look_alike(o: Speck, speck: Speck, least: float, most: float, contrast: float) -> bool:
    """Whether ``o`` looks like ``speck``: of its sign, its area ``least`` to ``most`` times as
    large, and as deep within ``contrast`` times (:func:`as_deep`)."""
    return (o.sign == speck.sign and least <= o.area / max(speck.area, 1) <= most
            and as_deep(o, speck, contrast))


def as_deep(a: Speck, b: Speck, contrast: float) -> bool:
    """Whether specks ``a`` and ``b`` stand out of their frames within ``contrast`` times as
    much (:attr:`Speck.strength`; true where either is unknown: a speck joined from pieces)."""
    if a.strength <= 0.0 or b.strength <= 0.0:
        return True
    return 1.0 / contrast <= a.strength / b.strength <= contrast


def _long_axis(pixels: np.ndarray, width: int) -> tuple[float, float]:
    """:meth:`Speck.long_axis` of the flat indices ``pixels`` of a frame ``width`` wide."""
    ys, xs = np.divmod(pixels, width)
    if len(ys) < 4:
        return 1.0, 0.0
    spread = np.cov(np.vstack([xs, ys]).astype(np.float64)) + np.eye(2) / 12.0
    values, vectors = np.linalg.eigh(spread)
    return float(np.sqrt(values[1] / max(values[0], 1e-9))), float(
        np.arctan2(vectors[1, 1], vectors[0, 1]))


def streaked(speck: Speck, around: list[tuple[int, list[Speck]]], reach: float, width: int,
             aspect: float = 1.6, angle: float = 20.0) -> bool:
    """Whether ``speck`` is a small object blurred along its path: on a neighbouring frame
    (``around``: pairs of frame offset and specks) a look-alike of its sign (area within 1.5
    times) lies 6 px to ``reach`` px away (6 at 432 wide, scaled) along the long axis of both,
    each ``aspect`` times longer than wide and within ``angle`` degrees of the way from one to
    the other. A fast object is smeared the way it moves (a shutter open for part of the
    frame), a speck of dust lands any way round, and the two frames alone tell the ball from
    two specks (two look-alikes on neighbouring frames alone cost 7 points of dust recall;
    RESULTS.md, issue 17)."""
    long, axis = speck.long_axis(width)
    if long < aspect:
        return False
    least = 6.0 * width / 432

    def along(a: float, way: float) -> bool:
        off = abs(a - way) % np.pi
        return float(np.degrees(min(off, np.pi - off))) <= angle

    for dt, specks in around:
        if abs(dt) != 1:
            continue
        for o in specks:
            dx, dy = o.x - speck.x, o.y - speck.y
            if (o.sign != speck.sign or not 1 / 1.5 <= o.area / max(speck.area, 1) <= 1.5
                    or not least <= np.hypot(dx, dy) <= reach):
                continue
            way = float(np.arctan2(dy, dx))
            other, other_axis = o.long_axis(width)
            if other >= aspect and along(axis, way) and along(other_axis, way):
                return True
    return False


def follows(speck: Speck, around: list[tuple[int, list[Speck]]], needed: int = 2,
            along: bool = True) -> bool:
    """Whether ``speck`` lies where ``moving`` specks on ``needed`` of the frames ``around`` it
    (pairs of frame offset and specks) were heading, of its sign and not much smaller, and
    moving alike (:func:`_moves_alike`): the same small object, caught as an impulse on a frame
    where its ghosts are lost (it crosses picture as dark as itself in a neighbour) and its
    look-alikes too far apart for :func:`in_motion`. One such speck is not enough: a speck of
    dust can leave ghosts by chance, an object that moves leaves them frame after frame; nor
    two that pass its place each its own way (texture the flow lost, seen moving at random;
    RESULTS.md, issue 17, stop 66). ``along``: a frame also counts where a ``moving`` speck
    without a heading of its own (found again where its two matches tell no steady move,
    :func:`_found_again`) lies on the way of one that leads to ``speck``. The speck's own frame
    counts where one of its :attr:`Speck.leans` moves alike a heading mover on a frame other
    than the lean's own (there the mover may be the very ghost), or leads to a mover's place
    (:func:`_leads_to`; under grain a mover's heading is often wrong): a ball seen on one frame
    between two that hide it, and seen moving further on (RESULTS.md, issue 17, stop 67)."""
    seen: set[int] = set()
    movers = [(dt, o) for dt, specks in around for o in specks
              if o.moving and o.sign == speck.sign and speck.area <= 3 * o.area + 10]
    heading = [(dt, o) for dt, o in movers
               if o.velocity is not None and _heads_to(o, dt, speck.x, speck.y, 0)]
    if speck.leans is not None:  # its own ghost, not the mover itself on the ghost's frame
        for dt, o in movers:
            if _leads_to(speck, dt, o):
                seen.update((dt, 0))
        for dt, o in heading:
            if any(_heading(o, lean[:2]) for lean in speck.leans if lean[2] != dt):
                seen.update((dt, 0))
    for i, (dt, o) in enumerate(heading):
        for t, other in heading[i + 1:]:
            if t != dt and _moves_alike(o, other):
                seen.update((dt, t))
        if not along:
            continue
        for t, other in movers:
            if t == dt or other.velocity is not None or not _heads_to(o, dt, other.x, other.y, t):
                continue
            # the two fix the way: it must lead to ``speck`` as closely as in_motion asks
            step = np.array([other.x - o.x, other.y - o.y]) / (t - dt)
            off = np.hypot(speck.x - (other.x - step[0] * t), speck.y - (other.y - step[1] * t))
            if off <= 3.0 + 0.15 * float(np.hypot(*step)) * abs(t):
                seen.update((dt, t))
    return len(seen) >= needed


def leads_to_mover(speck: Speck, around: list[tuple[int, list[Speck]]], slack: float = 0.4
                   ) -> bool:
    """Whether a speck with an unsteady pair of ghosts (:attr:`Speck.unsteady`) finds, on a
    frame next to it in ``around`` (pairs of frame offset and specks), a speck of its sign seen
    moving or on a path where that velocity leads, within 3 px and ``slack`` of its motion: an
    object whose move is not quite steady (it turns, or bounces off the frame's edge), caught
    on the frame beside it as well. A chance pair of ghosts beside dust leads nowhere."""
    if speck.unsteady is None:
        return False
    vx, vy = speck.unsteady
    limit = 3.0 + slack * float(np.hypot(vx, vy))
    return any(o.sign == speck.sign and (o.moving or o.on_path)
               and np.hypot(o.x - (speck.x + vx * dt), o.y - (speck.y + vy * dt)) <= limit
               for dt, specks in around if abs(dt) == 1 for o in specks)


def _leads_to(speck: Speck, dt: int, o: Speck, slack: float = 0.15, most: float = 10.0
              ) -> bool:
    """Whether one of ``speck``'s :attr:`Speck.leans` (it has some; not one seen on the frame
    ``dt`` away, where ``o`` is) puts the object where ``o`` lies on that frame: within 3 px and
    ``slack`` of its motion over the frames between, and ``most`` px at most (a fast lean over
    four frames would reach a chance mover anywhere near). Under grain, a speck seen moving
    often knows its place better than its heading."""
    for vx, vy, step in speck.leans:
        if step == dt:
            continue
        off = np.hypot(o.x - (speck.x + vx * dt), o.y - (speck.y + vy * dt))
        if off <= min(3.0 + slack * float(np.hypot(vx, vy)) * abs(dt), most):
            return True
    return False


def _moves_alike(a: Speck, b: Speck) -> bool:
    """Whether two specks seen moving with velocities move alike: either heads at about the
    other's velocity (:func:`_heading`: within 3 px a frame and a quarter of the faster one's
    motion)."""
    return _heading(a, np.asarray(b.velocity)) or _heading(b, np.asarray(a.velocity))


def _heads_to(o: Speck, dt: int, x: float, y: float, t: int) -> bool:
    """Whether (x, y) on the frame ``t`` away lies where ``o`` (``dt`` frames away, with a
    velocity) heads: within 3 px and a quarter of its motion over the frames between."""
    frames = t - dt
    off = np.hypot(x - (o.x + o.velocity[0] * frames), y - (o.y + o.velocity[1] * frames))
    return bool(off <= 3.0 + 0.25 * float(np.hypot(*o.velocity)) * abs(frames))


def on_way(speck: Speck, around: list[tuple[int, list[Speck]]], slack: float = 3.0,
           contrast: float = 1.5) -> bool:
    """Whether ``speck`` lies on one of the paths (:attr:`Speck.ways`) of a look-alike speck
    ``on_path`` on a frame ``around`` it (offsets within +-2; of its sign, area within 3 times
    and as deep within ``contrast`` times), within ``slack`` px: that path's impulse on this
    frame was ``speck`` itself, so it is the same small object (at a clip's first frames the
    frames around are too few for a string, :func:`in_motion`)."""
    for dt, specks in around:
        if not 0 < abs(dt) <= 2:
            continue
        for o in specks:
            if o.ways is None or not len(o.ways) or not _look_alike(o, speck, 0.33, 3.0,
                                                                     contrast):
                continue
            off = np.hypot(speck.x - (o.x - o.ways[:, 0] * dt), speck.y - (o.y - o.ways[:, 1] * dt))
            if float(off.min()) <= slack:
                return True
    return False


def hidden_between(speck: Speck, around: list[tuple[int, list[Speck]]],
                   pictures: dict[int, np.ndarray], scale: tuple[float, float], reach: float,
                   alike: float = 2.0, contrast: float = 1.25) -> bool:
    """Whether ``speck`` and a look-alike two or three frames away (``around``: offsets and
    specks; of its sign, area within ``alike`` times and as deep within ``contrast`` times) lie
    on one steady move of at least 1 px a frame, and on every frame between (``pictures``:
    offsets and 8-bit luma, ``scale`` times the frame's size) the picture where that move puts
    it is as dark as its core or darker (as bright or brighter, for a bright one): there the
    object crosses picture that hides it, and is no impulse."""
    if speck.level is None:
        return False
    for dt, specks in around:
        if abs(dt) not in (2, 3):
            continue
        step = 1 if dt > 0 else -1
        between = [pictures.get(k) for k in range(step, dt, step)]
        if any(b is None for b in between):
            continue
        for o in specks:
            if not _look_alike(o, speck, 1 / alike, alike, contrast):
                continue
            v = np.array([o.x - speck.x, o.y - speck.y]) / dt
            if not 1.0 <= float(np.hypot(*v)) <= reach:
                continue
            if all(as_deep_at(picture, scale, speck.x + v[0] * k, speck.y + v[1] * k,
                              speck.sign, speck.level)
                   for k, picture in zip(range(step, dt, step), between, strict=True)):
                return True
    return False


def as_deep_at(picture: np.ndarray, scale: tuple[float, float], x: float, y: float,
               sign: float, level: float) -> bool:
    """Whether ``picture`` (8-bit luma, ``scale`` times the frame's size) at the frame's
    ``x``, ``y`` (its 3 x 3 median) is as dark as ``level`` or darker (as bright or brighter,
    for ``sign`` +1): a small object of that core would be hidden there."""
    gx, gy = int(round(x * scale[0])), int(round(y * scale[1]))
    patch = picture[max(gy - 1, 0):gy + 2, max(gx - 1, 0):gx + 2]
    return bool(patch.size) and sign * (float(median(patch)) / 255.0 - level) >= 0


def grouped(specks: list[Speck], gap: float) -> list[Speck]:
    """``specks`` of one frame with those of a sign that lie within ``gap`` px of each other
    (their discs of equal area apart by at most that) joined into one: a small object that
    the flow half follows is caught as a few pieces, each too small to look like the object on
    the frames around. A joined speck is ``moving`` or ``on_path`` where a piece is, keeps the
    velocity of its largest moving piece and lists its pieces in ``parts``."""
    n = len(specks)
    if n < 2:
        return list(specks)
    xy = np.array([(o.x, o.y) for o in specks])
    radius = np.sqrt(np.array([o.area for o in specks]) / np.pi)
    sign = np.array([o.sign for o in specks])
    close = (np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
             <= radius[:, None] + radius[None, :] + gap) & (sign[:, None] == sign[None, :])
    _, label = connected_components(close, directed=False)
    out: list[Speck] = []
    for k in range(int(label.max()) + 1):
        parts = [specks[i] for i in np.nonzero(label == k)[0]]
        if len(parts) == 1:
            out.append(parts[0])
            continue
        area = sum(o.area for o in parts)
        movers = sorted((o for o in parts if o.moving), key=lambda o: -o.area)
        joined = Speck(sum(o.x * o.area for o in parts) / area,
                       sum(o.y * o.area for o in parts) / area, area, parts[0].sign,
                       np.concatenate([o.pixels for o in parts]),
                       moving=bool(movers), scene=parts[0].scene,
                       on_path=any(o.on_path for o in parts),
                       velocity=movers[0].velocity if movers else None,
                       edged=all(o.edged for o in parts), parts=parts)
        out.append(joined)
    return out


class Impulses(NamedTuple):
    """A frame's :func:`impulse_map`: how far each place stands out of both warped neighbours,
    averaged over a square, kept every ``step`` px (the averages of neighbouring places are
    nearly alike, and a 4K frame's two maps would be 33 MB in all, five frames of them kept)."""

    deviations: np.ndarray
    """In deviations of the noise around it: float16, H / step x W / step (rounded up)."""
    luma: np.ndarray
    """In luma: the same."""
    step: int
    shape: tuple[int, int]
    """The frame's height and width."""

    def at(self, image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """``image`` (one of the maps) at the frame's pixels ``ys``, ``xs``: float32."""
        return image[ys // self.step, xs // self.step].astype(np.float32)


def impulse_map(above: np.ndarray, below: np.ndarray, noise: np.ndarray, side: int
                ) -> Impulses:
    """How far each place of a frame stands out of both warped neighbours (brighter: positive,
    darker: negative; ``above`` and ``below`` as :func:`find_specks` has them), averaged over a
    ``side`` px square, in deviations of the ``noise`` around it and in luma, kept every fifth
    of ``side`` px. A small object too faint against the noise to be a candidate still stands
    out there, over its pixels."""
    signed = (np.maximum(above, 0.0) - np.maximum(below, 0.0)).astype(np.float32)
    step = max(side // 5, 1)
    first = step // 2  # each kept place the middle of its step x step block
    keep = (slice(first, None, step), slice(first, None, step))
    h, w = signed.shape
    maps = []
    for values in (signed / noise, signed):
        kept = cv2.blur(values, (side, side))[keep]
        if kept.shape != (-(-h // step), -(-w // step)):  # a partial block at the end: its edge
            kept = np.pad(kept, ((0, -(-h // step) - kept.shape[0]),
                                 (0, -(-w // step) - kept.shape[1])), mode="edge")
        maps.append(kept.astype(np.float16))
    return Impulses(maps[0], maps[1], step, (h, w))


def on_path(speck: Speck, around: list[tuple[int, Impulses]], own: Impulses, reach: float,
            level: float, off_scene: float, side: float | None = None,
            ways: list[np.ndarray] | None = None) -> bool:
    """Whether each of the frames ``around`` ``speck`` (pairs of frame offset and
    :func:`impulse_map`) stands out in its sign by ``level`` deviations or more at one steady
    path through it, where its own frame's map (``own``) does not at the same places of the
    scene: a small object, too faint on those frames to be a candidate. Every path of up to
    ``reach`` px a frame that leaves the scene's motion (``speck.scene``) by ``off_scene`` px a
    frame or more is tried; a misplaced texture moves with the scene, and shows on this frame
    too. With ``side``, a path on the two nearest frames on one side only will do where each
    also shows ``side`` times the speck's own contrast in luma (``speck.strength``): an object
    that crosses picture as dark as itself is lost on the other side, while a faint impulse on
    two frames alone is too common a chance (the flow's errors on clean footage are many
    deviations of its little noise). ``ways``: a list the paths found (K x 2, px a frame, x and
    y) are appended to, for :func:`on_way`."""
    r = int(np.ceil(reach))
    vy, vx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    sx, sy = speck.scene
    keep = (np.hypot(vx, vy) <= reach) & (np.hypot(vx - sx, vy - sy) >= off_scene)
    vx, vy = vx[keep], vy[keep]
    h, w = own.shape
    maps = dict(around)

    def steady(offsets: list[int], share: float | None) -> bool:
        """Whether one path shows on every frame of ``offsets`` (and ``share`` of the speck's
        contrast in luma there, where given); the paths left after each frame are few."""
        ux, uy = vx, vy
        for dt in offsets:
            for image, ox, oy, wanted in ((maps[dt], 0.0, 0.0, True), (own, sx, sy, False)):
                xs = np.rint(speck.x + (ux - ox) * dt).astype(int)
                ys = np.rint(speck.y + (uy - oy) * dt).astype(int)
                inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
                ys, xs = ys[inside], xs[inside]
                ok = np.zeros(ux.shape, bool)
                ok[inside] = speck.sign * image.at(image.deviations, ys, xs) >= level
                if not wanted:
                    ok = ~ok  # outside the frame: nothing there
                elif share is not None:
                    ok[inside] &= (speck.sign * image.at(image.luma, ys, xs)
                                   >= share * speck.strength)
                ux, uy = ux[ok], uy[ok]
                if not ux.size:
                    return False
        if ways is not None:
            ways.append(np.stack([ux, uy], axis=1))
        return True

    if steady([dt for dt, _ in around], None):
        return True
    if side is None:
        return False
    before = sorted((dt for dt in maps if dt < 0), reverse=True)[:2]
    after = sorted(dt for dt in maps if dt > 0)[:2]
    return any(len(near) == 2 and steady(near, side) for near in (before, after))


SIGMA_SAMPLE = 50_000
"""Values :func:`robust_sigma` reads at most (a strided sample): its error is then about 0.5%."""


def robust_sigma(values: np.ndarray) -> float:
    """Standard deviation of the bulk of ``values`` (median absolute deviation), robust to the
    few large outliers that defects and motion failures are."""
    v = np.asarray(values, dtype=np.float32).ravel()
    if v.size > SIGMA_SAMPLE:  # a strided sample is as good and much cheaper
        v = v[:: -(-v.size // SIGMA_SAMPLE)]
    return float(1.4826 * median(np.abs(v - median(v))))


def local_noise(d_b: np.ndarray, d_a: np.ndarray, window: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """The noise of a frame's differences to its two warped neighbours around each pixel
    (H x W): their mean absolute value over a square ``window`` times the width across, scaled
    to a standard deviation; each difference is clipped at 3 of the frame's robust deviations
    first, so a speck or a flow failure nearby hardly raises it. Returned as the larger of the
    two sides, and their geometric mean: an impulse is the smaller of its two differences, so
    where the flow fails toward one neighbour only (an occlusion, a fast car) its noise lies
    nearer the side that holds."""
    side = max(int(round(window * d_b.shape[1])) | 1, 3)
    clip = 3.0 * max(robust_sigma(d_b), robust_sigma(d_a), 1e-3)
    b, a = (1.25 * cv2.blur(np.minimum(np.abs(d), clip), (side, side))  # mean |x|: 0.8 sigma
            for d in (d_b, d_a))
    return np.maximum(np.maximum(b, a), 1e-3), np.maximum(np.sqrt(b * a), 1e-3)


def warp_to(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (H x W float32) carried onto the grid that ``flow`` (H x W x 2, from that grid
    to ``image``) starts from; bilinear, edges replicated."""
    h, w = image.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def _ghosts(diff: np.ndarray, warped: np.ndarray, level: float, component: np.ndarray,
            box: tuple[int, int, int, int], sign: float, strength: float, radius: int,
            floor: np.ndarray | None = None) -> np.ndarray:
    """Where a moving object may have left its ghost: in ``diff`` (this frame minus the warped
    neighbour ``warped``), the blobs of the opposite sign and similar size within ``radius`` of
    the candidate (``component``, bool, filling ``box``) where the neighbour shows the
    candidate's own ``level`` (it is there); their offsets, K x 2. ``floor`` (H x W): the
    least a ghost's pixels must differ by, where more than a share of the candidate's
    strength."""
    at, own = _crop(component, box, diff.shape, radius)
    least = 0.35 * strength if floor is None else np.maximum(0.35 * strength, floor[at])
    ghost = ((-sign * diff[at]) > least) & (own == 0)
    count, labels, stats, centres = cv2.connectedComponentsWithStats(ghost.astype(np.uint8),
                                                                     connectivity=8)
    area = int(component.sum())
    sizes = stats[1:, cv2.CC_STAT_AREA]
    extreme = ndimage.minimum if sign < 0 else ndimage.maximum
    peaks = np.asarray(extreme(warped[at], labels, np.arange(1, count)))
    alike = np.abs(peaks - level) <= max(0.5 * strength, 0.04)
    fits = np.nonzero((sizes >= 0.4 * area) & (sizes <= 6.0 * area + 20) & alike)[0]
    if not len(fits):
        return np.zeros((0, 2))
    ys, xs = np.nonzero(own)
    return centres[1 + fits] - (xs.mean(), ys.mean())


def _moves(ghosts: tuple[np.ndarray, np.ndarray], steps: tuple[int, int], slack: float = 0.4
           ) -> np.ndarray | None:
    """The candidate's motion (px a frame, x and y) where it left ``ghosts`` (:func:`_ghosts`)
    in both warped neighbours (``steps`` frames away) at offsets that a steady move explains
    (the two speeds within 3 px a frame and ``slack`` of the faster), relative to the scene;
    None where it did not. Given the places it was found again in the unwarped neighbours
    (:func:`_found_again`, one each), its motion on the frame's own grid."""
    ghosts_b, ghosts_a = ghosts
    if not len(ghosts_b) or not len(ghosts_a):
        return None
    speed_b, speed_a = ghosts_b / steps[0], ghosts_a / steps[1]
    # each ghost is where the object was (or will be): at speed x step
    gap = np.hypot(*(speed_b[:, None, :] - speed_a[None, :, :]).transpose(2, 0, 1))
    reach = np.maximum(np.hypot(*speed_b.T)[:, None], np.hypot(*speed_a.T)[None, :])
    fits = gap / (3.0 + slack * reach)  # the best pair by its share of the slack
    i, j = np.unravel_index(int(np.argmin(fits)), fits.shape)
    return 0.5 * (speed_b[i] + speed_a[j]) if fits[i, j] <= 1.0 else None


def _leans(lum: np.ndarray, ghosts: tuple[np.ndarray, np.ndarray], steps: tuple[int, int],
           scene: np.ndarray, component: np.ndarray, box: tuple[int, int, int, int],
           sign: float, level: float, hidden: float) -> np.ndarray | None:
    """The velocities (px a frame on the frame's own grid, plus the step to the neighbour each
    was seen in; K x 3) of the ghosts (:func:`_ghosts`, offsets in each neighbour ``steps``
    frames away) whose partner in the other neighbour would not show: where that ghost's
    motion puts the object there, the picture on this frame is within ``hidden`` of the
    candidate's own ``level`` (its median over the candidate's footprint moved there). An object
    crossing picture as dark (bright) as itself leaves no ghost on that side; None where no
    ghost is so."""
    h, w = lum.shape
    x, y = box[:2]
    ys, xs = np.nonzero(component)
    found = []
    for side in (0, 1):
        for ghost in ghosts[side]:
            motion = ghost / steps[side]  # against the scene
            dx, dy = motion * steps[1 - side]
            at_y = np.clip(np.round(ys + y + dy).astype(int), 0, h - 1)
            at_x = np.clip(np.round(xs + x + dx).astype(int), 0, w - 1)
            if float(median(-sign * (lum[at_y, at_x] - level))) <= hidden:
                found.append((*(motion + scene), steps[side]))
    return np.array(found, dtype=np.float64) if found else None


def _found_again(lum: np.ndarray, others: tuple[np.ndarray, np.ndarray],
                 shifts: tuple[np.ndarray, np.ndarray], component: np.ndarray,
                 box: tuple[int, int, int, int], tolerance: float, radius: int,
                 grain: float = 0.0) -> tuple[np.ndarray, np.ndarray] | None:
    """Where the candidate is found again in both unwarped neighbours ``others`` (within
    ``tolerance`` root mean square, :func:`_best_match`) and there ten times closer (in mean
    square) than where the flow to each puts it (``shifts``, :func:`_flow_around`): a small
    object that moved where the ghost test missed it (its ghost merged with it, or its speed
    against the scene changed with a jolting camera). Dust has no look-alike in both. The
    best match's offset in each (x and y, px), or None where it is not found in both.
    ``grain``: a mean square taken off the best match first (the two frames' grain, which no
    match undercuts; only that one, so the test finds all it would without)."""
    offsets = []
    for other, shift in zip(others, shifts, strict=True):
        match = _best_match(lum, other, shift, component, box, radius)
        if match is None:
            return None
        best = max(match[0] - grain, 0.0)
        if best > tolerance ** 2 or best > 0.1 * match[1]:
            return None
        offsets.append(match[2])
    return offsets[0], offsets[1]


def _flow_around(flow: np.ndarray, box: tuple[int, int, int, int], pad: int = 10
                 ) -> np.ndarray:
    """The median of ``flow`` (H x W x 2) over a candidate's ``box`` grown by ``pad`` (the
    candidate's own few pixels hardly move it): where the scene around it goes, x and y."""
    x, y, bw, bh = box
    h, w = flow.shape[:2]
    sub = (slice(max(y - pad, 0), min(y + bh + pad, h)),
           slice(max(x - pad, 0), min(x + bw + pad, w)))
    return median(flow[sub].reshape(-1, 2), axis=0)


def _scene_motion(around: tuple[np.ndarray, np.ndarray], steps: tuple[int, int]) -> np.ndarray:
    """The scene's motion around a candidate (px a frame forward, x and y): each flow's median
    around it (:func:`_flow_around`) over its step, averaged."""
    per = [a / step for a, step in zip(around, steps, strict=True)]
    return 0.5 * (per[0] + per[1])


def _motion_edges(flow: np.ndarray) -> np.ndarray:
    """How fast the flow changes across each pixel (px of motion per px, H x W): high at the
    edges of moving things, where one side is hidden in the neighbour."""
    grads = [cv2.Sobel(flow[..., c], cv2.CV_32F, dx, dy, ksize=3) / 8.0
             for c in (0, 1) for dx, dy in ((1, 0), (0, 1))]
    return np.sqrt(sum(g * g for g in grads))


def _crop(component: np.ndarray, box: tuple[int, int, int, int], shape: tuple[int, int],
          pad: int) -> tuple[tuple[slice, slice], np.ndarray]:
    """The crop of a frame ``shape`` reaching ``pad`` px beyond a candidate's ``box``, and the
    candidate (``component``, bool, filling ``box``) on it (uint8)."""
    x, y, bw, bh = box
    h, w = shape
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + bw + pad, w), min(y + bh + pad, h)
    own = np.zeros((y1 - y0, x1 - x0), np.uint8)
    own[y - y0:y - y0 + bh, x - x0:x - x0 + bw] = component
    return (slice(y0, y1), slice(x0, x1)), own


def _ring(component: np.ndarray, box: tuple[int, int, int, int], shape: tuple[int, int],
          near: int, far: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """A candidate's surroundings (``component``, bool, filling ``box`` of a frame ``shape``):
    the crop of the frame reaching ``far`` px beyond the box, the candidate on it (uint8) and the
    ring from over ``near`` to ``far`` px out of it (bool; square distances)."""
    at, own = _crop(component, box, shape, far)
    square = (2 * far + 1, 2 * far + 1)
    ring = (cv2.dilate(own, np.ones(square, np.uint8)) > 0) & ~(
        cv2.dilate(own, np.ones((2 * near + 1, 2 * near + 1), np.uint8)) > 0)
    return at, own, ring


def _ring_edge(edges: np.ndarray, component: np.ndarray, box: tuple[int, int, int, int],
               lum: np.ndarray, picture_edge: float) -> float:
    """The motion edges around a candidate, 5 to 10 px out (a speck disturbs the flow on
    itself and just beside it), counted only where the picture (``lum``) has an edge within 2 px
    (its luma changing by ``picture_edge`` a pixel; elsewhere 0): their 90th percentile. A
    moving thing's outline is an edge of the picture; on a flat court or wall the flow is noise,
    rough where a speck drags it, and no motion edge."""
    crop_at, _, ring = _ring(component, box, edges.shape, 5, 10)
    crop = lum[crop_at]
    grad = np.hypot(cv2.Sobel(crop, cv2.CV_32F, 1, 0, ksize=3),
                    cv2.Sobel(crop, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    outline = cv2.dilate((grad > picture_edge).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    values = np.where(outline, edges[crop_at], 0.0)[ring]
    return float(np.percentile(values, 90)) if values.size else 0.0


def _unseen(level: float, sign: float, warped: tuple[np.ndarray, np.ndarray],
            box: tuple[int, int, int, int], reach: int, margin: float) -> bool:
    """Whether a candidate of ``level`` (its darkest, or brightest for ``sign`` +1) in ``box``
    lies beyond anything both ``warped`` neighbours show within ``reach`` px of the box, by more
    than ``margin``."""
    x, y, bw, bh = box
    h, w = warped[0].shape
    around = (slice(max(y - reach, 0), min(y + bh + reach, h)),
              slice(max(x - reach, 0), min(x + bw + reach, w)))
    return all(sign * level - float((sign * other[around]).max()) > margin for other in warped)


def _alone(lum: np.ndarray, component: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """The share of the ring 3 to 4 px around a candidate (``component``, bool, filling
    ``box`` of ``lum``) within half its contrast of its own level (its median): small for a speck
    on the picture, larger for a piece of something that continues beyond it."""
    crop_at, own, ring = _ring(component, box, lum.shape, 2, 4)
    crop = lum[crop_at]
    level = float(median(crop[own > 0]))
    values = crop[ring]
    if not values.size:
        return 1.0
    contrast = abs(level - float(median(values)))
    return float(np.mean(np.abs(values - level) < 0.5 * contrast))


def _best_match(lum: np.ndarray, other: np.ndarray, shift: np.ndarray,
                component: np.ndarray, box: tuple[int, int, int, int], radius: int
                ) -> tuple[float, float, np.ndarray] | None:
    """How alike the candidate (``component``, bool, filling ``box`` of ``lum``, with a 1-px
    rim) is found in the unwarped frame ``other`` within ``radius`` of where the flow (``shift``,
    its median around the candidate) puts it or of where it is, and how alike where the flow
    puts it (mean squared differences), and where the best match lies (its offset from the
    candidate, x and y); None where that leaves the frame."""
    h, w = lum.shape
    at, own = _crop(component, box, lum.shape, 1)
    y0, x0 = at[0].start, at[1].start
    th, tw = own.shape
    mask = cv2.dilate(own, np.ones((3, 3), np.uint8)).astype(np.float32)
    px, py = int(round(x0 + shift[0])), int(round(y0 + shift[1]))
    sx0, sy0 = max(min(px, x0) - radius, 0), max(min(py, y0) - radius, 0)
    sx1, sy1 = min(max(px, x0) + tw + radius, w), min(max(py, y0) + th + radius, h)
    if not (sx0 <= px <= sx1 - tw and sy0 <= py <= sy1 - th):
        return None
    ssd = cv2.matchTemplate(np.ascontiguousarray(other[sy0:sy1, sx0:sx1]),
                            np.ascontiguousarray(lum[at]), cv2.TM_SQDIFF,
                            mask=mask) / float(mask.sum())
    best = np.unravel_index(int(np.argmin(ssd)), ssd.shape)
    return (float(ssd[best]), float(ssd[py - sy0, px - sx0]),
            np.array([sx0 + best[1] - x0, sy0 + best[0] - y0], np.float64))


def _registers(lum: np.ndarray, other: np.ndarray, warped: np.ndarray, flow: np.ndarray,
               box: tuple[int, int, int, int], radius: int, ratio: float) -> bool:
    """Whether the candidate's patch (``box`` of ``lum`` with some context) is found in the
    unwarped neighbour ``other`` within ``radius`` of where ``flow`` puts it, ``ratio`` times
    closer than the warped neighbour shows it: the impulse was the flow's error (periodic
    texture, a misplaced edge), not something only this frame has."""
    x, y, bw, bh = box
    h, w = lum.shape
    pad = 3
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + bw + pad, w), min(y + bh + pad, h)
    patch = np.ascontiguousarray(lum[y0:y1, x0:x1])
    here = float(np.sum((patch - warped[y0:y1, x0:x1]) ** 2))
    cx, cy = min((x0 + x1) // 2, w - 1), min((y0 + y1) // 2, h - 1)
    px, py = int(round(x0 + flow[cy, cx, 0])), int(round(y0 + flow[cy, cx, 1]))
    sx0, sy0 = max(px - radius, 0), max(py - radius, 0)
    sx1, sy1 = min(px + (x1 - x0) + radius, w), min(py + (y1 - y0) + radius, h)
    if sx1 - sx0 < x1 - x0 or sy1 - sy0 < y1 - y0 or here <= 1e-9:
        return False
    ssd = cv2.matchTemplate(np.ascontiguousarray(other[sy0:sy1, sx0:sx1]), patch, cv2.TM_SQDIFF)
    return float(ssd.min()) < ratio * here


def _carried_at(image: np.ndarray, flow: np.ndarray, ys: np.ndarray, xs: np.ndarray
                ) -> np.ndarray:
    """``image`` carried along ``flow`` (as :func:`warp_to`) at the pixels ``ys``, ``xs`` only:
    the same numbers as the whole warped frame there."""
    map_x = (xs.astype(np.float32) + flow[ys, xs, 0])[None]
    map_y = (ys.astype(np.float32) + flow[ys, xs, 1])[None]
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]


def _neutral(lum: np.ndarray, chroma: np.ndarray, warped: tuple[np.ndarray, np.ndarray],
             chroma_around: tuple[np.ndarray, np.ndarray],
             flows: tuple[np.ndarray, np.ndarray], component: np.ndarray,
             box: tuple[int, int, int, int], bright: bool, tolerance: float) -> bool:
    """Whether the candidate ``component`` (bool, filling ``box``) looks like white (``bright``)
    or black laid over the picture the two warped neighbours show under it (their chroma,
    ``chroma_around``, carried along ``flows`` at its pixels only)."""
    x, y, bw, bh = box
    sub = (slice(y, y + bh), slice(x, x + bw))
    ys, xs = np.nonzero(component)
    ys, xs = ys + y, xs + x
    under_l = 0.5 * (warped[0][sub][component] + warped[1][sub][component])
    under_c = 0.5 * (_carried_at(chroma_around[0], flows[0], ys, xs)
                     + _carried_at(chroma_around[1], flows[1], ys, xs))
    misfit = overlay_misfit(lum[sub][component], chroma[sub][component], under_l, under_c, bright)
    return float(median(misfit)) < tolerance


def find_specks(
    lum: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    flow_before: np.ndarray,
    flow_after: np.ndarray,
    settings: DustSettings | None = None,
    steps: tuple[int, int] = (-1, 1),
    chroma: np.ndarray | None = None,
    warped: tuple[np.ndarray, np.ndarray] | None = None,
    chroma_around: tuple[np.ndarray, np.ndarray] | None = None,
    impulses: list[Impulses] | None = None,
) -> list[Speck]:
    """Dust and dirt on the frame of luma ``lum`` (H x W float32 in [0, 1]), judged against two
    other frames ``before`` and ``after`` (usually its neighbours) and the flows from ``lum``'s
    grid to each: the specks found (footprints not grown), with those that left the ghosts of a
    steady move in both neighbours among them marked ``moving`` and those ringed by motion edges
    ``edged`` (picture: the frames around need them to tell a small object caught as a speck
    where its ghosts fail, see :func:`in_motion`). ``steps``: how many frames
    away ``before`` and ``after`` are (negative: earlier), for the motion test. ``chroma``:
    the frame's colourfulness (max minus min of its RGB, H x W), where dust must be grey.
    ``warped``: ``before`` and ``after`` already carried onto this frame (:func:`warp_to`);
    ``chroma_around``: the colourfulness of ``before`` and ``after``, where a speck must look
    like white or black laid over the picture (with ``chroma``; the test is skipped without
    them). ``impulses``: a list the frame's :func:`impulse_map` is appended to, for
    :func:`on_path` on the frames around."""
    s = settings or DustSettings()
    h, w = lum.shape
    warped_b, warped_a = warped or (warp_to(before, flow_before), warp_to(after, flow_after))
    square = np.ones((3, 3), np.uint8)
    above = np.minimum(lum - cv2.dilate(warped_b, square), lum - cv2.dilate(warped_a, square))
    below = np.minimum(cv2.erode(warped_b, square) - lum, cv2.erode(warped_a, square) - lum)
    spike = np.maximum(np.maximum(above, below), 0.0)
    agree = np.abs(warped_b - warped_a) <= s.agree * spike
    d_b, d_a = lum - warped_b, lum - warped_a
    noise, shared = local_noise(d_b, d_a, s.noise_window)
    shared = shared if s.shared_noise else noise
    # where the flow fails on texture, impulses are everywhere: a speck must also stand out from
    # the impulses around it (their mean over 21 x 21, clipped so a speck hardly raises it)
    busy = cv2.blur(np.minimum(spike, s.strong), (21, 21))
    strong = (spike > np.maximum(s.strong, s.deviations * shared)) & (spike > s.busy * busy)
    strong &= agree
    weak = (spike > np.maximum(s.weak, s.rim_deviations * shared)) & agree
    specks = hysteresis(strong, weak)
    found: list[Speck] = []
    if impulses is not None:
        impulses.append(impulse_map(above, below, noise,
                                    max(3, int(round(s.path_square * w)) | 1)))
    if not specks.any():
        return found
    count, labels, stats, _ = cv2.connectedComponentsWithStats(specks.astype(np.uint8),
                                                               connectivity=8)
    largest = max(s.max_size * w, 4.0)
    radius = max(int(round(s.ghost_search * w)), 4)
    edges = np.maximum(_motion_edges(flow_before), _motion_edges(flow_after))
    # against the frame's own roughness of flow (a whip pan's flow is rough everywhere)
    edge_limit = max(s.motion_edge, s.motion_edge_rel * float(median(edges)))
    for k in range(1, count):
        x, y, bw, bh, area = (int(v) for v in stats[k])
        if max(bw, bh) > largest or area < s.min_area or min(bw, bh) < 2:
            continue  # too large, too small, or a 1-px line that resampling softened
        if max(bw, bh) >= 6 and area < 1.6 * max(bw, bh):  # a thin line: scenery the flow lost
            continue
        component = labels[y:y + bh, x:x + bw] == k
        # by a motion edge (a limb, a wheel): occlusion, which both flows miss; kept as picture
        edged = _ring_edge(edges, component, (x, y, bw, bh), lum, s.picture_edge) > edge_limit
        if chroma is not None and median(chroma[y:y + bh, x:x + bw][component]) > s.chroma:
            continue  # a coloured thing (a ball, a racket, skin): dust and dirt are grey
        sign = 1.0 if above[y:y + bh, x:x + bw][component].mean() > 0 else -1.0
        if (chroma is not None and chroma_around is not None and s.neutral is not None
                and not _neutral(lum, chroma, (warped_b, warped_a), chroma_around,
                                 (flow_before, flow_after), component, (x, y, bw, bh), sign > 0,
                                 s.neutral)):
            continue  # a colour of its own: scenery the flow lost
        box = (x, y, bw, bh)
        if all(_registers(lum, other, warped, flow, box, s.reach_px(w), s.registered)
               for other, warped, flow in ((before, warped_b, flow_before),
                                           (after, warped_a, flow_after))):
            continue
        strength = float(median(spike[y:y + bh, x:x + bw][component]))
        own = lum[y:y + bh, x:x + bw][component]
        level = float(own.min() if sign < 0 else own.max())  # its darkest (brightest)
        ghosts = (_ghosts(d_b, warped_b, level, component, box, sign, strength, radius),
                  _ghosts(d_a, warped_a, level, component, box, sign, strength, radius))
        motion = _moves(ghosts, steps)
        # darker (brighter) than anything around it: asked only where either test needs it
        beyond = s.unseen is not None and (edged or motion is not None) and _unseen(
            level, sign, (warped_b, warped_a), box, max(int(round(s.unseen_reach * w)), 2),
            s.unseen * strength)
        if edged and beyond:
            edged = False
        if edged and s.isolated is not None and _alone(lum, component, box) < s.isolated:
            # a speck by a moving thing's outline, not part of it: picture only where its ghosts
            # make a pair, or (faint) with a ghost in each neighbour; one is often a chance
            # blob, or the neighbour's own dust
            both = bool(len(ghosts[0]) and len(ghosts[1]))
            edged = motion is not None or both and (s.isolated_faint is None
                                                    or strength < s.isolated_faint)
        if (motion is not None and beyond and s.ghost_deviations is not None
                and _moves(tuple(_ghosts(diff, other, level, component, box, sign, strength,
                                         radius, s.ghost_deviations * noise)
                                 for diff, other in ((d_b, warped_b), (d_a, warped_a))),
                           steps) is None):
            motion = None  # its ghosts were grain, and it is blacker than anything near: dirt
        unsteady = None
        if (motion is not None and s.steady is not None and area >= s.steady_area
                and _moves(ghosts, steps, s.steady) is None):
            unsteady, motion = motion, None  # a chance pair, or an object that turns
        around = (_flow_around(flow_before, box), _flow_around(flow_after, box))
        again = None if motion is not None or s.alike is None else _found_again(
            lum, (before, after), around, component, box, s.alike * strength, radius,
            s.alike_grain * float(median(noise[y:y + bh, x:x + bw][component])) ** 2)
        seen = again is not None
        scene = _scene_motion(around, steps)
        velocity = None
        if motion is not None:  # on the frame's own grid: plus the scene's motion around it
            velocity = tuple(float(v) for v in motion + scene)
        elif again is not None and s.found_heading:  # found again: where it went, itself
            heading = _moves((again[0][None], again[1][None]), steps)
            velocity = None if heading is None else (float(heading[0]), float(heading[1]))
        leans = None
        if motion is None and s.lean_hidden is not None:
            leans = _leans(lum, ghosts, steps, scene, component, box, sign, level,
                           s.lean_hidden * strength)
        ys, xs = np.nonzero(component)
        found.append(Speck(float(xs.mean() + x), float(ys.mean() + y), area, sign,
                           (ys + y) * w + (xs + x), moving=motion is not None or seen,
                           scene=(float(scene[0]), float(scene[1])), velocity=velocity,
                           edged=edged, strength=strength, level=level, leans=leans,
                           unsteady=None if unsteady is None else (float(unsteady[0] + scene[0]),
                                                                   float(unsteady[1] + scene[1]))))
    return found
