"""The library side of predict.py: the inputs it reads for calibration,
and what a run stopped mid-video keeps."""

import json
import os

import cv2
import numpy as np
import pytest

from keras_pose.prediction.inputs import list_inputs
from keras_pose import signals
from keras_pose.prediction.input_pixels import calibration_images
from keras_pose.prediction.runner import PredictionRun
from tests.test_signals import commands_handlers, swallow_a_stop
from tests.prediction.videos import damaged_mjpg_avi


def _video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    assert writer.isOpened(), "OpenCV cannot write .mp4 here"
    for t in range(frames):  # Frame t is grey level 80 t: which frame came, in which order.
        writer.write(np.full((48, 64, 3), 80 * t, np.uint8))
    writer.release()


def test_calibration_images_are_the_first_images_and_frames_shrunk(tmp_path):
    # Sorted by key: a.png (large), b.jpg (unreadable, skipped), c.mp4 (4 frames).
    cv2.imwrite(str(tmp_path / "a.png"), np.full((1500, 2600, 3), 200, np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    _video(tmp_path / "c.mp4", 4)
    items = list_inputs(str(tmp_path))
    images = calibration_images(items, count=3, max_side=1300)
    assert [image.shape for image in images] == [(750, 1300, 3), (48, 64, 3), (48, 64, 3)]
    assert all(image.dtype == np.uint8 for image in images)
    # Frames 0 and 1 (grey 0 and 80, within MPEG-4's and YUV's rounding).
    np.testing.assert_allclose([np.median(image) for image in images[1:]], [0, 80], atol=8)
    # Fewer inputs than asked: all of them; a small image keeps its size.
    everything = calibration_images(items, count=16)
    assert len(everything) == 5 and everything[0].shape == (738, 1280, 3)
    assert calibration_images([item for item in items if item.key == "b.jpg"]) == []
    assert os.path.exists(tmp_path / "b.jpg")


class _StopAt:
    """One person per frame, then Ctrl-C as frame ``stop`` is detected."""

    def __init__(self, stop):
        self.stop, self.calls = stop, 0

    def detect(self, image, source):
        from keras_pose.detection.base import Detections
        if self.calls == self.stop:
            raise KeyboardInterrupt
        self.calls += 1
        return Detections([[8.0, 6.0, 40.0, 36.0]], [0.9])


class _Poses:
    """A confident pose filling each box (what the tracker keeps)."""

    def __init__(self):
        from keras_pose.configs import ExperimentConfig
        self.config = ExperimentConfig()

    def predict(self, image, boxes, flip=None, box_scores=None):
        from keras_pose.inference.predictor import PoseResult
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        k = len(self.config.data.keypoint_names)
        grid = np.stack([np.linspace(0.1, 0.9, k), np.linspace(0.9, 0.1, k)], -1)
        keypoints = boxes[:, None, :2] + grid[None] * boxes[:, None, 2:]
        return PoseResult(keypoints.astype(np.float32), np.full((len(boxes), k), 0.9, np.float32),
                          np.full(len(boxes), 0.9, np.float32), boxes)

    def draw(self, image, result, score_threshold=0.2):
        return image.copy()


@pytest.mark.parametrize("track", [False, True])
def test_ctrl_c_mid_video_keeps_the_frames_done(track, tmp_path):
    _video(tmp_path / "clip.mp4", 4)  # grey 0..240: _video's 80 t stays in uint8
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    run = PredictionRun(_Poses(), _StopAt(3), str(tmp_path / "out"))
    with pytest.raises(KeyboardInterrupt):
        run.video(item, track, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))
    assert [f["frame"] for f in frames] == [0, 1, 2]
    assert all(len(f["people"]) == 1 for f in frames)
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.mp4.pose.avi"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 3  # closed: its index is written
    capture.release()
    posetrack = tmp_path / "out" / "clip.mp4.posetrack.json"
    assert posetrack.is_file() == track
    if track:
        assert len(json.load(open(posetrack))["images"]) == 3
    assert run.summary.processed == 0 and not run.writer.failures


class _SwallowedStopAt(_StopAt):
    """One person per frame; SIGTERM as frame ``stop`` is detected, lost
    inside a ``__del__`` (Python prints it and drops it)."""

    def detect(self, image, source):
        from keras_pose.detection.base import Detections
        if self.calls == self.stop:
            swallow_a_stop()
        self.calls += 1
        return Detections([[8.0, 6.0, 40.0, 36.0]], [0.9])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("track", [False, True])
def test_a_stop_lost_in_a_del_stops_the_video_at_the_next_frame(track, tmp_path):
    """A stop that lands where Python drops it (a __del__) let the run go
    on to the video's end: it stops at the next frame, the frames done kept."""
    _video(tmp_path / "clip.mp4", 4)  # 80 t stays in uint8
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    run = PredictionRun(_Poses(), _SwallowedStopAt(1), str(tmp_path / "out"))
    with commands_handlers(), pytest.raises(signals.Terminated):
        run.video(item, track, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))
    assert [f["frame"] for f in frames] == [0, 1]


