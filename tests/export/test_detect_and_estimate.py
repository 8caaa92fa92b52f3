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
from tests import reference_impl as ref


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


@pytest.mark.slow  # D-FINE in a SavedModel, saved_model_cli
def test_detect_and_estimate_follows_the_reference(exported, coco_dir):
    """The detector's boxes (as the Python detector finds them) and, for
    them, the reference's validation path in NumPy/OpenCV."""
    model, config, detector, path = exported
    serve = tf.saved_model.load(path).signatures["detect_and_estimate"]
    image_path = os.path.join(coco_dir, "000000000785.jpg")
    image = read_image(image_path)
    found = detector.detect(image)
    assert len(found) > 0
    expected = ref.reference_top_down_for(config, lambda x: model(x, training=False).numpy(),
                                          image, found.boxes, found.scores)
    largest = max(np.max(found.boxes[:, 2:]) * 1.25 / config.model.heatmap_size[0], 1)
    out = serve(image_bytes=tf.io.read_file(image_path), score_threshold=tf.zeros([0]))
    np.testing.assert_allclose(out["boxes"].numpy(), found.boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["box_scores"].numpy(), found.scores, atol=1e-6)
    ref.assert_matches_reference(out["keypoints"].numpy(), out["keypoint_scores"].numpy(),
                                 out["scores"].numpy(), expected, heatmap_pixel=largest)
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


@pytest.mark.slow  # D-FINE in a SavedModel, saved_model_cli
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


@pytest.mark.slow  # D-FINE in a SavedModel
def test_predict_py_runs_the_detector_inside_the_saved_model(exported, coco_dir, tmp_path,
                                                            run_script):
    """predict.py on a SavedModel exported --with_detector ran the default
    preset beside it (a download offline, another detector and threshold
    online), unsaid; the export's own boxes are those of its `detect`
    signature, and of `detect_and_estimate` in exports made before it."""
    import json

    from keras_pose.detection.saved_model_detector import SavedModelDetector
    _, _, detector, path = exported
    image = read_image(os.path.join(coco_dir, "000000000785.jpg"))
    found = detector.detect(image)
    assert len(found) > 0
    loaded = tf.saved_model.load(path)

    class Before:  # An export without the "detect" signature.
        signatures = {"detect_and_estimate": loaded.signatures["detect_and_estimate"]}
    for saved in (loaded, Before()):
        inside = SavedModelDetector(saved, path).detect(image)
        np.testing.assert_allclose(inside.boxes, found.boxes, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(inside.scores, found.scores, atol=1e-6)
        middle = float(np.median(found.scores))
        assert len(SavedModelDetector(saved, path, score_threshold=middle).detect(image)) == \
            int(np.sum(found.scores >= middle))
    os.makedirs(tmp_path / "in")
    shutil.copy(os.path.join(coco_dir, "000000000785.jpg"), tmp_path / "in")
    predict = run_script("predict.py")
    code, out, err = predict(["--checkpoint", path, "--input", str(tmp_path / "in"),
                              "--output_dir", str(tmp_path / "out")])
    assert code == 0, err[-2000:]
    assert f"note: people are found by the person detector inside {path}" in out
    boxes = [p["bbox"] for p in json.load(open(tmp_path / "out" / "predictions.json"))]
    np.testing.assert_allclose(boxes, found.boxes, atol=0.01)
    code, out, err = predict(["--checkpoint", path, "--input", str(tmp_path / "in"),
                              "--output_dir", str(tmp_path / "none"), "--detector", "none"])
    assert code == 0, err[-2000:]
    assert f"note: the person detector inside {path} is not used: --detector given" in out
    info = json.load(open(os.path.join(path, "assets", "export.json")))
    assert info["detector_threshold"] == 0.0 and info["detector"]


@pytest.mark.slow  # D-FINE in a SavedModel
def test_predictor_without_boxes_runs_the_detector_inside(exported, coco_dir):
    """Predictor.predict(image) on a SavedModel exported --with_detector took
    the whole image as one person, its detector passed over."""
    from keras_pose import Predictor
    _, _, detector, path = exported
    image = read_image(os.path.join(coco_dir, "000000000785.jpg"))
    found = detector.detect(image)
    assert len(found) > 1
    predictor = Predictor.from_checkpoint(path)
    result = predictor.predict(image, flip=False)
    np.testing.assert_allclose(result.boxes, found.boxes, rtol=1e-5, atol=1e-3)
    given = predictor.predict(image, boxes=found.boxes, box_scores=found.scores, flip=False)
    np.testing.assert_allclose(result.keypoints, given.keypoints, atol=0.05)
    np.testing.assert_allclose(result.scores, given.scores, atol=1e-5)
    with pytest.raises(ValueError, match="box_scores without boxes: .*detector inside"):
        predictor.predict(image, box_scores=[1.0])


@pytest.mark.slow  # D-FINE in a SavedModel
def test_detect_names_its_image_input_for_a_bad_one(exported):
    """A grey or empty image failed in TF's words ("input depth must be
    evenly divisible by filter depth"); an RGBA one was asked for "(N, H,
    W, 3) images (a batch...)", which detect refuses too."""
    detect = tf.saved_model.load(exported[3]).signatures["detect"]
    for shape in ((48, 64, 1), (48, 64, 4), (1, 48, 64, 3), (0, 0, 3)):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"image: must be one non-empty uint8 \(H, W, 3\) RGB image"):
            detect(image=tf.zeros(shape, tf.uint8), score_threshold=tf.zeros([0]))
    found = detect(image=tf.zeros((48, 64, 3), tf.uint8), score_threshold=tf.zeros([0]))
    assert found["boxes"].shape[1:] == (4,)


class _FixedDetector:
    """A detector that finds the same three people (scores 0.75, 0.5, 0.25,
    sorted, one padded slot) in any image, as ``detect_tf`` gives them."""

    def detect_tf(self, image):
        boxes = tf.constant([[5, 5, 20, 30], [30, 5, 20, 30], [10, 20, 10, 10], [0, 0, 0, 0]],
                            tf.float32)
        return boxes, tf.constant([0.75, 0.5, 0.25, 0.0]), tf.constant(3)


def test_a_person_scoring_exactly_the_threshold_is_kept(tiny_exported):
    """The threshold keeps people "at or above" it: one scoring it exactly is kept. Runs the module export_saved_model saves, unsaved, with a
    fixed detector in place of D-FINE (seconds, not a slow test)."""
    from keras_pose.export.saved_model import PoseServingModule
    model, config, _, _ = tiny_exported
    module = PoseServingModule(model, config, flip=False, detector=_FixedDetector(),
                               freeze=False)
    image = tf.zeros([48, 64, 3], tf.uint8)
    found = module.detect(image=image, score_threshold=tf.constant([0.5]))
    np.testing.assert_array_equal(found["box_scores"].numpy(), [0.75, 0.5])
    np.testing.assert_array_equal(found["boxes"].numpy(), [[5, 5, 20, 30], [30, 5, 20, 30]])
    out = module.detect_and_estimate(image_bytes=tf.io.encode_png(image),
                                     score_threshold=tf.constant([0.5]))
    np.testing.assert_array_equal(out["box_scores"].numpy(), [0.75, 0.5])
    assert out["keypoints"].shape == (2, 17, 2)
    # Above every score: nobody; the export's default (0.3 here): two.
    none = module.detect(image=image, score_threshold=tf.constant([0.8]))
    assert none["boxes"].shape == (0, 4)
    default = module.detect(image=image, score_threshold=tf.zeros([0]))
    assert len(default["box_scores"]) == 2
