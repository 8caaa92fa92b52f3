"""Where a video ends by its header's frame count: once the frames it
declares are read, the first failed read is the end (a file with a tail of
zeros cost OpenCV's 30 s stream timeout per failed read, minutes a video);
and a header declaring no frames (a file still being written) is said."""

import json

import cv2
import numpy as np

from keras_pose.prediction.input_pixels import DAMAGED_FRAMES_IN_A_ROW, VideoFrames
from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses, _StopAt
from tests.prediction.videos import mjpg_avi_bytes


class _Capture:
    """``frames`` decodable frames, then reads that fail (a zero-filled
    tail); its header declares ``declared`` frames. ``reads``: read() calls."""

    def __init__(self, frames, declared):
        self.frames, self.declared, self.reads = frames, declared, 0

    def get(self, prop):
        return float(self.declared) if prop == cv2.CAP_PROP_FRAME_COUNT else 0.0

    def read(self):
        self.reads += 1
        if self.reads <= self.frames:
            return True, np.zeros((4, 6, 3), np.uint8)
        return False, None


def test_the_first_failed_read_past_the_declared_frames_ends_the_video():
    """10 frames declared and read: one failed read more ends it (it took
    26, each a 30 s timeout on a tail of zeros)."""
    capture = _Capture(frames=10, declared=10)
    frames = VideoFrames(capture)
    assert [index for index, _ in frames] == list(range(10))
    assert capture.reads == 11 and frames.count == 10 and frames.damaged == []


def test_a_failed_read_at_the_last_declared_frame_ends_the_video():
    """9 frames of the 10 declared, then failures: the 10th is the end (a
    truncated file), not a damaged frame waited for 25 reads more."""
    capture = _Capture(frames=9, declared=10)
    frames = VideoFrames(capture)
    assert [index for index, _ in frames] == list(range(9))
    assert capture.reads == 10 and frames.count == 9


def test_without_a_declared_count_failed_reads_still_go_on():
    """A header declaring no frames: damaged frames are still waited for,
    as before (the rule for a frame count of 0 is unchanged)."""
    capture = _Capture(frames=3, declared=0)
    assert len(list(VideoFrames(capture))) == 3
    assert capture.reads == 3 + DAMAGED_FRAMES_IN_A_ROW + 1


def _unclosed_avi(path, frames):
    """An MJPG AVI as a writer leaves it before closing it: its frames, no
    index, and 0 frames in its header (the main header's total frames and
    the stream header's length, written at the close)."""
    data = bytearray(mjpg_avi_bytes(path, frames))
    data = data[:data.index(b"idx1")]
    main, stream = data.index(b"avih") + 8, data.index(b"strh") + 8
    data[main + 16:main + 20] = bytes(4)  # dwTotalFrames
    data[stream + 32:stream + 36] = bytes(4)  # dwLength
    path.write_bytes(bytes(data))


def test_a_video_whose_header_declares_no_frames_is_said(tmp_path):
    """A video still being written runs its 5 frames, and the summary says
    its header gives no count (was: partial results, exit 0, unsaid)."""
    _unclosed_avi(tmp_path / "rec.avi", 5)
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.video(list_inputs(str(tmp_path / "rec.avi"))[0], False, run.predictor.config.track)
    assert len(json.load(open(tmp_path / "out" / "rec.avi.frames.json"))) == 5
    assert run.summary.short_videos == [
        f"{tmp_path / 'rec.avi'}: its header gives no frame count: still being written, or not "
        "closed by its writer? its outputs hold the 5 frames decoded; run it again once it is "
        "complete"]
