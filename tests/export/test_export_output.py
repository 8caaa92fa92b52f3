"""export_saved_model.py --output: it replaces only an export of the same
format, only atomically, and every error names --output.

(The issue: ``--output DIR`` deleted whatever DIR held, notes.txt, another
model or the working directory with ``--output .``, with exit code 0.)
"""

import json
import os
import shutil

import pytest

from tests.export.runtime_checks import run_export, skip_unless_installed


def _tree(root):
    """{relative path: bytes} of every file under ``root``."""
    out = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


@pytest.fixture
def old_saved_model(tiny_exported, tmp_path):
    """Another keras_pose SavedModel already at the output: (path, its files)."""
    path = tmp_path / "exported"
    shutil.copytree(tiny_exported[3], path)
    return path, _tree(path)


def test_a_directory_holding_other_files_is_refused_and_kept(script, checkpoint, tmp_path,
                                                             capsys):
    output = tmp_path / "deploy"
    output.mkdir()
    (output / "notes.txt").write_text("my notes")
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output)) == 1
    err = capsys.readouterr().err
    assert f"--output {output} holds notes.txt" in err and "not a keras_pose SavedModel" in err
    assert (output / "notes.txt").read_text() == "my notes"
    assert os.listdir(output) == ["notes.txt"] and os.listdir(tmp_path) == ["deploy"]


def test_the_working_directory_is_refused(script, checkpoint, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "src" / "main.py").write_text("print('mine')")
    monkeypatch.chdir(work)
    assert run_export(script, "--checkpoint", checkpoint, "--output", ".") == 1
    assert "--output . is or holds the working directory, which an export does not replace. " \
        "Nothing was written: give the path of a new or empty folder" in capsys.readouterr().err
    assert _tree(work) == {os.path.join("src", "main.py"): b"print('mine')"}
    assert os.listdir(tmp_path) == ["work"]


def test_an_empty_output_is_refused_and_the_working_directory_kept(
        script, checkpoint, tmp_path, monkeypatch, capsys):
    """``--output ""`` (an unset shell variable) was the working directory:
    it was replaced by the export, the user's files in it deleted, exit 0."""
    work = tmp_path / "work"
    (work / "results").mkdir(parents=True)
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    from absl import flags

    from keras_pose.export.destination import ExportOutputError, check_output
    for output in ("", " "):
        with pytest.raises(flags.IllegalFlagValueError, match="--output is empty: give a path"):
            run_export(script, "--checkpoint", checkpoint, "--output", output)
        with pytest.raises(ExportOutputError, match="path is empty: give the path of the "):
            check_output(output, "onnx", "path")  # The Python API's way in.
    # An empty working directory, or the folder above it, also through a link.
    (tmp_path / "link").symlink_to(work)
    monkeypatch.chdir(tmp_path / "link" / "results")
    for output in (".", "..", str(tmp_path / "link" / "results")):
        assert run_export(script, "--checkpoint", checkpoint, "--output", output) == 1
        assert "is or holds the working directory" in capsys.readouterr().err
    assert _tree(work) == {"notes.txt": b"mine"} and os.path.isdir(work / "results")
    from keras_pose.files import write_directory_atomically
    with pytest.raises(ValueError, match="is or holds the working directory"):
        write_directory_atomically("", lambda tmp: None)  # The Python API's guard.
    assert _tree(work) == {"notes.txt": b"mine"}
    assert sorted(os.listdir(tmp_path)) == ["link", "work"]


def test_an_output_inside_a_file_is_named_as_such(script, checkpoint, tmp_path, capsys):
    """Was "Not a directory: <file>/.<name>.lock", naming a lock file."""
    (tmp_path / "notes.txt").write_text("mine")
    for output, fmt in (("sub", "saved_model"), ("sub.onnx", "onnx")):
        assert run_export(script, "--checkpoint", checkpoint, "--format", fmt, "--output",
                          str(tmp_path / "notes.txt" / output)) == 1
        err = capsys.readouterr().err
        assert f"is inside {tmp_path / 'notes.txt'}, which is a file, not a folder" in err, err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_read_only_place_is_named_by_its_flag_before_any_work(script, checkpoint, tmp_path,
                                                                 capsys, monkeypatch):
    """Was "Read-only file system: <dir>/.<name>.lock" (a hidden lock); for
    --tflite, said after the SavedModel was written and kept."""
    import errno

    from keras_pose.export import destination
    from keras_pose.locks import DirectoryLock
    read_only = str(tmp_path / "ro")

    def enter(lock):
        if lock.path.startswith(read_only):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), lock.path)
        return real_enter(lock)
    real_enter = DirectoryLock.__enter__
    monkeypatch.setattr(DirectoryLock, "__enter__", enter)
    real_access = os.access
    monkeypatch.setattr(destination.os, "access", lambda path, mode: (
        not str(path).startswith(read_only) and real_access(path, mode)))
    os.makedirs(read_only)
    assert run_export(script, "--checkpoint", checkpoint, "--output",
                      os.path.join(read_only, "x")) == 1
    assert capsys.readouterr().err.endswith(
        f"--output {read_only}/x cannot be written (Read-only file system); give another "
        "--output\n")
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "sm"),
                      "--tflite", os.path.join(read_only, "m.tflite")) == 1
    assert f"--tflite {read_only}/m.tflite cannot be written" in capsys.readouterr().err
    assert not (tmp_path / "sm").exists()


