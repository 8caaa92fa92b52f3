"""One SavedModel from image bytes to every person's pose (detector inside)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.data.images import read_image
from keras_pose.export import export_saved_model
from keras_pose.inference import Predictor, load_pose_model


@pytest.fixture(scope="module")
def exported(tiny_exported, tmp_path_factory):
    import keras

    from keras_pose.detection import KerasHubPersonDetector
    from keras_pose.detection.dfine import build_dfine_detector
    from tests.detection.conftest import TINY_DFINE, TINY_QUERIES, TINY_SIZE
    model, config, _, _ = tiny_exported
    keras.utils.set_random_seed(0)
    detector = KerasHubPersonDetector(
        build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                             num_queries=TINY_QUERIES), score_threshold=0.0,
        nms_iou_threshold=0.7, max_detections=8)
    path = str(tmp_path_factory.mktemp("det") / "saved_model")
    export_saved_model(model, config, path, detector=detector, detector_threshold=0.0)
    return model, config, detector, path


def test_detect_and_estimate_equals_the_python_path(exported, tiny_exported, coco_dir):
    model, config, detector, path = exported
    serve = tf.saved_model.load(path).signatures["detect_and_estimate"]
    image_path = os.path.join(coco_dir, "000000000785.jpg")
    image = read_image(image_path)
    found = detector.detect(image)
    assert len(found) > 0
    expected = Predictor(load_pose_model(tiny_exported[2])).predict(image, found.boxes,
                                                                    box_scores=found.scores)
    out = serve(image_bytes=tf.io.read_file(image_path), score_threshold=tf.zeros([0]))
    np.testing.assert_allclose(out["boxes"].numpy(), found.boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["box_scores"].numpy(), found.scores, atol=1e-6)
    np.testing.assert_allclose(out["keypoints"].numpy(), expected.keypoints, atol=1e-3)
    np.testing.assert_allclose(out["scores"].numpy(), expected.scores, atol=1e-5)
    # A threshold keeps the people scoring at least it, and none above all.
    middle = float(np.median(found.scores))
    out = serve(image_bytes=tf.io.read_file(image_path), score_threshold=tf.constant([middle]))
    assert len(out["box_scores"]) == int(np.sum(found.scores >= middle))
    out = serve(image_bytes=tf.io.read_file(image_path), score_threshold=tf.constant([2.0]))
    assert out["keypoints"].shape == (0, 17, 2)
    # A threshold that is not zero or one finite number is refused, named.
    for bad, message in (([np.nan], "finite number"), ([0.2, 0.5], "zero or one number")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"score_threshold: .*{message}"):
            serve(image_bytes=tf.io.read_file(image_path), score_threshold=tf.constant(bad))


def test_saved_model_cli_runs_the_signature(exported, coco_dir, tmp_path):
    _, _, _, path = exported
    data = open(os.path.join(coco_dir, "000000040083.jpg"), "rb").read()
    np.save(tmp_path / "image.npy", np.array(data))  # a bytes scalar, no pickle
    np.save(tmp_path / "threshold.npy", np.zeros([0], np.float32))
    exe = shutil.which("saved_model_cli")
    cmd = ([exe] if exe else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]) + [
        "run", "--dir", path, "--tag_set", "serve", "--signature_def", "detect_and_estimate",
        "--inputs", f"image_bytes={tmp_path / 'image.npy'};"
                    f"score_threshold={tmp_path / 'threshold.npy'}", "--outdir", str(tmp_path)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    boxes, keypoints = np.load(tmp_path / "boxes.npy"), np.load(tmp_path / "keypoints.npy")
    assert boxes.shape[1] == 4 and keypoints.shape == (len(boxes), 17, 2) and len(boxes) > 0
