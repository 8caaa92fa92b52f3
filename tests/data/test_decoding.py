"""BMPs with a colour table (1, 4 and 8 bits per pixel) decode to their
colours on every path: TF's BMP decoder gave an 8-bit file's indices as grey
levels (a palette photo came out grey, a 16-colour one nearly black) and
refused 1- and 4-bit files as corrupt."""

import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from keras_pose.data.images import read_image


def _palette_bmp(path, indices, table, bits, top_down=False, colors_used=None):
    """Writes (H, W) ``indices`` into ``table`` ((N, 3) RGB) as an
    uncompressed BMP of ``bits`` per pixel, laid out by the format's
    definition: 14-byte file header, 40-byte BITMAPINFOHEADER, B G R 0
    table entries, rows padded to 4 bytes, bottom row first unless
    ``top_down`` (a negative height), leftmost pixel in a byte's high bits."""
    height, width = indices.shape
    stride = (width * bits + 31) // 32 * 4
    rows = []
    for row in (indices if top_down else indices[::-1]):
        packed = 0
        for value in row:
            packed = (packed << bits) | int(value)
        packed <<= stride * 8 - width * bits
        rows.append(packed.to_bytes(stride, "big"))
    entries = b"".join(bytes([b, g, r, 0]) for r, g, b in table)
    offset = 14 + 40 + len(entries)
    pixels = b"".join(rows)
    info = struct.pack("<IiiHHIIiiII", 40, width, -height if top_down else height, 1, bits, 0,
                       len(pixels), 2835, 2835,
                       len(table) if colors_used is None else colors_used, 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
                     + info + entries + pixels)


@pytest.mark.parametrize("bits, width, top_down", [
    (8, 13, False), (8, 13, True), (4, 7, False), (4, 6, True), (1, 19, False), (1, 32, True)])
def test_a_palette_bmp_decodes_to_its_tables_colours(bits, width, top_down, tmp_path):
    rng = np.random.default_rng(bits + width)
    table = rng.integers(0, 256, (2 ** bits, 3), np.uint8)
    indices = rng.integers(0, 2 ** bits, (5, width))
    path = tmp_path / "palette.bmp"
    _palette_bmp(path, indices, table, bits, top_down)
    expected = table[indices]  # (5, width, 3) RGB
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), expected)
    np.testing.assert_array_equal(read_image(str(path)), expected)
    np.testing.assert_array_equal(cv2.imread(str(path))[..., ::-1], expected)


def test_a_short_colour_table_and_indices_past_it(tmp_path):
    """A table of 3 colours (biClrUsed 3) in an 8-bit file: its colours as
    given, an index past its end black (Pillow's reading)."""
    table = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    indices = np.array([[0, 1, 2, 1], [2, 1, 0, 0]])
    _palette_bmp(tmp_path / "three.bmp", indices, table, 8, colors_used=3)
    np.testing.assert_array_equal(read_image(str(tmp_path / "three.bmp")), table[indices])


def test_a_grey_bmp_as_opencv_writes_it_is_unchanged(tmp_path):
    """OpenCV writes a grey image as an 8-bit BMP with a grey ramp table (the
    case TF's decoder got right): still the same grey levels."""
    grey = np.random.default_rng(0).integers(0, 256, (9, 11), np.uint8)
    cv2.imwrite(str(tmp_path / "grey.bmp"), grey)
    np.testing.assert_array_equal(read_image(str(tmp_path / "grey.bmp")),
                                  np.repeat(grey[..., None], 3, axis=2))


def test_a_palette_bmp_in_the_training_and_serving_graph(tmp_path):
    """The graph decoder (tf.data, the SavedModel) reads the same colours."""
    import tensorflow as tf
    from keras_pose.data.decoding import decode_image_tf
    table = np.array([[10, 200, 30], [250, 5, 128]], np.uint8)
    indices = np.array([[0, 1, 1], [1, 0, 1]])
    _palette_bmp(tmp_path / "two.bmp", indices, table, 1)
    decode = tf.function(lambda p: decode_image_tf(tf.io.read_file(p)))
    np.testing.assert_array_equal(decode(tf.constant(str(tmp_path / "two.bmp"))).numpy(),
                                  table[indices])


