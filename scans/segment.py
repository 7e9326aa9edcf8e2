"""Segmentation: split a cleaned ink mask into digits, left to right.

Connected components are the starting point. Specks are dropped, pieces of one digit that
lie above each other (the detached bar of a 5, a broken 4) are merged, and a component too
wide to be one digit is cut where the fewest ink pixels join its parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from scans.components import label_components

# A component this small (relative to the largest) and this short is a speck, not a stroke.
SPECK_AREA = 0.05
SPECK_HEIGHT = 0.35
MIN_AREA = 12
MIN_SIDE = 5
# Components overlapping this much of the narrower one's width belong to the same digit.
MERGE_OVERLAP = 0.5
# Groups shorter than this share of the tallest are flat: fragments of a digit when they also
# have less than FRAGMENT_AREA of the heaviest group's ink, which join a digit at most
# FRAGMENT_GAP tallest-heights away (heavy flat groups join only a digit whose columns they share).
FRAGMENT_HEIGHT = 0.6
FRAGMENT_AREA = 0.4
FRAGMENT_GAP = 0.3
# A lone group wider than this times its height is touching digits (1 MNIST digit in 20,000 is
# this wide; at 1.6, 1 in 340 was, and wide 2s and 5s were cut in two), each about DIGIT_ASPECT
# times as wide as high...
TOUCHING_ASPECT = 2.0
DIGIT_ASPECT = 0.8
# ...and among other digits, a group this many times wider than the typical one is too, if it
# is also wider than TOUCHING_MIN_ASPECT times its height (a wide 0 among narrow 1s is not).
TOUCHING_WIDTH = 1.75
TOUCHING_MIN_ASPECT = 1.35
# A piece cut from touching digits must be at least this share of the group's height.
PIECE_HEIGHT = 0.5


@dataclass(frozen=True)
class Segment:
    """One digit: its columns ``x0:x1`` and rows ``y0:y1``, and the component labels it owns."""

    x0: int
    x1: int
    y0: int
    y1: int
    labels: tuple[int, ...]

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) in the scan's pixel coordinates."""
        return (self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0)


@dataclass(frozen=True)
class Segmentation:
    """The components of a mask and the digits made of them.

    ``labels`` is the component label image of the rectangle at ``origin`` (x, y) of the
    mask; ``boxes`` holds every component's (x0, y0, x1, y1) in the mask's coordinates,
    indexed by label (specks included), so that a digit can tell which others reach into
    its box.
    """

    labels: np.ndarray
    origin: tuple[int, int]
    boxes: list[tuple[int, int, int, int]]
    segments: list[Segment]

    def intruders(self, segment: Segment) -> list[int]:
        """Labels not of ``segment`` whose boxes overlap its box."""
        own = set(segment.labels)
        return [label for label, (x0, y0, x1, y1) in enumerate(self.boxes) if label and label not in own
                and x0 < segment.x1 and segment.x0 < x1 and y0 < segment.y1 and segment.y0 < y1]

    def labels_in(self, segment: Segment) -> np.ndarray:
        """The label image under ``segment``'s box."""
        left, top = self.origin
        return self.labels[segment.y0 - top : segment.y1 - top, segment.x0 - left : segment.x1 - left]


def segment(mask: np.ndarray, box: tuple[int, int, int, int] | None = None) -> Segmentation:
    """Label ``mask`` and find its digits, left to right.

    ``box`` is the (x, y, width, height) rectangle holding all of the mask's ink, when the
    caller knows it already.
    """
    left, top, width, height = box if box is not None else cv2.boundingRect(mask.view(np.uint8))
    if not width:
        return Segmentation(np.zeros((0, 0), np.int32), (0, 0), [], [])
    # Labelling costs per pixel; scans are mostly margin, so label only the inked rectangle.
    inked = np.ascontiguousarray(mask[top : top + height, left : left + width]).view(np.uint8)
    labels, rows = label_components(inked)
    boxes = [(left + x, top + y, left + x + w, top + y + h) for x, y, w, h, _ in rows]
    found = Segmentation(labels, (left, top), boxes, [])
    parts = _drop_specks(rows, left, top)
    if not parts:
        return found
    groups = _attach_fragments([_Group(members) for members in _merge_columns(parts)])
    widths = [g.width for g in groups]
    tallest = max(g.height for g in groups)
    for i, group in enumerate(groups):
        others = widths[:i] + widths[i + 1 :]
        if group.height < FRAGMENT_HEIGHT * tallest:  # a flat mark is never several digits
            found.segments.append(group.whole())
            continue
        typical = float(np.median(others)) if others else None
        found.segments.extend(_split_touching(found, group, typical))
    return found


@dataclass(frozen=True)
class _Part:
    """One connected component: its label, box (page coordinates) and ink pixels."""

    label: int
    x0: int
    y0: int
    x1: int
    y1: int
    area: int


class _Group:
    """Components taken as one digit (or as touching digits, until split)."""

    def __init__(self, members: list[_Part]):
        self.members = members
        self.x0 = min(p.x0 for p in members)
        self.x1 = max(p.x1 for p in members)
        self.y0 = min(p.y0 for p in members)
        self.y1 = max(p.y1 for p in members)
        self.area = sum(p.area for p in members)

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def labels(self) -> tuple[int, ...]:
        return tuple(p.label for p in self.members)

    def whole(self) -> Segment:
        """The group as one digit."""
        return Segment(self.x0, self.x1, self.y0, self.y1, self.labels)


