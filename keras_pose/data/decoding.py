"""The one image decoder: encoded file bytes to (H, W, 3) uint8 RGB in TF ops.

Training's ``tf.data`` pipeline, evaluation, prediction
(:mod:`keras_pose.data.images`) and the exported SavedModel's graph all
decode with :func:`decode_image_tf`, so a file gets the same pixels and the
same refusal everywhere. TensorFlow's own decoders do the work, with these
corrections, each to OpenCV's ``imread`` (the reference's decoder): JPEGs
with the accurate integer IDCT (OpenCV's), a WebP's alpha dropped and an
animated WebP refused, a BMP with a colour table (1, 4 or 8 bits per pixel)
looked up in it (TF's BMP decoder returns the indices of an 8-bit one as grey
levels, and refuses 1 and 4 bits), a 32-bit BMP's colour masks honoured (TF
ignores them: red and blue came out swapped in an RGBX file) and a GIF's
first frame composed on its canvas as OpenCV composes it.
"""

from __future__ import annotations

import tensorflow as tf


def decode_image_tf(data: tf.Tensor) -> tf.Tensor:
    """Decodes JPEG/PNG/BMP/GIF/WebP bytes to (H, W, 3) uint8 RGB.

    JPEGs use the accurate integer IDCT, which is what OpenCV (and so the
    reference's training) decodes with; TF's default fast IDCT differs by
    about one grey level.
    """
    return tf.case([
        (tf.io.is_jpeg(data),
         lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")),
        (is_webp_tf(data), lambda: _decode_webp_tf(data)),
        (is_palette_bmp_tf(data), lambda: _decode_palette_bmp_tf(data)),
        (is_bitfields_bmp_tf(data), lambda: _decode_bitfields_bmp_tf(data)),
        (is_gif_tf(data), lambda: _decode_gif_tf(data)),
    ], default=lambda: tf.io.decode_image(data, channels=3, expand_animations=False))


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
# number of colours sit at fixed offsets; the red, green and blue masks of
# bit fields follow the first 40 bytes, inside a longer header or after a
# 40-byte one.
_BMP_PIXELS_AT, _BMP_HEADER_SIZE_AT, _BMP_WIDTH_AT, _BMP_HEIGHT_AT = 10, 14, 18, 22
_BMP_BITS_AT, _BMP_COMPRESSION_AT, _BMP_COLORS_AT, _BMP_MASKS_AT = 28, 30, 46, 54
_BMP_HEADERS = 54
# Compressions: bit fields (masks: R, G, B) and alpha bit fields (R, G, B, A).
BMP_BITFIELDS, BMP_ALPHABITFIELDS = 3, 6
# Masks of 0 stand for these (OpenCV's reading): R, G, B in bytes 2, 1, 0.
_BMP_DEFAULT_MASKS = (0x00FF0000, 0x0000FF00, 0x000000FF)
BMP_SCATTERED_MASKS = ("a BMP whose colour masks are not runs of bits, which OpenCV reads "
                       "differently; convert it (to PNG, say)")


def _bmp_int(data: tf.Tensor, at: int, dtype: tf.DType = tf.int32) -> tf.Tensor:
    """The little-endian integer of ``dtype`` at byte ``at`` (an int32 scalar)."""
    size = dtype.size
    return tf.cast(tf.io.decode_raw(tf.strings.substr(data, at, size), dtype)[0], tf.int32)


def _is_bmp_tf(data: tf.Tensor, kind, min_length: int = _BMP_HEADERS) -> tf.Tensor:
    """Whether encoded bytes are a BMP of ``min_length`` bytes or more for
    which ``kind(header size, bits per pixel, compression)`` holds (a bool
    scalar; the header is read only when the file is that long)."""
    def test():
        return kind(_bmp_int(data, _BMP_HEADER_SIZE_AT), _bmp_int(data, _BMP_BITS_AT, tf.uint16),
                    _bmp_int(data, _BMP_COMPRESSION_AT))
    return tf.cond((tf.strings.length(data) >= min_length)
                   & (tf.strings.substr(data, 0, 2, unit="BYTE") == b"BM"),
                   test, lambda: tf.constant(False))


def is_palette_bmp_tf(data: tf.Tensor) -> tf.Tensor:
    """Whether encoded bytes are an uncompressed BMP of 1, 4 or 8 bits per
    pixel with a colour table (a bool scalar)."""
    return _is_bmp_tf(data, lambda header, bits, compression: (
        (header >= 40) & (compression == 0) & ((bits == 1) | (bits == 4) | (bits == 8))))


def is_bitfields_bmp_tf(data: tf.Tensor) -> tf.Tensor:
    """Whether encoded bytes are a 32-bit BMP whose colour masks count (a
    bool scalar): bit fields in a header of 56 bytes or more (OpenCV ignores
    the masks after a 40-byte one, as TF does), or alpha bit fields (which
    OpenCV refuses; their masks are the format's meaning)."""
    return _is_bmp_tf(data, lambda header, bits, compression: (bits == 32) & (
        ((compression == BMP_BITFIELDS) & (header >= 56))
        | ((compression == BMP_ALPHABITFIELDS) & (header >= 40))), _BMP_MASKS_AT + 12)


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


def _decode_bitfields_bmp_tf(data: tf.Tensor) -> tf.Tensor:
    """(H, W, 3) uint8 RGB of a 32-bit BMP with colour masks, as OpenCV reads
    one: a channel is (pixel & mask) >> (the mask's lowest set bit), scaled
    from the mask's width to 8 bits (v * 255 // (2^bits - 1): 8-bit masks
    pick bytes); any mask of 0 means the usual masks. A mask that is not one
    run of bits is refused. TF's decoder reads the pixels (rows, order,
    padding) but takes bytes 2, 1, 0 as R, G, B whatever the masks say, so
    the 32-bit words are put back together from its 4 channels."""
    rgba = tf.cast(tf.ensure_shape(tf.io.decode_bmp(data, channels=4), [None, None, 4]), tf.int64)
    words = rgba[..., 2] + rgba[..., 1] * 2 ** 8 + rgba[..., 0] * 2 ** 16 + rgba[..., 3] * 2 ** 24
    masks = tf.cast(tf.bitcast(tf.io.decode_raw(tf.strings.substr(data, _BMP_MASKS_AT, 12),
                                                tf.int32), tf.uint32), tf.int64)  # (3,) RGB
    masks = tf.where(tf.reduce_any(masks == 0), tf.constant(_BMP_DEFAULT_MASKS, tf.int64), masks)
    lowest_bit = tf.bitwise.bitwise_and(masks, -masks)
    offsets = tf.cast(tf.raw_ops.PopulationCount(x=lowest_bit - 1), tf.int64)
    top = tf.bitwise.left_shift(tf.constant(1, tf.int64),
                                tf.cast(tf.raw_ops.PopulationCount(x=masks), tf.int64)) - 1
    runs = tf.reduce_all(tf.bitwise.right_shift(masks, offsets) == top)
    with tf.control_dependencies([tf.debugging.Assert(runs, [BMP_SCATTERED_MASKS])]):
        values = tf.bitwise.right_shift(tf.bitwise.bitwise_and(words[..., None], masks), offsets)
    return tf.cast(values * 255 // top, tf.uint8)


# GIF: "GIF87a"/"GIF89a", the logical screen (width, height: 16-bit little
# endian; flags: a global colour table of 2^(n + 1) entries if bit 7; the
# background's index), the global table, extensions (0x21, a label, then
# sub-blocks of a length byte and that many bytes, ended by a 0), the first
# image descriptor (0x2C, left, top, width, height, flags: a local table as
# above). A Graphic Control Extension (label 0xF9: 4, packed fields whose bit
# 0 says the next byte but two is a transparent index) applies to it.
GIF_OUTSIDE_CANVAS = ("a GIF whose first frame lies outside its canvas (corrupt; OpenCV refuses it "
                      "too): re-save it (as PNG, say)")
GIF_NO_IMAGE = "a GIF with no image after its header and extensions (corrupt)"
_SINGLE_BYTES = tuple(bytes([value]) for value in range(256))


def is_gif_tf(data: tf.Tensor) -> tf.Tensor:
    """Whether encoded bytes are a GIF (a bool scalar; what TF's decoder checks)."""
    return tf.strings.substr(data, 0, 4) == b"GIF8"


def _gif_first_image_tf(raw: tf.Tensor, at: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Where the first image descriptor of ``raw`` ((N,) uint8) starts, the
    extensions from ``at`` skipped, and where the last Graphic Control
    Extension before it starts (-1: none). A file cut short fails an index."""
    def skip_sub_blocks(position):
        end, = tf.while_loop(lambda q: raw[q] != 0,
                             lambda q: (q + tf.cast(raw[q], tf.int32) + 1,), (position,))
        return end + 1

    def extension(position, control):
        control = tf.where(raw[position + 1] == 0xF9, position, control)
        return skip_sub_blocks(position + 2), control
    return tuple(tf.while_loop(lambda position, _: raw[position] == 0x21, extension,
                               (at, tf.constant(-1))))


def _replace_tf(data: tf.Tensor, at: tf.Tensor, patch: tf.Tensor, where: tf.Tensor, size: int):
    """``data`` with its ``size`` bytes at ``at`` replaced by ``patch`` when ``where``."""
    patch = tf.where(where, patch, tf.strings.substr(data, at, size))
    return tf.strings.join([tf.strings.substr(data, 0, at), patch,
                            tf.strings.substr(data, at + size, tf.strings.length(data))])


def _decode_gif_tf(data: tf.Tensor) -> tf.Tensor:
    """(H, W, 3) uint8 RGB of a GIF's first frame as OpenCV composes it: the
    (H, W) logical screen in the background colour (black without a global
    table), the frame drawn at its offset, its transparent pixels left as the
    background. TF's decoder sized the image to the frame, drew the frame at
    its offset inside that (the bottom right lost) and made transparent
    pixels black; so the bytes are patched for it (the frame at (0, 0), no
    transparency, the transparent index's table colour the background's)
    and its frame placed on the screen."""
    raw = tf.io.decode_raw(data, tf.uint8)
    byte = lambda at: tf.cast(raw[at], tf.int32)  # noqa: E731
    word = lambda at: byte(at) + 256 * byte(at + 1)  # noqa: E731
    width, height, flags, background = word(6), word(8), byte(10), byte(11)
    global_size = tf.where(flags >= 128, 2 ** (flags % 8 + 1), 0)
    image, control = _gif_first_image_tf(raw, 13 + 3 * global_size)
    left, top = word(image + 1), word(image + 3)
    frame_width, frame_height = word(image + 5), word(image + 7)
    local_flags = byte(image + 9)
    table_at = tf.where(local_flags >= 128, image + 10, 13)
    table_size = tf.where(local_flags >= 128, 2 ** (local_flags % 8 + 1), global_size)
    packed, transparent = byte(tf.maximum(control, 0) + 3), byte(tf.maximum(control, 0) + 6)
    has_transparent = (control >= 0) & (packed % 2 == 1)
    colour = tf.where(background < global_size, tf.strings.substr(data, 13 + 3 * background, 3),
                      b"\0\0\0")
    with tf.control_dependencies([
            tf.debugging.Assert(byte(image) == 0x2C, [GIF_NO_IMAGE]),
            tf.debugging.Assert((left + frame_width <= width) & (top + frame_height <= height),
                                [GIF_OUTSIDE_CANVAS])]):
        patched = _replace_tf(data, image + 1, b"\0\0\0\0", True, 4)
    patched = _replace_tf(patched, control + 3, tf.gather(_SINGLE_BYTES, packed - packed % 2),
                          control >= 0, 1)
    patched = _replace_tf(patched, table_at + 3 * transparent, colour,
                          has_transparent & (transparent < table_size), 3)
    frame = tf.io.decode_gif(patched)[0, :frame_height, :frame_width]
    padding = [[top, height - top - frame_height], [left, width - left - frame_width]]
    inside = tf.pad(tf.ones([frame_height, frame_width, 1], tf.bool), padding + [[0, 0]])
    screen = tf.where(inside, tf.pad(frame, padding + [[0, 0]]),
                      tf.io.decode_raw(colour, tf.uint8))
    return tf.ensure_shape(screen, [None, None, 3])
