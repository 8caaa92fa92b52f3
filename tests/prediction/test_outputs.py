"""predict.py's outputs: predictions.json stays a complete JSON list on disk."""

import errno
import json
import os
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from keras_pose.prediction import outputs
from keras_pose.prediction.outputs import OutputWriter, JsonListFile


def _entry(i):
    return {"image_id": i, "file_name": f"ünïcode/{i}.jpg", "keypoints": [1.5, 2.0, 0.9]}


def _on_disk(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_the_file_on_disk_is_valid_json_after_every_add(tmp_path):
    path = str(tmp_path / "out" / "predictions.json")
    predictions = JsonListFile(OutputWriter(str(tmp_path)), path)
    assert _on_disk(path) == []
    predictions.add([_entry(0), _entry(1)])
    assert _on_disk(path) == [_entry(0), _entry(1)]
    predictions.add([])
    predictions.add([_entry(2)])
    assert _on_disk(path) == [_entry(0), _entry(1), _entry(2)]  # before close
    predictions.close()
    assert _on_disk(path) == [_entry(0), _entry(1), _entry(2)]
    assert predictions.count == 3


_KILLED = r"""
import os, signal, sys
from keras_pose.prediction.outputs import OutputWriter, JsonListFile
predictions = JsonListFile(OutputWriter(sys.argv[1]), os.path.join(sys.argv[1], "p.json"))
for i in range(3):
    predictions.add([{"image_id": i}])
os.kill(os.getpid(), signal.SIGKILL)  # kill -9: nothing runs after this
"""


def test_a_run_killed_with_sigkill_leaves_every_entry_readable(tmp_path):
    run = subprocess.run([sys.executable, "-c", _KILLED, str(tmp_path)], timeout=120)
    assert run.returncode == -signal.SIGKILL
    assert _on_disk(tmp_path / "p.json") == [{"image_id": 0}, {"image_id": 1}, {"image_id": 2}]


def test_a_full_disk_keeps_the_entries_before_it_and_is_reported(tmp_path, monkeypatch):
    writer = OutputWriter(str(tmp_path))
    path = str(tmp_path / "predictions.json")
    predictions = JsonListFile(writer, path)
    predictions.add([_entry(0)])
    real_fsync, calls = os.fsync, []

    def full(fd):  # the next add's data does not fit
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(outputs.os, "fsync", full)
    # The run stops: it went on through every input, each write failing again.
    with pytest.raises(outputs.DiskFullError, match=f"^{path}: no space left on device, so "
                       "the run stops"):
        predictions.add([_entry(1), _entry(2)])
    predictions.add([_entry(3)])  # after a failure: not written
    predictions.close()
    assert _on_disk(path) == [_entry(0)]
    assert predictions.count == 1 and predictions.failed


def test_an_unwritable_place_is_reported_not_raised(tmp_path):
    (tmp_path / "file").write_text("a file where a folder must go")
    writer = OutputWriter(str(tmp_path))
    predictions = JsonListFile(writer, str(tmp_path / "file" / "predictions.json"))
    predictions.add([_entry(0)])
    predictions.close()
    assert len(writer.failures) == 1 and "predictions.json" in writer.failures[0]
    assert predictions.count == 0


def test_an_earlier_file_of_other_inputs_or_not_ours_is_moved_aside(tmp_path):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([_entry(0), _entry(1)]))
    # Every entry one of this run's inputs: a re-run, replaced.
    inputs = {"ünïcode/0.jpg": "/in/ünïcode/0.jpg", "ünïcode/1.jpg": "/in/ünïcode/1.jpg"}
    assert outputs.keep_earlier_results(str(path), inputs) is None
    assert outputs.keep_earlier_results(str(tmp_path / "none.json"), {}) is None
    path.write_text("[]")
    assert outputs.keep_earlier_results(str(path), {}) is None
    path.write_text(json.dumps([{**_entry(0), "path": "/in/ünïcode/0.jpg"}]))
    assert outputs.keep_earlier_results(str(path), inputs) is None
    # The same name, another file (a/x.jpg, then b/x.jpg): kept.
    same_name = {"ünïcode/0.jpg": "/elsewhere/ünïcode/0.jpg"}
    for n, content in ((1, json.dumps([_entry(0), _entry(1)])), (2, "not json"),
                       (3, json.dumps({"a": 1})),
                       (4, json.dumps([{**_entry(0), "path": "/in/ünïcode/0.jpg"}]))):
        path.write_text(content)
        kept = outputs.keep_earlier_results(str(path), same_name if n == 4 else
                                            {"ünïcode/0.jpg": "/in/ünïcode/0.jpg"})
        assert kept == str(tmp_path / f"predictions.{n}.json") and not path.exists()
        assert open(kept).read() == content
    # Through JsonListFile: kept, then a fresh list.
    path.write_text(json.dumps([_entry(5)]))
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(path), {"x.jpg": "/x.jpg"})
    assert predictions.kept_earlier == str(tmp_path / "predictions.5.json")
    assert _on_disk(path) == [] and _on_disk(predictions.kept_earlier) == [_entry(5)]


