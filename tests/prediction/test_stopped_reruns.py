"""Runs over the same inputs stopped one after another (Ctrl-C, SIGTERM, a
closed terminal): no stop deletes results that exist nowhere else, a
stopped run's outputs are marked partial, and of two partial sets the one
holding more is kept."""

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from keras_pose import signals
from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.outputs import JsonListFile, OutputWriter
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses, _StopAt, _frame_counts
from tests.test_signals import sighup_as_by_default

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAMES = {f"{i}.jpg": f"/in/{i}.jpg" for i in range(6)}


def _video(path, frames):
    """An .mp4 of ``frames`` grey 64x48 frames (levels going round)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    assert writer.isOpened(), "OpenCV cannot write .mp4 here"
    for t in range(frames):
        writer.write(np.full((48, 64, 3), 40 * t % 256, np.uint8))
    writer.release()


def _results(i):
    return {"image_id": i, "file_name": f"{i}.jpg", "path": f"/in/{i}.jpg", "score": 0.9}


def _stopped_run(out, images, model=None):
    """A run over NAMES (of ``model``) stopped after ``images`` images."""
    predictions = JsonListFile(OutputWriter(str(out), model), str(out / "predictions.json"),
                               NAMES)
    for i in range(images):
        predictions.add([_results(i)])
    return predictions.finish(complete=False)


def _held(path):
    return len(json.load(open(path)))


def test_stopped_reruns_keep_the_results_holding_most_images(tmp_path, caplog):
    """Stopped after 2, 5 and 0 images: the third run deleted the second's
    5 (the earlier run's results, predictions.previous.json, were taken for
    complete) and left the first's 2 beside an empty predictions.json."""
    caplog.set_level(logging.WARNING, logger="absl")
    out = tmp_path
    kept = [_stopped_run(out, images) for images in (2, 5, 0)]
    assert _held(out / "predictions.json") == 5
    # The 2 went at the second stop (these 5 hold them and more); the third
    # run's nothing put them back in place, known as partial.
    assert kept == [None, None, None]
    assert sorted(os.listdir(out)) == ["predictions.incomplete", "predictions.json"]
    assert len(caplog.messages) == 3 and caplog.messages[-1] == (  # One line each: what is where.
        "predictions.json: this run stopped before its end and holds no image(s) with people: "
        "the earlier run's outputs are back in place (partial too, as "
        f"{out / 'predictions.incomplete'} says)")
    # Stopped after fewer: both partial sets stay, and the next run keeps the larger.
    caplog.clear()
    assert _stopped_run(out, 3) == str(out / "predictions.previous.json")
    assert caplog.messages == [
        f"predictions.json: this run stopped before its end: {out / 'predictions.json'} holds "
        f"its 3 image(s) with people, marked partial by {out / 'predictions.incomplete'}; the "
        "earlier stopped run's, which hold more (5 image(s) with people), are kept as "
        f"{out / 'predictions.previous.json'} (partial too, as "
        f"{out / 'predictions.previous.incomplete'} says)"]
    _stopped_run(out, 1)
    assert (_held(out / "predictions.json"), _held(out / "predictions.previous.json")) == (1, 5)
    assert (out / "predictions.previous.incomplete").is_file()
    # A run that finishes: complete, unmarked, alone.
    predictions = JsonListFile(OutputWriter(str(out)), str(out / "predictions.json"), NAMES)
    predictions.add([_results(i) for i in range(6)])
    assert predictions.finish(complete=True) is None
    assert os.listdir(out) == ["predictions.json"] and _held(out / "predictions.json") == 6
    # A complete file is never replaced by a partial one (it is kept as previous).
    _stopped_run(out, 4)
    assert not (out / "predictions.previous.incomplete").exists()
    assert (_held(out / "predictions.json"), _held(out / "predictions.previous.json")) == (4, 6)


def test_partial_results_of_other_inputs_moved_aside_stay_marked(tmp_path):
    _stopped_run(tmp_path, 2)
    other = JsonListFile(OutputWriter(str(tmp_path)), str(tmp_path / "predictions.json"),
                         {"x.jpg": "/else/x.jpg"})
    assert other.kept_earlier == str(tmp_path / "predictions.1.json")
    other.add([dict(_results(0), file_name="x.jpg", path="/else/x.jpg")])
    other.finish(complete=True)
    assert sorted(os.listdir(tmp_path)) == ["predictions.1.incomplete", "predictions.1.json",
                                            "predictions.json"]


