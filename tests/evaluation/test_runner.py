"""Box mode, configs and the evaluation of predictions (runner)."""

import dataclasses
import os

import numpy as np
import pytest

from keras_pose.configs import default_experiment, get_experiment
from keras_pose.evaluation import runner


def _coco_config(root, **test):
    cfg = default_experiment("coco")
    return cfg.replace(data=dataclasses.replace(cfg.data, root=str(root)),
                       test=dataclasses.replace(cfg.test, **test))


def test_box_mode_defaults_to_detections_only_when_the_file_exists(tmp_path):
    cfg = _coco_config(tmp_path)
    mode = runner.resolve_box_mode(cfg)
    assert mode.use_gt_boxes and mode.describe() == "ground-truth boxes"
    det = tmp_path / cfg.test.detection_file
    det.parent.mkdir(parents=True)
    det.write_text("[]")
    mode = runner.resolve_box_mode(cfg)
    assert not mode.use_gt_boxes and mode.detection_file == str(det)
    assert mode.name == "detected" and str(det) in mode.describe()
    assert runner.resolve_box_mode(cfg, use_gt_boxes=True).use_gt_boxes
    assert runner.resolve_box_mode(_coco_config(tmp_path, use_gt_boxes=True)).use_gt_boxes


def test_box_mode_errors(tmp_path):
    cfg = _coco_config(tmp_path)
    with pytest.raises(runner.EvaluationError, match="nothere.json does not exist"):
        runner.resolve_box_mode(cfg, detection_file=str(tmp_path / "nothere.json"))
    det = tmp_path / "dets.json"
    det.write_text("[]")
    with pytest.raises(runner.EvaluationError, match="not both"):
        runner.resolve_box_mode(cfg, use_gt_boxes=True, detection_file=str(det))
    with pytest.raises(runner.EvaluationError, match="does not exist"):
        runner.resolve_box_mode(_coco_config(tmp_path, use_gt_boxes=False))
    mpii = default_experiment("mpii")
    assert runner.resolve_box_mode(mpii).use_gt_boxes
    with pytest.raises(runner.EvaluationError, match="MPII"):
        runner.resolve_box_mode(mpii, detection_file=str(det))


def test_eval_config_keeps_the_checkpoint_model(tmp_path):
    trained = get_experiment("tiny")
    cfg = runner.build_eval_config(
        dataset="synthetic", data_dir=str(tmp_path), checkpoint_config=trained,
        overrides=["model.depth=50", "test.flip_test=false"], batch_size=4)
    assert cfg.model == trained.model  # the network is rebuilt as trained
    assert cfg.data.root == str(tmp_path) and cfg.test.batch_size == 4
    assert cfg.test.flip_test is False
    # Another data set brings its own data/test sections, not the model.
    cfg = runner.build_eval_config(dataset="mpii", checkpoint_config=trained)
    assert cfg.data.dataset == "mpii" and cfg.model == trained.model
    cfg = runner.build_eval_config(dataset="coco")
    assert cfg.name == "coco_resnet50_256x192"
    with pytest.raises(runner.EvaluationError, match="--dataset"):
        runner.build_eval_config()


def test_arch_name_is_the_official_full_arch_name():
    assert runner.arch_name(get_experiment("coco_resnet50_256x192")) == \
        "256x192_pose_resnet_50_d256d256d256"
    assert runner.arch_name(get_experiment("mpii_resnet101_384x384")) == \
        "384x384_pose_resnet_101_d256d256d256"


def test_annotation_file_follows_the_reference_layout():
    cfg = default_experiment("coco")
    assert runner.coco_annotation_file(cfg) == os.path.join(
        "data/coco", "annotations", "person_keypoints_val2017.json")
    test_dev = cfg.replace(data=dataclasses.replace(cfg.data, test_set="test-dev2017"))
    assert runner.is_test_split(test_dev)
    assert runner.coco_annotation_file(test_dev).endswith("image_info_test-dev2017.json")


def test_saved_model_heatmaps_signature_and_config_are_loaded(tmp_path):
    import tensorflow as tf

    from keras_pose.configs import save_config
    from keras_pose.models import build_model_from_config

    cfg = get_experiment("tiny")
    cfg = cfg.replace(model=dataclasses.replace(
        cfg.model, image_size=(32, 64), heatmap_size=(8, 16), deconv_filters=(8, 8, 8)))
    model = build_model_from_config(cfg.model, pretrained="")

    class Exported(tf.Module):
        def __init__(self, keras_model):
            super().__init__()
            self.keras_model = keras_model

        @tf.function(input_signature=[tf.TensorSpec([None, 64, 32, 3], tf.float32)])
        def heatmaps(self, images):
            return {"heatmaps": self.keras_model(images, training=False)}

    path = str(tmp_path / "saved_model")
    module = Exported(model)
    tf.saved_model.save(module, path, signatures={"heatmaps": module.heatmaps})
    save_config(cfg, os.path.join(path, "assets", "config.json"))

    loaded = runner.load_checkpoint(path)
    assert loaded.kind == "saved_model" and loaded.config == cfg
    assert loaded.num_keypoints == 17
    images = np.random.default_rng(0).normal(size=(2, 64, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded.model(tf.constant(images))),
                               model(images, training=False).numpy(), rtol=1e-5, atol=1e-9)
    # A model directory holding only saved_model/ resolves to it too.
    assert runner.load_checkpoint(str(tmp_path)).kind == "saved_model"