def test_a_video_cut_short_by_a_full_disk_is_reported(tmp_path, monkeypatch):
    """OpenCV's writer reports no error: on a full disk the .pose.avi held
    fewer frames than written (or none readable) and nothing said so.
    (Checked by hand on a 64 KB tmpfs: 12 frames written, reported.)"""
    import cv2

    from keras_pose.prediction import outputs
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(6)]
    writer = outputs.OutputWriter(str(tmp_path))
    video = outputs.VideoOutput(writer, str(tmp_path / "ok.avi"), 10)
    for frame in frames:
        video.add(frame)
    video.close()
    assert video.ok and writer.failures == []

    real = cv2.VideoWriter

    class DiskFillsAfterThree:  # The writer's frames past the third never reach the disk.
        def __init__(self, *args):
            self._video, self._written = real(*args), 0

        def __getattr__(self, name):
            return getattr(self._video, name)

        def write(self, image):
            self._written += 1
            if self._written <= 3:
                self._video.write(image)

    monkeypatch.setattr(outputs.cv2, "VideoWriter", DiskFillsAfterThree)
    video = outputs.VideoOutput(writer, str(tmp_path / "short.avi"), 10)
    for frame in frames:
        video.add(frame)
    video.close()
    assert not video.ok
    assert writer.failures == [f"{tmp_path / 'short.avi'}: the video's 6 frames could not be "
                               "written (disk full or read-only?); the file left holds fewer "
                               "of them (frames.json has every frame done)"]


def test_a_rate_the_video_writer_cannot_take_and_a_name_too_long_are_said(tmp_path):
    """A 2000 fps clip lost frames in its annotated copy (reported as a full
    disk); a name too long for the file system was 'disk full or read-only?'."""
    writer = outputs.OutputWriter(str(tmp_path))
    video = outputs.VideoOutput(writer, str(tmp_path / "fast.avi"), 2000.0)
    for i in range(30):
        video.add(np.full((48, 64, 3), 8 * i, np.uint8))
    video.close()
    assert video.ok and video.fps == outputs.MAX_VIDEO_FPS and writer.failures == []
    # A time-lapse's 0.001 fps: "the video could not be opened", no video.
    slow = outputs.VideoOutput(writer, str(tmp_path / "slow.avi"), 0.001)
    for i in range(3):
        slow.add(np.full((48, 64, 3), 8 * i, np.uint8))
    slow.close()
    assert slow.ok and slow.fps == outputs.MIN_VIDEO_FPS and writer.failures == []
    long = str(tmp_path / ("x" * 251 + ".pose.jpg"))
    assert not writer.image(long, np.zeros((8, 8, 3), np.uint8))
    assert "its name is longer than the file system allows (255 bytes" in writer.failures[-1]


def test_a_video_of_unreadable_frames_only_is_said(tmp_path, caplog):
    # A folder whose every frame was unreadable had no .pose.avi, unsaid.
    video = outputs.VideoOutput(outputs.OutputWriter(str(tmp_path)), str(tmp_path / "a.avi"), 5)
    video.gap()
    video.gap()
    with caplog.at_level("WARNING"):
        video.close()
    assert f"{tmp_path / 'a.avi'}: not written: none of its 2 frame(s) could be read" in caplog.text
    assert not os.path.exists(tmp_path / "a.avi")


