import io

import numpy as np
import pytest
from PIL import Image

from scans.decode import decode_grey
from scans.errors import NoDigitFoundError, TooManyDigitsError
from scans.generate import render_scan, scan_set
from scans.preprocess import preprocess, read_digits


def _centre_of_mass(img):
    img = img.astype(float)
    total = img.sum()
    return (img.sum(1) * np.arange(28)).sum() / total, (img.sum(0) * np.arange(28)).sum() / total


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _best_shifted_correlation(a: np.ndarray, b: np.ndarray) -> float:
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(np.corrcoef(np.roll(a, shift, (0, 1)).ravel().astype(float), b.ravel().astype(float))[0, 1]
               for shift in shifts)


def _single(data: bytes) -> np.ndarray:
    digits = preprocess(data)
    assert digits.images.shape == (1, 28, 28) and digits.images.dtype == np.uint8
    return digits.images[0]



@pytest.fixture
def scan_reads(monkeypatch):
    """Every Scan.read of the test as (reduce, window, cells read): the real reads, recorded."""
    from scans.decode import Scan

    reads = []
    real = Scan.read

    def read(self, reduce, window=None):
        out = real(self, reduce, window)
        reads.append((reduce, window, out.size))
        return out

    monkeypatch.setattr(Scan, "read", read)
    return reads

def test_dark_ink_on_grey_paper_comes_out_like_mnist(mnist):
    corr = []
    for i in range(20):
        out = _single(render_scan(mnist.x_test[i], height=150, offset=(10, 100)))
        corr.append(np.corrcoef(out.ravel().astype(float), mnist.x_test[i].ravel().astype(float))[0, 1])
    # Upscaling to 150 px and back thickens strokes a little; the shape stays MNIST's.
    assert np.median(corr) > 0.95 and min(corr) > 0.7


def test_polarity_is_detected_both_ways(mnist):
    digit = mnist.x_test[3]
    light_on_dark = _single(_png(digit))
    dark_on_light = _single(_png(255 - digit))
    assert np.abs(light_on_dark.astype(int) - dark_on_light.astype(int)).max() <= 1


def test_digit_fits_20x20_keeping_aspect_and_centre_of_mass_is_central():
    tall = np.zeros((300, 60), np.uint8)
    tall[20:280, 20:40] = 255  # a "1": tall and thin
    out = _single(_png(tall))
    rows = np.flatnonzero(out.max(axis=1) > 0)
    cols = np.flatnonzero(out.max(axis=0) > 0)
    assert rows[-1] - rows[0] + 1 == 20
    assert cols[-1] - cols[0] + 1 <= 4
    cy, cx = _centre_of_mass(out)
    assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6


def test_off_centre_digit_is_centred_and_boxed_where_it_is(mnist):
    digits = preprocess(render_scan(mnist.x_test[0], height=60, canvas=(400, 400), offset=(320, 5)))
    cy, cx = _centre_of_mass(digits.images[0])
    assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6
    x, y, w, h = digits.boxes[0]
    assert 320 <= y and y + h <= 380 and 5 <= x and x + w <= 65


def test_large_pages_are_read_at_a_reduced_scale_like_at_full_size(mnist):
    for i in range(10):
        scan = render_scan(mnist.x_test[i], height=300, canvas=(700, 800), offset=(250, 300))
        reduced, full = preprocess(scan), read_digits(decode_grey(scan))
        assert len(reduced.images) == len(full.images) == 1
        # Centring by mass may round one pixel the other way; the digit itself is the same.
        assert _best_shifted_correlation(reduced.images[0], full.images[0]) > 0.95
        # Boxes are in the scan's own pixels, to within the reduction factor.
        assert np.abs(reduced.boxes[0] - full.boxes[0]).max() <= 8