def _stopped_video(item, out, stop, model=None):
    run = PredictionRun(_Poses(), _StopAt(stop), str(out), model=model)
    with pytest.raises(KeyboardInterrupt):
        run.video(item, True, run.predictor.config.track)


def test_stopped_reruns_of_a_video_keep_the_outputs_holding_most_frames(tmp_path):
    """Stopped at 2, 4 and 1 frames: the third run deleted the second's 4
    frames, keeping the first's 2 as the "complete" ones."""
    _video(tmp_path / "clip.mp4", 6)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    out = tmp_path / "out"
    for stop in (2, 4, 1):
        _stopped_video(item, out, stop)
    assert _frame_counts(out, "clip") == {
        "clip.mp4.frames.json": 1, "clip.mp4.pose.avi": 1,
        "clip.mp4.previous.frames.json": 4, "clip.mp4.previous.pose.avi": 4}
    assert len(json.load(open(out / "clip.mp4.previous.posetrack.json"))["images"]) == 4
    assert (out / "clip.mp4.incomplete").is_file()
    assert (out / "clip.mp4.previous.incomplete").is_file()
    _stopped_video(item, out, 0)  # Nothing of its own: the 4 frames back in place.
    assert _frame_counts(out, "clip") == {"clip.mp4.frames.json": 4, "clip.mp4.pose.avi": 4}
    assert (out / "clip.mp4.incomplete").is_file()
    _stopped_video(item, out, 5)  # Holds more: the 4 go.
    assert _frame_counts(out, "clip") == {"clip.mp4.frames.json": 5, "clip.mp4.pose.avi": 5}
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(item, True, run.predictor.config.track)
    assert sorted(os.listdir(out)) == ["clip.mp4.frames.json", "clip.mp4.pose.avi",
                                       "clip.mp4.posetrack.json"]


class _HangUpAt(_StopAt):
    """One person per frame; the terminal closed (SIGHUP) as frame ``stop``
    is detected."""

    def detect(self, image, source):
        if self.calls == self.stop:
            from tests.test_signals import send_sighup
            send_sighup()
        return super().detect(image, source)


def test_a_closed_terminal_stops_a_tracked_video_as_sigterm_does(tmp_path):
    """SIGHUP was left to the OS: the run died as by kill -9 (no PoseTrack
    JSON, an annotated video whose header said 0 frames)."""
    _video(tmp_path / "clip.mp4", 5)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    out = tmp_path / "out"
    run = PredictionRun(_Poses(), _HangUpAt(3), str(out))
    with sighup_as_by_default(), signals.command_stops():
        with pytest.raises(signals.Terminated, match="SIGHUP"):
            run.video(item, True, run.predictor.config.track)
    assert _frame_counts(out, "clip") == {"clip.mp4.frames.json": 3, "clip.mp4.pose.avi": 3}
    assert len(json.load(open(out / "clip.mp4.posetrack.json"))["images"]) == 3
    assert (out / "clip.mp4.incomplete").is_file()


