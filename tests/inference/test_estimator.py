"""The one inference path: flip test, decoding, rescoring, records, empty inputs."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.data.images import ImageReadError
from keras_pose.data.records import PersonRecords
from keras_pose.inference import TopDownEstimator, person_scores
from keras_pose.inference.records import predict_records
from tests import reference_impl as ref

CONFIG = apply_overrides(get_experiment("tiny"), [
    "model.image_size=32,64", "model.heatmap_size=8,16", "model.deconv_filters=8,8,8"])


@pytest.fixture(scope="module")
def tiny_model():
    from keras_pose.models import build_model_from_config
    tf.keras.utils.set_random_seed(0)
    model = build_model_from_config(CONFIG.model)
    final = model.get_layer("head_final_conv")  # Distinct peaks, not a flat 1e-6 map.
    final.kernel.assign(np.random.default_rng(0).normal(0, 0.3, final.kernel.shape))
    return model


@pytest.mark.parametrize("shift", [True, False])
def test_flip_test_matches_two_separate_calls(tiny_model, shift):
    config = apply_overrides(CONFIG, [f"test.shift_heatmap={str(shift).lower()}"])
    crops = np.random.default_rng(0).uniform(0, 255, (3, 64, 32, 3)).astype(np.float32)
    estimator = TopDownEstimator(lambda x: tiny_model(x, training=False), config, flip=True)
    normalised = (crops / 255 - np.array(config.model.mean)) / np.array(config.model.std)
    plain = tiny_model(normalised, training=False).numpy()
    mirrored = tiny_model(normalised[:, :, ::-1], training=False).numpy()
    expected = (plain + np.transpose(ref.reference_flip_back(
        np.transpose(mirrored, (0, 3, 1, 2)), config.data.flip_pairs, shift), (0, 2, 3, 1))) / 2
    got = estimator.heatmaps(crops).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert np.abs(got - plain).max() > 0.01 * np.abs(plain).max()  # the flip mattered
    no_flip = TopDownEstimator(lambda x: tiny_model(x, training=False), config, flip=False)
    np.testing.assert_allclose(no_flip.heatmaps(crops).numpy(), plain, rtol=1e-4, atol=1e-6)


def test_keypoints_and_scores_follow_the_reference():
    rng = np.random.default_rng(1)
    heatmaps = rng.uniform(-0.1, 1.0, (4, 16, 8, 17)).astype(np.float32)
    heatmaps[0, :, :, 2] = -0.5  # no positive peak: (0, 0) and a negative score
    center = rng.uniform(50, 300, (4, 2)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, (4, 2)).astype(np.float32)
    box_scores = np.array([1.0, 0.5, 0.9, 0.2], np.float32)
    estimator = TopDownEstimator(lambda x: tf.constant(heatmaps), CONFIG, flip=False)
    out = estimator.keypoints_from_crops(np.zeros((4, 64, 32, 3), np.float32), center, scale,
                                         box_scores)
    expected, maxvals = ref.reference_final_preds(np.transpose(heatmaps, (0, 3, 1, 2)),
                                                  center, scale)
    np.testing.assert_allclose(out["keypoints"].numpy(), expected, rtol=1e-5, atol=2e-3)
    np.testing.assert_array_equal(out["keypoint_scores"].numpy(), maxvals[..., 0])
    for i in range(4):  # the reference's rescoring, written per person
        confident = [s for s in maxvals[i, :, 0] if s > 0.2]
        mean = sum(confident) / len(confident) if confident else 0.0
        assert out["scores"].numpy()[i] == pytest.approx(box_scores[i] * mean, rel=1e-5)


def test_dark_decoding_follows_the_paper_to_the_image():
    """test.decoding=dark: DARK's step (tests/reference_impl.py, loops),
    then the reference's inverse crop, on smooth off-grid peaks."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:16, 0:8]
    peaks = rng.uniform([2.5, 2.5], [5.5, 13.5], size=(3, 17, 2))
    heatmaps = np.exp(-((xx[None, :, :, None] - peaks[:, None, None, :, 0]) ** 2
                        + (yy[None, :, :, None] - peaks[:, None, None, :, 1]) ** 2) / 4.5)
    heatmaps = heatmaps.astype(np.float32)
    center = rng.uniform(50, 300, (3, 2)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, (3, 2)).astype(np.float32)
    config = apply_overrides(CONFIG, ["test.decoding=dark", "test.blur_kernel=5"])
    estimator = TopDownEstimator(lambda x: tf.constant(heatmaps), config, flip=False)
    out = estimator.keypoints_from_crops(np.zeros((3, 64, 32, 3), np.float32), center, scale,
                                         np.ones(3, np.float32))
    preds, _ = ref.dark_refine(np.transpose(heatmaps, (0, 3, 1, 2)), 5)
    expected = np.stack([[ref.apply_affine(p, ref.affine_matrix(c, s, 0, (8, 16), inv=True))
                          for p in person] for person, c, s in zip(preds, center, scale)])
    np.testing.assert_allclose(out["keypoints"].numpy(), expected, rtol=1e-5, atol=2e-3)
    plain = TopDownEstimator(lambda x: tf.constant(heatmaps), CONFIG, flip=False)
    moved = plain.keypoints_from_crops(np.zeros((3, 64, 32, 3), np.float32), center, scale,
                                       np.ones(3, np.float32))["keypoints"].numpy()
    assert np.abs(moved - expected).max() > 0.1 * scale.min() * 200 / 8  # not the msra path


