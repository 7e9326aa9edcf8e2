import cv2
import numpy as np

from scans.clean import clean
from scans.components import component_stats
from scans.decode import decode_grey
from scans.generate import boxed_scan, number_scan
from scans.preprocess import preprocess
from scans.segment import segment


def _bar(mask, x, y, w, h):
    mask[y : y + h, x : x + w] = True


def test_digits_come_out_left_to_right_with_their_boxes(mnist):
    rng = np.random.default_rng(3)
    digits = [mnist.x_test[i] for i in (0, 1, 2, 3)]  # 7 2 1 0
    scan = preprocess(number_scan(digits, rng))
    assert scan.images.shape == (4, 28, 28)
    xs = scan.boxes[:, 0]
    assert list(xs) == sorted(xs)
    assert all(x2 >= x1 + w1 for (x1, _, w1, _), (x2, *_) in zip(scan.boxes, scan.boxes[1:]))


def test_numbers_of_two_to_six_digits_are_split_into_that_many(mnist):
    rng = np.random.default_rng(11)
    right = 0
    for trial in range(60):
        count = 2 + trial % 5
        picks = rng.choice(len(mnist.x_test), size=count, replace=False)
        right += len(preprocess(number_scan([mnist.x_test[i] for i in picks], rng)).images) == count
    assert right >= 57


def test_printed_box_is_removed_and_the_digit_kept(mnist):
    rng = np.random.default_rng(5)
    right = 0
    for i in range(40):
        cleaned = clean(decode_grey(boxed_scan(mnist.x_test[i], rng)))
        segments = segment(cleaned.mask, cleaned.box).segments
        if len(segments) == 1:
            x, y, w, h = segments[0].box
            height, width = cleaned.mask.shape
            # The box would span most of the image; a digit alone does not reach its edges.
            right += w < 0.9 * width and h < 0.9 * height
    assert right >= 38


def test_specks_are_ignored():
    mask = np.zeros((100, 100), bool)
    _bar(mask, 40, 20, 12, 60)  # a "1"
    for y, x in ((5, 5), (90, 90), (10, 80)):
        _bar(mask, x, y, 2, 2)
    segments = segment(mask).segments
    assert [s.box for s in segments] == [(40, 20, 12, 60)]


def test_detached_bar_joins_its_digit_and_a_lone_dash_is_dropped():
    mask = np.zeros((100, 200), bool)
    _bar(mask, 20, 40, 30, 50)   # body of a "5"
    _bar(mask, 30, 20, 30, 8)    # its bar, a gap above and to the right
    _bar(mask, 100, 60, 15, 5)   # a dash far from anything
    _bar(mask, 150, 40, 30, 50)  # another digit
    segments = segment(mask).segments
    assert [s.box for s in segments] == [(20, 20, 40, 70), (150, 40, 30, 50)]


def test_touching_digits_are_cut_at_the_thinnest_join():
    mask = np.zeros((80, 140), bool)
    # Two rings joined by a thin bridge, as "00" written too close.
    for x0 in (10, 62):
        _bar(mask, x0, 10, 50, 6)
        _bar(mask, x0, 54, 50, 6)
        _bar(mask, x0, 10, 6, 50)
        _bar(mask, x0 + 44, 10, 6, 50)
    segments = segment(mask).segments
    assert len(segments) == 2
    assert abs(segments[0].x1 - 61) <= 3 and abs(segments[1].x0 - 61) <= 3


def test_one_wide_digit_is_not_cut():
    mask = np.zeros((80, 120), bool)
    _bar(mask, 10, 20, 70, 6)  # a wide, flat "2"-like shape: 70 wide, 45 high
    _bar(mask, 74, 20, 6, 25)
    _bar(mask, 10, 59, 70, 6)
    _bar(mask, 10, 40, 6, 25)
    _bar(mask, 10, 40, 70, 6)
    segments = segment(mask).segments
    assert len(segments) == 1


def test_component_stats_match_opencvs():
    rng = np.random.default_rng(4)
    for _ in range(50):
        mask = (rng.random(tuple(rng.integers(1, 60, 2))) < rng.random()).astype(np.uint8)
        count, labels, expected, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        assert np.array_equal(component_stats(labels, count)[1:], expected[1:])


def test_a_neighbour_reaching_into_a_digits_box_is_not_part_of_it():
    mask = np.zeros((100, 200), bool)
    _bar(mask, 20, 20, 40, 6)    # a "C"...
    _bar(mask, 20, 20, 6, 60)
    _bar(mask, 20, 74, 40, 6)
    _bar(mask, 75, 20, 30, 60)   # ...and the next digit, whose tail reaches into the C's opening
    _bar(mask, 48, 45, 30, 6)
    found = segment(mask)
    assert len(found.segments) == 2
    first, second = found.segments
    assert found.intruders(first) == list(second.labels) and found.intruders(second) == list(first.labels)
    assert set(np.unique(found.labels_in(first))) == {0, *first.labels, *second.labels}
    # The digit that stands apart has nothing reaching into its box.
    _bar(mask, 150, 20, 30, 60)
    assert segment(mask).intruders(segment(mask).segments[2]) == []


def test_a_wide_digit_with_a_long_flat_tail_is_not_cut_into_two():
    mask = np.zeros((80, 200), bool)
    # A "5" written wide: body 50 px high, its top bar running on far to the right (a 140 px
    # wide mark, 2.8 times its height, but the right part is only a bar).
    _bar(mask, 20, 20, 140, 6)
    _bar(mask, 20, 20, 6, 25)
    _bar(mask, 20, 40, 40, 6)
    _bar(mask, 54, 40, 6, 30)
    _bar(mask, 20, 64, 40, 6)
    assert len(segment(mask).segments) == 1


def test_a_heavy_piece_sharing_a_digits_columns_joins_it():
    mask = np.zeros((120, 160), bool)
    # A "6" whose loop lost its join to the stem: the loop is flat (under 0.6 of the stem's
    # height) but heavier than the stem, and reaches under the stem's hook.
    _bar(mask, 20, 10, 8, 100)
    _bar(mask, 20, 10, 25, 8)
    for y0, x0, w, h in ((60, 35, 60, 8), (102, 35, 60, 8), (60, 35, 8, 50), (60, 87, 8, 50)):
        _bar(mask, x0, y0, w, h)
    found = segment(mask)
    assert len(found.segments) == 1 and found.segments[0].box == (20, 10, 75, 100)


def test_the_sides_of_a_small_printed_box_are_not_read_as_ones(mnist):
    from PIL import Image

    page = np.full((50, 64), 225, np.uint8)
    digit = np.asarray(Image.fromarray(255 - mnist.x_test[0]).resize((22, 22), Image.Resampling.BILINEAR))
    page[13:35, 21:43] = np.minimum(page[13:35, 21:43], digit)
    page[10, 14:50] = page[36, 14:50] = 40  # a box 26 px high: its sides are shorter than a
    page[10:37, 14] = page[10:37, 49] = 40  # printed line is usually taken to be
    ok, png = cv2.imencode(".png", page)
    assert len(preprocess(png.tobytes()).images) == 1