def test_a_linked_output_replaces_the_links_target(script, checkpoint, old_saved_model,
                                                   tmp_path, capsys):
    """A served ``current`` link to a version folder was replaced by a folder
    of its own, the link's target (what the server read) keeping the old
    model, and the link left behind as ``current.old-<host>-<pid>``."""
    output, old = old_saved_model
    serve = tmp_path / "serve"
    serve.mkdir()
    (serve / "current").symlink_to(output)
    assert run_export(script, "--checkpoint", checkpoint, "--output",
                      str(serve / "current")) == 0
    assert os.path.islink(serve / "current") and os.listdir(serve) == ["current"]
    with open(os.path.join(checkpoint, "config.json")) as f:
        expected = json.load(f)
    with open(output / "assets" / "config.json") as f:
        assert json.load(f) == expected  # The new export, in the target.
    assert sorted(os.listdir(tmp_path)) == ["exported", "serve"]  # Nothing aside.
    # Typed with a trailing slash (as a shell completes a link to a folder).
    assert run_export(script, "--checkpoint", checkpoint, "--output",
                      str(serve / "current") + os.sep) == 0
    assert os.path.islink(serve / "current") and os.listdir(serve) == ["current"]
    assert sorted(os.listdir(tmp_path)) == ["exported", "serve"]
    # A link to a file export: refused (its sidecar would not follow it).
    skip_unless_installed("onnx")  # Asked before the output is looked at.
    (serve / "m.onnx").symlink_to(tmp_path / "elsewhere.onnx")
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(serve / "m.onnx"),
                      "--format", "onnx") == 1
    assert f"give its target ({tmp_path / 'elsewhere.onnx'})" in capsys.readouterr().err


def test_a_full_disk_in_openvino_is_one_line_and_leaves_nothing(
        script, checkpoint, tmp_path, monkeypatch, capsys):
    """OpenVINO's writer says "basic_ios::clear: iostream error" on a full
    disk: it was a traceback. Killed file exports' temporaries, and the lock
    folder beside --output, stayed for good (and made "holds 2 exports" of
    the folder)."""
    skip_unless_installed("openvino")
    import collections
    import socket
    import subprocess
    import sys

    import keras

    from keras_pose.export import runtimes

    def full(self, path, format="tf_saved_model", **kwargs):
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(keras.Model, "export", full)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(runtimes.shutil, "disk_usage", lambda path: usage(1, 1, 0))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftovers = [f"m.tmp-{socket.gethostname()}-{dead.pid}{s}" for s in (".xml", ".bin", ".json")]
    for name in leftovers:
        (tmp_path / name).write_bytes(b"killed")
    (tmp_path / ".m.xml.lock").mkdir()
    (tmp_path / ".m.xml.lock" / ".lock").write_text("the export (pid 1)")
    output = tmp_path / "m.xml"
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output),
                      "--format", "openvino", "--noguard") == 1
    err = capsys.readouterr().err
    assert f"--output {output}: No space left on device; nothing was kept: free space" in err
    assert "Traceback" not in err and "[Errno" not in err
    assert os.listdir(tmp_path) == []


def test_a_folder_holding_one_export_and_a_temporary_is_one_export(tmp_path):
    """An export being written (or a killed one's) beside a finished one:
    "holds 2 exports" refused the folder as --checkpoint."""
    import socket

    from keras_pose.checkpoint import resolve_checkpoint
    for name in ("m.onnx", "m.json", f"m.tmp-{socket.gethostname()}-{os.getppid()}.onnx"):
        (tmp_path / name).write_bytes(b"x")
    assert resolve_checkpoint(str(tmp_path)).path == str(tmp_path / "m.onnx")


