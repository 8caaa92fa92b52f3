"""The benchmark's hooks time predict.py's own path from outside: a change
of that path (runner._frames became runner.VideoFrames) broke
scripts/benchmark_video.py at its start, and nothing ran it."""

import json

import pytest

from tests.prediction.test_runner import _Poses, _StopAt, _video


@pytest.fixture
def hooks(monkeypatch):
    """scripts.benchmark_video_hooks, its patches undone after the test."""
    from keras_pose import tracking
    from keras_pose.export import runtimes
    from keras_pose.prediction import runner
    for module, name in ((runner, "VideoFrames"), (runner, "_draw_tracks"),
                         (runner, "VideoOutput"), (runtimes, "load_network"),
                         (tracking, "PoseTracker")):
        monkeypatch.setattr(module, name, getattr(module, name))
    from scripts import benchmark_video_hooks
    benchmark_video_hooks.CLOCK.reset()
    return benchmark_video_hooks


@pytest.mark.parametrize("track", [False, True])
def test_the_hooks_time_every_stage_of_a_video_and_change_no_output(hooks, track, tmp_path):
    from keras_pose.prediction.inputs import list_inputs
    from keras_pose.prediction.runner import PredictionRun
    hooks.instrument()
    _video(tmp_path / "clip.mp4", 3)
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    run.video(list_inputs(str(tmp_path / "clip.mp4"))[0], track, run.predictor.config.track)
    frames = json.load(open(tmp_path / "out" / "clip.mp4.frames.json"))
    assert [len(f["people"]) for f in frames] == [1, 1, 1] and run.summary.processed == 1
    assert hooks.CLOCK.frames == 3
    timed = {stage for stage, seconds in hooks.CLOCK.seconds.items() if seconds > 0}
    assert {"decode", "write"} <= timed and (("step" in timed) == track)
