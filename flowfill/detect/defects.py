"""Film defects found by themselves: dust, dirt and line scratches, as masks to fill.

Frames stream through once. Each frame is judged against its two nearest frames (its neighbours;
at the ends of the clip the next two or the previous two), carried onto it along DIS flow
estimated on a proxy: dust and dirt are impulses no neighbour shows (:mod:`.dust`), scratches are
vertical lines that do not move with the scene (:mod:`.scratches`), linked over frames so that a
scratch's evidence anywhere along its life marks all of it. A frame's mask is given out once
``lookahead`` more frames have been read (a scratch in a still shot shows it is on the film only
where it appears or vanishes), so memory holds a few frames of luma and sparse masks, whatever
the clip's length. Masks are grown by a margin that covers the defects' soft edges.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from flowfill.detect.dust import (
    DustSettings,
    Impulses,
    Speck,
    as_deep_at,
    find_specks,
    follows,
    grouped,
    hidden_between,
    in_motion,
    leads_to_mover,
    on_path,
    on_way,
    streaked,
    warp_to,
)
from flowfill.detect.scratches import (
    ScratchSettings,
    Segment,
    between,
    bridge,
    carry_line,
    extend_rows,
    faint_line,
    film_evidence,
    find_segments,
    flanks,
    held_while_scene_moves,
    is_neutral,
    line_lift,
    link,
    middle,
    moves_with_scene,
    row_ranges,
    scene_passes,
    stays_while_scene_moves,
)
from flowfill.errors import InputError
from flowfill.flow.dis import DISFlow
from flowfill.flow.prep import from_proxy, proxy_size, rec601_luma, to_proxy, tone_curve

KINDS = ("dust", "scratches")
"""The defects :func:`detect_defects` can look for."""
FLOW_SIDE = 640
"""Longest side of the proxy the detection's flow is estimated on."""
LINK_GAP = 3
"""A scratch's track bridges up to this many frames where the line finder lost it."""
FOLLOW = 4
"""A candidate on the path of a moving object seen this many frames away or nearer is that
object (:func:`.dust.follows`)."""


def parse_kinds(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """The defect kinds of ``dust,scratches`` (or a sequence; None or empty: all)."""
    if text is None or text == "":
        return KINDS
    items = [k.strip() for k in (text.split(",") if isinstance(text, str) else text)]
    bad = [k for k in items if k not in KINDS]
    if bad or not items:
        raise InputError(None, f"unknown defect kind {', '.join(bad) or repr(text)}; choose from "
                         f"{', '.join(KINDS)}")
    return tuple(dict.fromkeys(items))


def default_margin(width: int) -> int:
    """How far a defect's mask is grown: 2 px at 432 wide, more on larger frames."""
    return max(2, int(round(2 * width / 432)))


def luma(frame: np.ndarray, tone: str = "display") -> tuple[np.ndarray, np.ndarray]:
    """(Rec. 601 luma, colourfulness: max minus min of the channels), float32 H x W in [0, 1], of
    an RGB(A) frame through the run's tone curve."""
    rgb = tone_curve(np.asarray(frame)[..., :3], tone)
    lum = rec601_luma(rgb)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]  # a reduction over the last axis is slow
    spread = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    return lum.astype(np.float32), spread.astype(np.float32)


@dataclass
class _Frame:
    lum: np.ndarray
    chroma: np.ndarray
    grey: np.ndarray  # 8-bit proxy for the flow


@dataclass
class _Pending:
    specks: list[Speck]
    segments: list[Segment]
    drawn: list[Segment] = field(default_factory=list)
    """Scratch lines drawn where the line finder lost them (:func:`.scratches.between`)."""
    grey: np.ndarray | None = None
    """The frame's 8-bit luma on the flow's proxy grid."""