def test_frames_of_an_odd_size_keep_their_last_row_and_column(tmp_path):
    """MJPG takes even sizes only: OpenCV's writer cut a 75-row frame's last
    row (a person's feet at the bottom edge went missing from the video)."""
    import cv2
    frame = np.zeros((75, 101, 3), np.uint8)
    frame[-1, :] = frame[:, -1] = 250  # The last row and column, bright.
    writer = outputs.OutputWriter(str(tmp_path))
    video = outputs.VideoOutput(writer, str(tmp_path / "odd.avi"), 10)
    for _ in range(3):
        video.add(frame)
    video.add(frame[:74, :100])  # A later frame one pixel smaller: padded, not stretched.
    video.close()
    assert video.ok and writer.failures == []
    capture = cv2.VideoCapture(str(tmp_path / "odd.avi"))
    read = [capture.read()[1] for _ in range(4)]
    capture.release()
    assert read[0].shape == (76, 102, 3)
    assert read[0][74, 10:90].mean() > 200 and read[0][10:70, 100].mean() > 200
    assert read[0][75, 10:90].mean() < 30 and read[0][10:70, 101].mean() < 30
    assert read[3][74, 10:90].mean() < 30 and read[3][30, 30].mean() < 30


def test_frames_of_another_size_than_the_first_are_scaled_and_said_once(tmp_path, caplog):
    writer = outputs.OutputWriter(str(tmp_path))
    video = outputs.VideoOutput(writer, str(tmp_path / "mixed.avi"), 10)
    for shape in ((48, 64, 3), (96, 128, 3), (30, 40, 3), (48, 64, 3)):
        video.add(np.full(shape, 90, np.uint8))
    video.close()
    assert video.ok and video.frames == 4
    said = [r.getMessage() for r in caplog.records if "scaled" in r.getMessage()]
    assert said == [f"{tmp_path / 'mixed.avi'}: frame 1 is 128x96, the video's first 64x48: "
                    "frames of another size are scaled to it in this video (their keypoints "
                    "in the JSON files are in their own pixels)"]


_FILE_SIZE_LIMIT = """
import json, resource, signal, sys
from keras_pose.prediction.outputs import JsonListFile, OutputWriter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG, as ENOSPC
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
writer = OutputWriter(sys.argv[1])
frames = JsonListFile(writer, sys.argv[1] + "/clip.frames.json")
for i in range(200):
    frames.add([{"frame": i, "people": [{"keypoints": [float(i) + 0.123456] * 51}]}])
frames.close()
print(frames.count, json.dumps(writer.failures))
"""


