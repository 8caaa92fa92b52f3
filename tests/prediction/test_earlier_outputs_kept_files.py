"""Of two partial sets of a video's outputs the one holding fewer frames goes
only when it holds nothing the other lacks: a tracked run stopped by
``kill -9`` has no PoseTrack JSON (written at the end), so a smaller set
that has one is moved aside (``<name>.<n>.*``), not deleted."""

import json
import logging
import os

import pytest

from keras_pose.prediction import runner
from keras_pose.prediction.earlier_outputs import (
    INCOMPLETE, PREVIOUS, SEQUENCE_SUFFIXES, held, keep_previous, mark_incomplete,
    settle_previous, tagged)
from keras_pose.prediction.inputs import list_inputs
from tests.prediction.test_runner import _frame_counts
from tests.prediction.test_stopped_reruns import _stopped_video, _video


def _killed_video(item, out, stop, monkeypatch):
    """A tracked run stopped after ``stop`` frames as ``kill -9`` stops it:
    frames.json and the annotated video hold the frames done, no PoseTrack
    JSON is written and nothing is settled (no finally block runs)."""
    with monkeypatch.context() as patch:
        patch.setattr(runner, "_write_posetrack", lambda *args, **kwargs: True)
        patch.setattr(runner, "settle_previous", lambda *args, **kwargs: None)
        _stopped_video(item, out, stop)


def test_a_stop_after_a_kill_keeps_the_only_posetrack_json(tmp_path, monkeypatch, caplog):
    """SIGTERM at 2 frames (a PoseTrack JSON of 2), kill -9 at 4 (none),
    SIGTERM at 0: the third run deleted the 2 frames' set, and with it the
    only PoseTrack JSON, saying the earlier outputs were back in place."""
    _video(tmp_path / "clip.mp4", 6)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    out = tmp_path / "out"
    _stopped_video(item, out, 2)
    posetrack = (out / "clip.mp4.posetrack.json").read_text()
    assert len(json.loads(posetrack)["images"]) == 2
    _killed_video(item, out, 4, monkeypatch)
    assert sorted(os.listdir(out)) == [  # As the repro's second step leaves them.
        "clip.mp4.frames.json", "clip.mp4.incomplete", "clip.mp4.pose.avi",
        "clip.mp4.previous.frames.json", "clip.mp4.previous.incomplete",
        "clip.mp4.previous.pose.avi", "clip.mp4.previous.posetrack.json"]
    with caplog.at_level(logging.WARNING):
        _stopped_video(item, out, 0)
    # The 4 frames back in place; the 2 frames' set, the only one with a
    # PoseTrack JSON, aside as clip.mp4.1.* (marked partial still).
    assert _frame_counts(out, "clip") == {
        "clip.mp4.frames.json": 4, "clip.mp4.pose.avi": 4,
        "clip.mp4.1.frames.json": 2, "clip.mp4.1.pose.avi": 2}
    assert (out / "clip.mp4.1.posetrack.json").read_text() == posetrack
    assert sorted(os.listdir(out)) == [
        "clip.mp4.1.frames.json", "clip.mp4.1.incomplete", "clip.mp4.1.pose.avi",
        "clip.mp4.1.posetrack.json", "clip.mp4.frames.json", "clip.mp4.incomplete",
        "clip.mp4.pose.avi"]
    said = [r.getMessage() for r in caplog.records if "clip.mp4.1.frames.json" in r.getMessage()]
    assert said == [
        f"clip.mp4.frames.json: the partial outputs holding "
        f"{out / 'clip.mp4.previous.posetrack.json'} (not among the outputs kept in their "
        "place) are kept as "
        f"{out / 'clip.mp4.1.frames.json'}"]


def _pairs(out):
    output = str(out / "clip.mp4")
    return [(output + s, tagged(output + s, PREVIOUS)) for s in SEQUENCE_SUFFIXES]


def _partial_set(out, tag, frames, posetrack, model="/models/a"):
    """A stopped run's outputs of ``frames`` frames (``posetrack``: with its
    PoseTrack JSON), named ``clip.mp4<tag>.*``, marked partial by ``model``."""
    name = str(out / f"clip.mp4{tag}")
    with open(name + ".frames.json", "w") as f:
        json.dump([{"frame": i, "file_name": f"clip.mp4#{i}", "people": []}
                   for i in range(frames)], f)
    with open(name + ".pose.avi", "wb") as f:
        f.write(b"avi")
    if posetrack:
        with open(name + ".posetrack.json", "w") as f:
            json.dump({"images": [{"id": i} for i in range(frames)], "annotations": []}, f)
    mark_incomplete(name + INCOMPLETE, name + ".frames.json", model)


@pytest.mark.parametrize("posetrack, kept", [(True, True), (False, False)])
def test_a_stopped_run_holding_more_keeps_the_smaller_set_only_for_a_file_it_lacks(
        tmp_path, caplog, posetrack, kept):
    """A stopped run of 5 frames whose PoseTrack JSON was not written (a full
    disk) beside an earlier stopped run's 3 frames: those are moved aside
    when they hold a PoseTrack JSON, removed when not (these hold theirs)."""
    _partial_set(tmp_path, PREVIOUS, 3, posetrack)
    _partial_set(tmp_path, "", 5, False)
    with caplog.at_level(logging.WARNING):
        settle_previous("clip.mp4", _pairs(tmp_path), False, 5, held, "frame(s)",
                        model="/models/a")
    aside = ["clip.mp4.1.frames.json", "clip.mp4.1.incomplete", "clip.mp4.1.pose.avi",
             "clip.mp4.1.posetrack.json"] if kept else []
    assert sorted(os.listdir(tmp_path)) == aside + [
        "clip.mp4.frames.json", "clip.mp4.incomplete", "clip.mp4.pose.avi"]
    line = caplog.records[-1].getMessage()
    if kept:
        assert len(json.load(open(tmp_path / "clip.mp4.1.frames.json"))) == 3
        assert line.endswith(
            f"; the earlier stopped run's (3 frame(s)), holding "
            f"{tmp_path / 'clip.mp4.previous.posetrack.json'} (not among the outputs kept in "
            f"their place), are kept as {tmp_path / 'clip.mp4.1.frames.json'}")
    else:
        assert line.endswith("; the earlier stopped run's (3 frame(s)) are removed")


def test_a_set_of_no_frames_is_removed_even_with_a_posetrack_json(tmp_path):
    """A run stopped before its first frame writes a PoseTrack JSON of none:
    nothing to keep, so it goes as any smaller set does (no clip.mp4.1.*)."""
    _partial_set(tmp_path, PREVIOUS, 0, True)
    _partial_set(tmp_path, "", 4, False)
    assert keep_previous(_pairs(tmp_path), held, "/models/a")[1]
    assert sorted(os.listdir(tmp_path)) == [
        "clip.mp4.previous.frames.json", "clip.mp4.previous.incomplete",
        "clip.mp4.previous.pose.avi"]