def test_a_video_that_ends_before_its_declared_frames_is_reported(tmp_path):
    # An MJPG AVI of 12 frames, its second half cut off (a copy or download
    # that stopped): OpenCV reads the first frames and ends without an error.
    writer = cv2.VideoWriter(str(tmp_path / "whole.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(12):  # Noise: frames of similar size, so half the bytes is about half.
        writer.write(rng.integers(0, 256, (48, 64, 3), np.uint8))
    writer.release()
    data = (tmp_path / "whole.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[:len(data) // 2])
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    for name in ("whole.avi", "cut.avi"):
        item = list_inputs(str(tmp_path / name))[0]
        run.video(item, False, run.predictor.config.track)
    decoded = len(json.load(open(tmp_path / "out" / "cut.avi.frames.json")))
    assert 0 < decoded < 12
    assert run.summary.short_videos == [
        f"{tmp_path / 'cut.avi'}: {decoded} of the 12 frames its header declares could be decoded "
        f"(a truncated or damaged file, or a header's estimate); its outputs hold the "
        f"{decoded} frames decoded"]
    assert run.summary.processed == 2 and run.summary.frames == 12 + decoded


@pytest.mark.parametrize("track", [False, True])
def test_a_video_of_no_decodable_frame_is_reported_unreadable(track, tmp_path):
    """It counted as processed, with an empty frames.json and no .pose.avi
    (a user looked for the annotated copy the summary implied)."""
    cv2.VideoWriter(str(tmp_path / "empty.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                    (64, 48)).release()  # A header that opens, and no frame.
    _video(tmp_path / "whole.mp4", 3)
    (tmp_path / "head.mp4").write_bytes((tmp_path / "whole.mp4").read_bytes()[:48])
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    for name in ("empty.avi", "head.mp4"):
        run.video(list_inputs(str(tmp_path / name))[0], track, run.predictor.config.track)
    assert run.summary.processed == 0 and run.summary.frames == 0
    assert run.summary.unreadable == [
        f"{tmp_path / 'empty.avi'}: no frame could be decoded (an empty, truncated or damaged "
        "video)", f"{tmp_path / 'head.mp4'}: cannot be opened as a video"]
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


class _ReadsDiskAt(_StopAt):
    """One person per frame; as frame ``at`` is detected, reads what a
    ``kill -9`` at that moment would leave of ``path``."""

    def __init__(self, at, path):
        super().__init__(stop=-1)
        self.at, self.path, self.seen = at, path, None

    def detect(self, image, source):
        if self.calls == self.at:
            self.seen = json.load(open(self.path))
        return super().detect(image, source)


@pytest.mark.parametrize("track", [False, True])
def test_a_videos_frames_are_on_disk_as_they_are_done(track, tmp_path):
    # What a kill -9 (or the OOM killer) mid-video leaves: every frame done,
    # valid JSON, with the track ids when tracking; nothing held to the end.
    _video(tmp_path / "clip.mp4", 4)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    detector = _ReadsDiskAt(3, str(tmp_path / "out" / "clip.mp4.frames.json"))
    run = PredictionRun(_Poses(), detector, str(tmp_path / "out"))
    run.video(item, track, run.predictor.config.track)
    assert [f["frame"] for f in detector.seen] == [0, 1, 2]
    assert all(len(f["people"]) == 1 for f in detector.seen)
    assert [("track_id" in f["people"][0]) for f in detector.seen] == [track] * 3
    final = json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))
    assert final[:3] == detector.seen and len(final) == 4
    if track:  # One person walking on: one track.
        assert len({f["people"][0]["track_id"] for f in final}) == 1


@pytest.mark.parametrize("track", [False, True])
def test_a_full_disk_leaves_as_many_frames_in_the_video_as_in_frames_json(track, tmp_path,
                                                                          monkeypatch):
    # The video writer took the frame whose frames.json entry the disk refused:
    # "stopped after 3 frame(s)", then "the video's 4 frames could not be written".
    import errno

    from keras_pose.prediction import outputs, runner
    _video(tmp_path / "clip.mp4", 4)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    videos, real_write, writes = [], outputs.JsonListFile._write, []

    class Recorded(outputs.VideoOutput):
        def __init__(self, *args):
            super().__init__(*args)
            videos.append(self)

    def write(self, data):
        if self.path.endswith("frames.json") and len(writes) == 4:  # "[]", then 3 frames
            writes.append("full")  # Truncating the entry frees the space for the "]".
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.path)
        writes.append(self.path)
        real_write(self, data)
    def posetrack(run, path, *args):  # The disk is still full: named it, not frames.json.
        raise outputs.DiskFullError(errno.ENOSPC, f"{path}: no space left on device")
    monkeypatch.setattr(runner, "VideoOutput", Recorded)
    monkeypatch.setattr(outputs.JsonListFile, "_write", write)
    monkeypatch.setattr(runner, "_write_posetrack", posetrack)
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    with pytest.raises(outputs.DiskFullError, match=r"clip.mp4.frames.json: no space left"):
        run.video(item, track, run.predictor.config.track)
    assert len(json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))) == 3
    assert videos[0].frames == 3


