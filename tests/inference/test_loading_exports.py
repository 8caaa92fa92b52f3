"""The one loader on ONNX / OpenVINO / LiteRT exports: the file, a directory
holding one, and the errors that name the file."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.checkpoint import CheckpointError, load_model
from keras_pose.inference import Predictor, load_pose_model

IMAGE = np.random.default_rng(1).uniform(0, 255, (120, 100, 3)).astype(np.uint8)
BOXES = [[10, 10, 60, 90], [30, 5, 50, 100], [0, 40, 100, 60]]


def _copy_export(source: str, directory) -> str:
    """The export file and its sidecar copied into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    for path in (source, os.path.splitext(source)[0] + ".json"):
        shutil.copy(path, directory)
    return os.path.join(str(directory), os.path.basename(source))


def test_an_export_runs_the_one_inference_path_as_the_saved_model(tiny_exported, tiny_onnx):
    """Same crops, flip test, decoding and rescoring; only the network
    differs (ONNX Runtime): the keypoints agree to 1e-3 px, through the
    Predictor's tf.function and the estimator called eagerly."""
    _, config, _, saved = tiny_exported
    loaded = load_pose_model(tiny_onnx)
    assert (loaded.kind, loaded.runtime, loaded.precision) == ("onnx", "onnxruntime", "fp32")
    assert loaded.config == config and loaded.path == tiny_onnx
    for flip in (True, False):
        expected = Predictor.from_checkpoint(saved).predict(IMAGE, BOXES, flip=flip)
        got = Predictor(loaded).predict(IMAGE, BOXES, flip=flip)
        np.testing.assert_allclose(got.keypoints, expected.keypoints, atol=1e-3)
        np.testing.assert_allclose(got.keypoint_scores, expected.keypoint_scores, rtol=1e-4)
    crops = tf.random.stateless_uniform((3, 64, 64, 3), (0, 1), 0, 255)
    args = (crops, tf.fill((3, 2), 40.0), tf.ones((3, 2)), tf.ones(3))
    estimator = loaded.estimator(True)
    eager, graph = estimator.keypoints_from_crops(*args), \
        estimator.compiled_keypoints_from_crops(*args)
    np.testing.assert_allclose(eager["keypoints"].numpy(), graph["keypoints"].numpy(),
                               atol=1e-3)
    assert estimator.keypoints_from_crops(crops[:0], *[a[:0] for a in args[1:]])[
        "keypoints"].shape == (0, 17, 2)  # No person: the estimator's padding.


def test_a_directory_with_one_export_and_with_several(tiny_onnx, tmp_path):
    one = _copy_export(tiny_onnx, tmp_path / "one")
    assert load_pose_model(str(tmp_path / "one")).path == one
    _copy_export(tiny_onnx, tmp_path / "two")
    shutil.copy(tiny_onnx, tmp_path / "two" / "other.onnx")
    with pytest.raises(CheckpointError, match=r"holds 2 exports \(other.onnx, tiny.onnx\)"):
        load_pose_model(str(tmp_path / "two"))


def test_a_missing_or_foreign_sidecar_names_the_file(tiny_onnx, tmp_path):
    path = _copy_export(tiny_onnx, tmp_path)
    sidecar = tmp_path / "tiny.json"
    info = json.loads(sidecar.read_text())
    info["experiment"]["model"]["num_keypoints"] = 16  # Another model's config.
    sidecar.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=rf"{path} does not match the config of its "
                       rf"sidecar {sidecar}.*\(1, 16, 16, 16\).*\(1, 16, 16, 17\)"):
        load_pose_model(path)
    info["experiment"]["model"].update(num_keypoints=17, image_size=[32, 64],
                                       heatmap_size=[8, 16])
    sidecar.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match=rf"{path} does not match.*an error"):
        load_pose_model(path)  # The network does not take crops of that size.
    info["format"] = "openvino"
    sidecar.write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="describes a 'openvino' export but"):
        load_pose_model(path)
    os.remove(sidecar)
    with pytest.raises(FileNotFoundError, match=rf"{path} has no tiny.json"):
        load_pose_model(path)


def test_runtime_on_an_export_and_exporting_an_export_are_refused(tiny_onnx):
    for options in ({"runtime": "openvino"}, {"precision": "int8"}, {"runtime": "tf"}):
        with pytest.raises(CheckpointError, match=r"is already an export \(onnxruntime fp32\)"
                           r".*drop --runtime / --precision"):
            load_pose_model(tiny_onnx, **options)
    with pytest.raises(CheckpointError, match="is an export, not a checkpoint"):
        load_model(tiny_onnx)  # The export script's and the trainer's loader.


def test_overrides_apply_to_the_sidecar_config(tiny_onnx):
    loaded = load_pose_model(tiny_onnx, ["test.flip_test=false"])
    assert loaded.config.test.flip_test is False
