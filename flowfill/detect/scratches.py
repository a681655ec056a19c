"""Line scratches: thin, near-vertical, bright or dark lines that the film carries, not the scene.

Per frame, a narrow top-hat (bright lines) and bottom-hat (dark lines) along each row finds what
is thinner than ``max_width``; averaged down the column over a tenth of the frame height and set
against the same average beside it, only lines that run vertically stand out (each row's peaks).
Scenery has such lines too (posts, poles, trunks), so each line is also checked against the
neighbouring frames carried onto this one along the optical flow: scenery moves with the flow
and lines up with its warped neighbour; a scratch stays on the film and does not (where the
scene moves), or appears and vanishes while the picture around it stays (where it does not); and
the line must look like white or black laid over the picture beside it (a trunk or a limb has a
colour of its own). The segments are linked from frame to frame where they stay put, and a track
with that evidence is a scratch. Textures full of lines (a brick wall's joints) fool each test
now and then, most under a shaking camera or a weaving gate, where the scene moves by another
amount every frame: so a broken line gives no evidence, the warped neighbour must lack the line
itself, not only its sharpness, a line seen moving with the scene counts against its track, and
the scene's motion is followed frame by frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy import ndimage

from flowfill.detect.dust import robust_sigma
from flowfill.detect.overlay import overlay_misfit
from flowfill.detect.stats import median

ROW_GAP = 4
"""A line's rows where it dips under the finder's threshold, up to twice this many in a row,
are bridged: the pieces of a faint scratch over busy picture, each too short to be a line, are
one line (RESULTS.md, issue 17)."""


@dataclass(frozen=True)
class ScratchSettings:
    """What counts as a line scratch (luma in [0, 1] units)."""

    max_width: float = 4.0 / 432
    """Widest scratch, as a share of the frame width (4 px at 432)."""
    min_length: float = 0.15
    """Shortest segment, as a share of the frame height."""
    contrast: float = 0.012
    """A line's mean contrast over its column window, at least (or ``deviations`` of the
    frame's)."""
    deviations: float = 3.0
    """... this many robust deviations of every column's contrast, where texture or grain sets
    the floor (4 missed faint scratches by a hair; the film evidence and the colour test keep
    the extra lines it finds out of the masks: RESULTS.md, issue 17)."""
    bands: int = 6
    """... read in this many bands of rows, each band calmer than the whole frame taking its own
    deviations: a fence or foliage across part of the frame raised the floor for all of it, and a
    faint scratch over the calm sky or wall above stayed under it (RESULTS.md, issue 17). 1: the
    whole frame's only."""
    stays: float = 2.5
    """How far a scratch's line may move between consecutive frames, in pixels at 432 wide: its
    drift, and a pixel either way where the line finder places it."""
    carry_floor: float = 0.02
    """A scratch the line finder loses is carried on while it stands out by more than this
    (:func:`carry_line`), and grown along its line (:func:`extend_rows`): without a floor, tracks
    of lines of no contrast at all were carried through a whole defect-free clip; 0.03 until
    stop 64 stopped faint scratches that the test beside the line already told from grain
    (RESULTS.md, issue 17)."""
    carry_beside: int = 2
    """... and stands out 1.5 times more than the columns beside it, read at six places 6-12 px
    to either side: than the most of them, or than this one of them (largest first) where the
    frame less its warped neighbours shows the line too. The largest of six grainy readings
    stands high by chance, and it ended a faint scratch over a still court's texture that the
    next largest let run on; the frame less its neighbours tells a fence post passing under a
    scratch's place after it ended (RESULTS.md, issue 17)."""
    evidence: float = 0.5
    """A line does not match its warped neighbour when it differs by this share of its contrast."""
    grainy: float | None = 0.3
    """Under grain a faint scratch stands out of a warped neighbour's 3 x 3 range by little, for
    the range takes the grain's extremes: it still shows film evidence where it stands out of
    the warped neighbour itself by ``evidence`` of its contrast, the scene beside it moves at
    least ``scene_motion``, the neighbour as it is (not warped) shows the line in place at least
    half as strongly (the film carried it), no column 6-12 px beside it (at 432 wide) stands out
    two thirds as much, and the warped neighbour, read a pixel either way too, shows under this
    share of it (:func:`film_evidence`; RESULTS.md, issue 17). None: no such evidence."""
    solid: float = 0.8
    """A segment whose pixels' median response is under this share of the line finder's
    threshold is broken (the joints of a brick wall, one course in two): it gives no film
    evidence, for what the codec or a warp does to a dash is no sign of the film."""
    held: float | None = 0.9
    """A line that the mean of its frame and the ones before it (as they are, not warped) shows
    as strongly as its frame, within this share either way, while the scene beside it moved
    past its width over them, stays on the film (:func:`held_while_scene_moves`): the
    benchmark's scratches found so read within 0.95 of themselves, a line of the scene the mean
    kept 0.78 (RESULTS.md, issue 17). None: no such evidence."""
    passes: float = 1.5
    """The scene passes a line on a frame where the picture beside it moved at least this far
    since the frame before (px at 432 wide; :func:`scene_passes`) ..."""
    share: float = 0.3
    """... and a track found mostly on such frames is a scratch only with film evidence on at
    least this share of them: a line on the film shows evidence on most frames the scene moves
    past it, where a far layer seen through a gap between two near ones in a pan (which moves as
    a drifting scratch would) shows it now and then (RESULTS.md, issue 17)."""
    scene_motion: float = 3.0
    """A line moving with a scene that moves at least this far (px at 432 wide) between frames
    is the scene's (:func:`moves_with_scene`); a track with more such segments than segments
    with film evidence is no scratch."""
    neutral: float | None = 0.04
    """A scratch lays white or black over the picture, so the colour under it fades as that
    overlay explains: its chroma (max minus min of RGB) may differ from the explained one by
    this plus 0.3 of the chroma beside it (:func:`.overlay.overlay_misfit`). None: lines of any
    colour (an emulsion scratch on colour film can take a layer's colour); scenery lines then
    pass more often."""

    def width_px(self, width: int) -> int:
        """``max_width`` in pixels for a frame ``width`` wide."""
        return max(int(round(self.max_width * width)), 1)

    def beside_px(self, width: int, widths: float = 3.0) -> int:
        """How far beside a line the picture is read, in pixels for a frame ``width`` wide:
        ``widths`` of the widest scratch, and 2 px more."""
        return int(round(widths * self.max_width * width)) + 2


