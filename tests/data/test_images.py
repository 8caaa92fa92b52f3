"""keras_pose.data.images beyond decoding (tests/training/test_unreadable_images.py):
EXIF orientation, photos turned as viewers show them (``upright=True``) or
kept as stored (the reference's rule, and the default), with OpenCV's
``imread``, which applies the tag itself, as the oracle; TIFFs named as such."""

import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from keras_pose.data.images import exif_orientation, read_image, read_image_and_orientation


def _photo(path, orientation, size=(48, 80)):
    """A JPEG of asymmetric blocks (no turn or mirror maps it onto itself)
    tagged with ``orientation`` (None: no EXIF at all)."""
    pixels = np.zeros((*size, 3), np.uint8)
    pixels[:10, :20] = 255
    pixels[30:, 60:, 1] = 200
    pixels[5:20, 50:70, 2] = 120
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif, quality=95)
    return str(path)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_photos_are_what_opencv_shows(orientation, tmp_path):
    path = _photo(tmp_path / "photo.jpg", orientation)
    image, found = read_image_and_orientation(path, upright=True)
    assert found == orientation
    shown = cv2.imread(path, cv2.IMREAD_COLOR)[..., ::-1]
    assert image.shape == shown.shape == ((80, 48, 3) if orientation >= 5 else (48, 80, 3))
    np.testing.assert_array_equal(image, shown)
    # The default keeps the stored pixels, as the reference reads them.
    stored = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[..., ::-1]
    np.testing.assert_array_equal(read_image(path), stored)
    assert read_image(path).shape == (48, 80, 3)


@pytest.mark.parametrize("orientation", [None, 0, 9, 300])
def test_no_tag_or_a_value_outside_1_to_8_keeps_the_stored_pixels(orientation, tmp_path):
    path = _photo(tmp_path / "photo.jpg", orientation)
    image, found = read_image_and_orientation(path, upright=True)
    assert found == 1
    np.testing.assert_array_equal(image, read_image(path))


def test_a_broken_exif_block_is_read_as_no_tag(tmp_path):
    good = open(_photo(tmp_path / "photo.jpg", 6), "rb").read()
    start = good.index(b"Exif\x00\x00")
    # The TIFF header's byte order and IFD offset destroyed, lengths kept.
    broken = good[:start + 6] + b"\xff" * 8 + good[start + 14:]
    assert exif_orientation(broken) == 1
    (tmp_path / "broken.jpg").write_bytes(broken)
    image, found = read_image_and_orientation(str(tmp_path / "broken.jpg"), upright=True)
    assert found == 1 and image.shape == (48, 80, 3)
    assert exif_orientation(b"not an image at all") == 1


def test_a_png_with_an_exif_chunk_is_turned_too(tmp_path):
    pixels = np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3)
    exif = Image.Exif()
    exif[0x0112] = 8  # 90 degrees anticlockwise
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", exif=exif)
    (tmp_path / "photo.png").write_bytes(buffer.getvalue())
    image, found = read_image_and_orientation(str(tmp_path / "photo.png"), upright=True)
    assert found == 8
    np.testing.assert_array_equal(image, np.rot90(pixels))


def test_a_tiff_is_named_as_such_not_called_corrupt(tmp_path):
    # TF has no TIFF decoder; the file is whole, so "corrupt" would mislead.
    from keras_pose.data.images import ImageReadError
    pixels = np.zeros((8, 8, 3), np.uint8)
    for name in ("scan.tif", "big_endian.tiff"):
        Image.fromarray(pixels).save(tmp_path / name)
    data = (tmp_path / "big_endian.tiff").read_bytes()
    (tmp_path / "big_endian.tiff").write_bytes(b"MM\x00*" + data[4:])  # magic only: still refused
    for name in ("scan.tif", "big_endian.tiff"):
        with pytest.raises(ImageReadError, match=f"{name}: a TIFF image: .*convert it"):
            read_image(str(tmp_path / name))


