"""The one image-decoding policy, with errors that name the file.

Every path decodes with the same decoder, TensorFlow's
(:func:`keras_pose.data.decoding.decode_image_tf`: JPEG with the accurate
integer IDCT, pixel-identical to OpenCV's ``imread`` on valid files, and
PNG/BMP/GIF/WebP): training (in ``tf.data``; unreadable images are skipped and
counted), evaluation (in ``tf.data``; an unreadable image is an error that
names it), prediction (here; skipped, reported and counted) and the exported
SavedModel (in the graph). So a file gets the same decision everywhere: TF
refuses JPEGs and PNGs cut short that OpenCV would half-decode (OpenCV 4),
and a corrupt JPEG with a duplicated SOF marker that OpenCV accepts. A JPEG
whose data is damaged but runs to its end marker (bit rot, a zeroed
stretch, a file cut short and given an end) decodes to its full size, the
damage in its pixels, as OpenCV and libjpeg decode it: only libjpeg's
"Corrupt JPEG data" lines on stderr, which name no file, tell.
Whole images in unusual formats are decoded as the reference's
``cv2.imread(IMREAD_COLOR)`` decodes them, pixel for pixel (tested): 16-bit
PNGs keep their top 8 bits, an alpha channel is dropped (not composited),
grey images are replicated into the three channels, a BMP with a colour
table (1, 4 or 8 bits) gets its table's colours, a 32-bit BMP's colour masks
are honoured, a GIF's first frame is placed on its canvas (the background
colour around it and under its transparent pixels), a WebP's alpha is
dropped too; an animated WebP is refused (TF's decoder corrupted memory on
some, aborting the process). Formats no TF decoder reads (TIFF, AVIF, HEIC,
JPEG 2000, Netpbm, QOI, Sun raster, Radiance HDR; 16-bit, RLE and OS/2
BMPs) are refused by name, with the way out (:func:`unread_format`), not
called corrupt.
EXIF orientation is ignored by default, as in the reference (whose
annotations, like COCO's, are in the stored pixels' coordinates);
``upright=True`` turns a photo as its EXIF orientation tag says, as image
viewers show it (predict.py on a phone's photos: the people stand).
TF's JPEG decoder takes images below 2^29 bytes of RGB (about 179
megapixels): a larger one (a 200 MP phone photo) is refused with its size
(:func:`jpeg_too_large`), not called corrupt; a file above 512 MiB
(``MAX_IMAGE_FILE_BYTES``) is refused unread, a special file (a named pipe,
a device) with its kind.
"""

from __future__ import annotations

import io
import os
import threading
from typing import Sequence

import numpy as np
import tensorflow as tf

from keras_pose.data.decoding import (ANIMATED_WEBP, BMP_SCATTERED_MASKS, GIF_NO_IMAGE,
                                      GIF_OUTSIDE_CANVAS, WEBP_ANIMATION_FLAG, decode_image_tf)
from keras_pose.errors import UserError
from keras_pose.special_files import not_a_file


