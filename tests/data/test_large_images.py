"""Photos larger than a decoder takes (a 200 MP phone photo): named with
their size, never called corrupt; their EXIF orientation read whatever the
size. The large photos are small JPEGs whose header (SOF) says a larger
size: each decoder reads the header, and refuses or reads it, before any
pixel (nothing of 600 MB is made)."""

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from keras_pose.data.images import ImageReadError, decode_image, exif_orientation


def _jpeg(width=40, height=20, orientation=None) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _claiming(data: bytes, width: int, height: int) -> bytes:
    """``data`` with its frame header (SOF0) saying ``width`` x ``height``."""
    at = 2
    while data[at + 1] != 0xC0:  # Each segment: FF, marker, 2-byte length (itself included).
        at += 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return (data[:at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big")
            + data[at + 9:])


def test_a_jpeg_above_tensorflows_limit_is_named_with_its_size_not_called_corrupt():
    """16320 x 12240 (a 200 MP phone photo): TF's decoder refuses 2^29
    bytes of RGB or more (its "Image too large" in the log only), and the
    photo was skipped as "corrupt, truncated or not an image"."""
    with pytest.raises(ImageReadError) as error:
        decode_image(_claiming(_jpeg(), 16320, 12240), "phone.jpg")
    assert str(error.value) == (
        "phone.jpg: 16320 x 12240 pixels (199.8 MP) is above TensorFlow's JPEG decoder limit "
        "(about 179.0 MP): downscale it (to 8160 x 6120, say)")


def test_the_size_limit_is_read_from_the_header():
    from keras_pose.data.images import jpeg_too_large
    data = _jpeg(40, 20)
    assert jpeg_too_large(data, max_bytes=40 * 20 * 3 + 1) == ""
    assert jpeg_too_large(data, max_bytes=40 * 20 * 3).startswith(
        "40 x 20 pixels (0.0 MP) is above TensorFlow's JPEG decoder limit")
    png = io.BytesIO()
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(png, "PNG")
    assert jpeg_too_large(png.getvalue(), max_bytes=3) == ""  # Not a JPEG.
    assert jpeg_too_large(data[:3], max_bytes=3) == ""  # No header to read.


@pytest.mark.parametrize("width,height", [(12000, 8000), (16320, 12240)])
def test_the_orientation_of_a_photo_above_pillows_limit_is_read_without_a_warning(
        width, height):
    """Pillow's bomb check warned for each 89-179 MP photo and raised above
    179 MP, where the orientation became 1 (a portrait photo lay on its side)."""
    from PIL import Image as pillow
    limit = pillow.MAX_IMAGE_PIXELS
    data = _claiming(_jpeg(orientation=6), width, height)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert exif_orientation(data) == 6
    assert [str(w.message) for w in caught] == []
    assert pillow.MAX_IMAGE_PIXELS == limit  # Pillow's own limit back for everyone else.
