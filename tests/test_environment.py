"""The tools in the user's environment: Keras settings for another backend,
a TMPDIR holding a glob character (a stdout or stderr that cannot be
written: test_output_streams.py)."""

import json
import os
import subprocess
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = os.path.join(REPO, "tests", "data", "coco", "000000000785.jpg")


def tool_env(**changes):
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
                   tool_env(KERAS_HOME=_keras_home(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["tensorflow"]
    assert "KERAS_BACKEND" not in proc.stderr  # The user set nothing explicitly.


def test_an_explicit_keras_backend_is_overridden_with_one_warning():
    """Was ModuleNotFoundError: No module named 'jax' in predict.py."""
    proc = _python("import keras_pose, keras; import keras_pose.cli; "
                   "print(keras.backend.backend())", tool_env(KERAS_BACKEND="jax"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["tensorflow"]
    assert proc.stderr.count("KERAS_BACKEND=jax is not used") == 1, proc.stderr[-2000:]


def test_keras_imported_first_with_another_backend_is_an_import_error(tmp_path):
    proc = _python("import keras\ntry:\n    import keras_pose\nexcept ImportError as e:\n"
                   "    print(e)\nelse:\n    print('imported')",
                   tool_env(KERAS_HOME=_keras_home(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Keras was imported with the 'torch' backend" in proc.stdout, proc.stdout
    assert "keras.json" in proc.stdout and "KERAS_BACKEND=tensorflow" in proc.stdout


def test_predict_runs_with_keras_json_of_another_backend(tiny_exported, tmp_path):
    checkpoint = tiny_exported[2]
    proc = subprocess.run([sys.executable, "predict.py", "--checkpoint", checkpoint, "--input",
                           IMAGE, "--detector", "none", "--output_dir", str(tmp_path / "out")],
                          cwd=REPO, env=tool_env(KERAS_HOME=_keras_home(tmp_path)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 input(s) processed" in proc.stdout
    assert (tmp_path / "out" / "predictions.json").is_file()


# 2. A TMPDIR holding a glob character.

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
                           "--noguard"], cwd=REPO, env=tool_env(TMPDIR=str(tmpdir)),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (output / "heatmaps.tflite").is_file(), os.listdir(output)
