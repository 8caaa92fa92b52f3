"""The inputs' pixels outside a run: every image and video frame in order,
the people a detector finds in them, and a few shrunk images, which
calibrate and judge an int8 or bf16 export (``predict.py --precision``,
``--detector_precision``); and a capture's frames as RGB."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import cv2
import numpy as np

from keras_pose.data.images import ImageReadError, read_image
from keras_pose.prediction.inputs import InputFile


def input_images(items: Sequence[InputFile], upright: bool = True
                 ) -> Iterator[tuple[InputFile, np.ndarray]]:
    """(input, image) of every input image and video frame in order, read
    lazily (photos ``upright`` as in :class:`PredictionRun`); unreadable
    inputs are skipped here (the run itself reports them)."""
    for item in items:
        if not item.is_video:
            try:
                yield item, read_image(item.path, upright)
            except ImageReadError:
                pass
            continue
        capture = cv2.VideoCapture(item.path)
        try:
            for _, frame in VideoFrames(capture):
                yield item, frame
        finally:
            capture.release()


def input_people(items: Sequence[InputFile], detector: Any, upright: bool = True
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image, boxes) of every input image and video frame in order, with
    the boxes the run's detector finds: the people that calibrate and check
    an int8 export when the data set is not on disk
    (``keras_pose.export.cache``)."""
    for item, image in input_images(items, upright):
        yield image, detector.detect(image, item.key).boxes


def calibration_images(items: Sequence[InputFile], count: int = 16,
                       max_side: int = 1280, upright: bool = True) -> list[np.ndarray]:
    """The first ``count`` input images and frames, (H, W, 3) uint8 RGB,
    shrunk to at most ``max_side`` pixels (the detector sees 640x640 anyway;
    sixteen 4K frames would hold 400 MB): what calibrates and judges a bf16 or
    int8 detector (``--detector_precision``)."""
    images = []
    for _, image in input_images(items, upright):
        scale = max_side / max(image.shape[:2])
        if scale < 1:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        images.append(image)
        if len(images) == count:
            break
    return images


class VideoFrames:
    """A capture's frames as (index, (H, W, 3) uint8 RGB), in order;
    ``count`` is how many were decoded so far."""

    def __init__(self, capture: cv2.VideoCapture):
        self.capture, self.count = capture, 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        while True:
            ok, frame = self.capture.read()
            if not ok:
                return
            self.count += 1
            yield self.count - 1, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