class ImageReadError(UserError, OSError):
    """An image that cannot be read; names the file and the reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def decode_image(data: bytes, source: str = "image") -> np.ndarray:
    """Decodes file bytes with the project's policy.

    Returns:
      (H, W, 3) uint8 RGB.

    Raises:
      ImageReadError: naming ``source`` when the bytes are not a whole image.
    """
    try:
        return decode_image_tf(tf.constant(data)).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError,
            tf.errors.DataLossError) as e:
        # TF prefixes "{{function_node ...}} "; keep the decoder's own words.
        text = str(e).split("}}")[-1].strip()
        reason = text.splitlines()[0] if text else type(e).__name__
        if is_animated_webp(data):
            raise ImageReadError(source, ANIMATED_WEBP) from e
        for refusal in GRAPH_REFUSALS:  # The graph's own words (a tf.debugging.Assert's).
            if refusal in str(e):
                raise ImageReadError(source, refusal) from e
        unread = unread_format(data)
        if unread:  # A whole image, perhaps, but no TF decoder reads it: "corrupt" would mislead.
            raise ImageReadError(source, unread) from e
        too_large = jpeg_too_large(data)
        if too_large:  # Was "corrupt" (TF says "Image too large" in its log only).
            raise ImageReadError(source, too_large) from e
        raise ImageReadError(source, f"cannot be decoded: corrupt, truncated or not an image "
                             f"({reason[:120]})") from e


# Refusals decode_image_tf states in the graph, told by their text.
GRAPH_REFUSALS = (BMP_SCATTERED_MASKS, GIF_NO_IMAGE, GIF_OUTSIDE_CANVAS)
CONVERT = "TensorFlow decodes JPEG, PNG, GIF, BMP and WebP only; convert it (to PNG, say)"
# An ISO base media file's brands (its "ftyp" box): AVIF's, then HEIF's.
_AVIF_BRANDS = (b"avif", b"avis")
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


def unread_format(data: bytes) -> str:
    """Why TF's decoders refuse an image in a format they do not read, told
    by its first bytes (what it is, and the way out); "" for any other file.
    Called once decoding failed: a file cut short gets the same words."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        kind = "a TIFF image"
    elif data[4:8] == b"ftyp":  # Box size, "ftyp", major brand, version, compatible brands.
        brands = [data[i:i + 4] for i in range(8, min(int.from_bytes(data[:4], "big"), 64), 4)]
        kind = ("an AVIF image" if any(b in _AVIF_BRANDS for b in brands)
                else "a HEIF (HEIC) image" if any(b in _HEIF_BRANDS for b in brands) else "")
    elif data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or data[:4] == b"\xff\x4f\xff\x51":
        kind = "a JPEG 2000 image"
    elif len(data) > 2 and data[0:1] == b"P" and data[1] in b"1234567Ff" and data[2] in b" \t\r\n":
        kind = f"a Netpbm image (P{chr(data[1])}: PBM, PGM, PPM, PAM or PFM)"
    elif data[:4] in (b"qoif", b"\x59\xa6\x6a\x95") or data.startswith((b"#?RADIANCE", b"#?RGBE")):
        kind = {b"qoif": "a QOI image", b"\x59\xa6\x6a\x95": "a Sun raster image"}.get(
            data[:4], "a Radiance HDR image")
    elif data[:2] == b"BM" and len(data) >= 34:
        return _unread_bmp(data)
    else:
        return ""
    return f"{kind}: {CONVERT}" if kind else ""


def _unread_bmp(data: bytes) -> str:
    """Why TF's BMP decoder refuses a BMP of a kind it does not read; "" for
    another (a BMP cut short: corrupt)."""
    header, bits = int.from_bytes(data[14:18], "little"), int.from_bytes(data[28:30], "little")
    compression = int.from_bytes(data[30:34], "little")
    kind = ("an OS/2 BMP (12-byte header)" if header == 12
            else f"an RLE-compressed BMP ({bits}-bit)" if compression in (1, 2)
            else "a BMP holding a JPEG or PNG" if compression in (4, 5)
            else "a 16-bit BMP" if bits == 16 else "")
    return (f"{kind}, which TensorFlow's BMP decoder does not read (uncompressed BMPs of 1, 4, 8, "
            "24 or 32 bits it does); convert it (to PNG, say)") if kind else ""


# TensorFlow's JPEG decoder refuses an image of 2^29 bytes or more as RGB
# (jpeg_mem.cc's "Image too large"): width * height * 3 >= 536870912.
TF_JPEG_MAX_BYTES = 2 ** 29


def jpeg_too_large(data: bytes, max_bytes: int = TF_JPEG_MAX_BYTES) -> str:
    """Why TensorFlow's JPEG decoder refuses ``data`` for its size: its width
    and height (read from the header, nothing decoded) and the way out; ""
    when it is not a JPEG whose header gives a size of ``max_bytes`` or more
    as RGB."""
    if data[:3] != b"\xff\xd8\xff":  # What tf.io.is_jpeg checks.
        return ""
    try:
        height, width = (int(n) for n in tf.io.extract_jpeg_shape(data)[:2])
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError, tf.errors.DataLossError):
        return ""  # No size in the header: corrupt.
    if width * height * 3 < max_bytes:
        return ""
    return (f"{width} x {height} pixels ({width * height / 1e6:.1f} MP) is above TensorFlow's "
            f"JPEG decoder limit (about {max_bytes / 3 / 1e6:.1f} MP): downscale it (to "
            f"{width // 2} x {height // 2}, say)")


