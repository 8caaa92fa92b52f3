"""The D-FINE detector with its network in ONNX Runtime / OpenVINO.

Fast tests export a stand-in network (a few layers with D-FINE's outputs,
a GELU and a depthwise convolution, the two ops that need swapping) in
seconds; the slow ones export keras-hub's DFineObjectDetector itself (tiny,
random weights), which takes a minute or more per runtime.
"""

import os
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.detection import (KerasHubPersonDetector, RuntimePersonDetector,
                                  RuntimeUnavailableError, make_detector, runtime_detector,
                                  runtimes)
from keras_pose.detection.base import Detections
from tests.detection.conftest import TINY_SIZE, skip_if_missing

QUERIES = 6
SETTINGS = dict(score_threshold=0.0, nms_iou_threshold=0.7, max_detections=5, batch_size=3)


@pytest.fixture(scope="module")
def stand_in():
    """A few random layers mapping (N, 64, 64, 3) to D-FINE's two outputs,
    with the attributes of a DFineObjectDetector the export reads."""
    import keras
    keras.utils.set_random_seed(3)
    x = keras.Input((*TINY_SIZE, 3))
    h = keras.layers.Conv2D(8, 3, strides=4, activation="gelu")(x)
    h = keras.layers.Conv2D(8, 3, strides=4, groups=8)(h)  # depthwise
    h = keras.layers.Flatten()(h)
    logits = keras.layers.Reshape((QUERIES, 80))(keras.layers.Dense(QUERIES * 80)(h))
    raw = keras.layers.Reshape((QUERIES, 4))(keras.layers.Dense(QUERIES * 4)(h))
    # Centres spread over the image, sizes 5-30 %: few boxes overlap, so
    # several per image stay after NMS to compare.
    boxes = keras.layers.Lambda(lambda r: keras.ops.concatenate(
        [keras.ops.sigmoid(4 * r[..., :2]), 0.05 + 0.25 * keras.ops.sigmoid(r[..., 2:])], -1))(raw)
    model = keras.Model(x, {"logits": logits, "pred_boxes": boxes})
    model.backbone = types.SimpleNamespace(anchor_image_size=TINY_SIZE, num_queries=QUERIES)
    model.num_classes = 80
    return model


def _tf_reference(tiny_dfine, network, **settings):
    """KerasHubPersonDetector with ``network`` as its network."""
    detector = KerasHubPersonDetector(tiny_dfine, **settings)
    outputs = lambda images: network(images, training=False)  # noqa: E731
    detector.predict_raw_tf = lambda images: (outputs(images)["logits"],
                                              outputs(images)["pred_boxes"])
    return detector


def _assert_same_detections(expected, found):
    assert [len(d) for d in found] == [len(d) for d in expected]
    for want, got in zip(expected, found):
        np.testing.assert_allclose(got.boxes, want.boxes, rtol=0,
                                   atol=runtime_detector.BOX_TOLERANCE_PX)
        np.testing.assert_allclose(got.scores, want.scores, rtol=0,
                                   atol=runtime_detector.SCORE_TOLERANCE)


@pytest.fixture(scope="module")
def stand_in_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("detector_exports"))


@pytest.mark.slow  # D-FINE exports
@pytest.mark.parametrize("runtime", runtimes.RUNTIMES)
def test_runtime_gives_the_tensorflow_detections(runtime, stand_in, stand_in_cache,
                                                 tiny_dfine, coco_images):
    skip_if_missing(runtime)
    images = [image for _, image in coco_images]
    expected = _tf_reference(tiny_dfine, stand_in, **SETTINGS).detect_batch(images)
    detector = RuntimePersonDetector.from_keras_hub(stand_in, runtime, cache=stand_in_cache,
                                                    **SETTINGS)
    assert detector.runtime == runtime and detector.precision == "fp32"
    found = detector.detect_batch(images)
    assert sum(len(d) for d in found) >= 8  # several people per image to compare
    _assert_same_detections(expected, found)
    alone = detector.detect(images[3])  # one image, a batch of its own
    _assert_same_detections(expected[3:], [alone])