def _drop_specks(stats: list[list[int]], left: int, top: int) -> list[_Part]:
    """The components (of a labelling offset by ``left``, ``top``) that are strokes, not specks.

    ``stats`` are OpenCV's component rows, background first.
    """
    # Few components: plain Python on their rows is several times faster than array arithmetic.
    rows = stats[1:]
    if not rows:
        return []
    heaviest = max(row[cv2.CC_STAT_AREA] for row in rows)
    tallest = max(row[cv2.CC_STAT_HEIGHT] for row in rows)
    parts = []
    for label, (x, y, width, height, area) in enumerate(rows, start=1):
        speck = area < SPECK_AREA * heaviest and height < SPECK_HEIGHT * tallest
        # However alone it is, a mark too small to hold a legible digit is grain or residue.
        speck = speck or area < MIN_AREA or (height < MIN_SIDE and width < MIN_SIDE)
        if not speck:
            parts.append(_Part(label, left + x, top + y, left + x + width, top + y + height, area))
    return parts


def _merge_columns(parts: list[_Part]) -> list[list[_Part]]:
    """Group components whose column ranges overlap enough, ordered left to right."""
    groups: list[list[_Part]] = []
    spans: list[list[int]] = []
    for part in sorted(parts, key=lambda p: p.x0):
        for members, span in zip(groups, spans):
            overlap = min(span[1], part.x1) - max(span[0], part.x0)
            if overlap >= MERGE_OVERLAP * min(span[1] - span[0], part.x1 - part.x0):
                members.append(part)
                span[0], span[1] = min(span[0], part.x0), max(span[1], part.x1)
                break
        else:
            groups.append([part])
            spans.append([part.x0, part.x1])
    return groups  # each group starts at its first member's column, so already left to right


def _attach_fragments(groups: list[_Group]) -> list[_Group]:
    """Join fragments (a detached bar, a broken stroke) to the nearest digit beside them.

    A fragment is flat. A light one joins a digit up to ``FRAGMENT_GAP`` away; a fragment
    with no digit close by (a dash, a stray mark) is not a digit and is dropped. A heavy one
    (the loop of a 6 whose join faded, a long bar) joins only a digit whose columns it
    shares: a flat but whole "2" beside its neighbours has as much ink as they have.
    """
    tallest = max(g.height for g in groups)
    heaviest = max(g.area for g in groups)
    flat = [g.height < FRAGMENT_HEIGHT * tallest for g in groups]
    digits = [g for g, is_flat in zip(groups, flat) if not is_flat]
    for fragment in (g for g, is_flat in zip(groups, flat) if is_flat):
        gap, nearest = min((max(d.x0 - fragment.x1, fragment.x0 - d.x1, 0), i) for i, d in enumerate(digits))
        light = fragment.area < FRAGMENT_AREA * heaviest
        if (light and gap <= FRAGMENT_GAP * tallest) or (not light and _overlap(fragment, digits[nearest]) > 0):
            digits[nearest] = _Group(digits[nearest].members + fragment.members)
        elif not light:
            digits.append(fragment)
    return sorted(digits, key=lambda g: g.x0)


def _overlap(a: _Group, b: _Group) -> int:
    return min(a.x1, b.x1) - max(a.x0, b.x0)


def _split_touching(found: Segmentation, group: _Group, typical_width: float | None) -> list[Segment]:
    """One segment per digit in a group; a too-wide group is cut at its thinnest joins."""
    pieces = _piece_count(group, typical_width)
    if pieces < 2:
        return [group.whole()]
    own = np.isin(found.labels_in(group.whole()), group.labels)
    cuts = _cuts(own.sum(axis=0), pieces)
    spans = []
    for start, stop in zip(cuts[:-1], cuts[1:]):
        rows = np.flatnonzero(own[:, start:stop].any(axis=1))
        if rows.size:
            spans.append((start, stop, int(rows[0]), int(rows[-1]) + 1))
    return [Segment(group.x0 + start, group.x0 + stop, group.y0 + top, group.y0 + bottom, group.labels)
            for start, stop, top, bottom in _join_tails(spans, PIECE_HEIGHT * group.height)]


def _piece_count(group: _Group, typical_width: float | None) -> int:
    """How many digits a group holds: 1 unless it is too wide for one.

    "Too wide" is judged against the other digits of the scan when there are any, and
    against the group's own height otherwise.
    """
    width, height = group.width, group.height
    if typical_width is not None and width > TOUCHING_WIDTH * typical_width and width > TOUCHING_MIN_ASPECT * height:
        return int(round(width / typical_width))
    if width > TOUCHING_ASPECT * height:
        return int(round(width / (DIGIT_ASPECT * height)))
    return 1


def _cuts(profile: np.ndarray, pieces: int) -> list[int]:
    """Columns that cut ``pieces`` digits apart: the least inked near each even share."""
    width = len(profile)
    step = width / pieces
    cuts = [0]
    for k in range(1, pieces):
        centre = int(round(k * step))
        reach = max(2, int(step * 0.3))
        lo, hi = max(cuts[-1] + 1, centre - reach), min(width - 1, centre + reach)
        cuts.append(lo + int(np.argmin(profile[lo : hi + 1])) if hi >= lo else centre)
    return cuts + [width]


def _join_tails(spans: list[tuple[int, int, int, int]], least_height: float) -> list[tuple[int, int, int, int]]:
    """Pieces (start, stop, top, bottom) with the flat ones joined to a neighbour.

    A piece much flatter than its group is a tail (the long bar of a 5, the base of a wide 2),
    not a digit: it joins the piece before it (or after it, at the left end).
    """
    joined: list[tuple[int, int, int, int]] = []
    for span in spans:
        if joined and min(span[3] - span[2], joined[-1][3] - joined[-1][2]) < least_height:
            start, _, top, bottom = joined[-1]
            joined[-1] = (start, span[1], min(top, span[2]), max(bottom, span[3]))
        else:
            joined.append(span)
    return joined