def test_frames_of_alternating_sizes_are_said_once_a_video(tmp_path, caplog):
    """A folder of two alternating sizes logged a warning at every frame."""
    folder = tmp_path / "in" / "seq"
    folder.mkdir(parents=True)
    for i in range(8):
        size = (48, 64) if i % 2 else (60, 80)
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((*size, 3), 30 * i, np.uint8))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    with caplog.at_level("WARNING"):
        run.folders(list_inputs(str(tmp_path / "in")), run.predictor.config.track)
    said = [r.getMessage() for r in caplog.records if "tracks" in r.getMessage()]
    assert len(said) == 2, said
    assert "its people start new tracks (so at every change of size)" in said[0]
    assert said[1].startswith("7 changes of frame size in this video (seq/000001.png, ")


def test_frames_of_another_size_start_new_tracks_without_reusing_ids(tmp_path):
    # A folder whose frames change size mid-way: the tracker was reset, so the
    # second person got id 0 again and image ids restarted (invalid PoseTrack JSON).
    folder = tmp_path / "in" / "seq"
    folder.mkdir(parents=True)
    for i, size in enumerate([(48, 64), (48, 64), (60, 80), (60, 80)]):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((*size, 3), 40 * i, np.uint8))
    items = list_inputs(str(tmp_path / "in"))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.folders(items, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "seq.frames.json"))
    assert [[p["track_id"] for p in f["people"]] for f in frames] == [[0], [0], [1], [1]]
    posetrack = json.load(open(tmp_path / "out" / "seq.posetrack.json"))
    ids = [image["id"] for image in posetrack["images"]]
    assert len(set(ids)) == 4 and [image["frame_id"] for image in posetrack["images"]] == ids


def test_tracked_frames_without_boxes_say_people_may_carry_over(tmp_path, caplog):
    # Said "0 people" while frames.json held the person carried over by flow.
    import logging

    from keras_pose.detection import FileDetector
    caplog.set_level(logging.WARNING, logger="absl")
    folder = tmp_path / "in" / "seq"
    folder.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((48, 64, 3), 100, np.uint8))
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"seq/000000.png": [[8, 6, 40, 36]]}))
    detector = FileDetector(str(boxes))
    items = list_inputs(str(tmp_path / "in"))
    detector.bind([item.key for item in items])
    run = PredictionRun(_Poses(), detector, str(tmp_path / "out"))
    run.folders(items, run.predictor.config.track)
    assert "seq/000001.png: no boxes in" in caplog.text
    assert "only people carried over from earlier frames" in caplog.text
    assert "0 people" not in caplog.text


