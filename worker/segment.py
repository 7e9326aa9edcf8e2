"""Segmentation: split a cleaned ink mask into digits, left to right.

Connected components are the starting point. Specks are dropped, pieces of one digit that
lie above each other (the detached bar of a 5, a broken 4) are merged, and a component too
wide to be one digit is cut where the fewest ink pixels join its parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


# A component this small (relative to the largest) and this short is a speck, not a stroke.
SPECK_AREA = 0.05
SPECK_HEIGHT = 0.35
MIN_AREA = 12
MIN_SIDE = 5
# Components overlapping this much of the narrower one's width belong to the same digit.
MERGE_OVERLAP = 0.5
# Groups shorter than this share of the tallest, with less than this share of the heaviest
# group's ink, are fragments of a digit, which join a digit at most this many tallest-heights away.
FRAGMENT_HEIGHT = 0.6
FRAGMENT_AREA = 0.4
FRAGMENT_GAP = 0.3
# A lone group wider than this times its height is touching digits (0.1% of MNIST digits are
# this wide), each about DIGIT_ASPECT times as wide as high...
TOUCHING_ASPECT = 1.6
DIGIT_ASPECT = 0.8
# ...and among other digits, a group this many times wider than the typical one is too, if it
# is also wider than TOUCHING_MIN_ASPECT times its height (a wide 0 among narrow 1s is not).
TOUCHING_WIDTH = 1.75
TOUCHING_MIN_ASPECT = 1.35


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


def segment(mask: np.ndarray) -> tuple[np.ndarray, list[Segment]]:
    """Label ``mask`` and return the label image with the digit segments, left to right."""
    labels = np.zeros(mask.shape, np.int32)
    left, top, width, height = cv2.boundingRect(mask.view(np.uint8))
    if not width:
        return labels, []
    # Labelling costs per pixel; scans are mostly margin, so label only the inked rectangle.
    inked = np.ascontiguousarray(mask[top : top + height, left : left + width]).view(np.uint8)
    _, labels[top : top + height, left : left + width], stats, _ = cv2.connectedComponentsWithStats(
        inked, connectivity=8)
    parts = _drop_specks(stats, left, top)
    if not parts:
        return labels, []
    groups = _attach_fragments([_Group(members) for members in _merge_columns(parts)])
    widths = [g.width for g in groups]
    tallest = max(g.height for g in groups)
    segments: list[Segment] = []
    for i, group in enumerate(groups):
        others = widths[:i] + widths[i + 1 :]
        if group.height < FRAGMENT_HEIGHT * tallest:  # a flat mark is never several digits
            segments.append(group.whole())
            continue
        segments.extend(_split_touching(labels, group, float(np.median(others)) if others else None))
    return labels, segments


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


def _drop_specks(stats: np.ndarray, left: int, top: int) -> list[_Part]:
    """The components (of a labelling offset by ``left``, ``top``) that are strokes, not specks."""
    # Few components: plain Python on their rows is several times faster than array arithmetic.
    rows = stats.tolist()[1:]
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

    A fragment is short and light: a flat but whole "2" has as much ink as its neighbours. A
    fragment with no digit close by (a dash, a stray mark) is not a digit and is dropped.
    """
    tallest = max(g.height for g in groups)
    heaviest = max(g.area for g in groups)
    is_fragment = [g.height < FRAGMENT_HEIGHT * tallest and g.area < FRAGMENT_AREA * heaviest for g in groups]
    digits = [g for g, frag in zip(groups, is_fragment) if not frag]
    for fragment in (g for g, frag in zip(groups, is_fragment) if frag):
        gap, nearest = min((max(d.x0 - fragment.x1, fragment.x0 - d.x1, 0), i) for i, d in enumerate(digits))
        if gap <= FRAGMENT_GAP * tallest:
            digits[nearest] = _Group(digits[nearest].members + fragment.members)
    return digits


def _split_touching(labels: np.ndarray, group: _Group, typical_width: float | None) -> list[Segment]:
    """One segment per digit in a group; a too-wide group is cut at its thinnest joins.

    "Too wide" is judged against the other digits of the scan when there are any, and
    against the group's own height otherwise.
    """
    x0, y0, y1, width, height = group.x0, group.y0, group.y1, group.width, group.height
    whole = [group.whole()]
    if typical_width is not None and width > TOUCHING_WIDTH * typical_width and width > TOUCHING_MIN_ASPECT * height:
        pieces = int(round(width / typical_width))
    elif width > TOUCHING_ASPECT * height:
        pieces = int(round(width / (DIGIT_ASPECT * height)))
    else:
        return whole
    if pieces < 2:
        return whole
    own = np.isin(labels[y0:y1, x0 : group.x1], group.labels)
    profile = own.sum(axis=0)
    step = width / pieces
    cuts = [0]
    for k in range(1, pieces):
        centre = int(round(k * step))
        reach = max(2, int(step * 0.3))
        lo, hi = max(cuts[-1] + 1, centre - reach), min(width - 1, centre + reach)
        cuts.append(lo + int(np.argmin(profile[lo : hi + 1])) if hi >= lo else centre)
    cuts.append(width)
    segments = []
    for start, stop in zip(cuts[:-1], cuts[1:]):
        rows = np.flatnonzero(own[:, start:stop].any(axis=1))
        if rows.size:
            segments.append(Segment(x0 + start, x0 + stop, y0 + int(rows[0]), y0 + int(rows[-1]) + 1, group.labels))
    return segments
