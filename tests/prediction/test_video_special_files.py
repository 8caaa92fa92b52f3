"""A listed video that is a named pipe when it is opened (or a device) is
reported as unreadable with its kind, at once: ffmpeg waited for the pipe's
writer, and Ctrl-C and SIGTERM did not end the run."""

import os
import threading

from keras_pose.prediction.input_pixels import open_video
from keras_pose.prediction.inputs import InputFile
from keras_pose.prediction.runner import PredictionRun
from tests.prediction.test_runner import _Poses, _StopAt

FIFO = "is a named pipe (FIFO), not a file: save what it gives into a file first"


def _release(fifo):
    """Opens ``fifo`` for writing and closes it: a reader waiting on it sees
    its end (the old code's open, left waiting by a failed test)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:  # No reader waits.
        pass


def test_a_named_pipe_is_not_opened_as_a_video(tmp_path):
    fifo = str(tmp_path / "clip.mp4")
    os.mkfifo(fifo)
    opened = []
    thread = threading.Thread(target=lambda: opened.append(open_video(fifo)), daemon=True)
    thread.start()
    thread.join(10)
    waiting = thread.is_alive()
    if waiting:
        _release(fifo)
        thread.join(10)
    assert not waiting, "open_video waited for the named pipe's writer"
    assert not opened[0][0].isOpened() and opened[0][1] == 0


def test_the_run_reports_a_video_that_is_a_special_file(tmp_path):
    """As another unreadable input: skipped, named with its kind."""
    fifo = str(tmp_path / "clip.mp4")
    os.mkfifo(fifo)
    os.symlink(os.devnull, tmp_path / "null.avi")
    run = PredictionRun(_Poses(), _StopAt(-1), str(tmp_path / "out"))
    thread = threading.Thread(daemon=True, target=lambda: [
        run.video(InputFile(path, os.path.basename(path), 0), False, run.predictor.config.track)
        for path in (fifo, str(tmp_path / "null.avi"))])
    thread.start()
    thread.join(20)
    if thread.is_alive():
        _release(fifo)
        thread.join(10)
    assert run.summary.unreadable == [
        f"{fifo}: {FIFO}",
        f"{tmp_path / 'null.avi'}: is a character device, not a file: save what it gives into "
        "a file first"]
    assert run.summary.processed == 0
