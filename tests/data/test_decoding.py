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
