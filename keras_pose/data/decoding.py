"""The one image decoder: encoded file bytes to (H, W, 3) uint8 RGB in TF ops.

Training's ``tf.data`` pipeline, evaluation, prediction
(:mod:`keras_pose.data.images`) and the exported SavedModel's graph all
decode with :func:`decode_image_tf`, so a file gets the same pixels and the
same refusal everywhere. TensorFlow's own decoders do the work, with three
corrections: JPEGs with the accurate integer IDCT (OpenCV's), a WebP's alpha
dropped and an animated WebP refused, and a BMP with a colour table (1, 4 or
8 bits per pixel) looked up in it (TF's BMP decoder returns the indices of
an 8-bit one as grey levels, and refuses 1 and 4 bits).
"""

from __future__ import annotations

import tensorflow as tf


def decode_image_tf(data: tf.Tensor) -> tf.Tensor:
    """Decodes JPEG/PNG/BMP/GIF/WebP bytes to (H, W, 3) uint8 RGB.

    JPEGs use the accurate integer IDCT, which is what OpenCV (and so the
    reference's training) decodes with; TF's default fast IDCT differs by
    about one grey level.
    """
    return tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.cond(is_webp_tf(data), lambda: _decode_webp_tf(data),
                        lambda: tf.cond(is_palette_bmp_tf(data), lambda: _decode_palette_bmp_tf(data),
                                        lambda: tf.io.decode_image(data, channels=3,
                                                                   expand_animations=False))))


# WebP: "RIFF", size, "WEBP"; an extended file's "VP8X" chunk has its flags
# at byte 20, 0x02 meaning an animation.
WEBP_ANIMATION_FLAG = 0x02
ANIMATED_WEBP = ("an animated WebP, which TensorFlow's decoder cannot read safely (it corrupts "
                 "memory on some); convert its first frame (to PNG, say)")


def is_webp_tf(data: tf.Tensor) -> tf.Tensor:
    """Whether encoded bytes are a WebP file (a bool scalar)."""
    # substr fails past the end: a short file is left to the decoder's error.
    return tf.cond(tf.strings.length(data) >= 12,
                   lambda: tf.logical_and(tf.strings.substr(data, 0, 4) == b"RIFF",
                                          tf.strings.substr(data, 8, 4) == b"WEBP"),
                   lambda: tf.constant(False))


def _decode_webp_tf(data: tf.Tensor) -> tf.Tensor:
    """(H, W, 3) uint8 of a still WebP, its alpha dropped (TF's decoder
    refused 3 channels of one with alpha: "corrupt"); an animation is
    refused, as TF's decoder aborted the process on some."""
    flags = tf.cond(tf.strings.length(data) > 20,
                    lambda: tf.io.decode_raw(tf.strings.substr(data, 20, 1), tf.uint8)[0]
                    * tf.cast(tf.strings.substr(data, 12, 4) == b"VP8X", tf.uint8),
                    lambda: tf.constant(0, tf.uint8))
    animated = tf.bitwise.bitwise_and(flags, WEBP_ANIMATION_FLAG) > 0
    with tf.control_dependencies([tf.debugging.Assert(tf.logical_not(animated),
                                                      [ANIMATED_WEBP])]):
        image = tf.io.decode_image(data, channels=0, expand_animations=False)
    return tf.ensure_shape(image[..., :3], [None, None, 3])


# A BMP's file header (14 bytes) and its information header (40 bytes or
# more: BITMAPINFOHEADER and its successors; the 12-byte OS/2 header is left
# to TF's decoder): width, height, bits per pixel, compression and the
# number of colours sit at fixed offsets.
_BMP_PIXELS_AT, _BMP_HEADER_SIZE_AT, _BMP_WIDTH_AT, _BMP_HEIGHT_AT = 10, 14, 18, 22
_BMP_BITS_AT, _BMP_COMPRESSION_AT, _BMP_COLORS_AT = 28, 30, 46
_BMP_HEADERS = 54


def _bmp_int(data: tf.Tensor, at: int, dtype: tf.DType = tf.int32) -> tf.Tensor:
    """The little-endian integer of ``dtype`` at byte ``at`` (an int32 scalar)."""
    size = dtype.size
    return tf.cast(tf.io.decode_raw(tf.strings.substr(data, at, size), dtype)[0], tf.int32)


def is_palette_bmp_tf(data: tf.Tensor) -> tf.Tensor:
    """Whether encoded bytes are an uncompressed BMP of 1, 4 or 8 bits per
    pixel with a colour table (a bool scalar)."""
    def palette_bmp():
        header = _bmp_int(data, _BMP_HEADER_SIZE_AT)
        bits = _bmp_int(data, _BMP_BITS_AT, tf.uint16)
        return ((header >= 40) & (_bmp_int(data, _BMP_COMPRESSION_AT) == 0)
                & ((bits == 1) | (bits == 4) | (bits == 8)))
    return tf.cond((tf.strings.length(data) >= _BMP_HEADERS)
                   & (tf.strings.substr(data, 0, 2, unit="BYTE") == b"BM"),
                   palette_bmp, lambda: tf.constant(False))


def _decode_palette_bmp_tf(data: tf.Tensor) -> tf.Tensor:
    """(H, W, 3) uint8 RGB of an uncompressed 1-, 4- or 8-bit BMP: each
    pixel's index looked up in the colour table (B, G, R, 0 entries; an index
    past the table's end is black). Rows are stored bottom-up unless the
    height is negative, each padded to a multiple of 4 bytes; the leftmost
    pixel sits in a byte's high bits. A file cut short fails the reshape."""
    bits = _bmp_int(data, _BMP_BITS_AT, tf.uint16)
    width, height = _bmp_int(data, _BMP_WIDTH_AT), _bmp_int(data, _BMP_HEIGHT_AT)
    rows, stride = tf.abs(height), (width * bits + 31) // 32 * 4
    colors = _bmp_int(data, _BMP_COLORS_AT)
    colors = tf.where((colors <= 0) | (colors > 2 ** bits), 2 ** bits, colors)
    table = tf.io.decode_raw(tf.strings.substr(
        data, _BMP_HEADER_SIZE_AT + _bmp_int(data, _BMP_HEADER_SIZE_AT), 4 * colors), tf.uint8)
    table = tf.reshape(table, [colors, 4])[:, 2::-1]  # BGR0 -> RGB.
    table = tf.pad(table, [[0, 256 - colors], [0, 0]])
    stored = tf.io.decode_raw(tf.strings.substr(data, _bmp_int(data, _BMP_PIXELS_AT),
                                                stride * rows), tf.uint8)
    stored = tf.cast(tf.reshape(stored, [rows, stride]), tf.int32)
    per_byte = 8 // bits
    shifts = 8 - bits * (tf.range(per_byte) + 1)  # High bits first.
    indices = tf.bitwise.bitwise_and(tf.bitwise.right_shift(stored[..., None], shifts),
                                     2 ** bits - 1)
    indices = tf.reshape(indices, [rows, stride * per_byte])[:, :width]
    indices = tf.cond(height > 0, lambda: indices[::-1], lambda: indices)
    return tf.ensure_shape(tf.gather(table, indices), [None, None, 3])