def test_a_file_that_stops_growing_mid_write_stays_valid_json(tmp_path):
    """A real full disk fails in the middle of a write: the buffered file kept
    the unwritten bytes, its seek to cut them failed again (swallowed), and
    frames.json stayed cut at 8192 bytes in the middle of an entry, the
    frames before it unreadable too."""
    run = subprocess.run([sys.executable, "-c", _FILE_SIZE_LIMIT, str(tmp_path)], timeout=120,
                         capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert run.returncode == 0, run.stderr[-2000:]
    count, failures = run.stdout.split(" ", 1)
    assert 0 < int(count) < 200 and len(json.loads(failures)) == 1
    assert [e["frame"] for e in _on_disk(tmp_path / "clip.frames.json")] == list(
        range(int(count)))


_NOTHING_FITS = """
import os, resource, signal, sys
from keras_pose.prediction.outputs import JsonListFile, OutputWriter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (2, 2))  # not even "[\\n]\\n"
writer = OutputWriter(sys.argv[1])
frames = JsonListFile(writer, sys.argv[1] + "/clip.frames.json")
frames.add([{"frame": 0}])
frames.close()
print(len(writer.failures), os.path.exists(sys.argv[1] + "/clip.frames.json"))
"""


def test_a_list_file_whose_first_bytes_do_not_fit_leaves_no_file(tmp_path):
    """A video started on a full disk left an empty frames.json (which does
    not parse) beside its NOT WRITTEN line."""
    run = subprocess.run([sys.executable, "-c", _NOTHING_FITS, str(tmp_path)], timeout=120,
                         capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["1", "False"]


def test_a_rerun_keeps_the_earlier_results_until_it_has_finished(tmp_path):
    """A rerun over the same photos replaced predictions.json as it started:
    stopped half-way, it had lost the earlier run's complete results."""
    path = tmp_path / "predictions.json"
    names = {"0.jpg": "/in/0.jpg", "1.jpg": "/in/1.jpg"}
    complete = [dict(_entry(i), file_name=f"{i}.jpg", path=f"/in/{i}.jpg") for i in range(2)]
    path.write_text(json.dumps(complete))
    previous = tmp_path / "predictions.previous.json"
    for run in range(2):  # Stopped twice: the complete results stay, not the partial ones.
        predictions = JsonListFile(OutputWriter(str(tmp_path)), str(path), names)
        assert predictions.previous == str(previous) and _on_disk(previous) == complete
        predictions.add([complete[0]])
        assert predictions.finish(complete=False) == str(previous)
        assert _on_disk(previous) == complete and _on_disk(path) == [complete[0]]
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(path), names)
    predictions.add(complete)
    assert predictions.finish(complete=True) is None
    assert not previous.exists() and _on_disk(path) == complete
    # Results of other inputs at the previous name are not this run's to
    # drop, and are named (they were moved in silence).
    previous.write_text(json.dumps([dict(_entry(5), file_name="x.jpg")]))
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(path), names)
    assert predictions.kept_earlier_previous == str(tmp_path / "predictions.previous.1.json")
    predictions.finish(complete=True)
    assert _on_disk(tmp_path / "predictions.previous.1.json")[0]["file_name"] == "x.jpg"
    # Stopped before its first entry: the earlier results back in place.
    path.write_text(json.dumps(complete))
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(path), names)
    assert predictions.finish(complete=False) is None
    assert _on_disk(path) == complete and not previous.exists()


def test_a_rerun_that_cannot_write_at_all_leaves_the_earlier_results_in_place(
        tmp_path, monkeypatch):
    """A full disk at a rerun's first write: the earlier predictions.json
    had been moved to predictions.previous.json, unsaid."""
    path = tmp_path / "predictions.json"
    earlier = [dict(_entry(0), file_name="0.jpg", path="/in/0.jpg")]
    path.write_text(json.dumps(earlier))

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(outputs.os, "fsync", full)
    with pytest.raises(outputs.DiskFullError):
        JsonListFile(OutputWriter(str(tmp_path)), str(path), {"0.jpg": "/in/0.jpg"})
    assert _on_disk(path) == earlier and sorted(os.listdir(tmp_path)) == ["predictions.json"]


def test_a_stop_during_the_flush_counts_the_entries_on_disk(tmp_path, monkeypatch):
    """Ctrl-C landed in fsync, after the bytes were written: the note said
    one person fewer than the file held."""
    path = tmp_path / "predictions.json"
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(path))
    real_fsync = os.fsync

    def interrupted(fd):
        real_fsync(fd)
        os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(outputs.os, "fsync", interrupted)
    # CI runs the tests as a background job, SIGINT ignored: Python's handler.
    held = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            predictions.add([_entry(0)])
    finally:
        signal.signal(signal.SIGINT, held)
    monkeypatch.undo()
    predictions.close()
    assert predictions.count == len(_on_disk(path)) == 1


_COPY_CUT_SHORT = """
import resource, signal, sys
import cv2
import numpy as np
from keras_pose.prediction.outputs import OutputWriter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000))
writer = OutputWriter(sys.argv[1])
noise = np.random.default_rng(0).integers(0, 255, (400, 400, 3), np.uint8)
print(writer.image(sys.argv[1] + "/x.pose.png", noise), len(writer.failures))
"""


