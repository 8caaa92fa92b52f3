"""Paths that TF's file readers take as patterns (keras_pose.tf_paths)."""

import os
import shutil

import numpy as np
import pytest

from keras_pose.inference import load_pose_model
from keras_pose.tf_paths import is_pattern_path, literal_path

# A SavedModel in a folder named so was written, then "not a loadable
# SavedModel: ... Failed to find any matching files for exp[1]/variables/variables".
PATTERN_NAMES = ["exp[1]", "a\\b"]


def _crops() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)


@pytest.mark.parametrize("name", PATTERN_NAMES)
def test_a_saved_model_in_a_folder_named_as_a_pattern_loads(tiny_exported, tmp_path,
                                                             own_tempdir, monkeypatch, name):
    saved = tiny_exported[3]
    expected = np.asarray(load_pose_model(saved).network(_crops()))
    shutil.copytree(saved, tmp_path / name / "saved_model")
    monkeypatch.chdir(tmp_path)  # A relative path, as the user's --checkpoint.
    for path in (os.path.join(name, "saved_model"), str(tmp_path / name / "saved_model")):
        loaded = load_pose_model(path)
        assert loaded.kind == "saved_model" and loaded.path == path
        # The link is gone: the variables were read while loading.
        assert os.listdir(own_tempdir) == []
        np.testing.assert_allclose(np.asarray(loaded.network(_crops())), expected, atol=1e-5)
    # The model directory holding it (train.py's --model_dir) resolves to it.
    assert load_pose_model(name).kind == "saved_model"


def test_the_tflite_file_of_a_saved_model_in_a_folder_named_as_a_pattern(tiny_exported,
                                                                        tmp_path, own_tempdir):
    # Was a traceback out of export_tflite (export_saved_model.py --tflite).
    from keras_pose.export import export_tflite
    saved = tmp_path / "exp[1]"
    shutil.copytree(tiny_exported[3], saved)
    tflite = export_tflite(str(saved), str(tmp_path / "m.tflite"))
    assert os.listdir(own_tempdir) == []
    expected = np.asarray(load_pose_model(tiny_exported[3]).network(_crops()))
    np.testing.assert_allclose(np.asarray(load_pose_model(tflite).network(_crops())), expected,
                               atol=1e-4)


def test_literal_path_links_only_a_pattern_path_and_removes_the_link(tmp_path, own_tempdir):
    plain = tmp_path / "plain"
    with literal_path(plain) as path:
        assert path == str(plain)
    assert not is_pattern_path(plain) and is_pattern_path("x/exp[1]/y")
    target = tmp_path / "exp[1]"
    target.mkdir()
    (target / "f").write_text("x")
    with pytest.raises(KeyError):  # Removed whatever the reader raises.
        with literal_path(target) as path:
            assert not is_pattern_path(path) and str(own_tempdir) in path
            assert os.path.realpath(path) == str(target.resolve())
            assert open(os.path.join(path, "f")).read() == "x"
            raise KeyError
    assert os.listdir(own_tempdir) == [] and (target / "f").exists()


def test_a_damaged_saved_model_in_a_folder_named_as_a_pattern_is_named_by_its_path(
        tiny_exported, tmp_path, own_tempdir):
    from keras_pose.checkpoint import CheckpointError
    saved = tmp_path / "exp[1]"
    shutil.copytree(tiny_exported[3], saved)
    os.remove(saved / "variables" / "variables.index")
    with pytest.raises(CheckpointError) as error:
        load_pose_model(str(saved))
    # TF's message names the folder given, not the link (gone by now).
    assert f"matching files for {saved}/variables/variables" in str(error.value)
    assert "keras_pose-link-" not in str(error.value) and os.listdir(own_tempdir) == []
