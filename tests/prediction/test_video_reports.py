"""What a video's run reports: frames its header declares but that never
decode, and a video a boxes file has no entry for (said once, not per frame)."""

import json

from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses, _StopAt, _video
from tests.prediction.videos import mjpg_avi_bytes


def test_a_video_one_frame_short_of_its_header_is_reported(tmp_path):
    """A video missing only its last frame is reported short (4 of 5)."""
    data = mjpg_avi_bytes(tmp_path / "whole.avi", 5)
    # The 5th (last) frame's "00dc" chunk, the last one before the index: cut
    # there, 4 whole frames remain while the header still declares 5.
    last_frame = data.rindex(b"00dc", 0, data.index(b"idx1"))
    (tmp_path / "cut.avi").write_bytes(data[:last_frame])
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.video(list_inputs(str(tmp_path / "cut.avi"))[0], False, run.predictor.config.track)
    assert len(json.load(open(tmp_path / "out" / "cut.avi.frames.json"))) == 4
    assert run.summary.short_videos == [
        f"{tmp_path / 'cut.avi'}: 4 of the 5 frames its header declares could be decoded "
        f"(a truncated or damaged file, or a header's estimate); its outputs hold the "
        f"4 frames decoded"]


def test_a_video_the_boxes_file_lacks_is_listed_once_not_per_frame(tmp_path):
    """A 3-frame video without boxes is listed once among the inputs without boxes."""
    from keras_pose.detection import FileDetector
    (tmp_path / "in").mkdir()
    _video(tmp_path / "in" / "clip.mp4", 3)
    items = list_inputs(str(tmp_path / "in"))
    (tmp_path / "boxes.json").write_text(json.dumps({"other.jpg": [[8, 6, 40, 36]]}))
    detector = FileDetector(str(tmp_path / "boxes.json"))
    detector.bind([item.key for item in items])
    run = PredictionRun(_Poses(), detector, str(tmp_path / "out"))
    run.video(items[0], False, run.predictor.config.track)
    assert len(json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))) == 3
    assert run.summary.no_boxes == ["clip.mp4"]