def test_an_existing_saved_model_is_replaced(script, checkpoint, old_saved_model, tmp_path):
    output, old = old_saved_model
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output)) == 0
    with open(os.path.join(checkpoint, "config.json")) as f:
        expected = json.load(f)
    with open(output / "assets" / "config.json") as f:
        assert json.load(f) == expected  # the checkpoint's model, not the old one
    assert _tree(output) != old and os.path.isfile(output / "saved_model.pb")
    assert os.listdir(tmp_path) == ["exported"]  # no temporary or old copy left


def test_a_failure_mid_export_keeps_the_old_saved_model_and_names_output(
        script, checkpoint, old_saved_model, tmp_path, monkeypatch, capsys):
    import keras_pose.export
    output, old = old_saved_model

    def half_then_full_disk(model, config, path, **kwargs):
        os.makedirs(os.path.join(path, "variables"), exist_ok=True)
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        raise OSError(28, "No space left on device", os.path.join(path, "variables"))

    monkeypatch.setattr(keras_pose.export, "export_saved_model", half_then_full_disk)
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output)) == 1
    err = capsys.readouterr().err
    assert f"--output {output}: " in err and "No space left on device" in err
    assert f"No space left on device: {output}{os.sep}variables; the earlier export there " \
        "is unchanged: free space on that disk, or give --output on another disk" in err
    assert "[Errno" not in err
    assert ".export" not in err and ".tmp-" not in err  # never the temporary one
    assert _tree(output) == old
    assert os.listdir(tmp_path) == ["exported"]


@pytest.mark.slow  # another export
def test_a_failed_swap_keeps_the_old_saved_model(script, checkpoint, old_saved_model,
                                                 tmp_path, monkeypatch):
    # The new export is complete, but it cannot take --output's name.
    output, old = old_saved_model
    real_replace, real_rename = os.replace, os.rename

    def refuse(real):
        def move(src, dst, *args, **kwargs):
            if os.path.abspath(dst) == str(output) and ".old-" not in os.path.basename(src):
                raise OSError(5, "Input/output error", str(dst))
            return real(src, dst, *args, **kwargs)
        return move

    monkeypatch.setattr(os, "replace", refuse(real_replace))
    monkeypatch.setattr(os, "rename", refuse(real_rename))
    monkeypatch.setattr(shutil, "copytree", lambda *a, **k: (_ for _ in ()).throw(
        OSError(5, "Input/output error")))
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output)) == 1
    assert _tree(output) == old
    assert os.listdir(tmp_path) == ["exported"]


def test_a_runtime_file_replaces_only_an_export_of_its_format(script, checkpoint, tmp_path,
                                                              capsys):
    skip_unless_installed("onnx")
    # --output names the artifact: its sidecar would be config.json, the user's.
    (tmp_path / "config.json").write_text('{"lr": 0.1}')
    assert run_export(script, "--checkpoint", checkpoint, "--output",
                      str(tmp_path / "config.onnx"), "--format", "onnx", "--noguard") == 1
    err = capsys.readouterr().err
    assert "would replace config.json, which is not a keras_pose onnx export" in err
    assert (tmp_path / "config.json").read_text() == '{"lr": 0.1}'
    assert os.listdir(tmp_path) == ["config.json"]


@pytest.mark.slow  # runtime exports
def test_a_runtime_directory_is_replaced_whole_or_refused(script, checkpoint, tmp_path,
                                                          capsys):
    skip_unless_installed("onnx")
    output = tmp_path / "onnx"
    args = ["--checkpoint", checkpoint, "--output", str(output), "--format", "onnx",
            "--noguard"]
    assert run_export(script, *args) == 0
    assert sorted(os.listdir(output)) == ["heatmaps.json", "heatmaps.onnx"]
    assert run_export(script, *args) == 0  # an onnx export: replaced
    export = _tree(output)
    assert sorted(export) == ["heatmaps.json", "heatmaps.onnx"]
    # Another format's export is not replaced by this one.
    assert run_export(script, *args[:-3], "--format", "litert", "--noguard") == 1
    assert "is not one keras_pose litert export" in capsys.readouterr().err
    (output / "notes.txt").write_text("mine")
    assert run_export(script, *args) == 1
    assert "holds heatmaps.json, heatmaps.onnx, notes.txt" in capsys.readouterr().err
    assert _tree(output) == dict(export, **{"notes.txt": b"mine"})
    assert os.listdir(tmp_path) == ["onnx"]