@pytest.mark.parametrize("track", [False, True])
def test_ctrl_c_while_a_frame_is_written_leaves_it_in_every_output_or_none(track, tmp_path,
                                                                           monkeypatch,
                                                                           ctrl_c_raises):
    # Ctrl-C between the annotated video's write and frames.json's: the video
    # held one frame more than the JSON files (seen in 1 of 3 tries by hand).
    import signal

    from keras_pose.prediction import outputs
    _video(tmp_path / "clip.mp4", 4)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    added = []
    real_add = outputs.VideoOutput.add

    def add_then_ctrl_c(self, rgb):
        real_add(self, rgb)
        added.append(1)
        if len(added) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(outputs.VideoOutput, "add", add_then_ctrl_c)
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    with pytest.raises(KeyboardInterrupt):
        run.video(item, track, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))
    capture = cv2.VideoCapture(str(tmp_path / "out" / "clip.mp4.pose.avi"))
    assert len(frames) == int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 2
    capture.release()
    if track:
        assert len(json.load(open(tmp_path / "out" / "clip.mp4.posetrack.json"))["images"]) == 2


@pytest.mark.parametrize("track", [False, True])
@pytest.mark.parametrize("damaged", [[0], [3], [2, 3]])
def test_a_damaged_frame_of_a_video_keeps_its_place_in_every_output(damaged, track, tmp_path):
    """OpenCV's read() fails once for an MJPG frame its decoder refuses and
    then goes on: frame n of every output is still the video's n-th, the
    damaged one an entry without people (and a black video frame), and the
    summary names it; a damaged first frame does not make the video
    unreadable."""
    damaged_mjpg_avi(tmp_path / "clip.avi", 8, damaged)
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.video(list_inputs(str(tmp_path / "clip.avi"))[0], track, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "clip.avi.frames.json"))
    assert [f["frame"] for f in frames] == list(range(8))
    assert [f["frame"] for f in frames if f.get("unreadable")] == damaged
    assert [len(f["people"]) for f in frames] == [0 if i in damaged else 1 for i in range(8)]
    assert run.summary.unreadable_frames == [
        f"{tmp_path / 'clip.avi'}: frame {i} (numbered from 0, as frames.json numbers them) "
        "could not be decoded (a damaged frame)" for i in damaged]
    assert run.summary.short_videos == [] and run.summary.processed == 1
    video = cv2.VideoCapture(str(tmp_path / "out" / "clip.avi.pose.avi"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    levels = [video.read()[1].max() for _ in range(8)]
    assert [i for i, level in enumerate(levels) if level < 20] == damaged  # black frames
    if track:
        posetrack = json.load(open(tmp_path / "out" / "clip.avi.posetrack.json"))
        assert [i["frame_index"] for i in posetrack["images"]] == list(range(8))


def test_a_damaged_last_frame_is_the_end_of_the_video(tmp_path):
    """A refused frame with no decodable frame after it cannot be told from a
    truncated end: the outputs hold the 7 frames, and the summary says 7 of
    the 8 declared could be decoded."""
    damaged_mjpg_avi(tmp_path / "clip.avi", 8, [7])
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.video(list_inputs(str(tmp_path / "clip.avi"))[0], False, run.predictor.config.track)
    assert len(json.load(open(tmp_path / "out" / "clip.avi.frames.json"))) == 7
    assert run.summary.unreadable_frames == []
    assert run.summary.short_videos[0].startswith(
        f"{tmp_path / 'clip.avi'}: 7 of the 8 frames its header declares could be decoded")


def test_calibration_frames_pass_over_a_damaged_frame(tmp_path):
    """The frames that calibrate an int8 export go on past a damaged frame
    (they stopped there), without a placeholder for it."""
    from keras_pose.prediction.input_pixels import input_images
    damaged_mjpg_avi(tmp_path / "clip.avi", 6, [2])
    frames = [image for _, image in input_images(list_inputs(str(tmp_path / "clip.avi")))]
    assert len(frames) == 5 and all(f.shape == (48, 64, 3) for f in frames)


def test_an_unreadable_frame_keeps_its_place_in_every_output(tmp_path):
    """A damaged frame in a folder of frames was skipped: every later frame
    of frames.json, the PoseTrack JSON and the video moved up by one, and a
    PoseTrack evaluation paired frame n with the ground truth's n+1."""
    folder = tmp_path / "in" / "seq"
    folder.mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((48, 64, 3), 100, np.uint8))
    (folder / "000001.png").write_bytes(b"not an image")  # the second frame
    items = list_inputs(str(tmp_path / "in"))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.folders(items, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "seq.frames.json"))
    assert [(f["frame"], f["file_name"], len(f["people"])) for f in frames] == [
        (0, "seq/000000.png", 1), (1, "seq/000001.png", 0), (2, "seq/000002.png", 1),
        (3, "seq/000003.png", 1)]
    assert frames[1]["unreadable"] is True and len(run.summary.unreadable_frames) == 1
    # One person across the gap: one track, and the tracker's frame numbers match.
    assert {p["track_id"] for f in frames for p in f["people"]} == {0}
    posetrack = json.load(open(tmp_path / "out" / "seq.posetrack.json"))
    assert [(i["file_name"], i["frame_index"]) for i in posetrack["images"]] == [
        (f"seq/{i:06d}.png", i) for i in range(4)]
    video = cv2.VideoCapture(str(tmp_path / "out" / "seq.pose.avi"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
    ok, second = video.read() and video.read()
    assert ok and second.max() < 20  # the black frame in the gap


def test_a_folder_with_two_files_of_one_frame_number_is_said_once_and_tracked_whole(
        tmp_path, caplog):
    """frame_3.jpg and frame_3.png were tracked as two frames without a word."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    folder = tmp_path / "in" / "walk"
    folder.mkdir(parents=True)
    for name in ("frame_1.jpg", "frame_2.jpg", "frame_3.jpg", "frame_3.png"):
        cv2.imwrite(str(folder / name), np.full((48, 64, 3), 100, np.uint8))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.folders(list_inputs(str(tmp_path / "in")), run.predictor.config.track)
    said = [r.getMessage() for r in caplog.records if "files of one frame number" in r.getMessage()]
    assert len(said) == 1 and "frame_3.jpg and frame_3.png" in said[0]
    assert len(json.load(open(tmp_path / "out" / "walk.frames.json"))) == 4


@pytest.mark.parametrize("upright", [True, False])
def test_a_rotated_video_is_turned_by_the_photos_rule_and_listed(upright, tmp_path):
    """A video with rotation metadata was turned by OpenCV unlisted, and
    --exif_orientation ignore (auto with --boxes) did not reach it."""
    from tests.prediction.videos import rotated_mp4
    rotated_mp4(tmp_path / "phone.mp4")
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"), upright=upright)
    run.video(list_inputs(str(tmp_path / "phone.mp4"))[0], False, None)
    listed = ["phone.mp4 (a video: its rotation metadata, 90 degrees)"]
    assert (run.summary.turned, run.summary.not_turned) == ((listed, []) if upright
                                                            else ([], listed))
    video = cv2.VideoCapture(str(tmp_path / "out" / "phone.mp4.pose.avi"))
    ok, frame = video.read()
    # Upright: 48 wide x 64 high, the stored left band along the top; else as stored.
    assert ok and frame.shape == ((64, 48, 3) if upright else (48, 64, 3))
    band = frame[:8] if upright else frame[:, :8]
    assert band.mean() > 200 and frame[-8:, -8:].mean() < 50
    # A video without the metadata is listed in neither.
    _video(tmp_path / "plain.mp4", 2)
    run.video(list_inputs(str(tmp_path / "plain.mp4"))[0], False, None)
    assert len(run.summary.turned) + len(run.summary.not_turned) == 1


def test_a_video_takes_per_frame_boxes_keyed_as_frames_json_names_them(tmp_path):
    """`clip.mp4#2` (the name frames.json gives frame 2) keys that frame's
    boxes; before, only the video's path matched and these keys matched
    nothing (0 people, every frame). The video's own entry serves the
    frames without one; a file keying only some frames leaves the others
    without boxes, each reported."""
    from keras_pose.detection import FileDetector
    (tmp_path / "in").mkdir()
    _video(tmp_path / "in" / "clip.mp4", 4)
    items = list_inputs(str(tmp_path / "in"))
    box_a, box_b, box_v = [8, 6, 40, 36], [2, 2, 20, 20], [0, 0, 60, 44]

    def boxes_of_frames(table):
        (tmp_path / "boxes.json").write_text(json.dumps(table))
        detector = FileDetector(str(tmp_path / "boxes.json"))
        detector.bind([item.key for item in items])
        run = PredictionRun(_Poses(), detector, str(tmp_path / "out"))
        run.video(items[0], False, run.predictor.config.track)
        frames = json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))
        return [[p["bbox"] for p in f["people"]] for f in frames], run.summary.no_boxes

    people, missing = boxes_of_frames({"clip.mp4#1": [box_a], "./clip.mp4#2": [box_b]})
    assert people == [[], [box_a], [box_b], []]
    assert missing == ["clip.mp4#0", "clip.mp4#3"]
    people, missing = boxes_of_frames({"clip.mp4": [box_v], "clip.mp4#2": [box_b]})
    assert people == [[box_v], [box_v], [box_b], [box_v]] and missing == []


def test_per_frame_boxes_take_the_video_paths_forms_and_say_what_no_frame_took(tmp_path,
                                                                            monkeypatch):
    """The video part of a frame key matched only the exact relative key
    (a path from the current folder or a bare name matched nothing), and a
    frame past the end (numbered from 1: every frame shifted) vanished."""
    from keras_pose.detection import FileDetector
    (tmp_path / "in" / "sub").mkdir(parents=True)
    _video(tmp_path / "in" / "sub" / "clip.mp4", 4)
    monkeypatch.chdir(tmp_path)
    items = list_inputs(str(tmp_path / "in"))
    box = [8, 6, 40, 36]
    table = {"in/sub/clip.mp4#0": [box], str(tmp_path / "in/sub/clip.mp4") + "#01": [box],
             "clip.mp4#2": [box], "clip.mp4#4": [box], "clip.mp4#7": [box]}
    (tmp_path / "boxes.json").write_text(json.dumps(table))
    detector = FileDetector(str(tmp_path / "boxes.json"))
    detector.bind([item.key for item in items], paths={item.key: item.path for item in items})
    run = PredictionRun(_Poses(), detector, str(tmp_path / "out"))
    run.video(items[0], False, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "sub" / "clip.mp4.frames.json"))
    assert [len(f["people"]) for f in frames] == [1, 1, 1, 0]
    assert run.summary.unused_boxes == [
        "sub/clip.mp4: 2 boxes entries for frames past its 4 (e.g. clip.mp4#7; frames are "
        "numbered from 0, as frames.json numbers them)"]


def test_an_earlier_runs_posetrack_json_goes_when_the_sequence_starts(tmp_path):
    """It is written at a run's end: after a kill -9 of the next run it sat
    beside that run's partial frames.json and video, passing for its own."""
    folder = tmp_path / "in" / "seq"
    folder.mkdir(parents=True)
    for i in range(2):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((48, 64, 3), 100, np.uint8))
    stale = tmp_path / "out" / "seq.posetrack.json"
    stale.parent.mkdir()
    stale.write_text('{"images": [], "annotations": []}')
    seen = []

    class Looking(_StopAt):
        def detect(self, image, source):
            seen.append(stale.exists())
            return super().detect(image, source)

    run = PredictionRun(_Poses(), Looking(-1), str(tmp_path / "out"))
    run.folders(list_inputs(str(tmp_path / "in")), run.predictor.config.track)
    assert seen == [False, False]
    assert len(json.load(open(stale))["images"]) == 2  # this run's, at its end


def test_a_second_ctrl_c_while_the_outputs_close_keeps_the_posetrack_json(tmp_path,
                                                                          monkeypatch):
    """A quick double Ctrl-C: the second one, landing in the closing writes,
    lost the PoseTrack JSON of the frames done (3 of 3 tries at 0.01-0.05 s)."""
    import signal

    from keras_pose.prediction import outputs
    _video(tmp_path / "clip.mp4", 4)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    real_close = outputs.VideoOutput.close

    def close_then_ctrl_c(self):
        real_close(self)
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 0.2)  # The handler runs here (deferred: after the writes).

    monkeypatch.setattr(outputs.VideoOutput, "close", close_then_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # xdist ignores it
    try:
        run = PredictionRun(_Poses(), _StopAt(3), str(tmp_path / "out"))
        with pytest.raises(KeyboardInterrupt):
            run.video(item, True, run.predictor.config.track)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(json.load(open(tmp_path / "out" / "clip.mp4.posetrack.json"))["images"]) == 3
    assert len(json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))) == 3


