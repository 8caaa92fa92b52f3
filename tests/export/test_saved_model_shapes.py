"""Exports of the non-square crops the default configs use (256x192; here
the tiny config's 128x96 HxW, 32x24 heatmaps): every other export test
uses square 64x64 crops, where a swapped width and height goes unseen.
Also the export's flip default, its image indexing, its unfrozen network,
and the LiteRT conversion's precision check."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.data.images import read_image
from keras_pose.export import export_saved_model
from tests import reference_impl as ref
from tests.export.test_saved_model_precision import bf16_saved_model  # noqa: F401 (fixture)

# The tiny experiment's own sizes: image_size (width, height) = (96, 128),
# heatmap_size = (24, 32); slim deconvolutions and no flip test.
NON_SQUARE = ["model.deconv_filters=16,16,16", "test.flip_test=false"]


@pytest.fixture(scope="module")
def non_square():
    """A small random Pose-ResNet of 128x96 (HxW) crops with the flip test
    off in its config: (model, config)."""
    from keras_pose.configs import apply_overrides, get_experiment
    from tests.export.runtime_checks import small_model
    config = apply_overrides(get_experiment("tiny"), NON_SQUARE)
    assert tuple(config.model.image_size) == (96, 128) and not config.test.flip_test
    return small_model(config)


@pytest.fixture(scope="module")
def non_square_export(non_square, tmp_path_factory):
    """Its SavedModel as exported by default (fused, frozen, flip=None)."""
    model, config = non_square
    path = str(tmp_path_factory.mktemp("non_square") / "saved_model")
    export_saved_model(model, config, path)
    return tf.saved_model.load(path)


def _crops(seed):
    return np.random.default_rng(seed).normal(size=(2, 128, 96, 3)).astype(np.float32)


def test_heatmaps_of_a_non_square_export_equal_the_model(non_square, non_square_export):
    """A 256x192-style model (height != width) exports, its heatmaps the model's."""
    model, _ = non_square
    crops = _crops(0)
    out = non_square_export.signatures["heatmaps"](images=tf.constant(crops))["heatmaps"].numpy()
    expected = model(crops, training=False).numpy()
    assert out.shape == (2, 32, 24, 17)
    # Relative too: random weights give heatmaps up to ~40, where kernels' rounding
    # (the fused graph's against Keras's) reaches 1.3e-4 on an AVX-512 EPYC.
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)


def test_an_unfrozen_export_runs_the_network_in_inference_mode(non_square):
    """freeze=False (the network's weights as variables) serves with
    BatchNorm's moving statistics, not the batch's (training mode: heatmaps
    that would change with the rest of the batch). Runs the module export_saved_model(freeze=False) saves,
    unsaved (an export takes seconds more)."""
    from keras_pose.export.saved_model import PoseServingModule
    model, config = non_square
    module = PoseServingModule(model, config, flip=False, freeze=False)
    crops = _crops(1)
    out = module.signatures()["heatmaps"](images=tf.constant(crops))["heatmaps"].numpy()
    np.testing.assert_allclose(out, model(crops, training=False).numpy(), atol=1e-4)


def _coco_pair(coco_dir):
    """Two different real images cut to one size (392x640) and a person box
    in each (test_coco.json's first of 785 and of 196141)."""
    images = [read_image(os.path.join(coco_dir, name))[:392]
              for name in ("000000000785.jpg", "000000196141.jpg")]
    boxes = np.array([[281.0, 45.0, 219.0, 347.0], [248.0, 74.0, 170.0, 301.0]], np.float32)
    return images, boxes


def _heatmap_pixel(config, boxes):
    return max(np.max(boxes[:, 2:]) * 1.25 / config.model.heatmap_size[0], 1)