def test_a_palette_bmp_cut_short_is_refused_by_name(tmp_path):
    from keras_pose.data.images import ImageReadError
    table = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    _palette_bmp(tmp_path / "whole.bmp", np.ones((40, 40), int), table, 1)
    data = (tmp_path / "whole.bmp").read_bytes()
    (tmp_path / "cut.bmp").write_bytes(data[:len(data) - 50])
    with pytest.raises(ImageReadError, match="cut.bmp: cannot be decoded"):
        read_image(str(tmp_path / "cut.bmp"))


# 32-bit BMPs with colour masks (BI_BITFIELDS, BI_ALPHABITFIELDS): TF's decoder
# ignored the masks, so an RGBX file came out with red and blue swapped.

def _photo(size=(40, 30)):
    import os
    from tests.conftest import DATA_DIR
    return cv2.resize(cv2.imread(os.path.join(DATA_DIR, "coco", "000000000785.jpg")), size)


@pytest.mark.parametrize("masks, header", [
    ((0xFF, 0xFF00, 0xFF0000, 0xFF000000), 56),  # RGBX (R in the low byte): the user's file.
    ((0xFF00, 0xFF0000, 0xFF000000, 0xFF), 124),  # XRGB in a BITMAPV5HEADER.
    ((0xFF0000, 0xFF00, 0xFF, 0xFF000000), 108),  # The usual BGRX, in a BITMAPV4HEADER.
])
def test_a_bmp_with_colour_masks_gets_its_colours(masks, header, tmp_path):
    from tests.broken_images import bitfields_bmp
    bgr = _photo()
    path = tmp_path / "masks.bmp"
    path.write_bytes(bitfields_bmp(bgr, masks, header=header))
    np.testing.assert_array_equal(read_image(str(path)), bgr[..., ::-1])
    np.testing.assert_array_equal(cv2.imread(str(path))[..., ::-1], bgr[..., ::-1])


def test_masks_after_a_40_byte_header_are_ignored_as_opencv_ignores_them(tmp_path):
    """OpenCV reads masks only inside a header of 56 bytes or more: after a
    40-byte one it takes bytes 2, 1, 0 as R, G, B (so does TF's decoder)."""
    from tests.broken_images import bitfields_bmp
    bgr = _photo()
    path = tmp_path / "masks40.bmp"
    path.write_bytes(bitfields_bmp(bgr, (0xFF, 0xFF00, 0xFF0000), header=40))
    np.testing.assert_array_equal(read_image(str(path)), bgr)  # Bytes R, G, B read as B, G, R.
    np.testing.assert_array_equal(cv2.imread(str(path))[..., ::-1], bgr)


def test_alpha_bit_fields_are_honoured_too(tmp_path):
    """Compression 6, which OpenCV refuses: its masks as the format means them."""
    from tests.broken_images import bitfields_bmp
    bgr = _photo()
    path = tmp_path / "alpha_masks.bmp"
    path.write_bytes(bitfields_bmp(bgr, (0xFF, 0xFF00, 0xFF0000, 0xFF000000), compression=6,
                                   header=40))
    np.testing.assert_array_equal(read_image(str(path)), bgr[..., ::-1])


def _words_bmp(path, words, masks):
    """A 32-bit BI_BITFIELDS BMP (56-byte header) of (H, W) uint32 ``words``."""
    height, width = words.shape
    pixels = words[::-1].astype("<u4").tobytes()
    info = struct.pack("<IiiHHIIiiII4I", 56, width, height, 1, 32, 3, len(pixels), 0, 0, 0, 0,
                       *masks, 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", 70 + len(pixels), 0, 0, 70) + info + pixels)


def test_masks_wider_or_narrower_than_8_bits_are_scaled_as_opencv_scales_them(tmp_path):
    """10-bit channels (R in bits 20-29, G 10-19, B 0-9): v * 255 // 1023."""
    r, g, b = np.array([[1023, 412, 0]]), np.array([[0, 160, 1023]]), np.array([[511, 560, 1]])
    _words_bmp(tmp_path / "ten.bmp", (r << 20) | (g << 10) | b, (0x3FF00000, 0xFFC00, 0x3FF))
    expected = np.array([[[255, 0, 127], [102, 39, 139], [0, 255, 0]]], np.uint8)
    np.testing.assert_array_equal(read_image(str(tmp_path / "ten.bmp")), expected)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "ten.bmp"))[..., ::-1], expected)


