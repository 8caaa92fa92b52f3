"""The D-FINE detector's failures the user meets: a stop or a full disk
during its OpenVINO export, a preset without COCO's classes, a folder named
like a preset, an offline preset in the export script, a float image given
to a SavedModel's detector. Nothing downloads: tiny random D-FINEs are saved
as local presets, and keras-hub's fetch is replaced where a name is used."""

import collections
import os
import shutil
import signal
import time
import types

import numpy as np
import pytest

from keras_pose import cli
from keras_pose.detection import (DEFAULT_PRESET, DetectorUnavailableError,
                                  KerasHubPersonDetector, make_detector, runtimes)
from keras_pose.detection.keras_hub_detector import unavailable_message
from keras_pose.errors import FlagError, UserError
from tests.detection.conftest import TINY_DFINE, TINY_QUERIES, TINY_SIZE

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts")


def _save_tiny_preset(path, num_classes):
    import keras

    from keras_pose.detection.dfine import build_dfine_detector
    keras.utils.set_random_seed(0)
    build_dfine_detector(TINY_DFINE, num_classes=num_classes, image_size=TINY_SIZE,
                         num_queries=TINY_QUERIES).backbone.save_to_preset(str(path))
    return str(path)


@pytest.fixture(scope="module")
def coco_preset(tmp_path_factory):
    """A tiny random D-FINE with COCO's 80 classes, as a local preset."""
    return _save_tiny_preset(tmp_path_factory.mktemp("coco") / "preset", 80)


@pytest.fixture(scope="module")
def three_class_preset(tmp_path_factory):
    """A tiny random D-FINE with 3 classes (not COCO's), as a local preset."""
    return _save_tiny_preset(tmp_path_factory.mktemp("c3") / "preset_c3", 3)


@pytest.fixture(scope="module")
def stand_in():
    """A small Keras model with the attributes of a DFineObjectDetector the
    export reads (its converter is faked: it is never traced)."""
    import keras
    x = keras.Input((*TINY_SIZE, 3))
    h = keras.layers.Flatten()(keras.layers.Conv2D(2, 3, strides=8)(x))
    logits = keras.layers.Reshape((TINY_QUERIES, 80))(keras.layers.Dense(TINY_QUERIES * 80)(h))
    boxes = keras.layers.Reshape((TINY_QUERIES, 4))(keras.layers.Dense(TINY_QUERIES * 4)(h))
    model = keras.Model(x, {"logits": logits, "pred_boxes": boxes})
    model.backbone = types.SimpleNamespace(anchor_image_size=TINY_SIZE, num_queries=TINY_QUERIES)
    model.num_classes = 80
    return model


def _offline(*args, **kwargs):
    import requests
    raise requests.ConnectionError("Failed to resolve 'api.kaggle.com'")


def _run_cli(work, capsys):
    """``work`` as predict.py runs its work: (exit code, stderr)."""
    capsys.readouterr()
    code = cli.run("predict.py", work)
    return code, capsys.readouterr().err


# 1. A stop during the OpenVINO export.

def _wrapping_converter(signum):
    """``openvino.convert_model`` as it meets a stop: it calls back into
    Python, where the stop is raised, and wraps it in its own RuntimeError."""
    def convert(*args, **kwargs):
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # The handler raises in here.
        except KeyboardInterrupt:
            raise RuntimeError("Check 'false' failed at src/frontends/common/src/frontend.cpp:"
                               "53:\nConverting input model\nKeyboardInterrupt") from None
        raise AssertionError("the signal did not arrive")
    return convert


@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "Ctrl-C"),
                                                (signal.SIGTERM, 143, "SIGTERM")])
def test_a_stop_in_the_openvino_export_is_a_stop(stand_in, tmp_path, monkeypatch, capsys,
                                                 ctrl_c_raises, signum, code, said):
    """Was OpenVINO's RuntimeError wrapping KeyboardInterrupt: a traceback,
    exit 1 (ONNX Runtime's export stopped with exit 130)."""
    pytest.importorskip("openvino")
    import openvino
    monkeypatch.setattr(openvino, "convert_model", _wrapping_converter(signum))
    root = tmp_path / "detectors"
    assert _run_cli(lambda: runtimes.cached_export(stand_in, "openvino", root=str(root)),
                    capsys) == (code, f"predict.py: interrupted ({said})\n")
    assert not root.exists() or os.listdir(root) == []  # No half export left.