@dataclass
class Segment:
    """A vertical line found on one frame: polarity (+1 bright, -1 dark), where, its pixels."""

    sign: int
    x: float
    y0: int
    y1: int
    pixels: np.ndarray
    """Flat indices of the line's pixels in the frame."""
    contrast: float
    film: bool = False
    """Evidence that the film carries it (it does not move with the scene)."""
    track: int = -1
    """The track (the same line over frames) it belongs to."""
    line: tuple[float, float] = (0.0, 0.0)
    """x = line[0] * y + line[1]: the straight line through its pixels."""
    lift: float | None = None
    """Carried over frames where the finder lost it (:func:`carry_line`): how far the line
    stood out where it was found, of which it must keep half."""
    solid: bool = True
    """Unbroken along its rows (``ScratchSettings.solid``): only a solid line can show film
    evidence."""
    faint: tuple[int, int] | None = None
    """The rows it reaches where it stands out only of the frame less its warped neighbours
    (:func:`extend_rows`), added when its frame's mask is made."""
    own: tuple[int, int] = field(init=False)
    """The rows its own frame shows it on (found, carried or drawn there, and grown along its
    line by :func:`extend_rows`), not those it took from the segments linked to it
    (:meth:`reach_rows`); set from ``y0``, ``y1`` when made."""

    def __post_init__(self) -> None:
        self.own = (self.y0, self.y1)

    def reach_rows(self, y0: int, y1: int, width: int) -> None:
        """Add the pixels of its line on rows ``y0`` to ``y1 - 1`` that it lacks (a track's
        earlier extent: a scratch fades where the line finder no longer sees it)."""
        rows = np.arange(y0, y1)
        rows = rows[(rows < self.y0) | (rows >= self.y1)]
        if not rows.size:
            return
        cols = np.rint(self.line[0] * rows + self.line[1]).astype(int)[:, None] + np.arange(-1, 2)
        cols = _inside(cols, width)
        extra = (rows[:, None] * width + cols).ravel()
        self.pixels = np.union1d(self.pixels, extra)
        self.y0, self.y1 = min(self.y0, y0), max(self.y1, y1)