def test_masks_that_are_not_runs_of_bits_are_refused_by_name(tmp_path):
    from keras_pose.data.images import ImageReadError
    _words_bmp(tmp_path / "odd.bmp", np.zeros((2, 2), np.uint32), (0xF0F, 0xF0, 0xF000))
    with pytest.raises(ImageReadError, match="odd.bmp: a BMP whose colour masks are not runs "
                                             r"of bits.*convert it \(to PNG, say\)"):
        read_image(str(tmp_path / "odd.bmp"))


def test_a_masked_bmp_in_the_training_and_serving_graph(tmp_path):
    import tensorflow as tf
    from keras_pose.data.decoding import decode_image_tf
    from tests.broken_images import bitfields_bmp
    bgr = _photo()
    (tmp_path / "rgbx.bmp").write_bytes(bitfields_bmp(bgr, (0xFF, 0xFF00, 0xFF0000, 0)))
    decode = tf.function(lambda p: decode_image_tf(tf.io.read_file(p)))
    np.testing.assert_array_equal(decode(tf.constant(str(tmp_path / "rgbx.bmp"))).numpy(),
                                  bgr[..., ::-1])


# GIFs: the first frame as OpenCV composes it. TF's decoder made transparent
# pixels black and, for a frame smaller than its canvas, sized the image to
# the frame and drew it at its offset there (a black band top left, the
# bottom right lost).

def _gif(tmp_path, name, **layout):
    """A GIF of the photo (64 x 48, 256 colours) with ``layout``
    (tests.broken_images.gif_bytes); its (H, W) indices and (256, 3) table."""
    from tests.broken_images import gif_bytes, photo_indices
    indices, table = photo_indices(_photo((64, 48)))
    path = tmp_path / name
    path.write_bytes(gif_bytes(indices, table, **layout))
    return str(path), indices, table


def _corner_index():
    """The colour index of the photo GIF's top-left pixel."""
    from tests.broken_images import photo_indices
    return photo_indices(_photo((64, 48)))[0][0, 0]


@pytest.mark.parametrize("local", [False, True])
def test_a_gifs_transparent_pixels_get_the_background_colour(local, tmp_path):
    path, indices, table = _gif(tmp_path, "clear.gif", transparent=int(_corner_index()),
                                background=7, local=local)
    expected = table[indices]
    # The background is the global table's colour; black without one.
    expected[indices == _corner_index()] = 0 if local else table[7]
    assert (indices == _corner_index()).sum() > 10
    np.testing.assert_array_equal(read_image(path), expected)
    np.testing.assert_array_equal(cv2.imread(path)[..., ::-1], expected)


@pytest.mark.parametrize("transparent", [None, 5])
def test_a_gif_frame_smaller_than_its_canvas_is_placed_at_its_offset(transparent, tmp_path):
    path, indices, table = _gif(tmp_path, "framed.gif", canvas=(80, 60), offset=(10, 7),
                                background=3, transparent=transparent)
    expected = np.empty((60, 80, 3), np.uint8)
    expected[:] = table[3]
    frame = table[indices]
    if transparent is not None:
        frame[indices == transparent] = table[3]
    expected[7:55, 10:74] = frame
    np.testing.assert_array_equal(read_image(path), expected)
    np.testing.assert_array_equal(cv2.imread(path)[..., ::-1], expected)


def test_a_gif_frame_outside_its_canvas_is_refused_by_name(tmp_path):
    from keras_pose.data.images import ImageReadError
    path, _, _ = _gif(tmp_path, "spill.gif", canvas=(70, 50), offset=(10, 7))
    assert cv2.imread(path) is None
    with pytest.raises(ImageReadError, match=r"spill.gif: a GIF whose first frame lies outside "
                                             r"its canvas .*re-save it"):
        read_image(path)


def test_a_framed_gif_in_the_training_and_serving_graph(tmp_path):
    import tensorflow as tf
    from keras_pose.data.decoding import decode_image_tf
    path, _, _ = _gif(tmp_path, "framed.gif", canvas=(80, 60), offset=(16, 12), background=9,
                      transparent=int(_corner_index()))
    decode = tf.function(lambda p: decode_image_tf(tf.io.read_file(p)))
    np.testing.assert_array_equal(decode(tf.constant(path)).numpy(), cv2.imread(path)[..., ::-1])
