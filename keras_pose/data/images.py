"""The one image-decoding policy, with errors that name the file.

Every path decodes with the same decoder, TensorFlow's
(:func:`keras_pose.data.transforms.decode_image_tf`: JPEG with the accurate
integer IDCT, pixel-identical to OpenCV's ``imread`` on valid files, and
PNG/BMP/GIF): training (in ``tf.data``; unreadable images are skipped and
counted), evaluation (in ``tf.data``; an unreadable image is an error that
names it), prediction (here; skipped, reported and counted) and the exported
SavedModel (in the graph). So a file gets the same decision everywhere: TF
refuses truncated or corrupt JPEGs and PNGs that OpenCV would half-decode
(OpenCV 4) or accept (a corrupt JPEG with a duplicated SOF marker).
Whole images in unusual formats are decoded as the reference's
``cv2.imread(IMREAD_COLOR)`` decodes them, pixel for pixel (tested): 16-bit
PNGs keep their top 8 bits, an alpha channel is dropped (not composited),
grey images are replicated into the three channels.
EXIF orientation is ignored, as in the reference.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from keras_pose.data.transforms import decode_image_tf
from keras_pose.errors import UserError


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
        raise ImageReadError(source, f"cannot be decoded: corrupt, truncated or not an image "
                             f"({reason[:120]})") from e


def read_image(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (EXIF orientation ignored).

    Raises:
      ImageReadError: a missing or unreadable file, or one that is not a
        whole decodable image.
    """
    if not os.path.isfile(path):
        raise ImageReadError(path, "file does not exist")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageReadError(path, f"cannot be read ({e.strerror or e})") from e
    return decode_image(data, path)


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
