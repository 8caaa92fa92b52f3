"""The exported SavedModel: signatures, the inference path, bad and empty inputs."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.data import coco
from tests import reference_impl as ref


@pytest.fixture(scope="module")
def exported(tiny_exported):
    model, config, _, saved_model = tiny_exported
    return model, config, saved_model


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(exported[2])


def test_signatures_and_config(exported, loaded):
    model, config, path = exported
    assert set(loaded.signatures) >= {"serving_default", "heatmaps", "encoded_image"}
    crops = np.random.default_rng(1).normal(size=(3, 64, 64, 3)).astype(np.float32)
    out = loaded.signatures["heatmaps"](images=tf.constant(crops))["heatmaps"]
    np.testing.assert_allclose(out.numpy(), model(crops, training=False).numpy(), atol=1e-4)
    saved = json.load(open(os.path.join(path, "assets", "config.json")))
    assert saved["model"]["num_keypoints"] == 17
    assert saved["data"]["flip_pairs"] == [list(p) for p in config.data.flip_pairs]


def test_serving_default_follows_the_reference(exported, loaded, coco_dir):
    """serving_default and encoded_image (fused network, padded boxes, one
    graph) against the reference's validation path in NumPy/OpenCV on every
    person of the real images."""
    model, config, _ = exported
    records = coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir,
                                config.model.aspect_ratio)
    serve = loaded.signatures["serving_default"]
    for image_id in np.unique(records.image_id):
        rows = np.nonzero(records.image_id == image_id)[0]
        image_bytes = tf.io.read_file(records.image_path[rows[0]])
        image = tf.io.decode_jpeg(image_bytes, dct_method="INTEGER_ACCURATE").numpy()
        boxes = np.zeros((1, len(rows) + 1, 4), np.float32)  # one padded slot
        boxes[0, :len(rows)] = records.box[rows]
        expected = ref.reference_top_down_for(
            config, lambda x: model(x, training=False).numpy(), image, records.box[rows])
        largest = max(np.max(records.box[rows, 2:]) * 1.25 / config.model.heatmap_size[0], 1)
        out = serve(images=tf.constant(image[None]), boxes=tf.constant(boxes),
                    num_boxes=tf.constant([len(rows)], tf.int32))
        assert out["keypoints"].shape == (1, len(rows) + 1, 17, 2)
        ref.assert_matches_reference(
            out["keypoints"].numpy()[0, :len(rows)], out["keypoint_scores"].numpy()[0, :len(rows)],
            out["scores"].numpy()[0, :len(rows)], expected, heatmap_pixel=largest)
        assert np.all(out["keypoints"].numpy()[0, -1] == 0)  # the padded box
        encoded = loaded.signatures["encoded_image"](image_bytes=image_bytes,
                                                     boxes=tf.constant(records.box[rows]))
        ref.assert_matches_reference(encoded["keypoints"].numpy(),
                                     encoded["keypoint_scores"].numpy(),
                                     encoded["scores"].numpy(), expected, heatmap_pixel=largest)


def test_empty_inputs_give_empty_outputs(loaded):
    serve = loaded.signatures["serving_default"]
    out = serve(images=tf.zeros([0, 8, 8, 3], tf.uint8), boxes=tf.zeros([0, 0, 4]),
                num_boxes=tf.zeros([0], tf.int32))
    assert out["keypoints"].shape == (0, 0, 17, 2) and out["scores"].shape == (0, 0)
    out = serve(images=tf.zeros([2, 30, 40, 3], tf.uint8), boxes=tf.zeros([2, 3, 4]),
                num_boxes=tf.constant([0, 0]))
    assert out["keypoints"].shape == (2, 3, 17, 2) and not np.any(out["keypoints"].numpy())
    image_bytes = tf.io.encode_jpeg(tf.zeros([30, 40, 3], tf.uint8))
    out = loaded.signatures["encoded_image"](image_bytes=image_bytes, boxes=tf.zeros([0, 4]))
    assert out["keypoints"].shape == (0, 17, 2)
    out = loaded.signatures["heatmaps"](images=tf.zeros([0, 64, 64, 3]))
    assert out["heatmaps"].shape == (0, 16, 16, 17)


@pytest.mark.parametrize("boxes,num_boxes,message", [
    ([[[10, 10, 20, 30]], [[1, 1, 5, 5]]], [1], "num_boxes: one count per image"),
    ([[[10, 10, 20, 30]], [[1, 1, 5, 5]]], [1, 2], "num_boxes: a count exceeds"),
    ([[[10, 10, 20, 30]], [[1, 1, 5, 5]]], [1, -1], "num_boxes: counts must be >= 0"),
    ([[[10, 10, 20, 30]], [[1, 1, 0, 5]]], [1, 1], "positive width and height"),
    ([[[10, 10, np.nan, 30]], [[1, 1, 5, 5]]], [1, 1], "4 finite numbers"),
    ([[[10, 10, np.inf, 30]], [[1, 1, 5, 5]]], [1, 1], "4 finite numbers"),
    ([[[10, 10, 20, 30]]], [1], "boxes: its first dimension"),
    # Refused rather than clipped (a caller's mistake; clipping would move
    # the crops of people cut by the border): a box off its 30x40 image...
    ([[[10, 10, 20, 30]], [[1000, 1, 5, 5]]], [1, 1], "boxes: every box must overlap"),
    ([[[10, 10, 20, 30]], [[-50, 1, 40, 5]]], [1, 1], "boxes: every box must overlap"),
    # ...and one of a size no detector gives, which would overflow the crop.
    ([[[0, 0, 1e30, 1e30]], [[1, 1, 5, 5]]], [1, 1], "boxes: a box is more than 10 times"),
])
def test_malformed_inputs_are_refused_naming_the_input(loaded, boxes, num_boxes, message):
    images = tf.zeros([2, 30, 40, 3], tf.uint8)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures["serving_default"](
            images=images, boxes=tf.constant(boxes, tf.float32),
            num_boxes=tf.constant(num_boxes, tf.int32))


@pytest.mark.parametrize("box", [[40, 5, 5, 5], [5, 30, 5, 5]])
def test_a_box_starting_on_the_right_or_bottom_edge_is_refused(loaded, box):
    """A box whose left (top) side is the image's width (height) covers no
    pixel of it: it is refused, not cropped from the zero border with its people returned as if found. The 30x40 image's pixels span x < 40, y < 30."""
    with pytest.raises(tf.errors.InvalidArgumentError, match="boxes: every box must overlap"):
        loaded.signatures["serving_default"](
            images=tf.zeros([1, 30, 40, 3], tf.uint8), boxes=tf.constant([[box]], tf.float32),
            num_boxes=tf.constant([1], tf.int32))
    inside = [v - 0.5 if v in (40, 30) else v for v in box]  # half a pixel back in: taken
    out = loaded.signatures["serving_default"](
        images=tf.zeros([1, 30, 40, 3], tf.uint8), boxes=tf.constant([[inside]], tf.float32),
        num_boxes=tf.constant([1], tf.int32))
    assert out["keypoints"].shape == (1, 1, 17, 2)