def test_a_webp_with_alpha_is_read_as_opencv_reads_it(tmp_path):
    # TF's decoder refused 3 channels of it: "corrupt", on every path.
    from tests import broken_images
    source = str(tmp_path / "photo.jpg")
    cv2.imwrite(source, np.random.default_rng(0).integers(0, 256, (30, 40, 3), np.uint8))
    path = broken_images.write_variant(source, str(tmp_path), "alpha", "webp_alpha")
    reference = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    np.testing.assert_array_equal(read_image(path), reference[..., ::-1])


def test_an_animated_webp_is_refused_by_name_in_python_and_in_graphs(tmp_path):
    # TF's decoder aborted the whole process on an animated WebP without
    # alpha ("double free or corruption"): training, evaluation, predict.py.
    import tensorflow as tf
    from keras_pose.data.images import ImageReadError
    from keras_pose.data.decoding import decode_image_tf
    from tests import broken_images
    pixels = np.random.default_rng(1).integers(0, 256, (20, 30, 3), np.uint8)
    path = tmp_path / "clip.webp"
    path.write_bytes(broken_images.animated_webp(pixels, frames=3))
    assert cv2.imread(str(path)).shape == (20, 30, 3)  # A real animation: OpenCV reads it.
    with pytest.raises(ImageReadError, match="clip.webp: an animated WebP, .*convert its first"):
        read_image(str(path))
    decode = tf.function(lambda p: decode_image_tf(tf.io.read_file(p)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="an animated WebP"):
        decode(tf.constant(str(path)))
    still = tmp_path / "still.webp"
    cv2.imwrite(str(still), pixels)
    assert decode(tf.constant(str(still))).shape == (20, 30, 3)


def test_a_folder_is_named_as_such(tmp_path):
    from keras_pose.data.images import ImageReadError
    with pytest.raises(ImageReadError, match="a folder, not an image file"):
        read_image(str(tmp_path))  # Was "file does not exist".
    with pytest.raises(ImageReadError, match="file does not exist"):
        read_image(str(tmp_path / "missing.jpg"))


@pytest.mark.parametrize("given, hint", [
    ("photo.jpg", "a file's path: read it first, read_image(path, upright=True)"),
    (__import__("pathlib").Path("photo.jpg"), "a file's path: read it first"),
    (b"\xff\xd8\xff", "encoded bytes: decode them first, e.g. decode_image(data)"),
    (np.zeros((1, 8, 8, 3), np.uint8), "a batch of one: give image[0]"),
    (np.zeros((8, 8), np.uint8), "grey: convert it, e.g. cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)"),
    (np.zeros((8, 8, 4), np.uint8), "RGBA: drop alpha, e.g. cv2.cvtColor(image, "
                                    "cv2.COLOR_RGBA2RGB)"),
    (np.zeros((8, 8, 3), np.float32), "floats: scale them to 0..255 and round, e.g. (image * "
                                      "255).round().astype(np.uint8)"),
    (np.zeros((8, 8, 3), np.int64), "convert it to uint8 (0..255)"),
])
def test_an_array_that_is_not_an_rgb_image_is_a_user_error_with_the_way_out(given, hint):
    """predict("photo.jpg") said "got <U9 ()"; every such mistake was a plain
    ValueError (the README: user errors are keras_pose.errors.UserError)."""
    from keras_pose.data.images import check_rgb_image
    from keras_pose.errors import UserError
    with pytest.raises(UserError, match=r"^image must be \(H, W, 3\) uint8 RGB, got .*; "
                       + re.escape(hint)):
        check_rgb_image(given)
    if given.__class__ is np.ndarray and given.shape[-1:] in ((4,), (8,)):  # The hint works.
        import cv2
        code = cv2.COLOR_RGBA2RGB if given.shape[-1] == 4 else cv2.COLOR_GRAY2RGB
        check_rgb_image(cv2.cvtColor(given, code))


def _photo_bgr(size=(160, 120)):
    import os
    from tests.conftest import DATA_DIR
    return cv2.resize(cv2.imread(os.path.join(DATA_DIR, "coco", "000000000785.jpg")), size)


def _bmp(bits, compression, pixels, header=40, table=b""):
    """A BMP of 160 x 120 with ``pixels`` as its data (the layout by the format)."""
    import struct
    if header == 12:  # OS/2: 16-bit width and height.
        info = struct.pack("<IHHHH", 12, 160, 120, 1, bits)
    else:
        info = struct.pack("<IiiHHIIiiII", 40, 160, 120, 1, bits, compression, len(pixels), 0, 0,
                           0, 0)
    offset = 14 + len(info) + len(table)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + table + pixels


def _unread_variant(kind):
    """Bytes of the photo in ``kind``, a format or BMP kind TF's decoders do
    not read (OpenCV reads each but TIFF's stand-ins)."""
    bgr = _photo_bgr()
    if kind in (".avif", ".jp2", ".ppm", ".pam", ".pfm", ".ras", ".hdr"):
        image = bgr.astype(np.float32) / 255 if kind in (".pfm", ".hdr") else bgr
        ok, data = cv2.imencode(kind, image)
        assert ok
        return bytes(data)
    if kind == ".pgm":
        return bytes(cv2.imencode(kind, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))[1])
    if kind == "bmp555":  # 5 bits each, blue lowest.
        b, g, r = (bgr[::-1, :, i].astype(np.uint16) >> 3 for i in range(3))
        return _bmp(16, 0, ((r << 10) | (g << 5) | b).astype("<u2").tobytes())
    if kind == "bmp_os2":
        return _bmp(24, 0, bgr[::-1].tobytes(), header=12)
    # RLE8: a colour table of greys, each row runs of one index, ended by 0 0; then 0 1.
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[::-1]
    table = b"".join(bytes([v, v, v, 0]) for v in range(256))
    rows = b"".join(b"".join(bytes([1, v]) for v in row) + b"\0\0" for row in grey)
    return _bmp(8, 1, rows + b"\0\1", table=table)