def test_an_annotated_copy_is_written_whole_or_not_at_all(tmp_path):
    """OpenCV wrote the copy in place: a write cut short (a full disk, a
    kill -9) left a file that does not decode, the earlier copy gone."""
    earlier = np.full((20, 30, 3), 7, np.uint8)
    assert cv2.imwrite(str(tmp_path / "x.pose.png"), earlier)
    before = (tmp_path / "x.pose.png").read_bytes()
    run = subprocess.run([sys.executable, "-c", _COPY_CUT_SHORT, str(tmp_path)], timeout=120,
                         capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["False", "1"]
    assert (tmp_path / "x.pose.png").read_bytes() == before
    assert os.listdir(tmp_path) == ["x.pose.png"]  # No temporary file left.


def test_a_full_disk_stops_the_run_at_an_image(tmp_path, monkeypatch):
    """Each later image failed too, two lines each, the run computing
    results it could not keep for every input."""
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path + ".tmp-h-1")
    monkeypatch.setattr(outputs, "write_atomically", full)
    path = str(tmp_path / "a" / "x.pose.jpg")
    with pytest.raises(outputs.DiskFullError, match=f"^{path}: no space left on device, so "
                       "the run stops .*give --output_dir on another disk"):
        OutputWriter(str(tmp_path)).image(path, np.zeros((8, 8, 3), np.uint8))


def test_a_withdrawn_rerun_puts_the_earlier_results_back(tmp_path):
    """A rerun over the same inputs none of which could be read: its empty
    file goes, the earlier results come back under their own name."""
    path = tmp_path / "predictions.json"
    earlier = [dict(_entry(0), file_name="0.jpg", path="/in/0.jpg")]
    path.write_text(json.dumps(earlier))
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(path), {"0.jpg": "/in/0.jpg"})
    assert predictions.previous
    predictions.withdraw()
    assert _on_disk(path) == earlier and os.listdir(tmp_path) == ["predictions.json"]
    predictions = JsonListFile(OutputWriter(str(tmp_path)), str(tmp_path / "new.json"), {})
    predictions.withdraw()  # Nothing earlier: no file left.
    assert os.listdir(tmp_path) == ["predictions.json"]


def test_an_earlier_file_is_not_moved_beside_a_stray_partial_mark(tmp_path):
    """A predictions.1.incomplete left without its .1.json: complete results
    of other inputs move to predictions.2.json, not beside that partial mark."""
    (tmp_path / "predictions.1.incomplete").write_text("a stopped run's mark")
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([_entry(0)]))
    kept = outputs.keep_earlier_results(str(path), {"x.jpg": "/in/x.jpg"})
    assert kept == str(tmp_path / "predictions.2.json") and _on_disk(kept) == [_entry(0)]
    assert sorted(os.listdir(tmp_path)) == ["predictions.1.incomplete", "predictions.2.json"]


def test_an_earlier_file_that_cannot_be_read_is_moved_aside_not_replaced(tmp_path, monkeypatch):
    """predictions.json unreadable (permission denied) is not this run's to
    delete: kept as predictions.1.json."""
    from keras_pose.prediction import earlier_outputs
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([_entry(0)]))

    def denied(name, *args, **kwargs):  # chmod 000 does not stop root.
        if os.fspath(name) == str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return open(name, *args, **kwargs)
    monkeypatch.setattr(earlier_outputs, "open", denied, raising=False)
    kept = outputs.keep_earlier_results(str(path), {"ünïcode/0.jpg": "/in/ünïcode/0.jpg"})
    monkeypatch.undo()
    assert kept == str(tmp_path / "predictions.1.json")
    assert not path.exists() and _on_disk(kept) == [_entry(0)]


def test_a_results_file_that_cannot_be_opened_leaves_no_partial_mark(tmp_path, monkeypatch):
    """The open failed with no earlier file: no predictions.incomplete is left
    marking partial a file that is not there."""
    path = str(tmp_path / "predictions.json")

    def refused(name, *args, **kwargs):
        if name == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
        return open(name, *args, **kwargs)
    monkeypatch.setattr(outputs, "open", refused, raising=False)
    writer = OutputWriter(str(tmp_path))
    predictions = JsonListFile(writer, path, {"0.jpg": "/in/0.jpg"})
    monkeypatch.undo()
    assert predictions.failed and len(writer.failures) == 1
    assert os.listdir(tmp_path) == []
