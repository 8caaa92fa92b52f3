"""The names of a video's outputs: long names, kept earlier outputs, a
user's own ``*.pose.avi``, videos of formats not read, and PoseTrack
evaluation of a video's JSON."""

import json
import os

import pytest

from keras_pose.prediction.inputs import find_inputs, list_inputs
from keras_pose.prediction.own_outputs import without_own_outputs
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses, _StopAt, _video
from tests.prediction.videos import mjpg_avi_bytes

SUFFIXES = (".frames.json", ".posetrack.json", ".pose.avi")


def _frames_in(path):
    return len(json.load(open(path)))


# 233 bytes: .previous.posetrack.json did not fit, after frames.json had been
# moved to .previous.frames.json; 236 and a 78-character CJK name (238
# bytes): no .previous.* fitted ("File name too long" stopped the run).
@pytest.mark.parametrize("name", ["v" * 229 + ".mp4", "v" * 232 + ".mp4", "動" * 78 + ".mp4"])
def test_a_long_video_name_keeps_its_earlier_outputs_under_a_shortened_name(name, tmp_path):
    _video(tmp_path / name, 4)
    item = list_inputs(str(tmp_path / name))[0]
    out = tmp_path / "out"
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)
    assert sorted(os.listdir(out)) == sorted(name + s for s in SUFFIXES)
    # A rerun stopped after 2 frames: the complete outputs are kept, whole.
    run = PredictionRun(_Poses(), _StopAt(2), str(out))
    with pytest.raises(KeyboardInterrupt):
        run.video(item, True, run.predictor.config.track)
    assert not run.writer.failures
    assert (out / (name + ".incomplete")).is_file()  # This run's, marked partial.
    previous = sorted(set(os.listdir(out)) - {name + s for s in (*SUFFIXES, ".incomplete")})
    assert len(previous) == 3 and all(len(os.fsencode(p)) <= 255 for p in previous)
    stems = {p[:-len(s)] for p in previous for s in SUFFIXES if p.endswith(s)}
    assert len(stems) == 1  # One shortening for all: the set is found together.
    stem = stems.pop()
    assert stem.endswith(".previous") and "~" in stem
    assert _frames_in(out / (stem + ".frames.json")) == 4
    assert _frames_in(out / (name + ".frames.json")) == 2
    # A third run finishes: the kept outputs go, this run's are complete.
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)
    assert sorted(os.listdir(out)) == sorted(name + s for s in SUFFIXES)
    assert _frames_in(out / (name + ".frames.json")) == 4 and not run.writer.failures


def test_a_video_whose_outputs_names_do_not_fit_is_skipped_and_the_others_run(tmp_path):
    """241 bytes: <name>.posetrack.json passes 255; tracked, the run stopped
    at its .previous names; untracked, its outputs fit and it runs."""
    long_name = "w" * 237 + ".mp4"
    for name in (long_name, "b.mp4"):
        _video(tmp_path / name, 3)
    out = tmp_path / "out"
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    for item in list_inputs(str(tmp_path)):
        run.video(item, True, run.predictor.config.track)
    assert sorted(os.listdir(out)) == sorted("b.mp4" + s for s in SUFFIXES)
    assert run.summary.processed == 1 and len(run.writer.failures) == 1
    failure = run.writer.failures[0]
    assert failure.startswith(str(out / long_name) + ".posetrack.json: ")
    assert "longer than the file system allows" in failure and "rename the input" in failure
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(list_inputs(str(tmp_path / long_name))[0], False, run.predictor.config.track)
    assert _frames_in(out / (long_name + ".frames.json")) == 3 and not run.writer.failures


def test_a_failed_move_aside_leaves_the_outputs_whole_and_the_run_goes_on(tmp_path,
                                                                          monkeypatch):
    """A rename that failed half-way left frames.json at its .previous name
    beside the current posetrack.json (the next run took them for a stopped
    run's and deleted the current ones); the error stopped the run."""
    _video(tmp_path / "clip.mp4", 4)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    out = tmp_path / "out"
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)
    replace = os.replace

    def refused(source, target):
        if str(target).endswith(".previous.posetrack.json"):
            raise PermissionError(13, "Permission denied", target)
        replace(source, target)
    monkeypatch.setattr(os, "replace", refused)
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)  # Was: PermissionError.
    assert sorted(os.listdir(out)) == sorted("clip.mp4" + s for s in SUFFIXES)
    assert _frames_in(out / "clip.mp4.frames.json") == 4
    assert len(run.writer.failures) == 1 and "Permission denied" in run.writer.failures[0]
    monkeypatch.undo()
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)
    assert sorted(os.listdir(out)) == sorted("clip.mp4" + s for s in SUFFIXES)


