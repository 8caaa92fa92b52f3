"""What the detector's settings are told: a .json given to --detector (a
boxes file, or a preset folder's config.json), where an offline preset
handle is downloaded, and int8 / bf16 asked from Python without images."""

import json
import os

import pytest

from keras_pose.detection import RuntimePersonDetector, make_detector
from keras_pose.detection.box_files import DetectionFileError
from keras_pose.detection.file_detectors import FileDetector
from keras_pose.detection.keras_hub_detector import unavailable_message
from keras_pose.errors import FlagError


def _preset_folder(path):
    """The files keras-hub's save_to_preset writes (their contents unread here)."""
    os.makedirs(path)
    for name in ("config.json", "metadata.json", "task.json"):
        with open(os.path.join(path, name), "w") as f:
            json.dump({"module": "keras_hub.src.models", "class_name": "DFineBackbone",
                       "config": {}}, f)
    return str(path)


@pytest.mark.parametrize("runtime", ["tf", "onnxruntime"])
def test_a_preset_folders_config_json_given_as_detector_names_the_folder(tmp_path, runtime):
    """Was read as a boxes file: "none of its 4 entries is a box ...; --boxes
    takes COCO detection results", a --boxes problem the user never had
    (with --detector_runtime: "--boxes / --detector none use none")."""
    folder = _preset_folder(tmp_path / "det64")
    spec = os.path.join(folder, "config.json")
    with pytest.raises(FlagError) as raised:
        make_detector(spec, runtime=runtime)
    assert str(raised.value) == (
        f"--detector {spec} is a file of the keras-hub preset folder {folder}: --detector "
        f"takes the folder (--detector {folder}) or a preset name; a .json given to it is read "
        "as a boxes file, as --boxes")


def test_a_boxes_file_given_as_detector_is_read_and_its_errors_name_detector(tmp_path):
    """make_detector documents a boxes JSON file as a spec (kept); its
    errors named --boxes only."""
    good = tmp_path / "boxes.json"
    good.write_text(json.dumps({"a.jpg": [[1, 2, 3, 4]]}))
    assert isinstance(make_detector(str(good)), FileDetector)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 1, "bbox": [1, 2]}]))
    with pytest.raises(DetectionFileError) as raised:
        make_detector(str(bad))
    assert str(raised.value).startswith(
        f"--detector {bad} is read as a boxes file (a .json given to --detector is one, as to "
        f"--boxes): boxes file {bad}: none of its 1 entries is a box")
    with pytest.raises(FlagError, match=(
            f"^--detector_runtime openvino is for the D-FINE detector's network, and --detector "
            f"{bad} \\(a boxes file\\) runs no network: drop --detector_runtime$")):
        make_detector(str(bad), runtime="openvino")


def test_an_offline_handle_names_the_cache_it_is_downloaded_into(monkeypatch):
    """hf:// handles go to the Hugging Face cache; it said kagglehub's."""
    import requests
    monkeypatch.setenv("KAGGLEHUB_CACHE", "/kaggle_cache")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", "/hf_cache/hub")
    offline = requests.ConnectionError("offline")
    said = unavailable_message("hf://someone/dfine-coco", offline)
    assert ("no network connection to Hugging Face (ConnectionError); it is downloaded once "
            "into the Hugging Face cache (/hf_cache/hub; HF_HOME or HF_HUB_CACHE moves it), "
            "which needs network access on first use; ") in said, said
    assert "kaggle" not in said.lower()
    for preset, handle in [("dfine_nano_coco", "kaggle://keras/d-fine/keras/dfine_nano_coco/1"),
                           ("kaggle://me/d-fine/keras/mine", None)]:
        said = unavailable_message(preset, offline, handle)
        assert ("no network connection to Kaggle (ConnectionError); it is downloaded once"
                in said and "into the kagglehub cache (/kaggle_cache; KAGGLEHUB_CACHE moves it)"
                in said), said


@pytest.mark.parametrize("precision, runtime", [("int8", "onnxruntime"), ("bf16", "openvino")])
def test_a_lower_precision_without_calibration_images_names_the_argument(monkeypatch, precision,
                                                                         runtime):
    """From Python, none given: it said the first images of --input could
    not be read (a flag and inputs the caller never had)."""
    monkeypatch.setattr(RuntimePersonDetector, "from_preset",
                        lambda *args, **kwargs: pytest.fail("the preset was loaded"))
    with pytest.raises(FlagError) as raised:
        make_detector("dfine_nano_coco", runtime=runtime, precision=precision)
    assert str(raised.value) == (
        f"precision='{precision}' is judged on your own images: give calibration_images=, a "
        "function returning a few dozen of your photos or frames ((H, W, 3) uint8 RGB), or use "
        "precision='fp32'")
