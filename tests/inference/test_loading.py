"""The one model loader: checkpoints, model directories, SavedModels."""

import os
import shutil

import numpy as np
import pytest

from keras_pose.checkpoint import CheckpointError
from keras_pose.inference import load_pose_model


def test_keras_checkpoint_and_saved_model_are_the_same_network(tiny_exported, tmp_path):
    model, config, ckpt, saved = tiny_exported
    crops = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype(np.float32)
    expected = model(crops, training=False).numpy()
    for path in (ckpt, saved):
        loaded = load_pose_model(path)
        assert loaded.config == config
        np.testing.assert_allclose(np.asarray(loaded.network(crops)), expected, atol=1e-4)
    assert load_pose_model(ckpt).kind == "keras" and load_pose_model(saved).kind == "saved_model"
    # A model directory holding only saved_model/ resolves to it.
    shutil.copytree(saved, tmp_path / "run" / "saved_model")
    assert load_pose_model(str(tmp_path / "run")).kind == "saved_model"


def test_a_misspelt_option_is_a_type_error_not_tf_fp32_in_silence(tiny_exported):
    from keras_pose import Predictor
    with pytest.raises(TypeError, match="precison"):
        load_pose_model(tiny_exported[2], precison="int8")
    with pytest.raises(TypeError, match="runtim"):
        Predictor.from_checkpoint(tiny_exported[2], runtim="openvino")


def test_predict_paths_refuse_renamed_keypoints_and_say_an_unused_blur_kernel(tiny_exported,
                                                                              caplog):
    # predict.py, the Predictor and the exporter load through with_overrides,
    # which took reordered names (channels relabelled in silence) and said
    # nothing of a blur kernel without DARK, as evaluate.py does.
    import logging

    from keras_pose.configs import ConfigError
    caplog.set_level(logging.WARNING, logger="absl")
    names = list(tiny_exported[1].data.keypoint_names)
    names[0], names[1] = names[1], names[0]
    for path in tiny_exported[2:]:
        with pytest.raises(ConfigError, match="names the checkpoint's keypoints in another order"):
            load_pose_model(path, [f"data.keypoint_names={','.join(names)}"])
    load_pose_model(tiny_exported[2], ["test.blur_kernel=11"])
    assert "test.blur_kernel=11 is DARK's modulation" in caplog.text
    caplog.clear()
    load_pose_model(tiny_exported[2], ["test.blur_kernel=11", "test.decoding=dark"])
    assert "blur_kernel" not in caplog.text


def test_one_override_given_as_a_string_is_one_override(tiny_exported):
    # Was read character by character: "override 't' is not of the form ...".
    loaded = load_pose_model(tiny_exported[2], "test.flip_test=false")
    assert loaded.config.test.flip_test is False


def test_saved_model_without_its_config_is_refused(tiny_exported, tmp_path):
    copy = tmp_path / "saved"
    shutil.copytree(tiny_exported[3], copy)
    os.remove(copy / "assets" / "config.json")
    with pytest.raises(CheckpointError, match="assets/config.json"):
        load_pose_model(str(copy))


@pytest.mark.parametrize("damage", ["saved_model.pb", "variables"])
def test_a_damaged_saved_model_is_named(tiny_exported, tmp_path, damage):
    copy = tmp_path / "saved"
    shutil.copytree(tiny_exported[3], copy)
    files = ([copy / "saved_model.pb"] if damage == "saved_model.pb" else
             [copy / "variables" / n for n in os.listdir(copy / "variables") if ".data" in n])
    for path in files:  # cut short, as a copy that stopped
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=f"{copy} is not a loadable SavedModel: "):
        load_pose_model(str(copy))


def test_incomplete_checkpoints_are_refused(tiny_exported, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_exported[2], run / "best")
    os.remove(run / "best" / "COMPLETE")
    (run / "best" / "state.json").write_text("{}")  # an interrupted training write
    with pytest.raises(CheckpointError, match="best is incomplete"):
        load_pose_model(str(run))
    os.remove(run / "best" / "model.weights.h5")
    with pytest.raises(CheckpointError, match="incomplete checkpoint"):
        load_pose_model(str(run / "best"))


def test_a_run_stopped_in_its_first_epoch_says_to_train_not_to_mark_it(tiny_exported, tmp_path):
    """Its advice was "touch <run>/COMPLETE", after which the same error came."""
    run = tmp_path / "run"
    (run / "logs").mkdir(parents=True)
    shutil.copy(os.path.join(tiny_exported[2], "config.json"), run / "config.json")
    with pytest.raises(CheckpointError, match=f"^{run} is a train.py model directory without a "
                                              r"checkpoint yet .*train at least one epoch"):
        load_pose_model(str(run))