def test_boxes_of_a_reduced_page_turned_by_exif_are_in_the_upright_page(mnist):
    page = Image.open(io.BytesIO(render_scan(mnist.x_test[0], height=200, canvas=(300, 700), offset=(40, 450))))
    exif = page.getexif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: 300 wide, 700 high
    buffer = io.BytesIO()
    page.save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    scan = buffer.getvalue()
    reduced, full = preprocess(scan), read_digits(decode_grey(scan))
    assert np.abs(reduced.boxes[0] - full.boxes[0]).max() <= 4
    x, y, w, h = reduced.boxes[0]
    assert x + w <= 300 and y + h <= 700


def test_a_small_digit_on_a_large_page_is_read_again_at_a_finer_scale(mnist):
    # At 1/8 scale the digit would be a few pixels high: a speck, or too coarse to read.
    scan = render_scan(mnist.x_test[0], height=40, canvas=(900, 900), offset=(600, 420))
    digits, full = preprocess(scan), read_digits(decode_grey(scan))
    assert np.array_equal(digits.images, full.images) and np.array_equal(digits.boxes, full.boxes)
    x, y, w, h = digits.boxes[0]
    assert 600 <= y and y + h <= 640 and 420 <= x and x + w <= 460


def test_mnist_digits_are_nearly_a_fixed_point(mnist):
    corr = [np.corrcoef(read_digits(mnist.x_test[i]).images[0].ravel().astype(float),
                        mnist.x_test[i].ravel().astype(float))[0, 1] for i in range(200)]
    assert np.median(corr) > 0.97


def test_uneven_lighting_is_flattened(mnist):
    page = np.asarray(Image.open(io.BytesIO(render_scan(mnist.x_test[5], height=80, canvas=(240, 240),
                                                        offset=(80, 80)))), dtype=np.float32)
    # Light falls off from 240 at the left to 120 at the right; the darkest paper is still lighter than ink.
    shaded = np.clip(page * np.linspace(1.2, 0.6, 240)[None, :], 0, 255).astype(np.uint8)
    plain = _single(_png(page.astype(np.uint8)))
    out = _single(_png(shaded))
    assert np.corrcoef(out.ravel().astype(float), plain.ravel().astype(float))[0, 1] > 0.9


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_images_are_no_digit_not_a_guess(value):
    with pytest.raises(NoDigitFoundError):
        preprocess(_png(np.full((50, 50), value, np.uint8)))


@pytest.mark.parametrize("sigma", [3, 10])
def test_paper_noise_is_no_digit(sigma):
    rng = np.random.default_rng(0)
    with pytest.raises(NoDigitFoundError):
        preprocess(_png(np.clip(rng.normal(200, sigma, (300, 300)), 0, 255).astype(np.uint8)))


def test_an_empty_printed_box_is_no_digit():
    page = np.full((200, 200), 220, np.uint8)
    page[40:43, 30:170] = page[157:160, 30:170] = 40
    page[40:160, 30:33] = page[40:160, 167:170] = 40
    with pytest.raises(NoDigitFoundError):
        preprocess(_png(page))


def test_a_page_of_marks_is_too_many_digits():
    page = np.full((60, 1000), 230, np.uint8)
    for col in range(40):
        page[15:45, 10 + col * 24 : 20 + col * 24] = 20
    with pytest.raises(TooManyDigitsError):
        preprocess(_png(page))


def _kernels():
    import numba

    from scans import clean, components, fold, levels, png, png_stream, resample, segment

    modules = (clean, components, fold, levels, png, png_stream, resample, segment)
    return {f"{module.__name__}.{name}": value for module in modules
            for name, value in vars(module).items() if isinstance(value, numba.core.dispatcher.Dispatcher)}


def test_warm_up_compiles_every_kernel_that_reading_scans_needs(mnist):
    from scans.preprocess import warm_up

    warm_up()
    compiled = {name: len(kernel.signatures) for name, kernel in _kernels().items()}
    rng = np.random.default_rng(8)
    for kind in ("single", "boxed", "number"):
        for blob, _ in scan_set(mnist.x_test, mnist.y_test, kind, 30, seed=int(rng.integers(1000))):
            preprocess(blob)
    # Nothing compiled after the warm-up: a worker's first request pays no compile.
    assert {name: len(kernel.signatures) for name, kernel in _kernels().items()} == compiled