# 2. A full disk in the OpenVINO export.

def test_a_full_disk_in_the_openvino_export_is_one_line(stand_in, tmp_path, monkeypatch,
                                                        capsys):
    """OpenVINO's writer says "basic_ios::clear: iostream error" on a full
    disk: it was a traceback (ONNX Runtime's said "No space left on device")."""
    pytest.importorskip("openvino")
    import openvino

    from keras_pose.export import runtimes as pose_runtimes

    def full(model, path, **kwargs):
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(openvino, "convert_model", lambda network: object())
    monkeypatch.setattr(openvino, "save_model", full)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(pose_runtimes.shutil, "disk_usage", lambda path: usage(1, 1, 0))
    root = tmp_path / "detectors"
    directory = runtimes.export_directory(stand_in, "openvino", "fp32", root=str(root))
    code, err = _run_cli(lambda: runtimes.cached_export(stand_in, "openvino", root=str(root)),
                         capsys)
    assert (code, err) == (1, "predict.py: error: No space left on device: "
                              f"{os.path.join(directory, 'network.xml')}\n")
    assert os.listdir(root) == []


# 3. A D-FINE preset without COCO's classes.

def test_a_preset_without_coco_classes_is_refused_before_any_export(three_class_preset,
                                                                    monkeypatch):
    """Was person_class_index's ValueError (a traceback naming person_class,
    an option no tool has), with a runtime after the network's export."""
    def no_export(*args, **kwargs):
        raise AssertionError("the network was exported")

    monkeypatch.setattr(runtimes, "cached_export", no_export)
    runs = [r for r in runtimes.RUNTIMES if not runtimes.missing_packages(r, export=False)]
    for runtime in [*runs, "tf"]:
        with pytest.raises(UserError) as raised:  # keras_hub_detector.NotCocoDetectorError
            make_detector(three_class_preset, runtime=runtime)
        message = str(raised.value)
        assert message.startswith(f"the person detector {three_class_preset} has 3 classes: "
                                  "it must be a COCO-trained D-FINE (80 classes")
        assert "person_class" not in message and "\n" not in message
    # The Python API still takes the index of 'person' among other classes.
    assert KerasHubPersonDetector.from_preset(three_class_preset, person_class=2).person_class == 2


def test_an_objects365_preset_is_refused_before_its_download(monkeypatch, capsys):
    """keras-hub's dfine_*_obj365 presets (365 classes) were fetched (40-250
    MB) and only then refused; offline, the error was a download error."""
    from keras_hub.models import DFineBackbone

    def download(preset, **kwargs):
        raise AssertionError(f"{preset} was downloaded")

    monkeypatch.setattr(DFineBackbone, "from_preset", download)
    runs = [r for r in runtimes.RUNTIMES if not runtimes.missing_packages(r, export=False)]
    for runtime in [*runs, "tf"]:
        code, err = _run_cli(lambda: make_detector("dfine_medium_obj365", runtime=runtime),
                             capsys)
        assert code == 1 and err.startswith(
            "predict.py: error: the person detector dfine_medium_obj365 is keras-hub's D-FINE "
            "trained on Objects365's 365 classes only"), err
        assert f"give a COCO preset (such as {DEFAULT_PRESET}" in err and err.count("\n") == 1
    for handle in ("kaggle://keras/d-fine/keras/dfine_small_obj365/1",
                   "kaggle://keras/d-fine/keras/dfine_small_obj365", "hf://me/dfine_large_obj365"):
        code, err = _run_cli(lambda: make_detector(handle), capsys)
        assert code == 1 and f"the person detector {handle} is keras-hub's D-FINE" in err, err
    # The Python API with the index of 'person' among its classes still loads it.
    with pytest.raises(AssertionError, match="dfine_medium_obj365 was downloaded"):
        KerasHubPersonDetector.from_preset("dfine_medium_obj365", person_class=0)


# 4. A folder named like a preset.