def test_track_checks_the_models_keypoints_before_any_frame(caplog):
    """A 1-keypoint model stops at once (it cannot be tracked), a 2-keypoint
    one is told that both joints are needed (min_keypoints 3 had dropped
    every pose, after the whole video)."""
    import dataclasses
    import logging
    import types

    from keras_pose.configs import ConfigError, default_experiment
    coco = default_experiment("coco")

    def run_of(names):
        data = dataclasses.replace(coco.data, keypoint_names=names, flip_pairs=(), skeleton=(),
                                   oks_sigmas=())
        return types.SimpleNamespace(predictor=types.SimpleNamespace(
            config=coco.replace(data=data)))

    caplog.set_level(logging.WARNING, logger="absl")
    PredictionRun.check_posetrack_keypoints(run_of(("head", "chest")))
    assert ("the model has 2 keypoints, fewer than track.min_keypoints=3: a pose is tracked "
            "with all 2 confident") in caplog.text
    with pytest.raises(ConfigError, match="this one has 1: predict without --track"):
        PredictionRun.check_posetrack_keypoints(run_of(("head",)))


def _frame_counts(out, stem):
    counts = {}
    for name in sorted(os.listdir(out)):
        if name.startswith(stem) and name.endswith(".frames.json"):
            counts[name] = len(json.load(open(out / name)))
        elif name.startswith(stem) and name.endswith(".avi"):
            capture = cv2.VideoCapture(str(out / name))
            counts[name] = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            capture.release()
    return counts