def is_animated_webp(data: bytes) -> bool:
    """Whether file bytes are an animated WebP (as ``decode_image_tf`` tells)."""
    return (data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] == b"VP8X"
            and len(data) > 20 and bool(data[20] & WEBP_ANIMATION_FLAG))


class ImageArrayError(UserError, ValueError):
    """An array given as an image that is not (H, W, 3) uint8 RGB."""


def _image_hint(image: np.ndarray) -> str:
    """How to get an (H, W, 3) uint8 RGB image from what was given."""
    if image.dtype.kind == "O" and image.ndim == 0 and image.item() is None:
        # Was "a file's path: read it first": None is what cv2.imread returns
        # for a file it cannot read.
        return ("; the image is None (cv2.imread returns None for a file it cannot read: "
                "check the path, or use read_image(path), which says why)")
    if image.dtype.kind == "S":
        return "; encoded bytes: decode them first, e.g. decode_image(data)"
    if image.dtype.kind == "U" or (image.dtype.kind == "O" and image.ndim == 0):
        return "; a file's path: read it first, read_image(path, upright=True)"
    if image.ndim == 4 and image.shape[0] == 1:
        return "; a batch of one: give image[0]"
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return "; grey: convert it, e.g. cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)"
    if image.ndim == 3 and image.shape[2] == 4:
        return "; RGBA: drop alpha, e.g. cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)"
    if image.dtype.kind == "f" and image.ndim == 3:
        return ("; floats: scale them to 0..255 and round, e.g. (image * 255).round()"
                ".astype(np.uint8) for 0..1")
    if image.dtype != np.uint8 and image.ndim == 3:
        return "; convert it to uint8 (0..255)"
    return ""


def check_rgb_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``image`` as an array, checked to be a non-empty (H, W, 3) uint8 RGB
    image (what :func:`read_image` returns).

    Raises:
      ImageArrayError: naming ``name``, the dtype and the shape, and the way
        to the right form.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageArrayError(f"{name} must be (H, W, 3) uint8 RGB, got {image.dtype} "
                              f"{image.shape}{_image_hint(image)}")
    if not image.shape[0] or not image.shape[1]:
        raise ImageArrayError(f"{name} is empty: {image.shape[0]} x {image.shape[1]} pixels")
    return image