def test_a_users_video_named_like_a_photos_copy_is_not_left_out(tmp_path):
    """dance.pose.avi beside dance.avi was left out as predict.py's copy of
    dance.avi, whose copy is dance.avi.pose.avi."""
    from keras_pose.prediction.own_outputs import record_input_root
    folder = tmp_path / "d"
    folder.mkdir()
    for name in ("dance.avi", "dance.pose.avi", "clip.mp4"):
        (folder / name).write_bytes(b"")
    record_input_root(str(folder), list_inputs(str(folder)))
    # An earlier run with --output_dir equal to --input (clip.mp4's frames.json removed).
    (folder / "predictions.json").write_text("[]")
    for name in ("dance.avi", "dance.pose.avi"):
        (folder / (name + ".frames.json")).write_text("[]")
    for name in ("dance.avi", "dance.pose.avi", "clip.mp4"):
        (folder / (name + ".pose.avi")).write_bytes(b"")
    kept, left_out = without_own_outputs(list_inputs(str(folder)), str(folder))
    assert sorted(item.key for item in kept) == ["clip.mp4", "dance.avi", "dance.pose.avi"]
    assert sorted(item.key for item in left_out) == [
        "clip.mp4.pose.avi", "dance.avi.pose.avi", "dance.pose.avi.pose.avi"]


def test_videos_of_formats_not_read_are_named_as_photos_are(tmp_path):
    for name in ("ok.mp4", "clip.vob", "b.VOB", "c.mxf", "d.y4m", "x.heic"):
        (tmp_path / name).write_bytes(b"")
    inputs, note = find_inputs(str(tmp_path))
    assert [item.key for item in inputs] == ["ok.mp4"]
    assert "1 .heic file(s) not read" in note and "convert them to JPEG or PNG" in note
    assert ("1 .mxf file(s), 2 .vob file(s), 1 .y4m file(s) not read (the videos read are "
            ".mp4, .avi,") in note
    assert "convert them to MP4" in note
    # Named on its own: refused with the note (was noted, then tried as an
    # image: "Unknown image file format").
    from keras_pose.prediction.inputs import InputError
    with pytest.raises(InputError, match=r"clip\.vob: no image or video found; 1 \.vob file"):
        find_inputs(str(tmp_path / "clip.vob"))
    assert [item.key for item in find_inputs(str(tmp_path / "ok.mp4"))[0]] == ["ok.mp4"]


def test_a_video_of_one_decodable_frame_is_said_in_the_singular(tmp_path):
    data = mjpg_avi_bytes(tmp_path / "whole.avi", 12)
    first = data.index(b"00dc", data.index(b"movi"))  # The first frame's chunk.
    (tmp_path / "one.avi").write_bytes(data[:data.index(b"00dc", first + 8) + 8])
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.video(list_inputs(str(tmp_path / "one.avi"))[0], False, run.predictor.config.track)
    assert _frames_in(tmp_path / "out" / "one.avi.frames.json") == 1
    assert run.summary.short_videos == [
        f"{tmp_path / 'one.avi'}: 1 of the 12 frames its header declares could be decoded (a "
        "truncated or damaged file, or a header's estimate); its outputs hold the 1 frame "
        "decoded"]


def test_a_videos_posetrack_json_beside_a_missing_prediction_is_named(tmp_path):
    from keras_pose.errors import MissingFileError
    from keras_pose.evaluation.posetrack import sequence_pairs
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    (gt / "move10.json").write_text("{}")
    (pred / "move10.mp4.posetrack.json").write_text("{}")
    with pytest.raises(MissingFileError) as error:
        sequence_pairs(str(gt), str(pred))
    message = str(error.value)
    assert f"no prediction file for 1 ground-truth sequence(s): {pred / 'move10.json'} (or " \
        "move10.posetrack.json, predict.py --track's name); " in message
    assert f"{pred / 'move10.mp4.posetrack.json'} is predict.py's output of a video" in message
    assert "move10.mp4#0" in message and "do not pair with a ground truth's frames" in message
    assert "run predict.py --track on the sequence's folder of frames" in message
    # Another sequence's video is not named.
    (pred / "move10.mp4.posetrack.json").rename(pred / "other.mp4.posetrack.json")
    with pytest.raises(MissingFileError) as error:
        sequence_pairs(str(gt), str(pred))
    assert "of a video" not in str(error.value)
