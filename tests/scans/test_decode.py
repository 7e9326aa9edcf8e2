import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from scans.decode import decode_grey, image_size
from scans.errors import ImageTooLargeError, InvalidImageError


def _encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kw)
    return buffer.getvalue()


@pytest.fixture
def grey():
    arr = np.full((40, 30), 200, np.uint8)
    arr[10:30, 12:18] = 20
    return arr


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF", "GIF", "WEBP"])
def test_formats_decode_to_the_same_luminance(grey, fmt):
    out = decode_grey(_encode(Image.fromarray(grey), fmt))
    assert out.shape == grey.shape
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - grey).mean() < 6


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "P", "I;16"])
def test_modes(grey, mode):
    image = Image.fromarray(grey)
    if mode == "I;16":
        image = Image.fromarray(grey.astype(np.uint16) * 257)
    elif mode == "1":
        image = image.point(lambda v: 255 if v > 100 else 0).convert("1")
    else:
        image = image.convert(mode)
    out = decode_grey(_encode(image, "PNG" if mode != "I;16" else "TIFF"))
    assert out[20, 15] < 60 and out[2, 2] > 150


def test_canvas_drawing_with_ink_in_alpha_is_dark_on_white():
    rgba = np.zeros((20, 20, 4), np.uint8)  # transparent black everywhere
    rgba[5:15, 9:11, 3] = 255  # opaque black stroke
    out = decode_grey(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out[0, 0] == pytest.approx(255) and out[10, 10] == pytest.approx(0)


@pytest.mark.parametrize("reduce", [1, 2])
def test_exif_orientation_is_applied(reduce):
    arr = np.full((16, 48), 255, np.uint8)
    arr[:, :8] = 0  # ink on the left edge
    image = Image.fromarray(arr)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    out = decode_grey(_encode(image, "JPEG", exif=exif.tobytes(), quality=95), reduce=reduce)
    assert out.shape == (48 // reduce, 16 // reduce)
    ink = 8 // reduce
    assert out[: ink - 1].mean() < 80 and out[-ink:].mean() > 200  # the ink moved to the top


@pytest.mark.parametrize(("data", "match"), [
    (b"", "empty"),
    (b"just some text", "not a recognised image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "corrupt|not a recognised"),
])
def test_bad_bytes_are_invalid_image(data, match):
    with pytest.raises(InvalidImageError, match=match):
        decode_grey(data)


def test_truncated_png_is_invalid(grey):
    data = _encode(Image.fromarray(grey), "PNG")
    with pytest.raises(InvalidImageError):
        decode_grey(data[: len(data) // 2])


def test_pixel_limit_is_enforced_before_decoding():
    data = _encode(Image.new("L", (3000, 3000), 255), "PNG")
    with pytest.raises(ImageTooLargeError, match="9000000 pixels"):
        decode_grey(data, max_pixels=1_000_000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_invalid(grey, fmt):
    # Either decoder could return a half-grey image for a truncated file; neither may.
    data = _encode(Image.fromarray(np.tile(grey, (8, 8))), fmt)
    with pytest.raises(InvalidImageError, match="corrupt or truncated"):
        decode_grey(data[: len(data) * 2 // 3])


@pytest.mark.parametrize(("mode", "fmt"), [("L", "JPEG"), ("RGB", "JPEG"), ("CMYK", "JPEG"), ("L", "PNG"),
                                           ("RGB", "PNG"), ("P", "PNG"), ("LA", "PNG")])
def test_fast_and_careful_decoders_agree(mode, fmt):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    data = _encode(image, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.int16)
    diff = np.abs(decode_grey(data) - expected)
    # Rounding differs by one level, and a colour JPEG's luma is read directly rather than
    # via RGB with subsampled chroma, which moves single pixels of this noise a little.
    assert diff.mean() < 1.0 and diff.max() <= 12


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_pixel_limit_holds_on_the_fast_path(fmt):
    data = _encode(Image.new("RGB", (2000, 600), "white"), fmt)
    with pytest.raises(ImageTooLargeError, match="1200000 pixels"):
        decode_grey(data, max_pixels=1_000_000)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP"])
@pytest.mark.parametrize("reduce", [2, 4, 8])
def test_reduced_decoding_shrinks_each_side_rounding_up(fmt, reduce):
    arr = np.full((83, 61), 210, np.uint8)
    arr[16:64, 24:40] = 30
    out = decode_grey(_encode(Image.fromarray(arr), fmt, **({"quality": 95} if fmt == "JPEG" else {})), reduce=reduce)
    assert out.shape == (-(-83 // reduce), -(-61 // reduce))
    # The stroke is still there at the scaled position, on paper of the same tone.
    assert out[0, 0] == pytest.approx(210, abs=6)
    assert out[40 // reduce, 32 // reduce] < 80


@pytest.mark.parametrize("reduce", [2, 4, 8])
def test_reduced_cells_lie_on_the_grid_boxes_are_scaled_back_with(reduce):
    # Odd sides: cell i must still cover pixels i*reduce onwards, or boxes drift.
    arr = np.full((83, 61), 210, np.uint8)
    arr[16:24, 24:32] = 30
    out = decode_grey(_encode(Image.fromarray(arr), "PNG"), reduce=reduce)
    rows, cols = np.s_[16 // reduce : 24 // reduce], np.s_[24 // reduce : 32 // reduce]
    assert (out[rows, cols] == 30).all()
    assert out[16 // reduce - 1, 24 // reduce] == 210 and out[24 // reduce, 24 // reduce] == 210
    assert out[16 // reduce, 24 // reduce - 1] == 210 and out[16 // reduce, 32 // reduce] == 210


def test_reduce_must_be_a_supported_factor(grey):
    with pytest.raises(ValueError, match="reduce"):
        decode_grey(_encode(Image.fromarray(grey), "PNG"), reduce=3)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "GIF"])
def test_image_size_reads_the_header(grey, fmt):
    assert image_size(_encode(Image.fromarray(grey), fmt)) == (30, 40)


@pytest.mark.parametrize("data", [b"", b"just some text", b"\x89PNG\r\n\x1a\n"])
def test_image_size_of_unreadable_bytes_is_none(data):
    assert image_size(data) is None


def test_a_png_cut_inside_its_header_is_invalid_naming_the_header():
    # Issue #22: these 20 bytes raised struct.error, which failed a whole chunk.
    with pytest.raises(InvalidImageError, match="header"):
        decode_grey(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDRIEND")
    assert image_size(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDRIEND") is None


@pytest.mark.parametrize("mode", ["LAB", "CMYK", "YCbCr", "LA", "RGBA", "P", "I", "F", "I;16", "I;16B", "1"])
def test_every_colour_mode_a_tiff_holds_is_read(grey, mode):
    image = Image.fromarray(grey)
    if mode == "I;16":
        image = Image.fromarray(grey.astype(np.uint16) * 257)
    elif mode == "I;16B":
        image = Image.frombytes("I;16B", (30, 40), (grey.astype(">u2") * 257).tobytes())
    elif mode == "I":
        image = Image.fromarray(grey.astype(np.int32) * 257)
    elif mode == "F":
        image = Image.fromarray(grey.astype(np.float32) / 255)
    elif mode == "1":
        image = image.point(lambda v: 255 if v > 100 else 0).convert("1")
    else:
        image = image.convert(mode)  # CIELAB's lightness was refused: "conversion from LAB to RGB not supported"
    out = decode_grey(_encode(image, "TIFF"))
    assert out[20, 15] < 60 and out[2, 2] > 150, mode


def test_formats_decoded_whole_are_refused_beyond_the_memory_budget_from_their_header():
    # 4000x4000 RGB: Pillow would hold 64 MB. The file is small; the refusal comes before decoding.
    data = _encode(Image.new("RGB", (4000, 4000), "white"), "TIFF", compression="tiff_deflate")
    with pytest.raises(ImageTooLargeError, match=r"4000x4000 RGB TIFF, which Pillow decodes whole, would take "
                                                   r"about \d+ MB \(file included\); one image may take at most 44 MB"):
        decode_grey(data, reduce=8)
    # The same page as PNG is read row by row, and as a baseline JPEG scaled by libjpeg.
    for fmt in ("PNG", "JPEG"):
        assert decode_grey(_encode(Image.new("RGB", (4000, 4000), "white"), fmt), reduce=8).shape == (500, 500)


def test_a_jpeg_too_large_to_decode_at_full_size_is_decoded_scaled():
    data = _encode(Image.new("L", (6000, 5000), 255), "JPEG")
    with pytest.raises(ImageTooLargeError, match="at full size"):
        decode_grey(data)
    assert decode_grey(data, reduce=2).shape == (2500, 3000)


def test_a_progressive_jpeg_counts_the_coefficients_it_keeps():
    # Every DCT coefficient of the page stays in memory, whatever the scale: 2 bytes a pixel and component.
    data = _encode(Image.new("RGB", (6000, 5000), "white"), "JPEG", progressive=True, subsampling=0)
    with pytest.raises(ImageTooLargeError, match="progressive"):
        decode_grey(data, reduce=8)


def test_a_tiff_whose_tags_list_too_many_values_is_refused():
    data = _encode(Image.new("L", (8, 8), 255), "TIFF", tiffinfo={65000: (7,) * 70_000})
    with pytest.raises(ImageTooLargeError, match="7000[0-9] numeric values"):
        decode_grey(data)


@pytest.mark.parametrize("reduce", [1, 2, 8])
@pytest.mark.parametrize("fmt", ["TIFF", "BMP", "GIF", "WEBP"])
def test_pillow_pages_are_reduced_and_turned_in_bands(grey, fmt, reduce):
    page = np.tile(grey, (3, 5))  # 120x150
    image = Image.fromarray(page)
    exif = image.getexif()
    exif[0x0112] = 8  # shown turned a quarter left
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = _encode(image, fmt, exif=exif.tobytes(), **options) if fmt in ("TIFF", "WEBP") else _encode(image, fmt)
    out = decode_grey(data, reduce=reduce)
    # What the careful path gave: Pillow's page, turned by ImageOps.exif_transpose.
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    if fmt in ("TIFF", "WEBP"):
        assert expected.shape != page.shape  # turned
    assert out.shape == (-(-expected.shape[0] // reduce), -(-expected.shape[1] // reduce))
    if reduce == 1:
        assert np.abs(out.astype(int) - expected).max() <= 2