@pytest.mark.slow  # predict.py in a subprocess
def test_predict_py_stopped_by_sighup_exits_129_with_its_outputs_closed(checkpoint, tmp_path):
    """kill -HUP mid-video: exit 129, the frames done in every output."""
    _video(tmp_path / "long.mp4", 400)
    out = tmp_path / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, "predict.py", "--checkpoint", checkpoint, "--input",
                             str(tmp_path / "long.mp4"), "--track", "--detector", "none",
                             "--output_dir", str(out)], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            # As a terminal starts it: under nohup (a CI job) SIGHUP is
                            # ignored, and that is inherited (and kept, by design).
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    frames, deadline = out / "long.mp4.frames.json", time.time() + 240
    while proc.poll() is None and time.time() < deadline:
        try:
            if len(json.load(open(frames))) >= 2:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 129, err[-3000:]
    assert "predict.py: interrupted (SIGHUP)" in err and "Traceback" not in err
    done = len(json.load(open(frames)))
    assert 2 <= done < 400 and (out / "long.mp4.incomplete").is_file()
    # The mark names the checkpoint by its real path: a rerun of another model keeps these.
    mark = (out / "long.mp4.incomplete").read_text().splitlines()
    assert f"model: {os.path.realpath(checkpoint)}" in mark
    assert len(json.load(open(out / "long.mp4.posetrack.json"))["images"]) == done
    capture = cv2.VideoCapture(str(out / "long.mp4.pose.avi"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == done
    capture.release()


@pytest.fixture
def checkpoint(tiny_exported):
    return tiny_exported[2]


def test_a_rerun_failing_mid_write_keeps_the_earlier_complete_results(tmp_path, monkeypatch):
    """A rerun over a and b wrote a's entry, then b's failed (EIO): told it had finished, it keeps the earlier complete results and marks
    its own (lacking b) partial."""
    from keras_pose.prediction import outputs
    names = {"a.jpg": "/in/a.jpg", "b.jpg": "/in/b.jpg"}
    earlier = [{"image_id": i, "file_name": n, "path": p, "score": 0.9}
               for i, (n, p) in enumerate(names.items())]
    (tmp_path / "predictions.json").write_text(json.dumps(earlier))
    writer = OutputWriter(str(tmp_path))
    predictions = JsonListFile(writer, str(tmp_path / "predictions.json"), names)
    predictions.add([earlier[0]])

    def failing(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    monkeypatch.setattr(outputs.os, "fsync", failing)
    predictions.add([earlier[1]])
    monkeypatch.undo()
    assert predictions.failed and len(writer.failures) == 1
    previous = tmp_path / "predictions.previous.json"
    assert predictions.finish(complete=True) == str(previous)
    # Written in part: the earlier 2 images kept, this run's 1 marked partial.
    assert json.load(open(previous)) == earlier
    assert json.load(open(tmp_path / "predictions.json")) == [earlier[0]]
    assert (tmp_path / "predictions.incomplete").is_file()


def test_a_rerun_stopped_as_far_as_the_complete_run_still_keeps_it(tmp_path):
    """A complete run of 6 images, then a rerun stopped after its 6th (before it finished): the complete results stay, not replaced by
    partial ones."""
    (tmp_path / "predictions.json").write_text(json.dumps([_results(i) for i in range(6)]))
    assert _stopped_run(tmp_path, 6) == str(tmp_path / "predictions.previous.json")
    assert _held(tmp_path / "predictions.previous.json") == 6
    assert not (tmp_path / "predictions.previous.incomplete").exists()  # Complete: unmarked.
    assert (tmp_path / "predictions.incomplete").is_file()


def test_stopped_runs_are_compared_by_images_not_by_people(tmp_path):
    """Of two stopped runs the one holding more images is kept: 3 images of
    one person each beat 2 images of 3 people each (6 entries)."""
    _stopped_run(tmp_path, 3)
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(tmp_path / "predictions.json"),
                               NAMES)
    for i in range(2):
        predictions.add([_results(i)] * 3)  # 3 people in image i.
    previous = tmp_path / "predictions.previous.json"
    assert predictions.finish(complete=False) == str(previous)
    # By hand: distinct file_name values, 3 ({0,1,2}.jpg) kept vs 2 ({0,1}.jpg).
    assert _held(previous) == 3 and _held(tmp_path / "predictions.json") == 6
    assert (tmp_path / "predictions.previous.incomplete").is_file()


def test_images_held_counts_distinct_file_names_not_entries(tmp_path):
    """A stopped run holds its images, not its people (3 people in a.jpg and b.jpg: 2 images)."""
    from keras_pose.prediction.earlier_outputs import held
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([{"file_name": "a.jpg"}, {"file_name": "a.jpg"},
                                {"file_name": "b.jpg"}]))
    assert held(str(path), "file_name") == 2  # {a.jpg, b.jpg}
    assert held(str(path)) == 3  # A video's frames: every entry.


def test_a_stopped_run_with_more_people_but_fewer_images_does_not_replace_one_with_more(
        tmp_path):
    """A stopped run's 1 image of 3 people does not replace an earlier stopped run's 2 images."""
    _stopped_run(tmp_path, 2)  # {0,1}.jpg
    crowded = JsonListFile(OutputWriter(str(tmp_path)), str(tmp_path / "predictions.json"),
                           NAMES)
    crowded.add([_results(0)] * 3)  # 3 people in 0.jpg.
    crowded.finish(complete=False)
    assert _held(tmp_path / "predictions.previous.json") == 2  # The 2 images kept aside.
    # A third run stopped before any image: of the two partial sets the one
    # holding more images (2 > 1) is put back in place.
    _stopped_run(tmp_path, 0)
    assert sorted(os.listdir(tmp_path)) == ["predictions.incomplete", "predictions.json"]
    assert [r["file_name"] for r in json.load(open(tmp_path / "predictions.json"))] == [
        "0.jpg", "1.jpg"]


def _files(out):
    return sorted(os.listdir(out))


def test_a_stopped_run_of_another_model_is_kept_aside_when_a_complete_set_is_there(tmp_path):
    """Complete results (model A), a stopped run of model B (2 images), then a
    run of model C stopped after 1: B's 2 images exist nowhere else, so they
    are moved aside (still marked partial, naming B), not deleted."""
    (tmp_path / "predictions.json").write_text(json.dumps([_results(i) for i in range(6)]))
    _stopped_run(tmp_path, 2, "/models/b")
    assert _stopped_run(tmp_path, 1, "/models/c") == str(tmp_path / "predictions.previous.json")
    assert _files(tmp_path) == [
        "predictions.1.incomplete", "predictions.1.json", "predictions.incomplete",
        "predictions.json", "predictions.previous.json"]
    assert _held(tmp_path / "predictions.previous.json") == 6  # A's, complete.
    assert _held(tmp_path / "predictions.1.json") == 2  # B's.
    assert "model: /models/b" in (tmp_path / "predictions.1.incomplete").read_text()
    assert _held(tmp_path / "predictions.json") == 1  # C's.
    assert "model: /models/c" in (tmp_path / "predictions.incomplete").read_text()


def test_of_two_stopped_runs_of_different_models_neither_is_deleted(tmp_path):
    """Model A stopped after 1 image, then model B after 2: the same inputs in
    the same order, but A's results are not B's: kept aside as
    predictions.1.json; with one model the one holding fewer goes."""
    _stopped_run(tmp_path, 1, "/models/a")
    assert _stopped_run(tmp_path, 2, "/models/b") is None
    assert _files(tmp_path) == ["predictions.1.incomplete", "predictions.1.json",
                                "predictions.incomplete", "predictions.json"]
    assert [r["file_name"] for r in json.load(open(tmp_path / "predictions.1.json"))] == [
        "0.jpg"]
    assert "model: /models/a" in (tmp_path / "predictions.1.incomplete").read_text()
    assert _held(tmp_path / "predictions.json") == 2
    # B again, stopped after 3: its own 2 go (these 3 hold them); A's stay aside.
    _stopped_run(tmp_path, 3, "/models/b")
    assert _files(tmp_path) == ["predictions.1.incomplete", "predictions.1.json",
                                "predictions.incomplete", "predictions.json"]
    assert _held(tmp_path / "predictions.json") == 3


def test_a_stopped_video_run_of_another_model_is_kept_aside(tmp_path):
    """A video stopped at 4 frames by model A, then at 1 by model B: A's 4
    frames are the ones kept in place for B's run to beat; B stopped again
    at 5 replaces its own 1, and A's 4 go aside (clip.mp4.1.*), not away."""
    _video(tmp_path / "clip.mp4", 6)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    out = tmp_path / "out"
    _stopped_video(item, out, 4, "/models/a")
    _stopped_video(item, out, 1, "/models/b")
    assert _frame_counts(out, "clip") == {
        "clip.mp4.frames.json": 1, "clip.mp4.pose.avi": 1,
        "clip.mp4.previous.frames.json": 4, "clip.mp4.previous.pose.avi": 4}
    _stopped_video(item, out, 5, "/models/b")
    assert _frame_counts(out, "clip") == {
        "clip.mp4.frames.json": 5, "clip.mp4.pose.avi": 5,
        "clip.mp4.1.frames.json": 4, "clip.mp4.1.pose.avi": 4}
    assert "model: /models/a" in (out / "clip.mp4.1.incomplete").read_text()
    assert len(json.load(open(out / "clip.mp4.1.posetrack.json"))["images"]) == 4


def test_a_stopped_run_says_where_another_videos_outputs_went(tmp_path, caplog):
    """A complete run of a/clip.mp4, then a run of b/clip.mp4 (another video,
    the same output names) stopped after 2 frames: the stop's own line says
    where a's outputs went (said only in the summary, which a stop never
    prints)."""
    for folder, frames in (("a", 5), ("b", 6)):
        (tmp_path / folder).mkdir()
        _video(tmp_path / folder / "clip.mp4", frames)
    out = tmp_path / "out"
    run = PredictionRun(_Poses(), _StopAt(-1), str(out))
    run.video(list_inputs(str(tmp_path / "a" / "clip.mp4"))[0], True, run.predictor.config.track)
    with caplog.at_level(logging.WARNING):
        _stopped_video(list_inputs(str(tmp_path / "b" / "clip.mp4"))[0], out, 2)
    assert _frame_counts(out, "clip") == {
        "clip.mp4.frames.json": 2, "clip.mp4.pose.avi": 2,
        "clip.mp4.1.frames.json": 5, "clip.mp4.1.pose.avi": 5}
    said = [r.getMessage() for r in caplog.records if "kept beside" in r.getMessage()]
    assert len(said) == 1 and str(out / "clip.mp4.1.frames.json") in said[0], said
