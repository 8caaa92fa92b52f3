"""Names that native code cannot take as Python gives them: a name that is
not valid UTF-8 (``clip\\xff.avi``, a str holding ``\\udcff``) for OpenCV
(was a segmentation fault), for TF (refused at the start, one line) and on
stdout and stderr (escaped); and a link to nothing where a folder is needed
(named, with its target)."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from keras_pose import cli
from keras_pose.errors import FlagError
from keras_pose.files import make_folder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BAD = "\udcff"  # The byte 0xff of a name, as os.listdir gives it.


def test_opencv_path_links_only_a_name_that_is_not_utf8_and_removes_the_link(tmp_path,
                                                                          own_tempdir):
    from keras_pose.tf_paths import is_plain_path, opencv_path
    plain = str(tmp_path / "clip é.avi")  # UTF-8, not ASCII: taken as it is.
    with opencv_path(plain) as path:
        assert path == plain
    target = str(tmp_path / f"clip{BAD}.avi")
    with opencv_path(target) as path:
        assert is_plain_path(path) and path.endswith(".avi")  # The suffix picks the container.
        assert os.path.dirname(os.path.dirname(path)) == str(own_tempdir)
        with open(path, "wb") as f:  # A new file, written through the link.
            f.write(b"video")
    assert os.listdir(own_tempdir) == []
    with open(target, "rb") as f:
        assert f.read() == b"video"


# Run apart: the old code's OpenCV calls killed the process (signal 11).
_VIDEO_AND_IMAGES = r"""
import json, os, sys
import numpy as np
from keras_pose.data.synthetic import write_split
from keras_pose.prediction.input_pixels import VideoFrames, open_video
from keras_pose.prediction.outputs import OutputWriter, VideoOutput

root = sys.argv[1]
writer = OutputWriter(root)
video = VideoOutput(writer, os.path.join(root, "clip\udcff.avi.pose.avi"), 10)
for value in (0, 80, 160, 240):
    video.add(np.full((48, 64, 3), value, np.uint8))
video.close()  # Reads the file back (its last frame).
capture, _ = open_video(os.path.join(root, "clip\udcff.avi.pose.avi"))
frames = [frame for _, frame in VideoFrames(capture)]
capture.release()
write_split(os.path.join(root, "data\udcff"), "train", 2, seed=0, first_id=1)
print(json.dumps({"ok": video.ok, "failures": writer.failures, "opened": capture.isOpened(),
                  "frames": len(frames), "means": [round(float(f.mean())) for f in frames],
                  "images": sorted(os.listdir(os.path.join(root, "data\udcff", "images",
                                                           "train")))}))
"""


def test_a_video_and_images_whose_names_are_not_utf8_are_written_and_read(tmp_path):
    """Was a segmentation fault (exit -11) at cv2.VideoWriter / VideoCapture / imwrite."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _VIDEO_AND_IMAGES, str(tmp_path)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Four grey frames in, the same four out (MJPG keeps flat grey near exact).
    assert result["ok"] and result["failures"] == [] and result["frames"] == 4
    assert all(abs(mean - value) <= 2 for mean, value in zip(result["means"], (0, 80, 160, 240)))
    assert result["images"] == ["000000000001.jpg", "000000000002.jpg"]
    assert os.path.isfile(os.fsencode(tmp_path) + b"/clip\xff.avi.pose.avi")


def test_a_video_is_not_opened_where_no_link_can_be_made(tmp_path, monkeypatch, caplog):
    """No link (no writable folder): a video that cannot be opened, said; not a crash."""
    from keras_pose import tf_paths
    from keras_pose.prediction.input_pixels import open_video
    monkeypatch.setattr(tf_paths, "_plain_mkdtemp", lambda places=(): None)
    path = str(tmp_path / f"clip{BAD}.avi")
    # Raised before OpenCV sees the name (the old code's open_video crashed here).
    with pytest.raises(tf_paths.OpenCVPathError, match="no link to it with a plain name"):
        with tf_paths.opencv_path(path):
            pass
    with caplog.at_level(logging.WARNING):
        capture, rotation = open_video(path)
    assert not capture.isOpened() and rotation == 0
    assert "its name is not valid UTF-8, which OpenCV cannot open" in caplog.text


def _strict_streams(monkeypatch):
    """stdout strict UTF-8 (``PYTHONIOENCODING=utf-8``), stderr backslashreplace
    (Python's own): their bytes."""
    out, err = io.BytesIO(), io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out, encoding="utf-8"))
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(err, encoding="utf-8",
                                                        errors="backslashreplace"))
    return out, err


def test_a_name_that_is_not_utf8_is_printed_escaped_and_the_summary_kept(monkeypatch):
    """Was UnicodeEncodeError at the summary's print (the run's end)."""
    out, err = _strict_streams(monkeypatch)

    def work():
        print(f"skipped: in/bad{BAD}.jpg: cannot be decoded")
        print(f"warning: in/bad{BAD}.jpg", file=sys.stderr)
        print("3 input(s) processed")
        return 0
    assert cli.run("tool.py", work) == 0
    sys.stdout.flush()
    sys.stderr.flush()
    # The byte as the shell writes it: $'bad\xff.jpg'.
    assert out.getvalue() == (b"skipped: in/bad\\xff.jpg: cannot be decoded\n"
                              b"3 input(s) processed\n")
    assert err.getvalue() == b"warning: in/bad\\xff.jpg\n"
    assert (sys.stdout.errors, sys.stderr.errors) == ("strict", "backslashreplace")