def test_export_without_flip_argument_follows_the_configs_flip_test(non_square,
                                                                    non_square_export, coco_dir):
    """A config with test.flip_test=false exported with flip=None serves keypoints without
    the flip test, as its config says (not twice the network's work)."""
    model, config = non_square
    network = lambda x: model(x, training=False).numpy()  # noqa: E731
    images, boxes = _coco_pair(coco_dir)
    out = non_square_export.signatures["serving_default"](
        images=tf.constant(images[0][None]), boxes=tf.constant(boxes[None, :1]),
        num_boxes=tf.constant([1]))
    plain = ref.reference_top_down_for(config, network, images[0], boxes[:1], flip=False)
    flipped = ref.reference_top_down_for(config, network, images[0], boxes[:1], flip=True)
    # This input tells the two apart: the flip test moves the scores.
    assert np.abs(plain[1] - flipped[1]).max() > 0.01
    ref.assert_matches_reference(out["keypoints"].numpy()[0], out["keypoint_scores"].numpy()[0],
                                 out["scores"].numpy()[0], plain,
                                 heatmap_pixel=_heatmap_pixel(config, boxes))


def test_each_image_of_a_batch_is_cropped_for_its_own_boxes(non_square, non_square_export,
                                                           coco_dir):
    """Two images with a box each: each person is cropped from its own image."""
    model, config = non_square
    network = lambda x: model(x, training=False).numpy()  # noqa: E731
    images, boxes = _coco_pair(coco_dir)
    out = non_square_export.signatures["serving_default"](
        images=tf.constant(np.stack(images)), boxes=tf.constant(boxes[:, None]),
        num_boxes=tf.constant([1, 1]))
    assert out["keypoints"].shape == (2, 1, 17, 2)
    for i in range(2):
        expected = ref.reference_top_down_for(config, network, images[i], boxes[i:i + 1],
                                              flip=False)
        ref.assert_matches_reference(
            out["keypoints"].numpy()[i], out["keypoint_scores"].numpy()[i],
            out["scores"].numpy()[i], expected, heatmap_pixel=_heatmap_pixel(config, boxes))


def test_runtime_network_with_non_square_heatmaps_decodes_a_known_peak():
    """ONNX / OpenVINO / LiteRT models of non-square heatmaps run and decode a known peak."""
    from keras_pose.configs import get_experiment
    from keras_pose.export.numpy_network import numpy_network
    from keras_pose.inference import TopDownEstimator
    config = get_experiment("tiny")  # heatmaps 24 wide, 32 high; msra codec
    assert tuple(config.model.heatmap_size) == (24, 32) and config.model.codec == "msra"

    def runtime(crops):
        maps = np.zeros((len(crops), 32, 24, 17), np.float32)
        maps[:, 20, 5, :] = 1.0  # one peak at x=5, y=20, in every channel
        return maps

    estimator = TopDownEstimator(numpy_network(runtime, config), config, flip=False)
    # scale (1, 4/3) has the heatmaps' aspect, so REFERENCE.md's inverse crop
    # (x with scale[0]/W_h, y with scale[1]/H_h) and the official scale[0]-only
    # one agree. A lone peak: no quarter offset (equal neighbours). By hand:
    # x = 100 + (5 - 24/2) * 1 * 200 / 24 = 41.667
    # y = 100 + (20 - 32/2) * (4/3) * 200 / 32 = 133.333
    out = estimator.keypoints_from_crops(
        tf.zeros([1, 128, 96, 3]), tf.constant([[100.0, 100.0]]),
        tf.constant([[1.0, 4.0 / 3.0]]), tf.ones([1]))
    np.testing.assert_allclose(out["keypoints"].numpy()[0],
                               np.tile([[100 - 7 * 200 / 24, 100 + 4 * 200 / 24]], (17, 1)),
                               atol=1e-3)
    np.testing.assert_allclose(out["keypoint_scores"].numpy(), 1.0)


def test_tflite_refuses_a_bf16_saved_model_naming_it(bf16_saved_model, tmp_path):  # noqa: F811
    """A bf16 SavedModel is refused for LiteRT, naming bf16 (not labelled an fp32 file)."""
    from keras_pose.export import export_tflite
    from keras_pose.export.precision import ExportError
    target = tmp_path / "heatmaps.tflite"
    with pytest.raises(ExportError, match="is a bf16 SavedModel"):
        export_tflite(bf16_saved_model, str(target))
    assert not os.listdir(tmp_path)
