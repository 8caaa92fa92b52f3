"""The exported SavedModel against the Python evaluation path."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.codec import HeatmapCodec
from keras_pose.data import coco
from keras_pose.data.pipeline import build_eval_dataset
from keras_pose.evaluation.inference import make_heatmap_fn
from keras_pose.export import load_saved_model


@pytest.fixture(scope="module")
def exported(tiny_exported):
    model, config, _, saved_model = tiny_exported
    return model, config, saved_model


def test_signatures_and_config(exported):
    model, config, path = exported
    loaded = load_saved_model(path)
    assert set(loaded.signatures) >= {"serving_default", "heatmaps", "encoded_image"}
    crops = np.random.default_rng(1).normal(size=(3, 64, 64, 3)).astype(np.float32)
    out = loaded.signatures["heatmaps"](images=tf.constant(crops))["heatmaps"]
    np.testing.assert_allclose(out.numpy(), model(crops, training=False).numpy(), atol=1e-4)
    saved = json.load(open(os.path.join(path, "assets", "config.json")))
    assert saved["model"]["num_keypoints"] == 17


def test_serving_default_matches_the_python_path(exported, coco_dir):
    model, config, path = exported
    records = coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir,
                                config.model.aspect_ratio)
    # Python path: evaluation crops, flip test with shift, numpy decode.
    heatmap_fn = make_heatmap_fn(lambda x: model(x, training=False), flip=True,
                                 flip_pairs=config.data.flip_pairs, shift_heatmap=True)
    codec = HeatmapCodec.from_model_config(config.model)
    expected = {}
    for batch in build_eval_dataset(records, image_size=config.model.image_size, batch_size=64):
        coords, scores = codec.decode(heatmap_fn(batch["image"]).numpy(),
                                      batch["center"].numpy(), batch["scale"].numpy())
        for i, index in enumerate(batch["index"].numpy()):
            expected[int(index)] = (coords[i], scores[i])
    loaded = load_saved_model(path)
    serve = loaded.signatures["serving_default"]
    for image_id in np.unique(records.image_id):
        rows = np.nonzero(records.image_id == image_id)[0]
        image = tf.io.decode_jpeg(tf.io.read_file(records.image_path[rows[0]]),
                                  dct_method="INTEGER_ACCURATE").numpy()
        boxes = np.zeros((1, len(rows) + 1, 4), np.float32)  # one padded slot
        boxes[0, :len(rows)] = records.box[rows]
        out = serve(images=tf.constant(image[None]), boxes=tf.constant(boxes),
                    num_boxes=tf.constant([len(rows)], tf.int32))
        assert out["keypoints"].shape == (1, len(rows) + 1, 17, 2)
        for j, row in enumerate(rows):
            np.testing.assert_allclose(out["keypoints"].numpy()[0, j], expected[row][0],
                                       atol=1e-3)
            np.testing.assert_allclose(out["keypoint_scores"].numpy()[0, j], expected[row][1],
                                       atol=1e-5)
        assert np.all(out["keypoints"].numpy()[0, -1] == 0)  # the padded box
        assert np.all(out["scores"].numpy()[0, -1] == 0)
        encoded = loaded.signatures["encoded_image"](
            image_bytes=tf.io.read_file(records.image_path[rows[0]]),
            boxes=tf.constant(records.box[rows]))
        np.testing.assert_allclose(encoded["keypoints"].numpy(),
                                   out["keypoints"].numpy()[0, :len(rows)], atol=1e-3)


def _cli(*args):
    import shutil
    import subprocess
    import sys
    exe = shutil.which("saved_model_cli")
    cmd = [exe] if exe else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300, env=env)


def test_saved_model_cli_show_and_run(exported, tmp_path, coco_dir):
    _, _, path = exported
    shown = _cli("show", "--dir", path, "--all")
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in ("serving_default", "heatmaps", "num_boxes", "keypoint_scores"):
        assert name in shown.stdout
    image = tf.io.decode_jpeg(tf.io.read_file(os.path.join(coco_dir, "000000000785.jpg"))).numpy()
    inputs = tmp_path / "inputs.npz"
    np.savez(inputs, images=image[None], boxes=np.array([[[100, 50, 200, 300]]], np.float32),
             num_boxes=np.array([1], np.int32))
    out_dir = tmp_path / "out"
    run = _cli("run", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default",
               "--inputs", f"images={inputs}[images];boxes={inputs}[boxes];"
               f"num_boxes={inputs}[num_boxes]", "--outdir", str(out_dir))
    assert run.returncode == 0, run.stderr[-2000:]
    keypoints = np.load(out_dir / "keypoints.npy")
    assert keypoints.shape == (1, 1, 17, 2)
    assert np.all(keypoints[..., 0] >= 100 - 200 * 0.25) and np.all(keypoints[..., 0] <= 300 + 50)


def test_tflite_heatmaps_match(exported, tmp_path):
    from keras_pose.export import export_tflite
    model, _, path = exported
    tflite = export_tflite(path, str(tmp_path / "heatmaps.tflite"))
    interpreter = tf.lite.Interpreter(model_path=tflite)
    runner = interpreter.get_signature_runner("heatmaps")
    crops = np.random.default_rng(3).normal(size=(1, 64, 64, 3)).astype(np.float32)
    out = runner(images=crops)["heatmaps"]
    np.testing.assert_allclose(out, model(crops, training=False).numpy(), atol=1e-4)