def test_person_scores_edge_cases():
    scores = np.array([[0.2, 0.2, 0.2], [0.1, 0.3, 0.5], [-1.0, 0.0, 0.2]], np.float32)
    got = person_scores(scores, np.array([1.0, 0.5, 1.0]), 0.2).numpy()
    np.testing.assert_allclose(got, [0.0, 0.5 * 0.4, 0.0])  # exactly 0.2 is excluded


def test_no_people_no_network_error(tiny_model):
    estimator = TopDownEstimator(lambda x: tiny_model(x, training=False), CONFIG, flip=True)
    image = np.zeros((1, 50, 60, 3), np.uint8)
    out = estimator(image, np.zeros((0,), np.int32), np.zeros((0, 2)), np.zeros((0, 2)),
                    np.zeros((0,)))
    assert out["keypoints"].shape == (0, 17, 2) and out["scores"].shape == (0,)


def brightness_network(images):
    """A stand-in network: the peak's column encodes the crop's mean
    brightness, so each person's result says which image it came from."""
    mean = tf.reduce_mean(images, axis=[1, 2, 3])
    column = tf.cast(tf.clip_by_value(tf.round((mean + 2.5) / 5.0 * 7), 0, 7), tf.int32)
    row = tf.one_hot(tf.fill(tf.shape(column), 8), 16)[:, :, None, None]
    return tf.tile(row * tf.one_hot(column, 8)[:, None, :, None], [1, 1, 1, 17])