def test_a_path_that_tf_cannot_open_is_refused_naming_it_and_its_name(tmp_path, monkeypatch):
    with pytest.raises(FlagError) as caught:
        cli.refuse_names_not_utf8([("--data_dir", "data"), ("--model_dir", f"runs/run_{BAD}/a")])
    assert str(caught.value) == (
        "--model_dir runs/run_\\xff/a: the name run_\\xff in it is not valid UTF-8, and "
        "TensorFlow (and ONNX Runtime, OpenVINO) open UTF-8 paths only: rename run_\\xff, "
        "e.g. to a name of ASCII letters")
    folder = tmp_path / f"proj{BAD}"
    folder.mkdir()
    monkeypatch.chdir(folder)  # A relative path in a folder so named: TF gets it whole.
    with pytest.raises(FlagError, match=r"^--set data.root=data: the name proj\\xff in it"):
        cli.refuse_names_not_utf8(cli.set_values(["x.y=1", " data.root = data"], "data.root"))
    cli.refuse_names_not_utf8([("--data_dir", None), ("--data_dir", str(tmp_path))])


def test_a_checkpoint_is_refused_only_where_an_export_runtime_opens_it():
    """TF and Keras load a checkpoint of any name; ONNX Runtime failed with a TypeError."""
    assert cli.model_paths("--checkpoint", f"ck{BAD}") == []
    assert cli.model_paths("--checkpoint", f"ck{BAD}", "onnxruntime") == [
        ("--checkpoint", f"ck{BAD}")]
    assert cli.model_paths("--checkpoint", f"m{BAD}.onnx") == [("--checkpoint", f"m{BAD}.onnx")]
    assert cli.model_paths("--checkpoint", "ck", "onnxruntime") == []


@pytest.mark.parametrize("flag", ["--model_dir", "--data_dir"])
def test_train_refuses_a_path_that_is_not_utf8_in_one_line(tmp_path, flag):
    """Was a traceback out of tf.summary.create_file_writer (--model_dir)."""
    paths = {"--model_dir": str(tmp_path / "run"), "--data_dir": str(tmp_path / "data"),
             flag: str(tmp_path / f"x{BAD}")}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "train.py", "--experiment", "tiny",
                           *[item for pair in paths.items() for item in pair]],
                          cwd=REPO, env=env, capture_output=True, timeout=300)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert stderr.rstrip().splitlines()[-1].startswith(
        f"train.py: error: {flag} {tmp_path}/x\\xff: the name x\\xff in it is not valid UTF-8")
    assert os.listdir(tmp_path) == []  # Refused before any folder was made.


@pytest.mark.parametrize("flag", ["--output", "--data_dir"])
def test_the_export_script_refuses_a_path_that_is_not_utf8_in_one_line(tmp_path, flag):
    """A SavedModel --output or a --data_dir so named failed after the work
    (UnicodeEncodeError in tf.saved_model.save; "Unable to convert")."""
    paths = {"--output": str(tmp_path / "sm"), "--data_dir": str(tmp_path / "data"),
             flag: str(tmp_path / f"x{BAD}")}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-m", "scripts.export_saved_model", "--checkpoint",
                           str(tmp_path / "model"), *[i for pair in paths.items() for i in pair]],
                          cwd=REPO, env=env, capture_output=True, timeout=300)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert stderr.rstrip().splitlines()[-1].startswith(
        f"export_saved_model.py: error: {flag} {tmp_path}/x\\xff: the name x\\xff in it is "
        "not valid UTF-8")
    assert os.listdir(tmp_path) == []


def test_a_link_to_nothing_where_a_folder_is_needed_is_named_with_its_target(tmp_path):
    """Was "is not writable (File exists)" and "File exists: <folder>"."""
    link, target = tmp_path / "out", tmp_path / "gone" / "deep"
    link.symlink_to(target)
    expected = (f"{link} is a link to {target}, which does not exist: remove the link or "
                f"create {target}")
    for folder in (link, link / "sub"):
        with pytest.raises(cli.OutputDirectoryError) as caught:
            cli.check_writable(str(folder), "--output_dir")
        assert str(caught.value) == f"--output_dir {folder} cannot be made: {expected}"
        with pytest.raises(OSError) as caught:
            make_folder(str(folder))
        assert caught.value.strerror == expected and cli.error_message(caught.value) == expected
    assert not target.exists() and link.is_symlink()


def test_a_loop_of_links_where_a_folder_is_needed_is_named_as_a_loop(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(cli.OutputDirectoryError) as caught:
        cli.check_writable(str(tmp_path / "a"), "--model_dir")
    assert str(caught.value) == (
        f"--model_dir {tmp_path}/a cannot be made: {tmp_path}/a is a link to {tmp_path}/b, a "
        "loop of links that leads back to itself: remove the link or point it at a folder")