def test_the_export_is_reused_and_follows_the_weights(stand_in, stand_in_cache, monkeypatch):
    skip_if_missing("onnxruntime")
    first, _ = runtimes.cached_export(stand_in, "onnxruntime", root=stand_in_cache)
    assert runtimes.is_complete(first)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(runtimes, "export_network", no_export)
    again = RuntimePersonDetector.from_keras_hub(stand_in, "onnxruntime", cache=stand_in_cache)
    assert again.network.directory == first
    # Reusing it needs ONNX Runtime only (it asked for tf2onnx and onnx too,
    # and their versions keyed the cache).
    for exporter in ("tf2onnx", "onnx"):
        monkeypatch.setitem(sys.modules, exporter, None)  # Not installed.
    again = RuntimePersonDetector.from_keras_hub(stand_in, "onnxruntime", cache=stand_in_cache)
    assert again.network.directory == first
    with pytest.raises(RuntimeUnavailableError, match="needs tf2onnx, onnx"):
        RuntimePersonDetector.from_keras_hub(stand_in, "onnxruntime", cache=stand_in_cache + "2")
    weight = stand_in.weights[-1]
    old = weight.numpy()
    try:
        weight.assign(old + 0.5)
        assert runtimes.export_directory(stand_in, "onnxruntime", "fp32",
                                         root=stand_in_cache) != first
    finally:
        weight.assign(old)
    assert runtimes.export_directory(stand_in, "openvino", "fp32", root=stand_in_cache) != first


@pytest.mark.slow  # D-FINE export
def test_the_same_preset_loaded_again_finds_its_export(tiny_dfine, tmp_path):
    """A second load has other layer names (Keras numbers them per process)
    but the same weights and configuration: the same export."""
    import keras

    from keras_pose.detection.dfine import build_dfine_detector
    from tests.detection.conftest import TINY_DFINE, TINY_QUERIES
    keras.utils.set_random_seed(0)  # tiny_dfine's seed: the same weights
    again = build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                                 num_queries=TINY_QUERIES)
    assert again.backbone.name != tiny_dfine.backbone.name
    directory = runtimes.export_directory(tiny_dfine, "openvino", "fp32", "tiny", str(tmp_path))
    assert runtimes.export_directory(again, "openvino", "fp32", "tiny", str(tmp_path)) == directory


def test_an_export_that_does_not_run_fails_clearly_and_leaves_nothing(stand_in, tmp_path,
                                                                     monkeypatch):
    skip_if_missing("onnxruntime")

    def broken_converter(network, path):
        with open(path, "wb") as f:
            f.write(b"not an onnx model")

    monkeypatch.setattr(runtimes, "_write_onnx", broken_converter)
    with pytest.raises(runtimes.ExportError, match="does not run there.*--detector_runtime tf"):
        RuntimePersonDetector.from_keras_hub(stand_in, "onnxruntime", cache=str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_missing_runtime_package_names_it_before_loading_the_preset(monkeypatch):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "openvino" else find_spec(name, *a))

    def no_preset(*args, **kwargs):
        raise AssertionError("the preset was loaded")

    monkeypatch.setattr(runtime_detector, "load_dfine_detector", no_preset)
    with pytest.raises(RuntimeUnavailableError,
                       match="needs openvino: pip install \"openvino<2027,>=2026.4\" "
                             "\\(or pip install -e \"\\.\\[deploy\\]\" in keras-pose's folder\\), "
                             "or use --detector_runtime tf"):
        make_detector(runtime="openvino")


def test_make_detector_chooses_the_runtime(monkeypatch):
    calls = []
    monkeypatch.setattr(RuntimePersonDetector, "from_preset",
                        lambda *args, **kwargs: calls.append((args, kwargs)) or "runtime")
    assert make_detector("dfine_nano_coco", runtime="openvino", score_threshold=0.5) == "runtime"
    assert calls == [(("dfine_nano_coco", "openvino", "fp32"), {"score_threshold": 0.5})]
    with pytest.raises(ValueError, match="--detector_runtime onnxruntime .* --boxes"):
        make_detector(boxes="boxes.json", runtime="onnxruntime")
    with pytest.raises(ValueError, match="--detector_runtime onnxruntime .* --detector none"):
        make_detector("none", runtime="onnxruntime")
    with pytest.raises(ValueError, match="must be tf, onnxruntime, openvino; got 'onnx'"):
        make_detector(runtime="onnx")