def test_the_named_checks_come_before_any_gather(loaded):
    # Boxes of one image for two images: the gather of box (1, 0) raced the
    # named check, and won 6 to 8 times in 10 with a GatherNd error.
    for _ in range(10):
        with pytest.raises(tf.errors.InvalidArgumentError, match="boxes: its first dimension"):
            loaded.signatures["serving_default"](
                images=tf.zeros([2, 30, 40, 3], tf.uint8),
                boxes=tf.constant([[[10, 10, 20, 30]]], tf.float32),
                num_boxes=tf.constant([1, 1], tf.int32))


def test_empty_images_with_boxes_are_refused_naming_images(loaded):
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: the images are empty"):
        loaded.signatures["serving_default"](
            images=tf.zeros([1, 0, 0, 3], tf.uint8), boxes=tf.constant([[[0, 0, 5, 5]]],
                                                                       tf.float32),
            num_boxes=tf.constant([1], tf.int32))


@pytest.mark.parametrize("shape", [(1, 30, 40, 4), (30, 40, 3), (1, 30, 40, 2),
                                   (1, 1, 30, 40, 3)])
def test_images_of_another_shape_are_refused_naming_images(loaded, shape):
    """An RGBA image failed with "Incompatible shapes: [1,30,40,4] vs. [3]",
    a 3-D one with "slice index 3 of dimension 0 out of bounds" or blaming
    boxes: TF Serving does not hold requests to the signature's shape."""
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"images: must be uint8 \(N, H, W, 3\) RGB images"):
        loaded.signatures["serving_default"](
            images=tf.zeros(shape, tf.uint8), boxes=tf.constant([[[5, 5, 10, 20]]], tf.float32),
            num_boxes=tf.constant([1], tf.int32))