def test_a_folder_named_like_the_preset_does_not_take_its_place(coco_preset, tmp_path,
                                                                monkeypatch):
    """With no --detector, a folder dfine_small_obj2coco in the working
    directory was read as the detector: "holds no config.json" (empty) or,
    a valid copy, "is not a keras-hub D-FINE preset (no network connection
    to Kaggle)" (keras-hub fetched the name all the same)."""
    from keras_hub.models import DFineBackbone
    load = DFineBackbone.from_preset
    asked = []

    def cached(preset, **kwargs):  # keras-hub's cache, holding the preset.
        asked.append(preset)
        return load(coco_preset if preset == DEFAULT_PRESET else preset)

    monkeypatch.chdir(tmp_path)
    os.mkdir(DEFAULT_PRESET)
    monkeypatch.setattr(DFineBackbone, "from_preset", cached)
    assert make_detector().preset == DEFAULT_PRESET and asked == [DEFAULT_PRESET]
    given = os.path.join(os.curdir, DEFAULT_PRESET)  # A path: the folder.
    with pytest.raises(FlagError, match=f"detector directory {given} holds no config.json"):
        make_detector(given)
    os.rmdir(DEFAULT_PRESET)
    shutil.copytree(coco_preset, DEFAULT_PRESET)
    assert make_detector(given).preset == given and asked[-1] == given
    monkeypatch.setattr(DFineBackbone, "from_preset", _offline)
    with pytest.raises(DetectorUnavailableError) as raised:
        make_detector()
    assert "no network connection to Kaggle" in str(raised.value)
    assert f"the folder {DEFAULT_PRESET} here is not read for that name: give {given} to use " \
           "it" in str(raised.value)


# 5. The export script's detector, offline.

def _run_export(script_module, capsys, *args):
    script = script_module(os.path.join(SCRIPTS, "export_saved_model.py"),
                           "export_saved_model_script")
    script.FLAGS.unparse_flags()
    script.FLAGS(["export_saved_model.py", *args])
    capsys.readouterr()
    return script.main([]), capsys.readouterr().err


def test_the_export_script_says_its_own_ways_on(script_module, tiny_exported, three_class_preset,
                                                tmp_path, monkeypatch, capsys):
    """Offline, --with_detector's message gave predict.py's flags (--boxes
    FILE, --detector none); a preset without COCO's classes was a traceback."""
    from keras_hub.models import DFineBackbone
    monkeypatch.setattr(DFineBackbone, "from_preset", _offline)
    output = tmp_path / "exported"
    args = ("--checkpoint", tiny_exported[2], "--output", str(output), "--noguard")
    code, err = _run_export(script_module, capsys, *args, "--with_detector", "dfine_nano_coco")
    assert code == 1 and err.count("\n") == 1, err
    assert err.startswith("export_saved_model.py: error: cannot load the person detector "
                          "preset 'dfine_nano_coco'")
    assert err.endswith("; or give --with_detector DIR, a local copy of the preset's folder, "
                        "or leave --with_detector out (serving_default then takes the "
                        "people's boxes)\n")
    assert "--boxes" not in err and "--detector none" not in err
    monkeypatch.undo()
    code, err = _run_export(script_module, capsys, *args, "--with_detector", three_class_preset)
    assert code == 1 and "Traceback" not in err
    assert err.startswith(f"export_saved_model.py: error: the person detector "
                          f"{three_class_preset} has 3 classes")
    assert not output.exists()


def test_the_way_out_is_the_callers(monkeypatch):
    import requests
    error = requests.ConnectionError("offline")
    assert unavailable_message("dfine_nano_coco", error, way_out="or else").endswith(
        "first use; or else")
    assert "--boxes FILE" in unavailable_message("dfine_nano_coco", error)  # predict.py's.


# 6. A float image given to a SavedModel's detector.

def test_the_saved_model_detector_checks_the_image():
    """A float image was cast to uint8 in silence (0-1: black)."""
    import tensorflow as tf

    from keras_pose.data.images import ImageArrayError
    from keras_pose.detection.saved_model_detector import SavedModelDetector
    seen = []

    def detect(image, score_threshold):
        seen.append(image)
        return {"boxes": tf.zeros((0, 4)), "box_scores": tf.zeros((0,))}

    detector = SavedModelDetector(types.SimpleNamespace(signatures={"detect": detect}), "sm")
    for image in (np.full((8, 8, 3), 0.5, np.float32), np.full((8, 8, 3), 300, np.int64)):
        with pytest.raises(ImageArrayError, match=r"image must be \(H, W, 3\) uint8 RGB"):
            detector.detect(image)
    assert seen == []
    assert len(detector.detect(np.zeros((8, 8, 3), np.uint8))) == 0 and len(seen) == 1