def test_predict_records_crops_each_person_from_its_image_and_keeps_order(tmp_path):
    levels = [20, 120, 235]
    rows = {f: [] for f in ("image_path", "image_id", "center", "scale", "joints",
                            "joints_vis", "score", "area", "box")}
    for i, level in enumerate(levels):
        path = str(tmp_path / f"{i}.png")
        cv2.imwrite(path, np.full((120, 160, 3), level, np.uint8))
        for j in range(2):
            for key, value in (("image_path", path), ("image_id", i),
                               ("center", [40.0 + 60 * j, 60.0]), ("scale", [0.2, 0.4]),
                               ("joints", np.zeros((17, 2))), ("joints_vis", np.zeros(17)),
                               ("score", 1.0), ("area", 1.0), ("box", [0, 0, 1, 1])):
                rows[key].append(value)
    records = PersonRecords.from_lists(rows, 17)
    order = np.array([3, 0, 5, 1, 4, 2])  # people of one image are not adjacent
    records = records.select(order)
    estimator = TopDownEstimator(brightness_network, CONFIG, flip=False)
    predictions = predict_records(estimator, records, batch_size=4)
    for row in range(len(records)):
        level = levels[records.image_id[row]]
        mean = np.mean((level / 255 - np.array(CONFIG.model.mean)) / np.array(CONFIG.model.std))
        column = np.clip(np.round((mean + 2.5) / 5.0 * 7), 0, 7)
        cx, cy = records.center[row]
        factor = records.scale[row][0] * 200 / 8
        np.testing.assert_allclose(predictions.keypoints[row, 0],
                                   [cx + (column - 4) * factor, cy + (8 - 8) * factor], atol=1e-3)