def test_make_detector_checks_the_precision_and_passes_the_images(monkeypatch):
    calls = []
    monkeypatch.setattr(RuntimePersonDetector, "from_preset",
                        lambda *args, **kwargs: calls.append((args, kwargs)) or "runtime")
    image = np.zeros((4, 4, 3), np.uint8)
    assert make_detector("p", runtime="openvino", precision="bf16",
                         calibration_images=lambda: iter([image])) == "runtime"
    assert calls == [(("p", "openvino", "bf16"), {"calibration_images": [image]})]
    for kwargs, message in [
            (dict(precision="int8"), "int8 runs with --detector_runtime onnxruntime or "
                                     "openvino, not tf"),
            (dict(runtime="onnxruntime", precision="bf16"), "bf16 runs with --detector_runtime "
                                                            "openvino, not onnxruntime"),
            (dict(boxes="boxes.json", precision="int8"), "drop --detector_precision"),
            (dict(runtime="openvino", precision="fp16"), "must be fp32, bf16, int8; got 'fp16'"),
            (dict(runtime="openvino", precision="int8", calibration_images=lambda: []),
             "none could be read: use --detector_precision fp32")]:
        with pytest.raises(ValueError, match=message):
            make_detector(**kwargs)
    assert len(calls) == 1


def test_boxes_agreement():
    ref = [Detections([[0, 0, 10, 10], [50, 50, 10, 20]], [0.9, 0.8]), Detections.empty()]
    assert runtime_detector.boxes_agreement(ref, ref) == 1.0
    moved = [Detections([[0.2, 0, 10, 10], [55, 50, 10, 20]], [0.9, 0.8]),
             Detections([[1, 1, 5, 5]], [0.4])]
    # Only the first box still overlaps at IoU >= 0.9: F1 = 2 * 1 / (2 + 3).
    assert runtime_detector.boxes_agreement(ref, moved) == pytest.approx(0.4)
    assert np.isnan(runtime_detector.boxes_agreement([Detections.empty()],
                                                     [Detections.empty()]))


def _judged_export(cache, precision, kept):
    """The one ``precision`` export under ``cache``, its guard's verdict
    checked against the precision that ``kept`` says ran."""
    (directory,) = [os.path.join(root, d) for root, dirs, _ in os.walk(cache) for d in dirs
                    if f"-{precision}-" in d]
    guard = runtimes.read_sidecar(directory)["guard"]
    assert guard["images"] == 4 and guard["passed"] == (kept == precision)
    assert 0.0 <= guard["agreement"] <= 1.0
    return directory


@pytest.mark.slow  # int8
@pytest.mark.parametrize("min_agreement,kept", [(1.01, "fp32"), (0.0, "int8")])
def test_int8_runs_only_when_its_boxes_agree_with_fp32(min_agreement, kept, stand_in,
                                                       coco_images, tmp_path, monkeypatch):
    skip_if_missing("onnxruntime", "int8")
    monkeypatch.setattr(runtime_detector, "MIN_AGREEMENT", min_agreement)
    monkeypatch.setattr(runtime_detector, "GUARD_SCORE_THRESHOLD", 0.0)
    images = [image for _, image in coco_images]
    detector = RuntimePersonDetector.from_keras_hub(
        stand_in, "onnxruntime", "int8", cache=str(tmp_path), calibration_images=images)
    assert detector.precision == kept
    _judged_export(tmp_path, "int8", kept)
    # The verdict is cached with the export: no second quantization.
    monkeypatch.setattr(runtimes, "export_network", None)
    again = RuntimePersonDetector.from_keras_hub(
        stand_in, "onnxruntime", "int8", cache=str(tmp_path), calibration_images=images)
    assert again.precision == kept
    with pytest.raises(ValueError, match="calibration_images"):
        RuntimePersonDetector.from_keras_hub(stand_in, "onnxruntime", "int8",
                                             cache=str(tmp_path))


@pytest.mark.parametrize("min_agreement,kept", [(1.01, "fp32"), (0.0, "bf16")])
def test_bf16_runs_the_fp32_network_at_bf16_when_its_boxes_agree(
        min_agreement, kept, stand_in, coco_images, tmp_path, monkeypatch):
    """bf16 copies the fp32 export (no second conversion), is judged by the
    guard, and OpenVINO really computes in bf16 where the CPU can."""
    skip_if_missing("openvino")
    monkeypatch.setattr(runtime_detector, "MIN_AGREEMENT", min_agreement)
    monkeypatch.setattr(runtime_detector, "GUARD_SCORE_THRESHOLD", 0.0)
    images = [image for _, image in coco_images]
    fp32 = RuntimePersonDetector.from_keras_hub(stand_in, "openvino", cache=str(tmp_path))
    monkeypatch.setattr(runtimes, "export_network", None)
    detector = RuntimePersonDetector.from_keras_hub(
        stand_in, "openvino", "bf16", cache=str(tmp_path), calibration_images=images)
    assert detector.precision == kept
    bf16_dir = _judged_export(tmp_path, "bf16", kept)
    for name in runtimes.FILES["openvino"]:
        with open(os.path.join(bf16_dir, name), "rb") as a, \
                open(os.path.join(fp32.network.directory, name), "rb") as b:
            assert a.read() == b.read()
    x = np.random.default_rng(0).random((2, *TINY_SIZE, 3), np.float32)
    moved = np.abs(runtimes.load_network(bf16_dir)(x)[0] - fp32.network(x)[0]).max()
    if runtimes.cpu_runs_bf16():
        assert moved > 1e-4  # bf16 keeps 8 bits of mantissa: fp32's results move.
    else:
        assert moved == 0.0
    with pytest.raises(ValueError, match="bf16 detection needs calibration_images"):
        RuntimePersonDetector.from_keras_hub(stand_in, "openvino", "bf16", cache=str(tmp_path))


