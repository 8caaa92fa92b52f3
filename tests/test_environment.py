"""The tools in the user's environment: Keras settings for another backend,
a stdout that cannot be written, a TMPDIR holding a glob character."""

import json
import os
import subprocess
import sys
import tempfile

import pytest

from keras_pose import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(REPO, "tests", "data", "coco", "000000000785.jpg")
GONE = "stdout cannot be written"


def _env(**changes):
    """The environment of a tool run as the user runs it: no KERAS_BACKEND
    (``import keras_pose`` set it in this process), then ``changes``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("KERAS_BACKEND", None)
    env.update(changes)
    return env


def _python(code, env, **kwargs):
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


def _keras_home(tmp_path, backend="torch"):
    home = tmp_path / "keras_home"
    home.mkdir()
    (home / "keras.json").write_text(json.dumps({"backend": backend}))
    return str(home)


# 1. Another Keras backend in the user's settings.

def test_keras_json_of_another_backend_is_overridden(tmp_path):
    """Was "Cannot convert a symbolic tf.Tensor ... to a numpy array" deep in evaluate.py."""
    proc = _python("import keras_pose, keras; print(keras.backend.backend())",
                   _env(KERAS_HOME=_keras_home(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["tensorflow"]
    assert "KERAS_BACKEND" not in proc.stderr  # The user set nothing explicitly.


def test_an_explicit_keras_backend_is_overridden_with_one_warning():
    """Was ModuleNotFoundError: No module named 'jax' in predict.py."""
    proc = _python("import keras_pose, keras; import keras_pose.cli; "
                   "print(keras.backend.backend())", _env(KERAS_BACKEND="jax"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["tensorflow"]
    assert proc.stderr.count("KERAS_BACKEND=jax is not used") == 1, proc.stderr[-2000:]


def test_keras_imported_first_with_another_backend_is_an_import_error(tmp_path):
    proc = _python("import keras\ntry:\n    import keras_pose\nexcept ImportError as e:\n"
                   "    print(e)\nelse:\n    print('imported')",
                   _env(KERAS_HOME=_keras_home(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Keras was imported with the 'torch' backend" in proc.stdout, proc.stdout
    assert "keras.json" in proc.stdout and "KERAS_BACKEND=tensorflow" in proc.stdout


def test_predict_runs_with_keras_json_of_another_backend(tiny_exported, tmp_path):
    checkpoint = tiny_exported[2]
    proc = subprocess.run([sys.executable, "predict.py", "--checkpoint", checkpoint, "--input",
                           IMAGE, "--detector", "none", "--output_dir", str(tmp_path / "out")],
                          cwd=REPO, env=_env(KERAS_HOME=_keras_home(tmp_path)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 input(s) processed" in proc.stdout
    assert (tmp_path / "out" / "predictions.json").is_file()


# 2. A stdout that cannot be written.

class _BrokenStdout:
    """A stdout whose reader is gone: every write and flush fails."""

    def __init__(self):
        self.writes = 0

    def write(self, text):
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")

    def isatty(self):
        return False


def test_a_broken_stdout_is_dropped_and_the_work_goes_on(monkeypatch, capsys):
    capsys.readouterr()
    broken = _BrokenStdout()
    monkeypatch.setattr(sys, "stdout", broken)
    done = []

    def work():
        print("the report")
        sys.stdout.write("more\n")  # As Keras' progress bar writes.
        sys.stdout.flush()
        done.append(True)
        return 0

    assert cli.run("tool.py", work) == 0
    assert done and broken.writes == 1  # Not tried again.
    assert sys.stdout is broken  # Given back after the run.
    err = capsys.readouterr().err
    assert err.count(GONE) == 1 and "Broken pipe" in err, err


def test_a_closed_stdout_is_os_devnull(monkeypatch, capsys):
    """``>&-``: sys.stdout is None; was AttributeError 'NoneType' object has
    no attribute 'write' (in Keras' progress bar)."""
    monkeypatch.setattr(sys, "stdout", None)

    def work():
        sys.stdout.write("Epoch 1/2\n")
        sys.stdout.flush()
        return 0

    assert cli.run("tool.py", work) == 0
    assert sys.stdout is not None and not sys.stdout.isatty()
    assert GONE not in capsys.readouterr().err


def _closed_pipe():
    """A pipe's writing end whose reading end is closed (``| head -1`` once
    head has left): every write to it fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


@pytest.mark.slow  # train.py in a subprocess (the in-process tests above cover cli.run)
def test_train_finishes_with_a_broken_pipe_as_stdout(tmp_path):
    """Was BrokenPipeError in Keras' progress bar: the training lost."""
    from keras_pose.data import synthetic
    from tests.training.conftest import FAST
    root = str(tmp_path / "data")
    synthetic.ensure_dataset(root, num_train=12, num_val=3)
    flags = ["--dataset", "synthetic", "--data_dir", root, "--model_dir", str(tmp_path / "m")]
    for item in FAST + ["train.epochs=2"]:
        flags += ["--set", item]
    stdout = _closed_pipe()
    try:
        proc = subprocess.run([sys.executable, "train.py", *flags], cwd=REPO, env=_env(),
                              stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(stdout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count(GONE) == 1 and "Traceback" not in proc.stderr
    assert os.path.isdir(tmp_path / "m" / "checkpoints" / "epoch_0002")  # Trained to the end.
    assert os.path.isfile(tmp_path / "m" / "saved_model" / "COMPLETE")


def test_predict_with_stdout_on_a_full_disk(tiny_exported, tmp_path):
    """``> /dev/full``: the report was written, then OSError ENOSPC at exit (code 120)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "predict.py", "--checkpoint", tiny_exported[2],
                               "--input", IMAGE, "--detector", "none", "--output_dir",
                               str(tmp_path / "out")], cwd=REPO, env=_env(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count(GONE) == 1 and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert (tmp_path / "out" / "predictions.json").is_file()


def test_export_with_stdout_closed_and_a_broken_pipe(tiny_exported, tmp_path):
    """Was AttributeError (closed) and BrokenPipeError (pipe) after the export was written."""
    script = os.path.join(REPO, "scripts", "export_saved_model.py")
    for name, closed in (("closed", True), ("pipe", False)):
        stdout = None if closed else _closed_pipe()
        try:
            proc = subprocess.run(
                [sys.executable, script, "--checkpoint", tiny_exported[2], "--output",
                 str(tmp_path / name), "--noguard"], cwd=REPO, env=_env(), stdout=stdout,
                stderr=subprocess.PIPE, text=True, timeout=120,
                preexec_fn=(lambda: os.close(1)) if closed else None)
        finally:
            if stdout is not None:
                os.close(stdout)
        assert proc.returncode == 0, (name, proc.stderr[-3000:])
        assert proc.stderr.count(GONE) == (0 if closed else 1), proc.stderr[-3000:]
        assert "Traceback" not in proc.stderr
        assert os.path.isfile(tmp_path / name / "saved_model.pb"), os.listdir(tmp_path)


# 3. A TMPDIR holding a glob character.

@pytest.fixture
def glob_tmpdir(tmp_path, monkeypatch):
    """Python's temporary folder under a name TF's readers glob."""
    folder = tmp_path / "t [x]"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return str(folder)


def test_literal_path_with_a_glob_tmpdir(glob_tmpdir, tmp_path):
    """Was a link made under TMPDIR, itself globbed: the path yielded unchanged."""
    from keras_pose.tf_paths import is_pattern_path, literal_path
    model = tmp_path / "exp[1]"
    model.mkdir()
    with literal_path(str(model)) as literal:
        assert not is_pattern_path(literal)
        assert os.path.samefile(literal, model)


def test_plain_tempdir_with_a_glob_tmpdir(glob_tmpdir):
    from keras_pose.tf_paths import is_pattern_path, plain_tempdir
    with plain_tempdir() as folder:
        assert tempfile.gettempdir() == folder and not is_pattern_path(folder)
        with tempfile.NamedTemporaryFile(prefix="probe-") as f:
            name = os.path.basename(f.name)
            assert os.listdir(glob_tmpdir) == [name]  # The files stay in TMPDIR.
    assert tempfile.gettempdir() == glob_tmpdir


def test_litert_export_with_a_glob_tmpdir(tiny_exported, tmp_path):
    """Was "error: --output ...: Unsuccessful TensorSliceReader constructor:
    Failed to find any matching files for .../t [x]/tmp.../variables/variables"."""
    from tests.export.runtime_checks import skip_unless_installed
    skip_unless_installed("litert")
    tmpdir = tmp_path / "t [x]"
    tmpdir.mkdir()
    output = tmp_path / "exp_lite"
    proc = subprocess.run([sys.executable, "scripts/export_saved_model.py", "--checkpoint",
                           tiny_exported[2], "--output", str(output), "--format", "litert",
                           "--noguard"], cwd=REPO, env=_env(TMPDIR=str(tmpdir)),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (output / "heatmaps.tflite").is_file(), os.listdir(output)