def test_a_rerun_keeps_the_earlier_outputs_of_a_video_until_it_has_finished(tmp_path):
    """A rerun replaced the video's outputs from its first frame: stopped,
    it had lost the earlier complete ones, its 0-frame frames.json left
    beside the earlier run's full annotated video."""
    _video(tmp_path / "clip.mp4", 4)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    out = tmp_path / "out"
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)
    for stop in (2, 1):  # Stopped twice: the complete outputs stay.
        run = PredictionRun(_Poses(), _StopAt(stop), str(out))
        with pytest.raises(KeyboardInterrupt):
            run.video(item, True, run.predictor.config.track)
        assert _frame_counts(out, "clip") == {
            "clip.mp4.frames.json": stop, "clip.mp4.pose.avi": stop,
            "clip.mp4.previous.frames.json": 4, "clip.mp4.previous.pose.avi": 4}
        assert len(json.load(open(out / "clip.mp4.previous.posetrack.json"))["images"]) == 4
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)
    assert _frame_counts(out, "clip") == {"clip.mp4.frames.json": 4, "clip.mp4.pose.avi": 4}
    assert sorted(os.listdir(out)) == ["clip.mp4.frames.json", "clip.mp4.pose.avi",
                                       "clip.mp4.posetrack.json"]
    # Stopped before its first frame: the earlier outputs back in place.
    run = PredictionRun(_Poses(), _StopAt(0), str(out))
    with pytest.raises(KeyboardInterrupt):
        run.video(item, True, run.predictor.config.track)
    assert _frame_counts(out, "clip") == {"clip.mp4.frames.json": 4, "clip.mp4.pose.avi": 4}
    assert len(json.load(open(out / "clip.mp4.posetrack.json"))["images"]) == 4


