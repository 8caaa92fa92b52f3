"""The keras-hub D-FINE person detector, with random weights (no download)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.data.decoding import decode_image_tf
from keras_pose.detection import (DEFAULT_PRESET, DetectorUnavailableError,
                                  KerasHubPersonDetector, make_detector)
from keras_pose.detection.dfine import PRESETS, person_class_index
from tests.detection.conftest import TINY_DFINE, TINY_QUERIES, TINY_SIZE

# A hand-made network output for a 100 x 200 (H x W) image: 6 queries, 80
# classes, person = class 0; boxes relative (cx, cy, w, h).
WIDTH, HEIGHT = 200, 100
PERSON_LOGITS = [2.0, -1.0, 0.5, 3.0, 1.5, 5.0]
RELATIVE_BOXES = [
    [0.5, 0.5, 0.2, 0.4],     # q0 -> [80, 30, 40, 40]
    [0.2, 0.2, 0.1, 0.1],     # q1: a confident non-person (class 5)
    [0.3, 0.3, 0.1, 0.2],     # q2 -> [50, 20, 20, 20]
    [0.95, 0.5, 0.2, 0.2],    # q3 -> [170, 40, 40 -> 30 clipped, 20]
    [0.51, 0.5, 0.2, 0.4],    # q4 -> [82, 30, 40, 40], IoU 0.905 with q0
    [1.2, 0.5, 0.1, 0.1],     # q5: wholly right of the image
]


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _fake_network(images):
    """Stands in for the network: the hand-made outputs for every image."""
    logits = np.full((len(PERSON_LOGITS), 80), -10.0, np.float32)
    logits[:, 0] = PERSON_LOGITS
    logits[1, 5] = 8.0
    n = tf.shape(images)[0]
    return (tf.tile(tf.constant(logits)[None], [n, 1, 1]),
            tf.tile(tf.constant(RELATIVE_BOXES, tf.float32)[None], [n, 1, 1]))


def _with_fake_network(tiny_dfine, monkeypatch, **settings):
    detector = KerasHubPersonDetector(tiny_dfine, **settings)
    monkeypatch.setattr(detector, "predict_raw_tf", _fake_network)
    return detector


@pytest.mark.parametrize("nms,max_detections,queries", [
    (0.7, 100, [3, 0, 2]), (None, 100, [3, 0, 4, 2]), (0.7, 2, [3, 0])])
def test_person_boxes_from_hand_made_outputs(tiny_dfine, monkeypatch, nms, max_detections,
                                             queries):
    expected_boxes = {0: [80, 30, 40, 40], 2: [50, 20, 20, 20], 3: [170, 40, 30, 20],
                      4: [82, 30, 40, 40]}
    detector = _with_fake_network(tiny_dfine, monkeypatch, score_threshold=0.5,
                                  nms_iou_threshold=nms, max_detections=max_detections)
    found = detector.detect(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    np.testing.assert_allclose(found.boxes, [expected_boxes[q] for q in queries], atol=1e-4)
    np.testing.assert_allclose(found.scores, _sigmoid(np.array(PERSON_LOGITS)[queries]),
                               rtol=1e-6)


def test_graph_path_pads_the_same_boxes(tiny_dfine, monkeypatch):
    detector = _with_fake_network(tiny_dfine, monkeypatch, score_threshold=0.5,
                                  max_detections=5)
    boxes, scores, count = detector.detect_tf(tf.zeros((HEIGHT, WIDTH, 3), tf.uint8))
    assert boxes.shape == (5, 4) and scores.shape == (5,) and int(count) == 3
    np.testing.assert_allclose(boxes.numpy()[:3], [[170, 40, 30, 20], [80, 30, 40, 40],
                                                   [50, 20, 20, 20]], atol=1e-4)
    assert not np.any(boxes.numpy()[3:]) and not np.any(scores.numpy()[3:])


def test_network_input_is_the_whole_image_stretched_and_scaled_to_0_1(tiny_dfine):
    detector = KerasHubPersonDetector(tiny_dfine)
    image = np.zeros((100, 300, 3), np.uint8)
    image[:, :100, 0] = 255          # the left third red
    image[:, 100:, 2] = 51           # the rest dark blue (0.2)
    x = detector.preprocess_tf(tf.constant(image)).numpy()
    assert x.shape == (*TINY_SIZE, 3) and x.dtype == np.float32
    # Stretched: the left third stays red in every row (a centre crop would
    # lose it, padding would add black rows); scaled by 1/255, no mean / std.
    np.testing.assert_allclose(x[:, :18, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(x[:, 24:, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(x[:, 24:, 2], 0.2, atol=1e-6)


def test_scores_come_from_the_preprocessed_image(tiny_dfine, monkeypatch):
    def mean_pixel_as_score(images):   # person logit = logit(mean input value)
        mean = tf.reduce_mean(images, axis=[1, 2, 3])
        logit = tf.math.log(mean / (1 - mean))
        return (tf.tile(logit[:, None, None], [1, 1, 80]),
                tf.constant([[[0.5, 0.5, 0.5, 0.5]]]) * tf.ones_like(logit)[:, None, None])

    detector = KerasHubPersonDetector(tiny_dfine, score_threshold=0.0)
    monkeypatch.setattr(detector, "predict_raw_tf", mean_pixel_as_score)
    found = detector.detect_batch([np.full((30, 50, 3), 51, np.uint8),
                                   np.full((70, 20, 3), 102, np.uint8)])
    np.testing.assert_allclose([d.scores[0] for d in found], [0.2, 0.4], rtol=1e-5)
    np.testing.assert_allclose(found[1].boxes, [[5, 17.5, 10, 35]], rtol=1e-6)


@pytest.fixture(scope="module")
def tiny_detector(tiny_dfine):
    return KerasHubPersonDetector(tiny_dfine, score_threshold=0.0, nms_iou_threshold=0.7,
                                  max_detections=5, batch_size=3)


@pytest.mark.slow  # D-FINE
def test_random_dfine_on_real_images_gives_well_formed_boxes(tiny_detector, coco_images):
    images = [image for _, image in coco_images]
    batch = tiny_detector.detect_batch(images)
    assert len(batch) == 4
    for image, found in zip(images, batch):
        height, width = image.shape[:2]
        assert found.boxes.dtype == np.float32 and found.scores.dtype == np.float32
        assert 1 <= len(found) <= 5 and found.boxes.shape == (len(found), 4)
        x, y, w, h = found.boxes.T
        assert np.all(w > 0) and np.all(h > 0) and np.all(x >= 0) and np.all(y >= 0)
        assert np.all(x + w <= width + 1e-3) and np.all(y + h <= height + 1e-3)
        assert np.all(np.diff(found.scores) <= 0) and np.all(found.scores >= 0)
    # One image alone gives what it gave in the batch (the 4th ran in a batch of 1).
    alone = tiny_detector.detect(images[1])
    np.testing.assert_allclose(alone.boxes, batch[1].boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(alone.scores, batch[1].scores, rtol=1e-5)


@pytest.mark.slow  # D-FINE
def test_detector_in_a_saved_model_gives_the_python_boxes(tiny_detector, coco_images,
                                                          tmp_path):
    class Module(tf.Module):
        def __init__(self, detector):
            super().__init__()
            self.detector = detector

        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def detect(self, image_bytes):
            image = decode_image_tf(image_bytes)
            boxes, scores, count = self.detector.detect_tf(image)
            return {"boxes": boxes[:count], "scores": scores[:count]}

    path, image = coco_images[2]
    tf.saved_model.save(Module(tiny_detector), str(tmp_path / "sm"),
                        options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    with open(path, "rb") as f:
        out = loaded.detect(tf.constant(f.read()))
    # decode_image_tf uses OpenCV's IDCT: the same pixels as read_image.
    expected = tiny_detector.detect(image)
    np.testing.assert_allclose(out["boxes"].numpy(), expected.boxes, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out["scores"].numpy(), expected.scores, rtol=1e-5)


def test_person_class_of_coco_label_sets():
    assert person_class_index(80) == 0 and person_class_index(91) == 1
    assert person_class_index(365, person_class=4) == 4
    with pytest.raises(ValueError, match="pass person_class"):
        person_class_index(365)
    with pytest.raises(ValueError, match="not among"):
        person_class_index(80, person_class=80)


def test_construction_checks(tiny_dfine):
    with pytest.raises(TypeError, match="DFineObjectDetector"):
        KerasHubPersonDetector(object())
    with pytest.raises(ValueError, match="max_detections"):
        KerasHubPersonDetector(tiny_dfine, max_detections=None)
    detector = KerasHubPersonDetector(tiny_dfine)
    assert detector.person_class == 0 and detector.input_size == TINY_SIZE
    assert detector.model.backbone.num_queries == TINY_QUERIES
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((4, 4, 3), np.float32))


def _offline(*args, **kwargs):
    import requests
    raise requests.ConnectionError("Failed to resolve 'api.kaggle.com'")


def test_offline_first_use_says_how_to_go_on(monkeypatch):
    from keras_hub.models import DFineBackbone
    monkeypatch.setattr(DFineBackbone, "from_preset", _offline)
    with pytest.raises(DetectorUnavailableError) as error:
        make_detector()
    message = str(error.value)
    assert DEFAULT_PRESET in message and "no network connection to Kaggle" in message
    assert f"about {PRESETS[DEFAULT_PRESET].download_mb} MB" in message
    assert "--boxes FILE" in message and "--detector none" in message
    assert "kaggle://keras/d-fine/keras/" + DEFAULT_PRESET in message
    assert "\n" not in message  # one line, as every user error (it was three)


def test_missing_preset_files_and_unknown_names(monkeypatch, tmp_path):
    from keras_hub.models import DFineBackbone

    def not_found(*args, **kwargs):
        raise FileNotFoundError("`config.json` doesn't exist in preset directory")

    monkeypatch.setattr(DFineBackbone, "from_preset", not_found)
    # A folder of the user's without config.json: named as such (the message
    # spoke of downloads and network access).
    from keras_pose.errors import FlagError
    with pytest.raises(FlagError, match=f"detector directory {tmp_path} holds no config.json: "
                       "not a keras-hub preset directory"):
        KerasHubPersonDetector.from_preset(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")  # A preset folder missing other files.
    # Local: it spoke of downloads, network access and predict.py's flags.
    with pytest.raises(FlagError, match=rf"^detector directory {tmp_path} is not a keras-hub "
                       r"D-FINE preset \(FileNotFoundError: `config.json` doesn't exist.*\): "
                       "give the folder save_to_preset wrote") as raised:
        KerasHubPersonDetector.from_preset(str(tmp_path))
    assert "network" not in str(raised.value) and "--boxes" not in str(raised.value)
    with pytest.raises(ValueError, match="unknown detector preset 'dfine_tiny'.*dfine_nano_coco"):
        KerasHubPersonDetector.from_preset("dfine_tiny")


def test_a_pose_checkpoint_given_as_the_detector_is_named(tmp_path):
    """keras-hub reads the folder and refuses its config.json: it was
    reported as a download that needs network access."""
    from keras_pose.errors import FlagError
    (tmp_path / "config.json").write_text('{"model": {"backbone": "resnet50"}, "data": {}}')
    with pytest.raises(FlagError, match=f"^detector directory {tmp_path} is not a keras-hub "
                                        "D-FINE preset"):
        KerasHubPersonDetector.from_preset(str(tmp_path))


def test_a_detector_and_a_boxes_file_conflict(tmp_path):
    """--boxes won and the --detector given was never loaded, unsaid."""
    from keras_pose.errors import FlagError
    boxes = tmp_path / "boxes.json"
    boxes.write_text("{}")
    for spec in ("dfine_small_obj2coco", str(tmp_path), "other.json"):
        with pytest.raises(FlagError, match=f"--detector {spec} and --boxes {boxes} conflict"):
            make_detector(spec, str(boxes))
    assert make_detector(None, str(boxes)).path == str(boxes)


@pytest.mark.slow
@pytest.mark.parametrize("architecture,preset", [
    ("nano", "dfine_nano_coco"), ("small", "dfine_small_obj2coco"),
    ("medium", "dfine_medium_obj2coco")])
def test_architectures_have_the_presets_parameter_counts(architecture, preset):
    from keras_hub.models import DFineBackbone

    from keras_pose.detection.dfine import build_dfine_detector
    model = build_dfine_detector(architecture)
    assert model.count_params() == DFineBackbone.presets[preset]["metadata"]["params"]
    assert PRESETS[preset].architecture == architecture


@pytest.mark.slow  # D-FINE
def test_depthwise_kernels_give_the_same_outputs(coco_images):
    import keras

    from keras_pose.detection.dfine import build_dfine_detector, use_depthwise_kernels
    keras.utils.set_random_seed(1)
    model = build_dfine_detector(TINY_DFINE, image_size=TINY_SIZE, num_queries=TINY_QUERIES)
    x = tf.image.resize(coco_images[0][1][None].astype(np.float32), TINY_SIZE) / 255.0
    before = model(x, training=False)
    # Depthwise: HGNetV2's downsampling of stages 2-4 and the light block
    # layer of stages 3 and 4, and the hybrid encoder's one downsampling.
    assert use_depthwise_kernels(model) == 3 + 2 + 1
    after = model(x, training=False)
    for key in ("logits", "pred_boxes"):
        np.testing.assert_allclose(after[key].numpy(), before[key].numpy(), atol=1e-5)


def test_default_filter_keeps_scores_from_0_3_and_boxes_overlapping_up_to_0_7(
        tiny_dfine, monkeypatch):
    """The documented defaults: scores from 0.3 kept, boxes overlapping up to IoU 0.7 kept."""
    # 200 x 100 image; relative (cx, cy, w, h) -> pixels [x, y, w, h]:
    queries = [  # (person logit, relative box)
        (2.0, [0.25, 0.5, 0.2, 0.4]),   # A [30, 30, 40, 40], 0.881
        (1.5, [0.27, 0.5, 0.2, 0.4]),   # D [34, 30, 40, 40], 0.818; IoU with A
        #   36*40 / (2*1600 - 1440) = 1440/1760 = 0.818 > 0.7: suppressed
        (1.0, [0.30, 0.5, 0.2, 0.4]),   # C [40, 30, 40, 40], 0.731; IoU with A
        #   30*40 / (2*1600 - 1200) = 1200/2000 = 0.6 <= 0.7: kept
        (-0.4, [0.80, 0.5, 0.1, 0.2]),  # B [150, 40, 20, 20], 1/(1+e^0.4) = 0.401 >= 0.3
        (-1.0, [0.50, 0.5, 0.1, 0.2]),  # E [90, 40, 20, 20], 1/(1+e) = 0.269 < 0.3
    ]

    def network(images):
        logits = np.full((len(queries), 80), -10.0, np.float32)
        logits[:, 0] = [logit for logit, _ in queries]
        n = tf.shape(images)[0]
        return (tf.tile(tf.constant(logits)[None], [n, 1, 1]),
                tf.tile(tf.constant([box for _, box in queries], tf.float32)[None], [n, 1, 1]))

    detector = KerasHubPersonDetector(tiny_dfine)
    monkeypatch.setattr(detector, "predict_raw_tf", network)
    found = detector.detect(np.zeros((HEIGHT, WIDTH, 3), np.uint8))
    np.testing.assert_allclose(found.boxes, [[30, 30, 40, 40], [40, 30, 40, 40],
                                             [150, 40, 20, 20]], atol=1e-4)
    np.testing.assert_allclose(found.scores, _sigmoid(np.array([2.0, 1.0, -0.4])), rtol=1e-6)


def test_each_image_of_a_batch_gets_its_own_count_of_people(tiny_dfine, monkeypatch):
    """Each image of a batch keeps its own number of people, in the batch's order."""
    def people_by_brightness(images):
        # Query 0 is a person in every image; queries 1 and 2 only in a
        # bright one: mean input 0 (black) -> logit -5, 1 (white) -> +5.
        mean = tf.reduce_mean(images, axis=[1, 2, 3])
        person = tf.stack([tf.fill(tf.shape(mean), 5.0), 10 * mean - 5, 10 * mean - 5], axis=1)
        n = tf.shape(images)[0]
        logits = tf.concat([person[..., None], tf.fill([n, 3, 79], -10.0)], axis=-1)
        boxes = tf.constant([[0.2, 0.5, 0.1, 0.1], [0.5, 0.5, 0.1, 0.1], [0.8, 0.5, 0.1, 0.1]])
        return logits, tf.tile(boxes[None], [n, 1, 1])

    detector = KerasHubPersonDetector(tiny_dfine, score_threshold=0.5, batch_size=2)
    monkeypatch.setattr(detector, "predict_raw_tf", people_by_brightness)
    found = detector.detect_batch([np.zeros((HEIGHT, WIDTH, 3), np.uint8),
                                   np.full((HEIGHT, WIDTH, 3), 255, np.uint8)])
    assert [len(d) for d in found] == [1, 3]
    # Black: query 0 only, (0.2 - 0.05) * 200 = 30, (0.5 - 0.05) * 100 = 45, 20 x 10.
    np.testing.assert_allclose(found[0].boxes, [[30, 45, 20, 10]], atol=1e-4)