# keras-hub's DFineObjectDetector itself: its deformable attention, GELU and
# grouped convolutions through the converters (a minute or more each).

@pytest.fixture(scope="module")
def dfine_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("dfine_exports"))


@pytest.mark.slow
@pytest.mark.parametrize("runtime", runtimes.RUNTIMES)
def test_the_real_detector_class_converts_and_gives_the_tensorflow_boxes(
        runtime, tiny_dfine, coco_images, dfine_cache, monkeypatch):
    skip_if_missing(runtime)
    images = [image for _, image in coco_images]
    expected = KerasHubPersonDetector(tiny_dfine, **SETTINGS).detect_batch(images)
    detector = RuntimePersonDetector.from_keras_hub(tiny_dfine, runtime, cache=dfine_cache,
                                                    preset="tiny", **SETTINGS)
    _assert_same_detections(expected, detector.detect_batch(images))
    # The TF model keeps its own GELU after the export swapped it.
    again = KerasHubPersonDetector(tiny_dfine, **SETTINGS).detect_batch(images)
    _assert_same_detections(expected, again)
    monkeypatch.setattr(runtimes, "export_network", None)
    reused = RuntimePersonDetector.from_keras_hub(tiny_dfine, runtime, cache=dfine_cache,
                                                  preset="tiny", **SETTINGS)
    assert reused.network.directory == detector.network.directory
    assert os.path.basename(reused.network.directory).startswith(f"tiny-{runtime}-fp32-")


@pytest.mark.slow
@pytest.mark.parametrize("runtime", runtimes.RUNTIMES)
def test_the_real_detector_class_quantizes_to_int8(runtime, tiny_dfine, coco_images,
                                                   dfine_cache, monkeypatch):
    """int8 converts and runs; the guard's verdict on random weights is
    recorded either way (random weights say nothing of the preset's)."""
    skip_if_missing(runtime, "int8")
    monkeypatch.setattr(runtime_detector, "GUARD_SCORE_THRESHOLD", 0.0)
    images = [image for _, image in coco_images]
    detector = RuntimePersonDetector.from_keras_hub(
        tiny_dfine, runtime, "int8", cache=dfine_cache, preset="tiny",
        calibration_images=images, **SETTINGS)
    (int8_dir,) = [os.path.join(root, d) for root, dirs, _ in os.walk(dfine_cache)
                   for d in dirs if d.startswith(f"tiny-{runtime}-int8-")]
    guard = runtimes.read_sidecar(int8_dir)["guard"]
    assert detector.precision == ("int8" if guard["passed"] else "fp32")
    assert all(len(d) for d in detector.detect_batch(images))


def test_the_network_function_has_two_float32_outputs(stand_in):
    network = runtimes.network_function(stand_in)
    outputs = network(tf.zeros((2, *TINY_SIZE, 3)))
    assert sorted(outputs) == ["logits", "pred_boxes"]
    assert outputs["logits"].shape == (2, QUERIES, 80) and outputs["pred_boxes"].dtype == tf.float32


def test_an_export_cache_whose_name_is_not_utf8_runs(stand_in, tmp_path, coco_images):
    """ONNX Runtime takes a path as UTF-8 text: in a folder whose name is
    not (``cache\\xe9``) the export was written, then could not be loaded."""
    skip_if_missing("onnxruntime")
    images = [image for _, image in coco_images][:2]
    found = {}
    for name in (b"plain", b"cache\xe9"):
        cache = os.path.join(str(tmp_path), os.fsdecode(name))
        detector = RuntimePersonDetector.from_keras_hub(stand_in, "onnxruntime", cache=cache,
                                                        **SETTINGS)
        found[name] = detector.detect_batch(images)
    _assert_same_detections(found[b"plain"], found[b"cache\xe9"])
