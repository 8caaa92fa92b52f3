"""Predictor and predict.py on the real COCO sample."""

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_pose import Predictor
from keras_pose.checkpoint import CheckpointError
from keras_pose.data import coco
from keras_pose.data.images import ImageReadError, read_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def checkpoints(tiny_exported):
    return tiny_exported[2], tiny_exported[3]


def test_predictor_matches_the_saved_model(checkpoints, coco_dir):
    keras_ckpt, saved = checkpoints
    records = coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir, 1.0)
    rows = np.nonzero(records.image_id == records.image_id[0])[0]
    image = read_image(records.image_path[rows[0]])
    boxes = records.box[rows]
    result = Predictor.from_checkpoint(keras_ckpt).predict(image, boxes)
    assert result.keypoints.shape == (len(rows), 17, 2)
    from_saved = Predictor.from_checkpoint(saved).predict(image, boxes)
    np.testing.assert_allclose(from_saved.keypoints, result.keypoints, atol=1e-3)
    serve = tf.saved_model.load(saved).signatures["serving_default"]
    out = serve(images=tf.constant(image[None]), boxes=tf.constant(boxes[None]),
                num_boxes=tf.constant([len(rows)], tf.int32))
    np.testing.assert_allclose(out["keypoints"].numpy()[0], result.keypoints, atol=1e-3)
    np.testing.assert_allclose(out["scores"].numpy()[0], result.scores, atol=1e-5)


def test_whole_image_and_drawing(checkpoints, coco_dir):
    predictor = Predictor.from_checkpoint(checkpoints[0])
    image = read_image(os.path.join(coco_dir, "000000000785.jpg"))
    result = predictor.predict(image, flip=False)
    np.testing.assert_array_equal(result.boxes, [[0, 0, image.shape[1], image.shape[0]]])
    drawn = predictor.draw(image, result, score_threshold=-1e9)
    assert drawn.shape == image.shape and (drawn != image).any()


def test_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        Predictor.from_checkpoint(str(tmp_path / "none"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="bad.jpg"):
        read_image(str(bad))


def _run(args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "predict.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_predict_cli_on_a_folder_with_a_corrupt_image(checkpoints, coco_dir, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("000000000785.jpg", "000000040083.jpg"):
        shutil.copy(os.path.join(coco_dir, name), images)
    (images / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    out = tmp_path / "out"
    proc = _run(["--checkpoint", checkpoints[0], "--input", str(images), "--output_dir", str(out),
                 "--boxes", os.path.join(coco_dir, "test_coco_det_AP_H_56.json"),
                 "--box_threshold", "0.5"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 input(s) processed, 1 unreadable skipped" in proc.stdout
    predictions = json.load(open(out / "predictions.json"))
    detections = json.load(open(os.path.join(coco_dir, "test_coco_det_AP_H_56.json")))
    expected = sum(1 for d in detections if d["image_id"] in (785, 40083) and d["score"] >= 0.5)
    assert len(predictions) == expected
    assert {p["file_name"] for p in predictions} == {"000000000785.jpg", "000000040083.jpg"}
    assert len(predictions[0]["keypoints"]) == 17 * 3
    assert (out / "000000000785.pose.jpg").exists()


def test_predict_cli_on_a_video(checkpoints, tmp_path, coco_dir):
    image = cv2.imread(os.path.join(coco_dir, "000000000785.jpg"))
    video = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 5,
                             (image.shape[1], image.shape[0]))
    for _ in range(3):
        writer.write(image)
    writer.release()
    out = tmp_path / "out"
    proc = _run(["--checkpoint", checkpoints[1], "--input", video, "--output_dir", str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    frames = json.load(open(out / "clip.frames.json"))
    assert len(frames) == 3 and len(frames[0]["people"]) == 1
    assert (out / "clip.annotated.avi").stat().st_size > 0


def test_predict_cli_bad_inputs(checkpoints, tmp_path, coco_dir):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"nothing": 1}]))
    proc = _run(["--checkpoint", checkpoints[0], "--input", coco_dir, "--boxes", str(boxes),
                 "--output_dir", str(tmp_path / "o")])
    assert proc.returncode == 1 and "boxes.json" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run(["--checkpoint", str(tmp_path / "missing"), "--input", coco_dir,
                 "--output_dir", str(tmp_path / "o")])
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    proc = _run(["--checkpoint", checkpoints[0], "--input", coco_dir, "--set", "test.nope=1",
                 "--output_dir", str(tmp_path / "o")])
    assert proc.returncode == 1 and "test.nope" in proc.stderr