def test_the_python_api_refuses_a_folder_or_file_that_is_not_an_export(tiny_exported, tmp_path):
    """export_saved_model(model, config, run_dir) replaced a training run
    (checkpoints, logs) or the user's own files with the SavedModel, and
    export_network(..., "notes.onnx", "onnx") a file of the user's, in
    silence: the command line checked its --output, the functions did not."""
    skip_unless_installed("onnx")
    from keras_pose.export import export_network, export_saved_model
    from keras_pose.export.destination import ExportOutputError
    model, config, checkpoint_dir, _ = tiny_exported
    run = tmp_path / "run"
    shutil.copytree(checkpoint_dir, run / "best")
    (run / "notes.txt").write_text("my notes")
    before = _tree(run)
    with pytest.raises(ExportOutputError, match=r"^output_dir .*run holds best, notes.txt and "
                                                r"is not a keras_pose SavedModel; .*Nothing was "
                                                r"written"):
        export_saved_model(model, config, str(run))
    assert _tree(run) == before
    mine = tmp_path / "mine.onnx"
    mine.write_text("not an export")
    with pytest.raises(ExportOutputError, match=r"^path .*mine.onnx would replace mine.onnx, "
                                                r"which is not a keras_pose onnx export"):
        export_network(model, config, str(mine), "onnx")
    assert mine.read_text() == "not an export"


def test_a_tflite_output_that_is_not_a_tflite_model_is_refused(tiny_exported, tmp_path):
    """export_tflite (and export_saved_model.py --tflite) overwrote any file
    with the model, a user's notes included; a folder failed only after the
    SavedModel was written."""
    from keras_pose.export import export_tflite
    from keras_pose.export.destination import ExportOutputError
    from keras_pose.export.destination import check_tflite_output
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    with pytest.raises(ExportOutputError, match=r"^output_path .*notes.txt is a file but not a "
                                                r"TFLite model; .*Nothing was written"):
        export_tflite(tiny_exported[3], str(notes))
    assert notes.read_text() == "my notes"
    with pytest.raises(ExportOutputError, match=r"^--tflite .* is a folder"):
        check_tflite_output(str(tmp_path), "--tflite")
    earlier = tmp_path / "heatmaps.tflite"
    earlier.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(16))  # An earlier TFLite export's head.
    check_tflite_output(str(earlier))
    check_tflite_output(str(tmp_path / "new.tflite"))
    (tmp_path / "new.json").write_text("my settings")  # The sidecar's place: a user's file.
    with pytest.raises(ExportOutputError, match=r"^output_path .*new.tflite: its sidecar "
                                                r".*new.json would replace a file"):
        export_tflite(tiny_exported[3], str(tmp_path / "new.tflite"))
    assert (tmp_path / "new.json").read_text() == "my settings"
    assert not (tmp_path / "new.tflite").exists()


def test_the_tflite_file_runs_where_litert_exports_run(tiny_exported, tmp_path):
    """export_tflite (export_saved_model.py --tflite) wrote the bare file:
    predict.py --checkpoint on it said it had no sidecar and 'was not
    written by' the script that wrote it."""
    import numpy as np

    from keras_pose.export import export_tflite
    from keras_pose.inference import Predictor
    path = export_tflite(tiny_exported[3], str(tmp_path / "m.tflite"))
    image = np.random.default_rng(5).integers(0, 255, (90, 70, 3), np.uint8)
    box = [8.0, 6.0, 50.0, 70.0]
    lite = Predictor.from_checkpoint(path)
    assert (lite.pose_model.runtime, lite.pose_model.precision) == ("litert", "fp32")
    np.testing.assert_allclose(lite.predict(image, [box]).keypoints, Predictor.from_checkpoint(
        tiny_exported[3]).predict(image, [box]).keypoints, atol=1e-3)


def test_an_output_named_with_255_bytes_is_exported(script, checkpoint, tmp_path):
    # Its lock folder (.<name>.lock, 6 bytes more) was "File name too long",
    # naming a file the user never gave.
    name = "t" * 250 + "é" * 2  # 254 bytes.
    output = tmp_path / name
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(output)) == 0
    assert os.path.isfile(output / "saved_model.pb")
    assert os.listdir(tmp_path) == [name]  # Its lock gone too.


def test_a_stop_while_converting_tflite_says_the_tflite_file_is_the_earlier_one(
        script, checkpoint, tmp_path, monkeypatch, capsys):
    # The SavedModel was the new model's, the .tflite an earlier export's: unsaid.
    tflite = tmp_path / "m.tflite"
    tflite.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))  # An earlier export's.

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    import keras_pose.export
    monkeypatch.setattr(keras_pose.export, "export_tflite", stopped)
    assert run_export(script, "--checkpoint", checkpoint, "--output", str(tmp_path / "sm"),
                      "--tflite", str(tflite)) == 130
    err = capsys.readouterr().err
    assert (f"note: stopped while converting --tflite: {tflite} still holds the earlier "
            f"export; {tmp_path / 'sm'} holds this export") in err
