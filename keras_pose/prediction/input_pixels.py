"""The inputs' pixels outside a run: every image and video frame in order,
the people a detector finds in them, and a few shrunk images, which
calibrate and judge an int8 or bf16 export (``predict.py --precision``,
``--detector_precision``); and a video opened, turned or not, and its frames
as RGB."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Sequence

import cv2
import numpy as np

from keras_pose import log as logging
from keras_pose.data.images import ImageReadError, read_image
from keras_pose.special_files import not_a_file
from keras_pose.prediction.inputs import InputFile
from keras_pose.tf_paths import OpenCVPathError, opencv_path


def input_images(items: Sequence[InputFile], upright: bool = True
                 ) -> Iterator[tuple[InputFile, np.ndarray]]:
    """(input, image) of every input image and video frame in order, read
    lazily (photos ``upright`` as in :class:`PredictionRun`); unreadable
    inputs are skipped here (the run itself reports them)."""
    for item, _, image in _numbered_images(items, upright):
        yield item, image


def _numbered_images(items: Sequence[InputFile], upright: bool
                     ) -> Iterator[tuple[InputFile, Optional[int], np.ndarray]]:
    """:func:`input_images` with each video frame's index (None for a photo)."""
    for item in items:
        if not item.is_video:
            try:
                yield item, None, read_image(item.path, upright)
            except ImageReadError:
                pass
            continue
        capture, _ = open_video(item.path, upright)
        try:
            for index, frame in VideoFrames(capture):
                if frame is not None:  # A damaged frame (the run reports it).
                    yield item, index, frame
        finally:
            capture.release()


def frame_source(detector: Any, video: str, index: int) -> str:
    """Whose boxes frame ``index`` of ``video`` (an input key) is detected
    with: the detector's ``frame_source`` (a boxes file keys a frame as
    frames.json names it, ``clip.mp4#3``, or the video by its path), else
    the video's key. The one rule of the run and of the calibration: the
    calibration asked for the video's key and, with per-frame boxes, found
    0 people where the run finds them all."""
    own = getattr(detector, "frame_source", None)
    return video if own is None else own(video, index)


def input_people(items: Sequence[InputFile], detector: Any, upright: bool = True
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image, boxes) of every input image and video frame in order, with
    the boxes the run's detector finds (each frame from the source the run
    asks, :func:`frame_source`): the people that calibrate and check an
    int8 export when the data set is not on disk (``keras_pose.export.cache``)."""
    for item, index, image in _numbered_images(items, upright):
        source = item.key if index is None else frame_source(detector, item.key, index)
        yield image, detector.detect(image, source).boxes


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


def open_video(path: str, upright: bool = True) -> tuple[cv2.VideoCapture, int]:
    """(capture, rotation) of the video at ``path``, read with the photos'
    orientation rule: ``upright``, turned as its rotation metadata says (a
    phone's portrait video, stored lying), else as stored (the frame of
    boxes files, as ``--exif_orientation ignore`` keeps photos); OpenCV
    turned it always (``ignore`` did not reach videos) and unsaid.
    ``rotation``: the degrees the metadata gives (0: none, or not opened).
    A path that is not UTF-8 is opened through a link (:func:`opencv_path`);
    a special file is not opened (:func:`unopened_reason` says why): ffmpeg
    waited for a named pipe's writer, restarting its open at every Ctrl-C."""
    if not_a_file(path):
        return cv2.VideoCapture(), 0
    try:
        with opencv_path(path) as readable:  # A name not UTF-8 crashed OpenCV.
            capture = cv2.VideoCapture(readable)
    except OpenCVPathError as e:
        logging.warning("%s", e)
        capture = cv2.VideoCapture()  # Not opened: the caller says the video cannot be.
    rotation = int(capture.get(cv2.CAP_PROP_ORIENTATION_META)) % 360 if capture.isOpened() else 0
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1 if upright else 0)  # Before the first read.
    return capture, rotation


def unopened_reason(path: str) -> str:
    """Why :func:`open_video` gave a capture that is not opened: the kind of
    a special file (a named pipe, a device), else OpenCV's refusal."""
    return not_a_file(path) or "cannot be opened as a video"


def frame_count_note(path: str, count: int, declared: int) -> str:
    """The summary's note of a video whose ``count`` frames decoded fall short
    of the ``declared`` count of its header, or whose header declares none (a
    file still being written: its run gave part of it with exit 0, unsaid);
    "" when neither."""
    held = f"its outputs hold the {count} frame{'s' * (count != 1)} decoded"
    if declared <= 0:
        return (f"{path}: its header gives no frame count: still being written, or not closed "
                f"by its writer? {held}; run it again once it is complete")
    if count < declared:
        # OpenCV stops at a truncated end (and some decoders pass over a
        # frame they cannot decode) without a word: the user must hear of it.
        return (f"{path}: {count} of the {declared} frames its header declares could be "
                f"decoded (a truncated or damaged file, or a header's estimate); {held}")
    return ""


# Failed reads in a row after which a video has ended: OpenCV's read() fails
# once for a frame its decoder refuses (a damaged MJPG frame) and then goes on,
# but fails for good at the end of the stream (or of a truncated file), and
# cannot tell the two apart. A failed read at the end costs about 13 us, but
# one past the data of a file with a tail of zeros (a copy cut short on a
# sparse disk) costs OpenCV's stream timeout, 30 s: such a video took minutes.
DAMAGED_FRAMES_IN_A_ROW = 25


class VideoFrames:
    """A capture's frames as (index, (H, W, 3) uint8 RGB, or None), in
    order: None for a frame the decoder refused with decodable frames after
    it (up to ``DAMAGED_FRAMES_IN_A_ROW`` in a row), so that frame n is the
    video's n-th whatever is damaged; refused frames at the end are not
    frames (a truncated file), and once the frame count the header declares
    (when it declares one) is reached, the first failed read is the end.
    ``count``: frames yielded so far, None ones included; ``damaged``: the
    indices of the None ones."""

    def __init__(self, capture: cv2.VideoCapture):
        self.capture, self.count, self.damaged = capture, 0, []
        self.declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))

    def __iter__(self) -> Iterator[tuple[int, Optional[np.ndarray]]]:
        refused = 0
        while refused <= DAMAGED_FRAMES_IN_A_ROW:
            ok, frame = self.capture.read()
            if not ok:
                refused += 1
                if 0 < self.declared <= self.count + refused:  # Past its last frame.
                    break
                continue
            for _ in range(refused):  # Known damaged now that a frame followed.
                self.damaged.append(self.count)
                self.count += 1
                yield self.count - 1, None
            refused = 0
            self.count += 1
            yield self.count - 1, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