def test_grey_images_are_taken(loaded):
    """(N, H, W, 1): the one channel stands for the three (as before the
    checks; the README says so)."""
    grey = loaded.signatures["serving_default"](
        images=tf.fill([1, 30, 40, 1], tf.constant(90, tf.uint8)),
        boxes=tf.constant([[[5, 5, 10, 20]]], tf.float32), num_boxes=tf.constant([1]))
    rgb = loaded.signatures["serving_default"](
        images=tf.fill([1, 30, 40, 3], tf.constant(90, tf.uint8)),
        boxes=tf.constant([[[5, 5, 10, 20]]], tf.float32), num_boxes=tf.constant([1]))
    np.testing.assert_allclose(grey["keypoints"].numpy(), rgb["keypoints"].numpy(), atol=1e-4)
    # As declared too: saved_model_cli (which feeds by the signature's shape) and the
    # restored function refused grey images, the channels declared as 3.
    _, inputs = loaded.signatures["serving_default"].structured_input_signature
    assert inputs["images"].shape.as_list() == [None, None, None, None]
    restored = loaded.keypoints(tf.fill([1, 30, 40, 1], tf.constant(90, tf.uint8)),
                                tf.constant([[[5, 5, 10, 20]]], tf.float32), tf.constant([1]))
    np.testing.assert_allclose(restored["keypoints"].numpy(), rgb["keypoints"].numpy(),
                               atol=1e-4)


def test_encoded_image_refuses_boxes_off_the_image(loaded):
    image_bytes = tf.io.encode_jpeg(tf.zeros([30, 40, 3], tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="boxes: every box must overlap"):
        loaded.signatures["encoded_image"](image_bytes=image_bytes,
                                           boxes=tf.constant([[500, 500, 10, 10]], tf.float32))


def test_padded_slots_may_hold_anything(loaded):
    # Only the first num_boxes boxes are checked and run.
    boxes = tf.constant([[[5, 5, 10, 20], [np.nan, 0, 0, 0]]], tf.float32)
    out = loaded.signatures["serving_default"](images=tf.zeros([1, 30, 40, 3], tf.uint8),
                                               boxes=boxes, num_boxes=tf.constant([1]))
    assert np.all(np.isfinite(out["keypoints"].numpy()))


def test_heatmaps_refuses_crops_of_another_size(loaded):
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match="64x64|shape"):
        loaded.signatures["heatmaps"](images=tf.zeros([1, 32, 32, 3]))


def _cli(*args):
    import shutil
    import subprocess
    import sys
    exe = shutil.which("saved_model_cli")
    cmd = [exe] if exe else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow  # saved_model_cli: test_detect_and_estimate.py runs it in CI
def test_saved_model_cli_show_and_run(exported, loaded, tmp_path, coco_dir):
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
    # The tool feeds the arrays through the same signature as TF Serving.
    direct = loaded.signatures["serving_default"](
        images=tf.constant(image[None]), boxes=tf.constant([[[100, 50, 200, 300]]], tf.float32),
        num_boxes=tf.constant([1]))
    np.testing.assert_allclose(keypoints, direct["keypoints"].numpy(), atol=1e-3)
    np.testing.assert_allclose(np.load(out_dir / "keypoint_scores.npy"),
                               direct["keypoint_scores"].numpy(), atol=1e-5)


@pytest.mark.slow  # a LiteRT conversion
def test_tflite_heatmaps_match(exported, tmp_path):
    from keras_pose.export import export_tflite
    model, _, path = exported
    tflite = export_tflite(path, str(tmp_path / "heatmaps.tflite"))
    interpreter = tf.lite.Interpreter(model_path=tflite)
    runner = interpreter.get_signature_runner("heatmaps")
    crops = np.random.default_rng(3).normal(size=(1, 64, 64, 3)).astype(np.float32)
    out = runner(images=crops)["heatmaps"]
    np.testing.assert_allclose(out, model(crops, training=False).numpy(), atol=1e-4)
    # Its sidecar is tied to the file, as every export's: a bit changed is refused.
    import hashlib
    import json

    from keras_pose.export import runtimes
    from keras_pose.inference import load_pose_model
    data = open(tflite, "rb").read()
    assert json.load(open(runtimes.sidecar_path(tflite)))["network_files"] == {
        ".tflite": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    changed = bytearray(data)
    changed[len(data) * 6 // 10] ^= 1
    open(tflite, "wb").write(bytes(changed))
    with pytest.raises(runtimes.DamagedExportError, match="SHA-256 is not the one"):
        load_pose_model(tflite)


def test_a_full_disk_during_the_export_is_a_user_error_naming_the_place(tiny_exported, tmp_path,
                                                                        monkeypatch):
    # TF raises its ResourceExhaustedError: train.py printed a traceback.
    import errno

    from keras_pose import cli
    from keras_pose.export import export_saved_model

    def full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "saved_model.pb.tmp; No space left "
                                               "on device")

    monkeypatch.setattr(tf.saved_model, "save", full)
    with pytest.raises(OSError) as caught:
        export_saved_model(tiny_exported[0], tiny_exported[1], str(tmp_path / "sm"))
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(tmp_path / "sm")
    assert cli.is_user_error(caught.value)
    assert not os.listdir(tmp_path)  # its temporary directory removed
