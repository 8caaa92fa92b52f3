"""predict.py shows that it works: a bar on a terminal's stderr, else a log
line at most every 30 s; --noprogress shows none; stdout stays as it was.
(It wrote nothing until its summary: hours of video without a sign.)"""

import logging
import os
import pty
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from keras_pose.prediction import progress
from keras_pose.prediction.inputs import list_inputs
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses, _StopAt, _video

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Clock:
    """A fake monotonic clock: the given times, one a reading."""

    def __init__(self, *times):
        self.times = list(times)

    def __call__(self):
        return self.times.pop(0)


class _Entries:
    """predictions.json's stand-in: counts what is added."""

    def __init__(self):
        self.entries = []

    def add(self, entries):
        self.entries.extend(entries)


@pytest.fixture
def lines(caplog, monkeypatch):
    """The log lines of the progress (stderr taken as no terminal)."""
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    caplog.set_level(logging.INFO, logger="absl")
    return lambda: [r.getMessage() for r in caplog.records
                    if r.levelno == logging.INFO and " done, " in r.getMessage()]


def _photos(folder, count):
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        cv2.imwrite(os.path.join(folder, f"p{i}.jpg"), np.full((48, 64, 3), 100, np.uint8))
    return list_inputs(str(folder))


def test_a_line_every_30_s_of_the_clock_not_more_often(lines, monkeypatch):
    # Read at the start (0), then after each of 5 photos.
    monkeypatch.setattr(progress, "_monotonic", _Clock(0, 10, 29.9, 30, 45, 61))
    assert list(progress.counted(range(5), "photos", 5, "photo")) == [0, 1, 2, 3, 4]
    # 30 s after the start, then 31 s after that line (45: 15 s, none).
    assert lines() == ["photos: 3 of 5 photos done, 0:30 elapsed",
                       "photos: 5 of 5 photos done, 1:01 elapsed"]


def test_an_unknown_total_is_left_out_and_hours_are_shown(lines, monkeypatch):
    # OpenCV's frame count of a stream that declares none: 0 (or -1).
    monkeypatch.setattr(progress, "_monotonic", _Clock(0, 5, 3723))
    list(progress.counted(range(2), "live.mp4", -1, "frame", about=True))
    assert lines() == ["live.mp4: 2 frames done, 1:02:03 elapsed"]


def test_the_photos_of_a_run_are_counted(lines, monkeypatch, tmp_path):
    items = _photos(tmp_path / "in", 3)
    monkeypatch.setattr(progress, "_monotonic", _Clock(0, 10, 31, 60))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"), progress=True)
    run.images(items, _Entries())
    assert lines() == ["photos: 2 of 3 photos done, 0:31 elapsed"]  # 60: 29 s after it
    assert run.summary.processed == 3


def test_a_videos_frames_are_counted_of_about_its_headers_count(lines, monkeypatch, tmp_path):
    _video(tmp_path / "clip.mp4", 4)
    item = list_inputs(str(tmp_path / "clip.mp4"))[0]
    monkeypatch.setattr(progress, "_monotonic", _Clock(0, 10, 31, 40, 70))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"), progress=True)
    run.video(item, False, run.predictor.config.track)
    assert lines() == ["clip.mp4: 2 of about 4 frames done, 0:31 elapsed",
                       "clip.mp4: 4 of about 4 frames done, 1:10 elapsed"]


def test_a_tracked_folders_frames_are_counted(lines, monkeypatch, tmp_path):
    items = _photos(tmp_path / "in" / "walk", 3)
    monkeypatch.setattr(progress, "_monotonic", _Clock(0, 40, 50, 60))
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"), progress=True)
    run.folders(items, run.predictor.config.track)
    assert lines() == ["walk: 1 of 3 frames done, 0:40 elapsed"]


@pytest.mark.parametrize("shown", [True, False])
def test_a_bar_on_a_terminals_stderr_and_none_when_not_shown(shown, monkeypatch, capsys,
                                                             tmp_path):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"), progress=shown)
    run.images(_photos(tmp_path / "in", 3), _Entries())
    out, err = capsys.readouterr()
    assert out == ""
    assert ("photos: 100%" in err and "3/3" in err) == shown
    assert err == "" or shown


@pytest.fixture(scope="module")
def checkpoint(tiny_exported):
    return tiny_exported[2]


def test_noprogress_shows_no_bar(run_script, checkpoint, monkeypatch, tmp_path):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    run_predict = run_script("predict.py")
    _photos(tmp_path / "in", 2)
    args = ["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--detector", "none"]
    code, _, err = run_predict(args + ["--output_dir", str(tmp_path / "a")])
    assert code == 0 and "photos: 100%" in err and "2/2" in err
    code, _, err = run_predict(args + ["--output_dir", str(tmp_path / "b"), "--noprogress"])
    assert code == 0, err
    assert "photos:" not in err and "2/2" not in err


def _read_all(fd, into):
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the other end closed.
            return
        if not data:
            return
        into.append(data)


@pytest.mark.slow  # predict.py in a subprocess
def test_a_terminals_bar_leaves_stdout_as_it_was(checkpoint, coco_dir, tmp_path):
    """stdout, which users parse, keeps its one summary line; the bar goes
    to the terminal that stderr is."""
    for name in sorted(f for f in os.listdir(coco_dir) if f.endswith(".jpg"))[:3]:
        os.makedirs(tmp_path / "in", exist_ok=True)
        os.symlink(os.path.join(coco_dir, name), tmp_path / "in" / name)
    master, slave = pty.openpty()
    got = []
    reader = threading.Thread(target=_read_all, args=(master, got), daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "predict.py", "--checkpoint", checkpoint, "--input",
             str(tmp_path / "in"), "--detector", "none", "--output_dir", str(tmp_path / "out")],
            cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), stdout=subprocess.PIPE,
            stderr=slave, text=True, timeout=300)
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    err = b"".join(got).decode("utf-8", "replace")
    assert proc.returncode == 0, err[-3000:]
    assert proc.stdout == (f"3 input(s) processed, 0 unreadable skipped; 3 people in "
                           f"{tmp_path / 'out' / 'predictions.json'}\n")
    assert "photos: 100%" in err and "3/3" in err