class _Tracks:
    """Union-find over segment tracks (the same line over frames), and which are scratches.

    Ids are handed out in frame order and a set's root is its newest id, so every id on the way
    from a segment to its root is newer than the segment's own: :meth:`forget` drops all ids
    older than the oldest still in use, and a reel of any length holds the tracks of the last
    frames only."""

    def __init__(self, shortest: int, evidence: int = 2, density: float = 0.6,
                 share: float = 0.3) -> None:
        self.shortest = shortest
        self.needed = evidence
        self.density = density
        self.share = share
        self.next = 0
        self.parent: dict[int, int] = {}
        # per root, per frame it was found on: its segments there, those with film evidence,
        # those seen moving with the scene and those the scene moved past
        self.tally: dict[int, dict[int, list[int]]] = {}

    def new(self, film: bool, frame: int, scene: bool = False, passed: bool = False) -> int:
        """A track of one segment, found on ``frame`` (``scene``: seen moving with the scene,
        :func:`.scratches.moves_with_scene`; ``passed``: the scene moved past it,
        :func:`.scratches.scene_passes`)."""
        k = self.next
        self.next += 1
        self.parent[k] = k
        self.tally[k] = {frame: [1, int(film), int(scene), int(passed)]}
        return k

    def add_evidence(self, k: int, frame: int) -> None:
        """One more of the track's segments, on ``frame``, has film evidence."""
        self.tally[self.find(k)][frame][1] += 1

    def find(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def join(self, a: int, b: int) -> None:
        ra, rb = sorted((self.find(a), self.find(b)), reverse=True)  # the newer stays root
        if ra != rb:
            self.parent[rb] = ra
            into = self.tally[ra]
            for frame, counts in self.tally.pop(rb).items():
                if frame in into:
                    into[frame] = [x + y for x, y in zip(into[frame], counts, strict=True)]
                else:
                    into[frame] = counts

    def forget(self, oldest: int) -> None:
        """Drop every id older than ``oldest``: no segment in use has one, so none is on the way
        to a root in use, nor a root."""
        for table in (self.parent, self.tally):
            for k in list(itertools.takewhile(lambda k: k < oldest, table)):
                del table[k]

    def is_film(self, k: int, frame: int | None = None) -> bool:
        """Whether the track of segment ``k`` is a scratch (:meth:`passes`), or where it does not
        pass as a whole, the run of it around ``frame``: the frames it was found on, split where
        a bridge spans the most frames it may (:data:`LINK_GAP`). A short scratch bridged onto
        the sparse track of a line of the scene a few frames before it is still a scratch on
        its own frames (decided once the track is complete; the frames being judged ask of the
        whole track)."""
        tally = self.tally[self.find(k)]
        if self.passes(tally):
            return True
        if frame is None or frame not in tally:
            return False
        found = sorted(tally)
        at = found.index(frame)
        first = last = at
        while first > 0 and found[first] - found[first - 1] <= LINK_GAP:
            first -= 1
        while last + 1 < len(found) and found[last + 1] - found[last] <= LINK_GAP:
            last += 1
        if last - first + 1 == len(found):
            return False  # the run is the whole track
        return self.passes({f: tally[f] for f in found[first:last + 1]})

    def passes(self, tally: dict[int, list[int]]) -> bool:
        """Whether the segments ``tally`` counts (per frame: segments, with film evidence, moving
        with the scene, the scene moved past) are a scratch: at least ``shortest`` segments (two
        may lie on one frame) with film evidence on at least two of them. A scratch in a moving
        scene shows it on most frames, one in a still scene where it appears and where it
        vanishes; a line that stays put no longer is a moving limb or a pole the flow lost, and
        one with evidence once is an edge the flow got wrong there (parallax, an occlusion). It
        must also have been found on ``density`` of the frames it spans: a scratch is on every
        frame of its life, if too faint on some for the line finder, while lines of the scene (a
        fence, a brick wall in a pan) bridged one to the next over the frames the finder missed
        them are found only now and then. And it must have film evidence on no fewer of its
        frames than it was seen moving with the scene (:func:`.scratches.moves_with_scene`):
        under a shaking camera a track that seems to stay put in a brick wall is another joint on
        every frame, and the odd one a warp blurs gives it evidence twice. Where the scene moved
        past most of its segments (:func:`.scratches.scene_passes`), film evidence on ``share``
        of those: a scratch shows it there on most frames, a line of the scene now and then."""
        length, evidence, scene, passed = (sum(c) for c in zip(*tally.values(), strict=True))
        if passed >= 0.5 * length and evidence < self.share * passed:
            return False
        return (length >= self.shortest and evidence >= self.needed and evidence >= scene
                and len(tally) >= self.density * (max(tally) - min(tally) + 1))


def _spans(items: Sequence[_Pending], tracks: _Tracks, roots: set[int], near: int = 4
           ) -> dict[int, tuple[int, int, float]]:
    """Per track of ``roots`` found on the first of ``items``' frames, the rows that at least
    two of its segments on those frames show on their own frames (:attr:`.Segment.own`; all of
    them, where it has one), and where its segments' lines run on the median of the first
    ``near`` frames (a scratch drifts). Not the rows a segment took from the one linked before
    it: those carried one frame's rows, which overreached the scratch's end, on to every frame
    after it, and so onto two (RESULTS.md, issue 17)."""
    ends: dict[int, tuple[list[int], list[int], list[float]]] = {
        root: ([], [], []) for root in roots}
    for i, item in enumerate(items):
        for seg in item.segments + item.drawn:
            root = tracks.find(seg.track)
            if root not in ends:
                continue
            tops, bottoms, xs = ends[root]
            top, bottom = seg.own
            tops.append(top)
            bottoms.append(bottom)
            if i < near:
                xs.append(middle(seg))
    return {root: (sorted(tops)[min(1, len(tops) - 1)], sorted(bottoms)[-min(2, len(bottoms))],
                   float(np.median(xs)))
            for root, (tops, bottoms, xs) in ends.items()}


def _grown(mask: np.ndarray, grow: np.ndarray | None) -> np.ndarray:
    """``mask`` (uint8 H x W) dilated by the element ``grow`` (None: as it is)."""
    return cv2.dilate(mask, grow) if grow is not None and mask.any() else mask


def _passing(around: Sequence[tuple[int, _Pending]], shape: tuple[int, int], reach: float,
             lines: Sequence[Segment], grey: np.ndarray, scale: tuple[float, float],
             own: Sequence[Speck]) -> np.ndarray:
    """Where a small object seen moving on the frames ``around`` (offsets and frames) crosses
    this frame (of ``shape``; ``grey``: its 8-bit luma, ``scale`` times its size) as no
    candidate (``own``: this frame's specks), dark on dark picture: a speck seen moving before
    it and one after, of a sign, on a steady move (1 to ``reach`` px a frame) that a third
    confirms (within 3 px and a quarter of the move from the nearer one), and where the move
    puts it the frame is as dark as the fainter one's core (as bright, for a bright one;
    :func:`.dust.as_deep_at`). A speck on a line of its own frame or on one of this frame's
    scratch ``lines`` is a piece of the line. Flat indices: their footprints put there, and a
    quarter of the move either way (its blur, and the unsure speed)."""
    near = 3.0 * shape[1] / 432

    def on_line(speck: Speck, segments: Iterable[Segment]) -> bool:
        return any(seg.sign == speck.sign and seg.y0 - near <= speck.y <= seg.y1 + near
                   and abs(seg.line[0] * speck.y + seg.line[1] - speck.x) <= near
                   for seg in segments)

    movers = [(dt, s) for dt, p in around for s in p.specks
              if s.moving and s.level is not None
              and not on_line(s, itertools.chain(lines, p.segments, p.drawn))]
    if len(movers) < 3:
        return np.zeros(0, np.intp)
    out: list[np.ndarray] = []
    dts = np.array([dt for dt, _ in movers], float)
    xy = np.array([(s.x, s.y) for _, s in movers])
    sign = np.array([s.sign for _, s in movers])
    level = np.array([s.level for _, s in movers])
    for i in np.flatnonzero(dts < 0):
        js = np.flatnonzero((dts > 0) & (sign == sign[i]))
        v = (xy[js] - xy[i]) / (dts[js] - dts[i])[:, None]  # each pair's move, px a frame
        speed = np.hypot(v[:, 0], v[:, 1])
        # where each pair's move puts every speck's frame, and how far the speck lies from it
        off = np.hypot(*(xy[None] - xy[i] - (dts - dts[i])[None, :, None] * v[:, None]).T).T
        gap = np.minimum(abs(dts - dts[i])[None], abs(dts[None] - dts[js][:, None]))
        third = ((dts[None] != dts[i]) & (dts[None] != dts[js][:, None])
                 & (sign[None] == sign[i]) & (off <= 3.0 + 0.25 * speed[:, None] * gap))
        for q in np.flatnonzero((speed >= 1.0) & (speed <= reach) & third.any(axis=1)):
            j, at = js[q], xy[i] - v[q] * dts[i]
            if any(o.sign == sign[i] and np.hypot(o.x - at[0], o.y - at[1])
                   <= 3.0 + 0.25 * speed[q] for o in own):
                continue  # seen here: its own footprint tells where it is
            core = sign[i] * min(sign[i] * level[i], sign[i] * level[j])  # the fainter's
            if not as_deep_at(grey, scale, at[0], at[1], sign[i], core):
                continue  # nothing as dark (bright) as the object where it would be
            for m in (i, j, *np.flatnonzero(third[q])):
                speck = movers[m][1]
                ys, xs = np.divmod(speck.pixels, shape[1])
                for lag in (-0.25, 0.0, 0.25):
                    y = ys + int(round(at[1] + lag * v[q, 1] - speck.y))
                    x = xs + int(round(at[0] + lag * v[q, 0] - speck.x))
                    inside = (y >= 0) & (y < shape[0]) & (x >= 0) & (x < shape[1])
                    out.append(y[inside] * shape[1] + x[inside])
    return np.unique(np.concatenate(out)) if out else np.zeros(0, np.intp)


def _picture(speck: Speck, around: list[tuple[int, list[Speck]]], reach: float, width: int,
             pictures: dict[int, np.ndarray] | None = None,
             scale: tuple[float, float] = (1.0, 1.0)) -> bool:
    """Whether ``speck`` is a small moving object, not dirt: its ghosts (or an unsteady pair of
    them that leads to a mover beside it, :func:`.dust.leads_to_mover`), its path, its string,
    the track of those seen moving or a look-alike it is smeared toward on the frames
    ``around`` (offsets and their specks; frames ``width`` wide), or a look-alike two or three
    frames away with picture that hides it where it would be between (``pictures``: offsets and
    8-bit luma, ``scale`` times the frame's size; :func:`.dust.hidden_between`). At a clip's
    first and last two frames, where one side has too few frames for a string, also a
    look-alike's path through it (:func:`.dust.on_way`), or a string whose third frame away is
    a speck known for picture (RESULTS.md, issue 17)."""
    if speck.edged or speck.moving or speck.on_path or leads_to_mover(speck, around):
        return True
    near = [(dt, specks) for dt, specks in around if abs(dt) <= 2]
    if (in_motion(speck, near, reach) or follows(speck, around)
            or streaked(speck, near, reach, width)):
        return True
    if pictures is not None and hidden_between(speck, around, pictures, scale, reach):
        return True
    if len({dt for dt, _ in near}) == 4:
        return False
    further = [(dt, [o for o in specks if o.moving or o.on_path])
               for dt, specks in around if abs(dt) == 3]
    return on_way(speck, near) or in_motion(speck, near + further, reach, movers=False)


def detect_defects(
    frames: Iterable[np.ndarray],
    kinds: Sequence[str] = KINDS,
    margin: int | None = None,
    progress: Callable[[int], None] | None = None,
    lookahead: int = 30,
    tone: str = "display",
    dust: DustSettings | None = None,
    scratches: ScratchSettings | None = None,
) -> Iterator[np.ndarray]:
    """Yield one bool H x W mask per frame of ``frames`` (float32 or uint8 H x W x 3 or 4), in
    order: the dust, dirt and line scratches found (``kinds``), grown by ``margin`` px (default
    :func:`default_margin`). ``progress(n)`` is called as frames are judged. A frame's mask is
    given out ``lookahead`` frames after it is judged: the frames after it tell a scratch that
    appears or vanishes, a small object seen moving (up to :data:`FOLLOW` frames on) and one
    too faint to be a candidate (two frames on, four for the clip's first two; with a shorter
    lookahead that test is skipped)."""
    kinds = parse_kinds(kinds)
    flow = DISFlow()
    seen: deque[_Frame] = deque(maxlen=3)
    pending: deque[_Pending] = deque()
    recent: deque[_Pending] = deque(maxlen=FOLLOW)  # the last frames given out
    impulses: deque[Impulses] = deque(maxlen=5)  # the last frames' impulse maps
    settings = dust or DustSettings()
    tracks = _Tracks(shortest=min(3, lookahead + 1),
                     share=(scratches or ScratchSettings()).share)
    previous: list[Segment] = []
    ends: list[tuple[int, Segment]] = []  # lines lost: (frame, its last segment)
    index = -1  # the frame being judged
    given = 0  # frames given out
    lums: deque[np.ndarray] = deque(maxlen=LINK_GAP + 1)  # the last frames judged, luma
    # ... and each one's flow to the frame before it (on the proxy; None for the clip's first)
    back_flows: deque[np.ndarray | None] = deque(maxlen=LINK_GAP + 1)
    full_size: dict[int, np.ndarray] = {}
    shape: tuple[int, int] | None = None
    size: tuple[int, int] | None = None
    grow: np.ndarray | None = None
    judged = 0

    def flow_to(a: _Frame, b: _Frame) -> np.ndarray:
        return from_proxy(flow(a.grey, b.grey), shape)

    def judge(frame: _Frame, before: _Frame, after: _Frame, steps: tuple[int, int]) -> None:
        nonlocal previous, ends, index
        index += 1
        full_size.clear()  # flow_back's, for the frames before this one
        proxy_b = flow(frame.grey, before.grey)
        f_b, f_a = from_proxy(proxy_b, shape), flow_to(frame, after)
        warped = (warp_to(before.lum, f_b), warp_to(after.lum, f_a))  # for both tests
        found: list[Speck] = []
        if "dust" in kinds:
            maps: list[Impulses] = []
            found = find_specks(frame.lum, before.lum, after.lum, f_b, f_a, settings, steps,
                                frame.chroma, warped, (before.chroma, after.chroma), maps)
            impulses.append(maps[0])
        segments: list[Segment] = []
        if "scratches" in kinds:
            segments = find_segments(frame.lum, scratches)
            ranges = row_ranges(list(warped)) if segments else []
            left = [frame.lum - other for other in warped] if segments else []
            neutral: dict[int, bool] = {}  # worked out once per segment, where asked

            def looks_neutral(j: int) -> bool:
                if j not in neutral:
                    neutral[j] = is_neutral(segments[j], frame.lum, frame.chroma, scratches)
                return neutral[j]

            back = list(reversed(lums))  # the frames kept before this one, nearest first
            means: list[np.ndarray] = []

            def mean() -> np.ndarray:
                """This frame and the ones kept before it, as they are, averaged."""
                if not means:
                    means.append((frame.lum + sum(lums)) / (len(lums) + 1))
                return means[0]

            for j, seg in enumerate(segments):
                seg.film = ((film_evidence(seg, frame.lum, warped, ranges, scratches,
                                           ((before.lum, f_b), (after.lum, f_a)))
                             or (steps[0] == -1 and len(lums) == lums.maxlen
                                 and held_while_scene_moves(seg, frame.lum, mean(), back,
                                                            f_b, flow_back, scratches)))
                            and looks_neutral(j))
                seg.track = tracks.new(seg.film, index,
                                       moves_with_scene(seg, frame.lum, (f_b, f_a), warped,
                                                        scratches, left),
                                       scene_passes(seg, f_b if steps[0] == -1 else f_a,
                                                    scratches))
            pairs = link(previous, segments, shape[1], scratches)
            for i, j in pairs:
                seg = segments[j]
                if (not seg.film and steps[0] == -1
                        and stays_while_scene_moves(seg, previous[i], f_b, frame.lum,
                                                    back, scratches, flow_back)
                        and looks_neutral(j)):
                    seg.film = True
                    tracks.add_evidence(seg.track, index)
                tracks.join(previous[i].track, seg.track)
                seg.reach_rows(previous[i].y0, previous[i].y1, shape[1])
            # a line that starts here may be one lost a few frames back
            ends = [(t, a) for t, a in ends if index - t <= LINK_GAP + 1]
            starts = sorted(set(range(len(segments))) - {j for _, j in pairs})
            bridged = bridge(ends, [segments[j] for j in starts], index, shape[1], scratches)
            for e, k in bridged:
                (t, a), b = ends[e], segments[starts[k]]
                tracks.join(a.track, b.track)
                lifts = (line_lift(lums[t - index], a, scratches),
                         line_lift(frame.lum, b, scratches))
                b.reach_rows(a.y0, a.y1, shape[1])
                for f in range(max(t + 1, given), index):  # where the finder lost the line
                    share = (f - t) / (index - t)
                    if faint_line(lums[f - index], lifts, a, b, share, scratches):
                        seg = between(a, b, share, shape)
                        seg.track = a.track
                        pending[f - given].drawn.append(seg)
            gone = {e for e, _ in bridged}
            linked = {i for i, _ in pairs}
            kept: list[np.ndarray] = []

            def residual() -> np.ndarray:
                """The frame less its warped neighbours' mean: the picture gone where the flow
                holds, a line on the film left where the scene moves under it."""
                if not kept:
                    kept.append(frame.lum - 0.5 * (warped[0] + warped[1]))
                return kept[0]

            # a scratch the line finder loses (too faint on this frame's picture) is carried on
            # where it still stands out by half as much as where it was found
            for i, a in enumerate(previous):
                if i in linked or not lums or not tracks.is_film(a.track):
                    continue
                seg = carry_line(a, lums[-1], frame.lum, scratches, residual)
                if seg is not None:
                    seg.track = tracks.new(False, index)
                    tracks.join(a.track, seg.track)
                    segments.append(seg)
                    linked.add(i)
            for seg in segments:  # a scratch's faint ends, where the finder stopped
                if tracks.is_film(seg.track):
                    extend_rows(seg, frame.lum, scratches, residual=residual)
            ends = [end for e, end in enumerate(ends) if e not in gone] + [
                (index - 1, a) for i, a in enumerate(previous) if i not in linked]
        previous = segments
        lums.append(frame.lum)
        back_flows.append(proxy_b if steps[0] == -1 else None)
        pending.append(_Pending(found, segments, grey=frame.grey))
        if len(impulses) == impulses.maxlen:
            # the frame two back has two judged on each side now: a faint object's path
            path_through(index - 2, (-2, -1, 1, 2))
            if index == 4:  # the clip's first two frames: the four nearest
                path_through(0, (1, 2, 3, 4))
                path_through(1, (-1, 1, 2, 3))

    def flow_back(k: int) -> np.ndarray | None:
        """The flow from the frame ``k`` before the one being judged to the frame before that
        (H x W x 2), or None where not kept: brought to full size once a frame judged."""
        if k > len(back_flows) or back_flows[-k] is None:
            return None
        if k not in full_size:
            full_size[k] = from_proxy(back_flows[-k], shape)
        return full_size[k]

    def path_through(at: int, offsets: tuple[int, ...]) -> None:
        """Mark the specks of frame ``at`` that are a faint object on a path through the
        frames ``offsets`` away (judged, their maps among the last five), if not given out."""
        if at < given:
            return
        first = index - len(impulses) + 1  # the frame of the oldest map kept
        around = [(dt, impulses[at + dt - first]) for dt in offsets]
        for speck in pending[at - given].specks:
            if not (speck.moving or speck.edged):
                ways: list[np.ndarray] = []
                speck.on_path = on_path(speck, around, impulses[at - first],
                                        settings.search * shape[1], settings.path_level,
                                        settings.path_scene * shape[1] / 432,
                                        settings.path_side, ways)
                speck.ways = ways[0] if ways else None

    def give(final: bool) -> Iterator[np.ndarray]:
        nonlocal given
        reach = settings.search * shape[1]
        gap = settings.pieces * shape[1] / 432
        while pending and (final or len(pending) > lookahead):
            item = pending.popleft()
            given += 1
            mask = np.zeros(shape[0] * shape[1], np.uint8)
            lines = np.zeros_like(mask)
            picture = np.zeros_like(mask)  # small objects seen moving
            moving: list[Speck] = []
            # the frames around it: the last few given out, the next few waiting
            frames_around = [(i - len(recent), p) for i, p in enumerate(recent)] + [
                (1 + i, pending[i]) for i in range(min(FOLLOW, len(pending)))]
            single = [(dt, p.specks) for dt, p in frames_around]
            pictures = {dt: p.grey for dt, p in frames_around if p.grey is not None}
            scale = ((item.grey.shape[1] / shape[1], item.grey.shape[0] / shape[0])
                     if item.grey is not None else (1.0, 1.0))
            # joined when asked, so that flags the path test set since are read
            joined = [(dt, grouped(p.specks, gap)) for dt, p in frames_around]
            # each speck and each object in pieces: picture where either is
            for group in grouped(item.specks, gap):
                if _picture(group, joined, reach, shape[1], pictures, scale):
                    moving.append(group)
                    continue
                for speck in group.parts or [group]:
                    if _picture(speck, single, reach, shape[1], pictures, scale):
                        moving.append(speck)
                    else:
                        mask[speck.pixels] = 1
            recent.append(item)
            found = [seg for seg in item.segments if tracks.is_film(seg.track, given - 1)]
            found = [seg for seg in found if not flanks(seg, found, shape[1])]
            for seg in found + [seg for seg in item.drawn
                                if tracks.is_film(seg.track, given - 1)]:
                lines[seg.pixels] = 1
            for speck in moving:  # not the impulses a scratch's own line leaves
                if lines[speck.pixels].mean() < 0.5:
                    picture[speck.pixels] = 1
            if lines.any() and item.grey is not None:
                # ... nor one seen moving on the frames around, hidden on this one
                picture[_passing(frames_around, shape, reach, found, item.grey, scale,
                                 item.specks)] = 1
            # a scratch runs down the same rows all its life, though the finder loses its faint
            # parts on some frames: a line found here reaches the rows its track reaches on two
            # of the frames waiting. Not a line drawn between two (a guess, where a small dark
            # object passing made the gap look like a line), nor a second line of the track
            # beside the one on the frames around (RESULTS.md, issue 17).
            spans = _spans([item, *pending], tracks,
                           {tracks.find(seg.track) for seg in found}) if found else {}
            for seg in found:
                y0, y1, x = spans[tracks.find(seg.track)]
                if abs(middle(seg) - x) <= 1.5 * shape[1] / 432:
                    seg.reach_rows(y0, y1, shape[1])
                if seg.faint is not None:
                    seg.reach_rows(*seg.faint, shape[1])
                lines[seg.pixels] = 1
            in_use = [seg.track for p in pending for seg in p.segments + p.drawn] + [
                seg.track for seg in previous] + [seg.track for _, seg in ends]
            tracks.forget(min(in_use, default=tracks.next))
            mask, lines = (_grown(a.reshape(shape), grow) for a in (mask, lines))
            # a scratch's band does not take a small object seen moving across it (nor the
            # blur around its core, twice the margin): where a line is placed a pixel off, or a
            # scene line joined a scratch's track, the band reached the object (RESULTS.md,
            # issue 17)
            if lines.any() and picture.any():
                lines &= _grown(_grown(picture.reshape(shape), grow), grow) == 0
            yield (mask | lines).astype(bool)

    count = 0
    for frame in frames:
        lum, chroma = luma(frame, tone)
        if shape is None:
            shape = lum.shape
            size = proxy_size(shape[0], shape[1], FLOW_SIDE)
            px = default_margin(shape[1]) if margin is None else int(margin)
            grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1)) \
                if px > 0 else None
        elif lum.shape != shape:
            raise InputError(None, f"frame {count} is {lum.shape[1]}x{lum.shape[0]}, the first "
                             f"was {shape[1]}x{shape[0]}")
        grey = np.clip(to_proxy(lum, size) * 255 + 0.5, 0, 255).astype(np.uint8)
        seen.append(_Frame(lum, chroma, grey))
        count += 1
        if count == 3:  # the first frame: against the next two
            judge(seen[0], seen[1], seen[2], (1, 2))
        if count >= 3:
            judge(seen[1], seen[0], seen[2], (-1, 1))
            judged = count - 1
            if progress:
                progress(2 if count == 3 else 1)
        yield from give(False)
    if count == 0:
        return
    if count == 1:  # nothing to compare with
        pending.append(_Pending([], []))
    elif count == 2:
        judge(seen[0], seen[1], seen[1], (1, 1))
        judge(seen[1], seen[0], seen[0], (-1, -1))
    else:  # the last frame: against the previous two
        judge(seen[2], seen[1], seen[0], (-1, -2))
    if len(impulses) == impulses.maxlen:  # the clip's last two frames: the four nearest
        path_through(index - 1, (-3, -2, -1, 1))
        path_through(index, (-4, -3, -2, -1))
    if progress:
        progress(count - judged)
    yield from give(True)