def test_a_finer_reading_of_a_page_too_large_to_work_on_whole_takes_a_window(mnist, scan_reads):
    # 3000x3000: at 1/2 scale 2.25 MP, over WORK_PIXELS. A 40 px digit vanishes at 1/8 scale.
    from scans.preprocess import WORK_PIXELS

    page = np.full((3000, 3000), 225, np.uint8)
    digit = np.asarray(Image.fromarray(mnist.x_test[0]).resize((40, 40), Image.Resampling.BILINEAR)) / 255.0
    page[2100:2140, 700:740] = np.rint(225 - 195 * digit).astype(np.uint8)
    scan = _png(page)
    digits = preprocess(scan)
    assert all(cells <= WORK_PIXELS for _, _, cells in scan_reads)
    assert scan_reads[0][:2] == (8, None) and scan_reads[-1][0] == 1 and scan_reads[-1][1] is not None
    [(x, y, w, h)] = digits.boxes
    assert 695 <= x and x + w <= 745 and 2095 <= y and y + h <= 2145
    # The digit is the one read from the whole page at full size.
    full = read_digits(decode_grey(scan))
    assert _best_shifted_correlation(digits.images[0], full.images[0]) > 0.95


def test_a_page_too_long_to_work_on_even_at_one_eighth_scale_is_refused():
    from scans.errors import ImageTooLargeError
    from tests.scans import images

    row = np.ones(20_000_000, np.uint8)
    data = images.png(20_000_000, 2, 0, 1, lambda y: row)  # 40 MP, one bit each: 2.5 million cells at 1/8
    with pytest.raises(ImageTooLargeError, match="even at 1/8 scale"):
        preprocess(data)


def test_specks_all_over_a_large_page_do_not_keep_the_finer_reading_from_the_digit(mnist, scan_reads):
    # The ink found at 1/8 scale spans the page (specks in its corners): the window around all of
    # it would be the whole page, too large at 1/2 scale; a window around the digit is not.

    page = np.full((3000, 3000), 225, np.uint8)
    for y, x in ((40, 40), (40, 2940), (2940, 40), (2940, 2940)):
        page[y : y + 12, x : x + 12] = 30
    digit = np.asarray(Image.fromarray(mnist.x_test[0]).resize((100, 100), Image.Resampling.BILINEAR)) / 255.0
    page[1500:1600, 1200:1300] = np.rint(225 - 195 * digit).astype(np.uint8)
    digits = preprocess(_png(page))
    assert scan_reads[-1][0] <= 2 and scan_reads[-1][1] is not None  # (without the digit's window: 1/4 scale at best)
    [(x, y, w, h)] = digits.boxes
    assert 1195 <= x and x + w <= 1305 and 1495 <= y and y + h <= 1605


def test_read_scan_gives_the_string_model_the_whole_page_where_no_digit_is_found(scan_reads):
    from scans import NoDigitFoundError
    from scans.strings import read_scan

    blank = np.full((60, 200), 235, np.uint8)
    with pytest.raises(NoDigitFoundError):
        read_scan(_png(blank))  # blank paper: nothing for either model
    faint = blank.copy()
    faint[20:45, 30:170:12] = 222  # strokes 13 grey levels from the paper: under the digit pipeline's contrast
    with pytest.raises(NoDigitFoundError):
        preprocess(_png(faint))
    scan_reads.clear()
    reading = read_scan(_png(faint))
    assert [read[:2] for read in scan_reads] == [(1, None)]  # the refused page is the string model's: one decode
    assert reading.digits is None and isinstance(reading.refusal, NoDigitFoundError)
    assert reading.string.width > 0 and reading.string.image.shape == (32, 192) and reading.string.image.max() > 100