def test_an_unreadable_evaluation_image_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    records = PersonRecords.from_lists({
        "image_path": [str(bad)], "image_id": [1], "center": [[5, 5]], "scale": [[1, 1]],
        "joints": [np.zeros((17, 2))], "joints_vis": [np.zeros(17)], "score": [1.0],
        "area": [1.0], "box": [[0, 0, 1, 1]]}, 17)
    estimator = TopDownEstimator(brightness_network, CONFIG, flip=False)
    with pytest.raises(ImageReadError, match="broken.jpg"):
        predict_records(estimator, records)
    assert len(predict_records(estimator, records.select(np.zeros(0, int)))) == 0
    # With its reason: an animated WebP was "cannot be read or decoded".
    from tests import broken_images
    bad.write_bytes(broken_images.animated_webp(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(ImageReadError, match="broken.jpg: an animated WebP, .* convert its "
                                             r"first frame .*\(1 such image"):
        predict_records(estimator, records)


def test_float_images_are_refused_not_decoded_far_off():
    """Images as floats in 0..1 gave keypoints 167 px off, in silence (the
    network's normalisation takes 0..255)."""
    from keras_pose.errors import UserError
    estimator = TopDownEstimator(lambda x: tf.zeros([tf.shape(x)[0], 16, 8, 17]), CONFIG,
                                 flip=False)
    people = (np.zeros(1, np.int32), np.full((1, 2), 20.0, np.float32),
              np.ones((1, 2), np.float32), np.ones(1, np.float32))
    with pytest.raises(UserError, match=r"^images must be uint8 RGB \(0..255\), got float32; "
                                        r"scale them to 0..255 and cast them"):
        estimator(np.zeros((1, 40, 40, 3), np.float32), *people)
    out = estimator(np.zeros((1, 40, 40, 3), np.uint8), *people)
    assert out["keypoints"].shape == (1, 17, 2)


@pytest.mark.parametrize("flip_test", [True, False])
def test_flip_none_follows_the_configs_flip_test(tiny_model, flip_test):
    """flip=None is the config's flip test (the README): a flip_test=true
    checkpoint is decoded with it, a flip_test=false one without."""
    config = apply_overrides(CONFIG, [f"test.flip_test={str(flip_test).lower()}"])
    crops = np.random.default_rng(4).uniform(0, 255, (2, 64, 32, 3)).astype(np.float32)
    estimator = TopDownEstimator(lambda x: tiny_model(x, training=False), config)
    assert estimator.flip is flip_test
    # The reference's flip test, by hand: mean of the plain heatmaps and the
    # mirrored crop's heatmaps flipped back (pairs swapped, shifted).
    normalised = (crops / 255 - np.array(config.model.mean)) / np.array(config.model.std)
    plain = tiny_model(normalised, training=False).numpy()
    mirrored = tiny_model(normalised[:, :, ::-1], training=False).numpy()
    fused = (plain + np.transpose(ref.reference_flip_back(
        np.transpose(mirrored, (0, 3, 1, 2)), config.data.flip_pairs,
        config.test.shift_heatmap), (0, 2, 3, 1))) / 2
    assert np.abs(fused - plain).max() > 0.01 * np.abs(plain).max()  # not mirror-symmetric
    expected = fused if flip_test else plain
    got = estimator.heatmaps(crops).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


class ChannelRecorder:
    """A stand-in network that records the normalised crops it is fed."""

    def __init__(self):
        self.seen = []

    def __call__(self, images):
        self.seen.append(np.asarray(images))
        return tf.zeros([tf.shape(images)[0], 16, 8, 17])


@pytest.mark.parametrize("color_order", ["RGB", "BGR"])
def test_the_network_sees_the_channel_order_its_config_names(color_order):
    """The official checkpoints take BGR (REFERENCE.md "Normalisation"): RGB
    crops would cost about 7 AP, unseen short of a torch parity run."""
    # The official convention (convert/official.py): BGR channels, normalised
    # with the RGB ImageNet statistics in that (unchanged) order.
    config = apply_overrides(CONFIG, [f"model.color_order={color_order}"])
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    assert tuple(config.model.mean) == mean and tuple(config.model.std) == std
    red, green, blue = 200, 100, 30
    image = np.empty((1, 120, 160, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = red, green, blue  # RGB, as decoded
    network = ChannelRecorder()
    estimator = TopDownEstimator(network, config, flip=False)
    # A 20 x 40 crop well inside the 160 x 120 image: every pixel is the colour.
    estimator(image, np.zeros(1, np.int32), np.array([[80.0, 60.0]], np.float32),
              np.array([[0.1, 0.2]], np.float32), np.ones(1, np.float32))
    order = (red, green, blue) if color_order == "RGB" else (blue, green, red)
    expected = [(order[c] / 255 - mean[c]) / std[c] for c in range(3)]
    seen = network.seen[-1]
    assert seen.shape == (1, 64, 32, 3)
    np.testing.assert_allclose(seen[0].mean(axis=(0, 1)), expected, atol=1e-4)
    np.testing.assert_allclose(seen[0].min(axis=(0, 1)), expected, atol=1e-4)
    np.testing.assert_allclose(seen[0].max(axis=(0, 1)), expected, atol=1e-4)


@pytest.mark.parametrize("flip", ["false", "no", 0, 1, "True"])
def test_flip_that_is_not_a_bool_is_refused(flip):
    """bool("false") is True: a string (or a number) was taken as a flip
    test, by TopDownEstimator and PoseModel.estimator, as Predictor refused."""
    from keras_pose.inference.loading import PoseModel
    network = lambda x: tf.zeros([tf.shape(x)[0], 16, 8, 17])  # noqa: E731
    with pytest.raises(ValueError, match=f"flip must be True, False or None, got {flip!r}"):
        TopDownEstimator(network, CONFIG, flip)
    with pytest.raises(ValueError, match="flip must be True, False or None"):
        PoseModel(network, CONFIG, "keras", "tiny").estimator(flip)
    assert TopDownEstimator(network, CONFIG, np.bool_(True)).flip is True


@pytest.mark.parametrize("count", [3, 0])
def test_box_scores_of_another_count_than_the_people_are_refused(count):
    """1 person with 3 box scores came out as 3 person scores (broadcast)."""
    estimator = TopDownEstimator(lambda x: tf.zeros([tf.shape(x)[0], 16, 8, 17]), CONFIG,
                                 flip=False)
    people = (np.zeros(1, np.int32), np.full((1, 2), 20.0, np.float32),
              np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"box_scores: .*\(1,\); got shape \(" + str(count)):
        estimator(np.zeros((1, 40, 40, 3), np.uint8), *people, np.ones(count, np.float32))
    with pytest.raises(ValueError, match="box_scores"):  # A scalar for one person too.
        estimator(np.zeros((1, 40, 40, 3), np.uint8), *people, np.float32(1))