def _several_categories():
    import dataclasses
    poses = _Poses()
    poses.config = poses.config.replace(
        data=dataclasses.replace(poses.config.data, category_ids=(1, 2)))
    return poses


def test_each_person_is_written_with_its_boxs_category(tmp_path, caplog):
    # Every person was written with the model's first category, a box of
    # category 2 included (COCOeval then counts that person as never found).
    from keras_pose.detection.file_detectors import FileDetector
    from keras_pose.prediction.inputs import list_inputs
    from keras_pose.prediction.outputs import JsonListFile
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(photos / name), np.full((60, 80, 3), 120, np.uint8))
    boxes = tmp_path / "boxes.json"  # Scores in reverse order: the filter sorts them.
    boxes.write_text(json.dumps([
        {"file_name": "a.png", "category_id": 2, "bbox": [1, 2, 30, 40], "score": 0.5},
        {"file_name": "a.png", "category_id": 1, "bbox": [40, 2, 30, 40], "score": 0.9},
        {"file_name": "a.png", "category_id": 3, "bbox": [5, 5, 9, 9], "score": 1.0},
        {"file_name": "b.png", "category_id": 2, "bbox": [0, 0, 20, 20], "score": 0.7}]))
    poses = _several_categories()
    detector = FileDetector(str(boxes), category_ids=(1, 2))
    items = list_inputs(str(photos))
    detector.bind([item.key for item in items])
    run = PredictionRun(poses, detector, str(tmp_path / "out"))
    predictions = JsonListFile(run.writer, str(tmp_path / "out" / "predictions.json"))
    with caplog.at_level("WARNING"):
        run.images(items, predictions)
    predictions.close()
    written = json.load(open(tmp_path / "out" / "predictions.json"))
    assert [(p["file_name"], p["bbox"][0], p["category_id"]) for p in written] == [
        ("a.png", 40.0, 1), ("a.png", 1.0, 2), ("b.png", 0.0, 2)]
    assert "written with category_id" not in caplog.text