def line_response(lum: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(bright, dark): how much each pixel stands above (below) the row around it, for lines up
    to ``width`` px wide (opening and closing with a 1 x (2 width + 3) element)."""
    element = np.ones((1, 2 * width + 3), np.uint8)
    return lum - cv2.morphologyEx(lum, cv2.MORPH_OPEN, element), (
        cv2.morphologyEx(lum, cv2.MORPH_CLOSE, element) - lum)


def find_segments(lum: np.ndarray, settings: ScratchSettings | None = None) -> list[Segment]:
    """The vertical line segments of one frame's luma (H x W float32 in [0, 1])."""
    s = settings or ScratchSettings()
    h, w = lum.shape
    width = s.width_px(w)
    rows = max(int(h // 10) | 1, 9)
    out: list[Segment] = []
    for sign, response in zip((1, -1), line_response(lum, width), strict=True):
        column = cv2.blur(response, (1, rows))
        beside = cv2.blur(column, (6 * width + 9, 1))
        lift = column - beside
        threshold = band_thresholds(lift, s)
        floor = float(median(response)) + 4.0 * robust_sigma(response)
        # each row's peaks only: a line beside texture stays a component of its own, not part
        # of one too wide to be a line
        peaks = lift >= ndimage.maximum_filter1d(lift, 2 * width + 1, axis=1)
        lit = ((lift > threshold[:, None]) & peaks).astype(np.uint8)
        # one line, though a few rows of it dip under the threshold (a faint scratch over busy
        # picture): its pieces are joined across gaps of up to 2 ROW_GAP rows
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            cv2.dilate(lit, np.ones((2 * ROW_GAP + 1, 1), np.uint8)), connectivity=8)
        for k in range(1, count):
            x, y, bw, bh, _ = (int(v) for v in stats[k])
            if bh - 2 * ROW_GAP < s.min_length * h or bw > 3 * width + 4:
                continue
            if x < 2 * width + 2 or x + bw > w - 2 * width - 2:  # the frame's edge is no line
                continue
            box = response[y:y + bh, x:x + bw]
            inside = (labels[y:y + bh, x:x + bw] == k) & (lit[y:y + bh, x:x + bw] > 0)
            level = float(median(box[inside]))
            on = inside & (box > 0.5 * level)
            ys, xs = np.nonzero(on)
            if len(ys) < s.min_length * h:
                continue
            ys, xs, line = _extend(response, ys + y, xs + x, level, floor)
            out.append(Segment(sign, float(median(xs)), int(ys.min()), int(ys.max()) + 1,
                               ys * w + xs, level, line=line,
                               solid=level >= s.solid * float(median(threshold[y:y + bh]))))
    return out


def band_thresholds(lift: np.ndarray, settings: ScratchSettings | None = None) -> np.ndarray:
    """Per row of ``lift`` (a frame's column contrast, H x W), what a line must stand out by:
    ``contrast``, or ``deviations`` robust deviations of the whole frame's, or of its band of
    rows (``bands`` of them) where that band is calmer."""
    s = settings or ScratchSettings()
    h = lift.shape[0]
    whole = robust_sigma(lift)
    step = -(-h // max(s.bands, 1))
    sigma = np.array([min(robust_sigma(lift[top:top + step]), whole)
                      for top in range(0, h, step)])
    return np.maximum(s.contrast, s.deviations * np.repeat(sigma, step)[:h])


def _extend(response: np.ndarray, ys: np.ndarray, xs: np.ndarray, level: float, floor: float,
            gap: int = ROW_GAP) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """A segment (pixels ``ys``, ``xs``) followed up and down its line while the line response
    stays above ``floor`` and a third of the segment's ``level`` (gaps of up to ``gap`` rows
    bridged), above the response just beside it: a scratch fades along its length, and its faint
    parts are scratch too. Also the straight line it is drawn and carried by, through each row's
    centroid (:func:`_centroid`); it is followed along the line through its peak pixels, whose
    band of 5 px holds the line either way (the segments found, and so the tracks linked, are
    those the finder always gave: following the centroid's line changed the pixels of some, and
    their tracks knit differently in textures full of lines; RESULTS.md, issue 17)."""
    h, w = response.shape
    slope, offset = _fit(ys, xs)
    line = _robust_fit(ys, xs + _centroid(response, ys, xs), h // 3)
    rows = np.arange(h)
    cols = _inside(np.rint(offset + slope * rows).astype(int)[:, None] + np.arange(-2, 3), w)
    centre = np.rint(offset + slope * rows).astype(int)[:, None]
    band = response[rows[:, None], cols]
    beside = response[rows[:, None], _inside(centre + np.array([-6, -5, -4, 4, 5, 6]), w)]
    # the line must stand out from the picture just beside it (texture has lines everywhere)
    lift = band - median(beside, axis=1)[:, None]
    peak = lift.max(axis=1)
    lit = peak > max(level / 3.0, floor)
    lit[ys] = True
    runs = _runs(_closed(lit, gap) | lit)
    seeded = np.bincount(runs[ys], minlength=int(runs.max()) + 1) > 0
    seeded[0] = False
    keep = seeded[runs]
    on = keep[:, None] & (lift >= 0.5 * peak[:, None]) & (lift > 0)
    r, c = np.nonzero(on)
    return np.concatenate([ys, r]), np.concatenate([xs, cols[r, c]]), line


def _fit(ys: np.ndarray, xs: np.ndarray) -> tuple[float, float]:
    """(slope, offset) of the near-vertical line x = slope * y + offset through the points
    (least squares; upright through their median where they span under 8 rows; the slope within
    +-0.05)."""
    slope, offset = (np.polyfit(ys, xs, 1) if np.ptp(ys) >= 8 else (0.0, float(median(xs))))
    return float(np.clip(slope, -0.05, 0.05)), float(offset)


def _robust_fit(ys: np.ndarray, xs: np.ndarray, shortest: int, most: int = 64
                ) -> tuple[float, float]:
    """:func:`_fit`'s line by the median of the slopes between pairs of points (at most
    ``most`` of them, evenly taken) and the median offset: a segment that runs on into the
    picture beside a scratch's end veers off over a few rows, and a least-squares line tilts
    to it. Upright through the points' median where they span fewer than ``shortest`` rows: a
    short piece of a faint scratch under grain wanders by a pixel or two, and its slope,
    carried over the whole frame, put its line off the scratch."""
    if np.ptp(ys) < shortest:
        return 0.0, float(median(xs))
    every = max(len(ys) // most, 1)
    y, x = ys[::every].astype(np.float64), xs[::every].astype(np.float64)
    i, j = np.triu_indices(len(y), 1)
    apart = y[j] - y[i]
    pairs = apart != 0
    slope = float(median((x[j] - x[i])[pairs] / apart[pairs]))
    slope = float(np.clip(slope, -0.05, 0.05))
    return slope, float(median(xs - slope * ys))


def _centroid(response: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """How far the centre of the line through each pixel (``ys``, ``xs``) lies from it, in px:
    the centroid of the response on the pixel and its two neighbours in the row. A line between
    two columns peaks on either as grain has it, and a line fitted through the peaks tilts by a
    pixel over the rows where it flips (RESULTS.md, issue 17)."""
    w = response.shape[1]
    near = np.maximum(response[ys[:, None], _inside(xs[:, None] + np.arange(-1, 2), w)], 0.0)
    total = near.sum(axis=1)
    off = np.where(total > 0, (near[:, 2] - near[:, 0]) / np.maximum(total, 1e-12), 0.0)
    return np.minimum(np.maximum(off, -0.5), 0.5)


def _inside(index: np.ndarray, size: int) -> np.ndarray:
    """Integer ``index`` kept within 0 and ``size - 1``: ``np.clip`` without its per-call
    overhead (taken thousands of times a frame)."""
    return np.minimum(np.maximum(index, 0), size - 1)


def _closed(on: np.ndarray, gap: int) -> np.ndarray:
    """``on`` (bool, 1D) with gaps of up to ``2 * gap`` closed: a dilation then an erosion by
    ``2 * gap + 1`` samples, the outside taken as off (as ``ndimage.binary_closing`` has it)."""
    n = len(on)
    at = np.arange(n)
    total = np.concatenate([[0], np.cumsum(on)])
    grown = total[np.minimum(at + gap + 1, n)] - total[np.maximum(at - gap, 0)] > 0
    total = np.concatenate([[0], np.cumsum(grown)])
    inside = (at >= gap) & (at + gap < n)
    full = total[np.minimum(at + gap + 1, n)] - total[np.maximum(at - gap, 0)] == 2 * gap + 1
    return inside & full


def _runs(on: np.ndarray) -> np.ndarray:
    """Each run of ``on`` (bool, 1D) numbered from 1 in order, 0 off it."""
    starts = on & ~np.concatenate([[False], on[:-1]])
    return np.cumsum(starts) * on


def between(a: Segment, b: Segment, share: float, shape: tuple[int, int]) -> Segment:
    """The line ``share`` of the way from segment ``a`` to ``b`` (the same scratch on a frame
    between theirs, too faint there for the line finder): rows and line interpolated, 3 px
    wide."""
    h, w = shape
    y0 = min(max(int(round(a.y0 + share * (b.y0 - a.y0))), 0), h - 1)
    y1 = min(max(int(round(a.y1 + share * (b.y1 - a.y1))), y0 + 1), h)
    line = (a.line[0] + share * (b.line[0] - a.line[0]),
            a.line[1] + share * (b.line[1] - a.line[1]))
    centre, pixels = _line_pixels(line, y0, y1, w)
    return Segment(a.sign, float(median(centre)), y0, y1, pixels,
                   a.contrast + share * (b.contrast - a.contrast), line=line)


def _line_pixels(line: tuple[float, float], y0: int, y1: int, width: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The column of ``line`` (x = line[0] * y + line[1]) on rows ``y0`` to ``y1 - 1`` and the
    flat indices of its pixels, 3 px wide, in a frame ``width`` wide."""
    rows = np.arange(y0, y1)
    centre = np.rint(line[0] * rows + line[1]).astype(int)
    cols = _inside(centre[:, None] + np.arange(-1, 2), width)
    return centre, (rows[:, None] * width + cols).ravel()


def line_lift(lum: np.ndarray, line: Segment, settings: ScratchSettings | None = None,
              offset: float = 0.0, rows: np.ndarray | None = None) -> float:
    """How far ``line`` stands out of frame ``lum`` (H x W) in its polarity: over its rows, the
    median of its own pixels' extreme (its centre and one pixel each side) minus the median of
    the picture a few pixels beside it. ``offset``: the line taken that many px to the right
    (where the scene's motion would have carried it). ``rows``: read on these rows of its line
    instead of its own."""
    s = settings or ScratchSettings()
    rows = np.arange(line.y0, line.y1) if rows is None else np.asarray(rows)
    return float(median(_row_lifts(lum, line, s, offset, rows)))


def carry_line(a: Segment, before: np.ndarray, lum: np.ndarray,
               settings: ScratchSettings | None = None,
               residual: Callable[[], np.ndarray] | None = None) -> Segment | None:
    """Segment ``a`` (a scratch, on the frame of luma ``before``) carried onto the next frame
    ``lum``, where the line finder lost it (a faint scratch over busy picture: the finder's
    floor follows the texture of every column): the line within a pixel of where it was, if it
    stands out there (:func:`line_lift`) by more than half as much as ``a`` did where it was
    found (its ``lift`` when ``a`` was carried itself), more than ``carry_floor``, and 1.5 times
    more than the same line moved a little way to either side (grain and texture lift every
    column a little: without this, lines were carried on over grain after a scratch ended; the
    most of six places, or the ``carry_beside``-th most where the frame less its warped
    neighbours shows the line too, as a fence post passing under a scratch's place after it
    ended does not); else None. ``residual``: gives the frame less its warped neighbours' mean,
    where the same tests are read when they fail on the frame (lines of the scene beside the
    scratch are gone there where the scene moves), and where only part of its rows may be
    carried on (:func:`_carried_part`)."""
    s = settings or ScratchSettings()
    found = a.lift if a.lift is not None else line_lift(before, a, s)
    least = max(0.5 * found, s.carry_floor)

    def also_left(off: float) -> bool:
        """Whether the frame less its warped neighbours shows the line there too."""
        return residual is not None and _lift_and_core(residual(), a, s, off)[0] > least

    def carried(image: np.ndarray, part: bool) -> tuple[float, int, int] | None:
        # where it was, or a pixel either side where its brightest (darkest) pixels lie
        # outside where it was: a line between two columns reads the same core either way,
        # and by the picture beside it alone it walked a pixel a frame off the scratch
        (lift, core), off = _lift_and_core(image, a, s, 0.0), 0.0
        for o in (-1.0, 1.0):
            moved, moved_core = _lift_and_core(image, a, s, o)
            if moved > lift and moved_core > core:
                lift, off = moved, o
        if lift > least:
            beside = _lifts_beside(image, a, s)
            if lift > 1.5 * max(beside[-1], 0.0) or (
                    lift > 1.5 * max(beside[-s.carry_beside], 0.0)
                    and (part or also_left(off))):
                return off, a.y0, a.y1
        return _carried_part(image, a, s, found) if part else None

    got = carried(lum, False)
    if got is None and residual is not None:
        got = carried(residual(), True)
    if got is None:
        return None
    off, y0, y1 = got
    line = (a.line[0], a.line[1] + off)
    _, pixels = _line_pixels(line, y0, y1, lum.shape[1])
    return Segment(a.sign, a.x + off, y0, y1, pixels, a.contrast, line=line, lift=found)


def _centres(line: Segment, offset: float, rows: np.ndarray) -> np.ndarray:
    """The column of ``line`` taken ``offset`` px to the right on each of ``rows`` (N x 1)."""
    return np.rint(line.line[0] * rows + line.line[1] + offset).astype(int)[:, None]


def _core_rows(lum: np.ndarray, sign: int, rows: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The extreme of a line's core (its ``centre`` column and a pixel each side, N x 1, in
    polarity ``sign``) on each of ``rows`` of frame ``lum``."""
    return (lum[rows[:, None], _inside(centre + np.arange(-1, 2), lum.shape[1])] * sign
            ).max(axis=1)


def _core_and_beside(lum: np.ndarray, line: Segment, s: ScratchSettings, offset: float,
                     rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """On each of ``rows``, ``line`` taken ``offset`` px to the right: its core's extreme
    (:func:`_core_rows`) and the median of the picture a few pixels beside it, in its
    polarity."""
    w = lum.shape[1]
    centre = _centres(line, offset, rows)
    reach = s.width_px(w) + 2
    side = np.concatenate([np.arange(-reach - 2, -reach + 1), np.arange(reach, reach + 3)])
    beside = median(lum[rows[:, None], _inside(centre + side, w)] * line.sign, axis=1)
    return _core_rows(lum, line.sign, rows, centre), beside


def _lift_and_core(lum: np.ndarray, line: Segment, s: ScratchSettings, offset: float
                   ) -> tuple[float, float]:
    """:func:`line_lift` of ``line`` taken ``offset`` px to the right, and its core's extreme
    (median over its own rows), from one reading of its columns."""
    rows = np.arange(line.y0, line.y1)
    core, beside = _core_and_beside(lum, line, s, offset, rows)
    return float(median(core - beside)), float(median(core))


def _row_lifts(lum: np.ndarray, line: Segment, s: ScratchSettings, offset: float,
               rows: np.ndarray) -> np.ndarray:
    """:func:`line_lift`'s measure on each of ``rows`` (not yet its median)."""
    core, beside = _core_and_beside(lum, line, s, offset, rows)
    return core - beside


def _carried_part(lum: np.ndarray, a: Segment, s: ScratchSettings, found: float,
                  block: int = 8) -> tuple[float, int, int] | None:
    """Where only part of ``a``'s rows still shows the scratch (its rows grew over the frames
    with the track's, and the picture under some of them is busy now): the longest run of
    ``block``-row blocks (one that does not may lie between) where the line stands out as
    :func:`carry_line` asks, at least a third of its rows and 3 blocks; (offset, first row, row
    past the last) or None."""
    count = (a.y1 - a.y0) // block
    if count < 3:
        return None
    rows = np.arange(a.y0, a.y0 + count * block)
    beside = np.max([median(_row_lifts(lum, a, s, o, rows).reshape(count, block), axis=1)
                     for o in _beside_offsets(s, lum.shape[1])], axis=0)
    best: tuple[int, float, int, int] | None = None
    for off in (0.0, -1.0, 1.0):
        lift = median(_row_lifts(lum, a, s, off, rows).reshape(count, block), axis=1)
        shows = (lift > max(0.5 * found, s.carry_floor)) & (lift > 1.5 * np.maximum(beside, 0.0))
        start, misses, last = None, 0, -1
        for k in range(count + 1):
            if k < count and shows[k]:
                start = k if start is None else start
                misses, last = 0, k
                continue
            misses += 1
            if start is not None and (misses > 1 or k == count):
                length = last - start + 1
                if best is None or length > best[0]:
                    best = (length, off, start, last)
                start = None
    if best is None:
        return None
    length, off, start, last = best
    if length < 3 or length * block < (a.y1 - a.y0) / 3:
        return None
    return off, a.y0 + start * block, a.y0 + (last + 1) * block


def _lift_beside(lum: np.ndarray, line: Segment, s: ScratchSettings,
                 rows: np.ndarray | None = None) -> float:
    """The largest :func:`line_lift` of ``line`` moved 6 to 12 px (at 432 wide) to either side:
    how much grain and texture lift any column there."""
    return _lifts_beside(lum, line, s, rows)[-1]


def _lifts_beside(lum: np.ndarray, line: Segment, s: ScratchSettings,
                  rows: np.ndarray | None = None) -> list[float]:
    """:func:`_lift_beside`'s readings at each of its places, smallest first."""
    return sorted(line_lift(lum, line, s, offset=o, rows=rows)
                  for o in _beside_offsets(s, lum.shape[1]))


def _beside_offsets(s: ScratchSettings, width: int) -> list[float]:
    """Where :func:`_lift_beside` reads a line moved aside: 6 to 12 px (at 432 wide) each way."""
    gap = s.beside_px(width) + 2
    return [sign * (gap + k) for sign in (-1.0, 1.0) for k in (0.0, 3.0, 6.0)]


def extend_rows(seg: Segment, lum: np.ndarray, settings: ScratchSettings | None = None,
                block: int = 8, residual: Callable[[], np.ndarray] | None = None) -> None:
    """Grow ``seg`` (a scratch) along its line, down and up, ``block`` rows at a time (one block
    that does not may lie between), where the line stands out of frame ``lum`` (its extreme
    over 3 px minus the picture beside it, median over the block) by more than a third of its
    lift over its own rows, more than ``carry_floor``, and 1.5 times the same measure beside it:
    a scratch fades along its length, and the finder's segment stops where it grows faint.
    ``residual``: gives the frame less its warped neighbours' mean, where the same tests reach
    further (over lines of the scene that stand out beside the scratch, which are gone there
    where the scene moves), on blocks where the line still stands out of the frame itself, if
    by little (by the flow pulled at a scratch's end, the residual showed a line a scratch had
    just left): those rows are kept apart (:attr:`Segment.faint`)."""
    s = settings or ScratchSettings()
    y0, y1 = _reach(seg, lum, s, block)
    if (y0, y1) != (seg.y0, seg.y1):
        seg.reach_rows(y0, y1, lum.shape[1])
        seg.own = (min(seg.own[0], y0), max(seg.own[1], y1))
    if residual is not None:
        y0, y1 = _reach(seg, residual(), s, block, frame=lum)
        if (y0, y1) != (seg.y0, seg.y1):
            seg.faint = (y0, y1)


def _reach(seg: Segment, lum: np.ndarray, s: ScratchSettings, block: int,
           frame: np.ndarray | None = None) -> tuple[int, int]:
    """The rows :func:`extend_rows` grows ``seg`` to on one image (``frame``: where each
    block must also stand out of the frame itself, if by little)."""
    h = lum.shape[0]
    own = line_lift(lum, seg, s)
    if own <= 0:
        return seg.y0, seg.y1

    def stands_out(start: int, stop: int) -> bool:
        rows = np.arange(start, stop)
        here = line_lift(lum, seg, s, rows=rows)
        if max(line_lift(lum, seg, s, offset=o, rows=rows) for o in (-2.0, 2.0)) >= here:
            return False  # the line there is not where the segment's line runs
        if frame is not None and line_lift(frame, seg, s, rows=rows) <= 0.0:
            return False  # not on the frame at all: the flow pulled at the scratch's end
        return here > max(own / 3.0, s.carry_floor,
                          1.5 * max(_lift_beside(lum, seg, s, rows), 0.0))

    def reach_to(edge: int, step: int, limit: int) -> int:
        """The farthest block edge from ``edge`` in direction ``step`` that stands out."""
        at, misses = edge, 0
        while misses < 2 and at != limit:
            nxt = min(max(at + step * block, 0), h)
            if stands_out(min(at, nxt), max(at, nxt)):
                edge, misses = nxt, 0
            else:
                misses += 1
            at = nxt
        return edge

    return reach_to(seg.y0, -1, 0), reach_to(seg.y1, 1, h)


def faint_line(lum: np.ndarray, lifts: tuple[float, float], a: Segment, b: Segment,
               share: float, settings: ScratchSettings | None = None) -> bool:
    """Whether frame ``lum`` still shows the line ``share`` of the way from segment ``a`` to
    ``b``, if faintly: it stands out (:func:`line_lift`) by at least half as much as on the
    frames the two were found on (``lifts``; the same measure there, so texture that raises it
    everywhere does not pass for a line)."""
    lift = line_lift(lum, between(a, b, share, lum.shape), settings)
    return lift > 0.5 * min(lifts) and lift > 0.0


def row_ranges(warped: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per warped neighbour (H x W) the highest and lowest value of each pixel's 3 x 3
    neighbourhood, flattened: what :func:`film_evidence` compares against, made once a frame.
    Within a pixel each way, up and down too: the dashes of a brick wall's joints, carried a
    pixel off along the flow, are no line missing from the neighbour."""
    box = np.ones((3, 3), np.uint8)
    return [(cv2.dilate(other, box).ravel(), cv2.erode(other, box).ravel()) for other in warped]


def film_evidence(segment: Segment, lum: np.ndarray, warped: Sequence[np.ndarray],
                  ranges: list[tuple[np.ndarray, np.ndarray]],
                  settings: ScratchSettings | None = None,
                  carried: Sequence[tuple[np.ndarray, np.ndarray]] | None = None) -> bool:
    """Whether ``segment`` fails to line up with a warped neighbour (``warped``: the
    neighbours carried onto this frame ``lum`` along the flow, H x W; ``ranges``: their
    :func:`row_ranges`) while the picture beside it does, and that neighbour does not show the
    line where it is, even blurred or a pixel off (its :func:`line_lift` there is under half of
    here: a warp's interpolation blurs a line a pixel wide, and a flow a pixel off in a brick
    wall puts the joints' dashes elsewhere): the line is on the film, not in the scene. A
    broken line (not :attr:`Segment.solid`) shows none, nor one that does not stand out of its
    own frame (its :func:`line_lift` there not above zero: under a shaking camera such a
    segment, on a faint line of brickwork, was found "missing" from neighbours that lacked it
    no more than the frame did; RESULTS.md, issue 17). ``carried``: per neighbour, the
    neighbour as it is and the flow from this frame to it (H x W x 2), for
    ``ScratchSettings.grainy``."""
    s = settings or ScratchSettings()
    if not segment.solid:
        return False
    flat = lum.ravel()
    w = lum.shape[1]
    ys, xs = np.divmod(segment.pixels, w)
    reach = s.beside_px(w)  # beside the widest scratch
    sides = [ys * w + _inside(xs - reach, w), ys * w + _inside(xs + reach, w)]
    here: float | None = None
    crowded: bool | None = None  # among lines of its own frame: the same for both neighbours
    for k, (other, (high, low)) in enumerate(zip(warped, ranges, strict=True)):
        near = high if segment.sign > 0 else low
        gap = float(median(segment.sign * (flat[segment.pixels] - near[segment.pixels])))
        strict = gap > s.evidence * segment.contrast
        if not strict:  # grain may fill the range: the film's own motion can still tell
            if carried is None or s.grainy is None:
                continue
            gap = float(median(segment.sign * (flat[segment.pixels]
                                               - other.ravel()[segment.pixels])))
            if gap <= s.evidence * segment.contrast:
                continue
            unwarped, flow = carried[k]
            moved = flow.reshape(-1, 2)[np.concatenate(sides)]  # the picture beside it
            if float(median(np.hypot(moved[:, 0], moved[:, 1]))) < s.scene_motion * w / 432:
                continue  # the scene beside it hardly moves: no telling
            here = line_lift(lum, segment, s) if here is None else here
            if line_lift(unwarped, segment, s) < 0.5 * here:
                continue  # not where the film would carry it
            if crowded is None:
                crowded = here <= 1.5 * max(_lift_beside(lum, segment, s), 0.0)
            if crowded:
                continue  # among lines of the picture (a brick wall's joints): no telling
        # the picture on *each* side must line up (within a pixel): at the edge between two
        # layers moving apart (parallax, occlusion) one side does not, and the line is that edge
        beside = max(float(median(np.maximum(np.maximum(flat[side] - high[side],
                                                        low[side] - flat[side]), 0.0)))
                     for side in sides)
        if beside >= 0.5 * gap:
            continue
        here = line_lift(lum, segment, s) if here is None else here
        if strict:
            there = line_lift(other, segment, s)
        else:  # nor a pixel aside: a brick wall's joints that the flow misplaced under shake
            there = max(line_lift(other, segment, s, offset=o) for o in (-1.0, 0.0, 1.0))
        if here > 0.0 and there < (0.5 if strict else s.grainy or 0.0) * here:
            return True
    return False


def moves_with_scene(segment: Segment, lum: np.ndarray, flows: Sequence[np.ndarray],
                     warped: Sequence[np.ndarray], settings: ScratchSettings | None = None,
                     left: Sequence[np.ndarray] | None = None) -> bool:
    """Whether ``segment`` is seen moving with the scene: toward a neighbour (``flows``: from
    this frame ``lum`` to each neighbour, H x W x 2; ``warped``: each carried onto this frame;
    ``left``: ``lum`` less each, worked out here when not given) the picture beside it moves by
    ``scene_motion`` px or more, the flow at the line itself
    moves with it (it is not locked onto the line), and the neighbour carried back explains
    the line: it shows it at least half as strongly (:func:`line_lift`), and the frame less
    the neighbour leaves less than half of it. A scratch, on the film, is not where the scene's
    motion brings the picture from (where a line of the scene crosses it, the scratch is what
    the neighbour leaves); a line of the scene is, on every frame it moves. In a brick wall
    under a shaking camera, the track of a line that seems to stay put joins another joint of
    the wall on every frame, and the blur of a warp sometimes takes one for a line missing
    from its neighbour: those frames outnumber it."""
    s = settings or ScratchSettings()
    w = lum.shape[1]
    ys, xs = np.divmod(segment.pixels[::max(len(segment.pixels) // 64, 1)], w)  # enough to tell
    near, far = s.beside_px(w), s.beside_px(w, 6.0)
    cols = _inside(xs[:, None] + np.concatenate([-np.arange(near, far + 1),
                                                 np.arange(near, far + 1)]), w)
    least = s.scene_motion * max(w / 432, 1.0)
    here: float | None = None
    for k, (flow, other) in enumerate(zip(flows, warped, strict=True)):
        beside = float(median(flow[ys[:, None], cols, 0]))
        if abs(beside) < least or abs(float(median(flow[ys, xs, 0])) - beside) > 1.0:
            continue
        here = line_lift(lum, segment, s) if here is None else here
        if (here > 0.0 and line_lift(other, segment, s) >= 0.5 * here
                and line_lift(lum - other if left is None else left[k], segment, s) < 0.5 * here):
            return True
    return False


def stays_while_scene_moves(segment: Segment, earlier: Segment, flow: np.ndarray,
                            lum: np.ndarray, before: list[np.ndarray],
                            settings: ScratchSettings | None = None,
                            flow_back: Callable[[int], np.ndarray | None] | None = None) -> bool:
    """Whether ``segment``, linked to ``earlier`` on the frame before, stayed put on the film
    while the picture on both sides of it moved (``flow``: from this frame to the one before,
    H x W x 2): the scene beside it says a line of the scene would have been ``motion`` px
    away, and it is not. Where a scratch is the only texture (flat sky, a wall) the flow locks
    onto it, so that the warped neighbour shows it in place and :func:`film_evidence` fails;
    the picture a little way beside it still moves with the scene. A line of the scene in a
    repeating texture (brick joints) may seem to stay put, linked to its neighbour in the
    texture; it is where the scene's motion puts it on a frame before (``before``: the frames
    before this one ``lum``, nearest first; the first to which the motion has carried it past
    its own width; its :func:`line_lift` there, within a pixel, at least half of here), a
    scratch is not. The motion is followed frame by frame along ``flow_back(k)`` (the flow
    from the frame ``k`` before this one to the frame before that, or None where unknown: the
    last step's motion again), for a shaking camera or a weaving gate moves the scene by
    another amount on every frame. When no frame kept is that far back, nothing is claimed."""
    s = settings or ScratchSettings()
    h, w = flow.shape[:2]
    ys, xs = np.divmod(segment.pixels, w)
    near, far = s.beside_px(w), s.beside_px(w, 6.0)  # from film_evidence's reach out as far
    if xs.min() < far or xs.max() >= w - far:  # its sides must be picture (a pan enters there)
        return False
    scale = max(w / 432, 1.0)
    step = _side_motion(flow, ys, xs, near, far, scale)
    if step is None:
        return False
    motion = step[0]
    moved = earlier.x - segment.x
    if abs(moved - motion) <= 1.5 * scale or abs(moved) >= 0.5 * abs(motion):
        return False
    here = line_lift(lum, segment, s)
    if here <= 0.0:
        return False
    clear = s.width_px(w) + 3  # clear of the line itself
    shift, k = np.array(step), 0
    while abs(shift[0]) < clear:
        k += 1
        if k >= len(before):
            return False
        following = flow_back(k) if flow_back is not None else None
        if following is not None:
            step = _side_motion(following, _inside(ys + int(round(shift[1])), h),
                                xs + int(round(shift[0])), near, far, scale)
            if step is None:
                return False
        shift += step
    if not far <= segment.x + shift[0] < w - far:
        return False
    rows = np.arange(segment.y0, segment.y1) + int(round(shift[1]))
    rows = rows[(rows >= 0) & (rows < h)]
    if len(rows) < 0.5 * (segment.y1 - segment.y0):
        return False
    then = max(line_lift(before[k], segment, s, offset=shift[0] + o, rows=rows)
               for o in (-1.0, 0.0, 1.0))
    return then < 0.5 * here


def held_while_scene_moves(segment: Segment, lum: np.ndarray, mean: np.ndarray,
                           before: Sequence[np.ndarray], flow: np.ndarray,
                           flow_back: Callable[[int], np.ndarray | None],
                           settings: ScratchSettings | None = None) -> bool:
    """Whether ``segment`` (on frame ``lum``) stood in place over the frames ``before`` it (as
    they are, nearest first; ``mean``: theirs and this frame's mean) while the picture on both
    sides of it moved past its width over them (``flow``: from this frame to the one before;
    ``flow_back(k)``: from the frame ``k`` before this one to the frame before that, or None:
    the mean step so far again; each side followed on its own). It must read the same in
    the mean as here (within ``held`` either way), there and here stand out 1.5 times more
    than the mean's columns beside it, and each frame before show it in place within half and
    twice its strength here. A line of the scene is smeared in that mean; a scratch is not,
    and the mean has less grain: a faint scratch over slowly moving sky, which no single
    neighbour tells from the scene, holds. A line of the scene that the mean keeps (thick,
    or under a flow misread beside it) reads another strength there or on some frame
    (RESULTS.md, issue 17)."""
    s = settings or ScratchSettings()
    frames = len(before) + 1
    if s.held is None or frames < 2 or not segment.solid:
        return False
    h, w = lum.shape
    ys, xs = np.divmod(segment.pixels, w)
    near, far = s.beside_px(w), s.beside_px(w, 6.0)
    if xs.min() < far or xs.max() >= w - far:  # its sides must be picture
        return False
    here = line_lift(lum, segment, s)
    held = line_lift(mean, segment, s)
    if not s.held * here <= held <= here / s.held:
        return False
    if min(here, held) <= 1.5 * max(_lift_beside(mean, segment, s), 0.0):
        return False
    lifts = [line_lift(image, segment, s) for image in before]
    if min(lifts) < 0.5 * here or max(lifts) > 2.0 * here:
        return False
    # each side followed on its own over the frames (the flow of plain picture is unsure by
    # a pixel a frame), both past its width, the same way
    shift = _sides(flow, ys, xs, near, far)
    for k in range(1, frames - 1):
        following = flow_back(k)
        for i, direction in enumerate((-1, 1)):
            if following is not None:
                step = _sides(following, _inside(ys + int(round(shift[i, 1])), h),
                              _inside(xs + int(round(shift[i, 0])), w), near, far,
                              (direction,))[0]
            else:
                step = shift[i] / k
            shift[i] += step
    clear = s.width_px(w) + 1
    return bool(min(abs(shift[0, 0]), abs(shift[1, 0])) >= clear
                and shift[0, 0] * shift[1, 0] > 0)


def _side_motion(flow: np.ndarray, ys: np.ndarray, xs: np.ndarray, near: int, far: int,
                 scale: float) -> tuple[float, float] | None:
    """The motion (x, y) of the picture ``near`` to ``far`` px to each side of the pixels
    ``ys``, ``xs`` along ``flow`` (H x W x 2): the mean of the two sides' medians; None where
    the sides' x motions differ by more than ``scale`` px (the edge between two layers moving
    apart)."""
    sides = _sides(flow, ys, xs, near, far)
    if abs(sides[0, 0] - sides[1, 0]) > 1.0 * scale:
        return None
    return float(sides[:, 0].mean()), float(sides[:, 1].mean())


def _sides(flow: np.ndarray, ys: np.ndarray, xs: np.ndarray, near: int, far: int,
           directions: tuple[int, ...] = (-1, 1)) -> np.ndarray:
    """The median motion (x, y) of the picture ``near`` to ``far`` px to the left (-1) and to
    the right (1) of the pixels ``ys``, ``xs`` along ``flow`` (H x W x 2), one row for each of
    ``directions``."""
    w = flow.shape[1]
    every = max(len(ys) // 64, 1)  # enough to tell
    ys, xs = ys[::every], xs[::every]
    sides = np.zeros((len(directions), 2))
    for i, direction in enumerate(directions):
        cols = _inside(xs[:, None] + direction * np.arange(near, far + 1), w)
        picked = flow[ys[:, None], cols]
        sides[i] = float(median(picked[..., 0])), float(median(picked[..., 1]))
    return sides


def scene_passes(segment: Segment, flow: np.ndarray, settings: ScratchSettings | None = None
                 ) -> bool:
    """Whether the picture on both sides of ``segment`` moved across the frame by at least
    ``passes`` px (scaled to the width) along ``flow`` (from its frame to the one before or
    after, H x W x 2): where it does, a scratch that stays on the film shows it."""
    s = settings or ScratchSettings()
    w = flow.shape[1]
    ys, xs = np.divmod(segment.pixels, w)
    scale = max(w / 432, 1.0)
    step = _side_motion(flow, ys, xs, s.beside_px(w), s.beside_px(w, 6.0), scale)
    return step is not None and abs(step[0]) >= s.passes * scale


def is_neutral(segment: Segment, lum: np.ndarray, chroma: np.ndarray,
               settings: ScratchSettings | None = None) -> bool:
    """Whether ``segment`` looks like white or black laid over the picture beside it (``lum``,
    ``chroma``: the frame's luma and max minus min of RGB, H x W): where a share a of the line is
    the overlay, its chroma is (1 - a) times the picture's, a read off its luma. A trunk, a limb
    or a post has a colour of its own; a line of any colour passes when ``neutral`` is None."""
    s = settings or ScratchSettings()
    if s.neutral is None:
        return True
    h, w = lum.shape
    ys, xs = np.divmod(segment.pixels, w)
    reach = int(round(1.5 * s.width_px(w)))  # just clear of the line
    flat_l, flat_c = lum.ravel(), chroma.ravel()
    line_l, line_c = flat_l[segment.pixels], flat_c[segment.pixels]
    off = np.zeros(line_l.shape, np.float32)
    for side in (-reach, reach):  # the picture under the line, from each side in turn
        at = ys * w + _inside(xs + side, w)
        off += 0.5 * overlay_misfit(line_l, line_c, flat_l[at], flat_c[at], segment.sign > 0)
    return float(median(off)) < s.neutral


def flanks(segment: Segment, others: Sequence[Segment], width: int, reach: float = 3.0,
           stronger: float = 1.5) -> bool:
    """Whether ``segment`` runs beside a line of the other polarity among ``others`` (within
    ``reach`` px at 432 wide, on at least half its rows) that stands out ``stronger`` times as
    much: the picture just beside a dark scratch is brighter than the scratch, and a faint
    bright line tracked there is the scratch's flank, not a scratch of its own (it widened the
    band a pixel or two onto a ball passing the scratch: RESULTS.md, issue 17)."""
    near = reach * width / 432
    rows = segment.y1 - segment.y0
    return any(o.sign != segment.sign and o.contrast >= stronger * segment.contrast
               and abs(middle(o) - middle(segment)) <= near
               and min(o.y1, segment.y1) - max(o.y0, segment.y0) >= 0.5 * rows
               for o in others)


def middle(seg: Segment) -> float:
    """Where ``seg``'s line runs halfway down its rows."""
    return seg.line[0] * 0.5 * (seg.y0 + seg.y1) + seg.line[1]


def _same_lines(first: list[Segment], second: list[Segment], reach: np.ndarray | float,
                apart: np.ndarray | None = None) -> np.ndarray:
    """Which segments of ``first`` and ``second`` (bool, len(first) x len(second)) are the same
    line: same polarity, rows overlapping by half the shorter, within ``reach`` px (at least
    1.5; one value, or one per segment of ``first``). ``apart`` (bool, one per segment of
    ``first``): those may instead lie on other rows, apart by up to the shorter's length."""
    if not first or not second:
        return np.zeros((len(first), len(second)), bool)
    a = np.array([(o.sign, o.x, o.y0, o.y1) for o in first], np.float64)
    b = np.array([(o.sign, o.x, o.y0, o.y1) for o in second], np.float64)
    near = np.maximum(np.broadcast_to(np.asarray(reach, np.float64), (len(first),)), 1.5)
    overlap = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 2], b[None, :, 2])
    shorter = np.minimum((a[:, 3] - a[:, 2])[:, None], (b[:, 3] - b[:, 2])[None, :])
    rows = overlap >= 0.5 * shorter
    if apart is not None:
        rows |= np.asarray(apart, bool)[:, None] & (overlap >= -shorter)
    return ((a[:, None, 0] == b[None, :, 0]) & (np.abs(a[:, None, 1] - b[None, :, 1])
                                                <= near[:, None]) & rows)


def link(previous: list[Segment], current: list[Segment], width: int,
         settings: ScratchSettings | None = None) -> list[tuple[int, int]]:
    """Pairs (i, j) of segments of consecutive frames that are the same line staying put: same
    polarity, rows overlapping by half the shorter, within ``stays`` (scaled to ``width``).
    A line with film evidence on the frame before links on other rows too, apart by up to the
    shorter's length: under grain a faint scratch is found in pieces, its top on one frame and
    its bottom on the next, and each piece alone made too short a track to count (RESULTS.md,
    issue 17)."""
    s = settings or ScratchSettings()
    same = _same_lines(previous, current, s.stays * width / 432,
                       apart=np.array([o.film for o in previous], bool))
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(same), strict=True)]


def bridge(ends: list[tuple[int, Segment]], current: list[Segment], frame: int, width: int,
           settings: ScratchSettings | None = None) -> list[tuple[int, int]]:
    """One-to-one pairs (e, j), nearest first, of lines the finder lost (``ends``: the frame
    and the last segment of each) and segments of ``frame`` that no segment of the frame before
    links to: the same line, faint on the frames between (``stays`` a frame, scaled to
    ``width``). One to one, so that lines of a texture do not knit into one track."""
    s = settings or ScratchSettings()
    reach = np.array([s.stays * width / 432 * (frame - t) for t, _ in ends], np.float64)
    same = _same_lines([a for _, a in ends], current, reach)
    es, js = np.nonzero(same)
    gaps = np.abs(np.array([ends[e][1].x - current[j].x for e, j in zip(es, js, strict=True)]))
    used_e: set[int] = set()
    used_j: set[int] = set()
    out = []
    for k in np.lexsort((js, es, gaps)) if len(es) else []:  # nearest first, ties in order
        e, j = int(es[k]), int(js[k])
        if e not in used_e and j not in used_j:
            used_e.add(e)
            used_j.add(j)
            out.append((e, j))
    return out