# Held while Pillow's pixel limit is off (exif_orientation): two readers
# never restore each other's value.
_PILLOW_LIMIT_LOCK = threading.Lock()


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation tag (1-8) of image file bytes; 1 (as stored) when
    there is none or it cannot be read. Reads the header only (Pillow), for
    a photo of any size: Pillow's decompression-bomb check (a warning above
    89 MP, an error above 179 MP, the orientation then lost) guards pixels
    that are never decoded here, so it is off meanwhile."""
    from PIL import Image
    try:
        with _PILLOW_LIMIT_LOCK:
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(io.BytesIO(data)) as image:
                    value = image.getexif().get(0x0112, 1)
            finally:
                Image.MAX_IMAGE_PIXELS = limit
    except Exception:  # noqa: BLE001 -- any unreadable header: the pixels as stored.
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def to_upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """The image as a viewer shows it, given its EXIF orientation.

    Args:
      image: (H, W, C) as stored.
      orientation: the EXIF tag, 1-8 (TIFF 6.0's numbering: where the stored
        0th row and 0th column lie in the shown image).
    Returns:
      (H, W, C) for 1-4, (W, H, C) for 5-8.
    """
    if orientation in (5, 6, 7, 8):
        # 5: transpose; 6: 90 degrees clockwise; 7: transverse; 8: 90 anticlockwise.
        image = np.rot90(image, {5: 1, 6: -1, 7: -1, 8: 1}[orientation])
        if orientation in (5, 7):
            image = image[::-1]
    elif orientation in (2, 3, 4):
        image = {2: image[:, ::-1], 3: image[::-1, ::-1], 4: image[::-1]}[orientation]
    return np.ascontiguousarray(image)


# The largest image file read (bytes). TensorFlow takes no file of 2 GiB or
# more (tf.constant crashed the process) and its decoding held about 6 times a
# file's size (a 1 GB file: 6 GB); a 20 GB one was a MemoryError that ended
# the run. Its JPEG decoder's bound, 2^29 bytes of RGB pixels (179 MP), bounds
# a decodable photo's file too: compressed, a photo's file is a fraction of
# its pixels, and an uncompressed BMP of that many pixels about that size.
MAX_IMAGE_FILE_BYTES = 2 ** 29


def too_large_file(size: int) -> str:
    """Why a file of ``size`` bytes is not read as an image."""
    return (f"too large to read as an image ({size:,} bytes, above the bound of "
            f"{MAX_IMAGE_FILE_BYTES // 2 ** 20} MiB: TensorFlow decodes photos of 179 MP at "
            "most, whose files are far smaller): not an image (a copy cut short on a sparse "
            "disk?), or downscale it")


def read_image_and_orientation(path: str, upright: bool = False) -> tuple[np.ndarray, int]:
    """(H, W, 3) uint8 RGB of an image file, and its EXIF orientation (1-8).

    Args:
      path: the file.
      upright: turn the pixels as the orientation says (else as stored).
    Raises:
      ImageReadError: a missing or unreadable file, or one that is not a
        whole decodable image.
    """
    if not os.path.isfile(path):  # A named pipe's open waited for its writer.
        raise ImageReadError(path, "a folder, not an image file" if os.path.isdir(path)
                             else not_a_file(path) or "file does not exist")
    try:
        with open(path, "rb") as f:  # Never past the bound (a file growing meanwhile).
            size = os.fstat(f.fileno()).st_size
            data = f.read(MAX_IMAGE_FILE_BYTES + 1) if size <= MAX_IMAGE_FILE_BYTES else b""
    except OSError as e:
        raise ImageReadError(path, f"cannot be read ({e.strerror or e})") from e
    if max(size, len(data)) > MAX_IMAGE_FILE_BYTES:
        raise ImageReadError(path, too_large_file(max(size, len(data))))
    image, orientation = decode_image(data, path), exif_orientation(data)
    return (to_upright(image, orientation) if upright else image), orientation


def read_image(path: str, upright: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file: as stored, or ``upright`` (turned
    as its EXIF orientation says; :func:`read_image_and_orientation`)."""
    return read_image_and_orientation(path, upright)[0]


def unreadable_reason(path: str) -> str:
    """Why :func:`read_image` refuses ``path`` (an animated WebP, a TIFF,
    corrupt...), for the paths that decode in ``tf.data``, whose error says
    only that a file failed."""
    try:
        read_image(path)
    except ImageReadError as e:
        return e.reason
    return "cannot be read or decoded"


def unreadable_images_error(bad: Sequence[str], among: str, fix: str = "") -> ImageReadError:
    """The error naming the unreadable files ``bad`` (the first one's reason:
    an animated WebP's, a TIFF's...) ``among`` (``"the evaluation images"``),
    then ``fix`` (``"; replace them ..."``)."""
    return ImageReadError(bad[0], f"{unreadable_reason(bad[0])} ({len(bad)} such image(s) among "
                                  f"{among}: {', '.join(bad[:5])}){fix}")


def find_unreadable_images(paths: Sequence[str], limit: int = 5) -> list[str]:
    """The first ``limit`` distinct files among ``paths`` that
    :func:`read_image` refuses. Reads every image until it has found
    ``limit``: run it only after a failure, to name the culprits."""
    bad = []
    for path in dict.fromkeys(str(p) for p in paths):
        try:
            read_image(path)
        except ImageReadError:
            bad.append(path)
            if len(bad) >= limit:
                break
    return bad
