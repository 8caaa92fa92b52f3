"""Reading images with errors that name the file."""

from __future__ import annotations

import os

import cv2
import numpy as np


class ImageReadError(OSError):
    """An image that cannot be read; names the file and the reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_image(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB, EXIF orientation ignored (as the reference).

    Raises:
      ImageReadError: a missing file, or one that is not a decodable image.
    """
    if not os.path.isfile(path):
        raise ImageReadError(path, "file does not exist")
    image = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ImageReadError(path, "cannot be decoded (corrupt or not an image)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