def test_people_without_their_boxs_category_are_said_to_take_the_first(tmp_path, caplog):
    # Boxes that carry no category ({name: boxes}, a detector): said once.
    from keras_pose.detection.file_detectors import FileDetector
    from keras_pose.prediction.inputs import list_inputs
    from keras_pose.prediction.outputs import JsonListFile
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.full((60, 80, 3), 120, np.uint8))
    # COCO results without category_id too (were the first category, unsaid).
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"file_name": n, "bbox": [1, 2, 30, 40], "score": 0.9}
                                   for n in ("a.png", "b.png")]))
    mixed = tmp_path / "mixed.json"  # Those with category_id lost it when some had none.
    mixed.write_text(json.dumps([
        {"file_name": "a.png", "bbox": [1, 2, 30, 40], "score": 0.9},
        {"file_name": "b.png", "bbox": [1, 2, 30, 40], "score": 0.9, "category_id": 2}]))
    for boxes, expected in (({"a.png": [[1, 2, 30, 40]], "b.png": [[1, 2, 30, 40]]}, [1, 1]),
                            (str(results), [1, 1]), (str(mixed), [1, 2])):
        caplog.clear()
        detector = FileDetector(boxes, category_ids=(1, 2))
        run = PredictionRun(_several_categories(), detector, str(tmp_path / "out"))
        predictions = JsonListFile(run.writer, str(tmp_path / "out" / "predictions.json"))
        with caplog.at_level("WARNING"):
            run.images(list_inputs(str(tmp_path)), predictions)
        predictions.close()
        written = json.load(open(tmp_path / "out" / "predictions.json"))
        assert [p["category_id"] for p in written] == expected
        assert caplog.text.count("trained on categories [1, 2], and boxes of a.png give no "
                                 "category") == 1
        assert "written with category_id 1" in caplog.text


def test_frames_right_in_the_input_folder_are_named_in_their_sequence_for_poseval(tmp_path):
    """--input images/val/<sequence>: the PoseTrack JSON named its frames
    000000.png, from which poseval reads no sequence (it takes the folder of
    each file_name); frames.json keeps the names under --input."""
    folder = tmp_path / "000342_mpii_test"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"{i:06d}.png"), np.full((48, 64, 3), 100, np.uint8))
    items = list_inputs(str(folder))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.folders(items, run.predictor.config.track)
    posetrack = json.load(open(tmp_path / "out" / "000342_mpii_test.posetrack.json"))
    assert [i["file_name"] for i in posetrack["images"]] == [
        "000342_mpii_test/000000.png", "000342_mpii_test/000001.png"]
    frames = json.load(open(tmp_path / "out" / "000342_mpii_test.frames.json"))
    assert [f["file_name"] for f in frames] == ["000000.png", "000001.png"]