def test_make_detector_passes_the_users_filter_settings_to_the_preset(monkeypatch):
    """--score_threshold and the other filter flags reach a D-FINE preset's detector."""
    calls = []
    monkeypatch.setattr(KerasHubPersonDetector, "from_preset",
                        lambda preset, **kwargs: calls.append((preset, kwargs)) or "detector")
    assert make_detector("dfine_nano_coco", score_threshold=0.1, nms_iou_threshold=0.4,
                         max_detections=7) == "detector"
    assert calls == [("dfine_nano_coco", {"score_threshold": 0.1, "nms_iou_threshold": 0.4,
                                          "max_detections": 7})]


def test_the_detector_builds_and_loads_under_a_callers_channels_first(tmp_path):
    """``"image_data_format": "channels_first"`` in keras.json: building
    or loading the D-FINE failed in its backbone's first layer."""
    import keras

    from keras_pose.detection.dfine import build_dfine_detector
    from keras_pose.detection.keras_hub_detector import load_dfine_detector
    images = np.random.default_rng(0).uniform(0, 1, (1, *TINY_SIZE, 3)).astype("float32")
    keras.config.set_image_data_format("channels_first")
    try:
        built = build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                                     num_queries=TINY_QUERIES)
        logits = built(images, training=False)["logits"]
        assert tuple(logits.shape) == (1, TINY_QUERIES, 80)
        built.backbone.save_to_preset(str(tmp_path / "preset"))
        loaded = load_dfine_detector(str(tmp_path / "preset"))
        np.testing.assert_allclose(loaded(images, training=False)["logits"], logits, atol=1e-5)
        assert keras.config.image_data_format() == "channels_first"  # The caller's, kept.
    finally:
        keras.config.set_image_data_format("channels_last")