@pytest.mark.parametrize("kind, name", [
    (".avif", "an AVIF image"), (".jp2", "a JPEG 2000 image"),
    (".ppm", r"a Netpbm image \(P6"), (".pgm", r"a Netpbm image \(P5"),
    (".pam", r"a Netpbm image \(P7"), (".pfm", r"a Netpbm image \(PF"),
    (".ras", "a Sun raster image"), (".hdr", "a Radiance HDR image")])
def test_an_image_format_tf_does_not_read_is_named_not_called_corrupt(kind, name, tmp_path):
    from keras_pose.data.images import ImageReadError
    path = tmp_path / f"photo{kind}"
    path.write_bytes(_unread_variant(kind))
    assert cv2.imread(str(path)) is not None  # A whole image: OpenCV reads it.
    with pytest.raises(ImageReadError, match=f"photo{re.escape(kind)}: {name}.*: TensorFlow "
                       r"decodes JPEG, PNG, GIF, BMP and WebP only; convert it \(to PNG, say\)"):
        read_image(str(path))


@pytest.mark.parametrize("kind, name", [
    ("bmp555", "a 16-bit BMP"), ("bmp_os2", r"an OS/2 BMP \(12-byte header\)"),
    ("bmp_rle8", r"an RLE-compressed BMP \(8-bit\)")])
def test_a_bmp_kind_tf_does_not_read_is_named_not_called_corrupt(kind, name, tmp_path):
    from keras_pose.data.images import ImageReadError
    path = tmp_path / f"{kind}.bmp"
    path.write_bytes(_unread_variant(kind))
    assert cv2.imread(str(path)).shape == (120, 160, 3)
    with pytest.raises(ImageReadError, match=f"{kind}.bmp: {name}, which TensorFlow's BMP "
                       r"decoder does not read .*convert it \(to PNG, say\)"):
        read_image(str(path))
