"""keras_pose.errors.import_required: a dependency missing from a partial
install is one line naming it; an installed package that fails inside keeps
its traceback."""

import sys

import numpy as np
import pytest

from keras_pose.errors import MissingPackageError, UserError, import_required


def _missing(monkeypatch, *modules):
    for module in modules:  # None in sys.modules: importing it raises ImportError.
        monkeypatch.setitem(sys.modules, module, None)


def test_a_missing_package_is_a_user_error_naming_it_and_the_way_out(monkeypatch):
    _missing(monkeypatch, "keras_hub", "keras_hub.models")
    with pytest.raises(MissingPackageError, match=r"^the detector needs the package "
                       r"keras-hub, which is not installed: pip install \"keras-hub<0\.33,>=0\.32\" "
                       r"\(or pip install -e \. in keras-pose's folder\); "
                       r"--detector none$") as caught:
        import_required("keras_hub.models", "keras-hub", "the detector",
                        instead="--detector none")
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ImportError)
    assert import_required("json", "json", "x").dumps([]) == "[]"


def test_a_failure_inside_an_installed_package_keeps_its_traceback(tmp_path, monkeypatch):
    (tmp_path / "half_installed.py").write_text("import a_dependency_it_lacks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="a_dependency_it_lacks") as caught:
        import_required("half_installed", "half-installed", "x")
    assert not isinstance(caught.value, UserError)


def test_each_dependency_a_command_can_lack_is_one_line(tmp_path, monkeypatch):
    """They were tracebacks: predict.py's default detector (keras-hub), a
    .safetensors file to convert or start from, PoseTrack's MOTA and its
    ignore regions (shapely)."""
    from safetensors.numpy import save_file
    from keras_pose.convert.torch_reader import load_safetensors
    from keras_pose.detection.keras_hub_detector import load_dfine_detector
    from keras_pose.evaluation.posetrack.metric import tracking_counts
    weights = str(tmp_path / "w.safetensors")
    save_file({"a": np.zeros(3, np.float32)}, weights)
    _missing(monkeypatch, "keras_hub", "keras_hub.models", "safetensors", "safetensors.numpy",
             "motmetrics")
    with pytest.raises(MissingPackageError, match=r"D-FINE person detector needs the package "
                       r"keras-hub.*--boxes FILE, or --detector none"):
        load_dfine_detector("dfine_nano_coco")
    with pytest.raises(MissingPackageError, match=r"reading .*w\.safetensors needs the "
                       r"package safetensors"):
        load_safetensors(weights)
    with pytest.raises(MissingPackageError, match=r"tracking metrics \(MOTA\) needs the "
                       r"package motmetrics"):
        tracking_counts([])
    from keras_pose.evaluation.posetrack.matching import apply_ignore_regions
    from keras_pose.evaluation.posetrack.reader import Frame, People
    nobody = People(np.zeros(0, np.int64), np.zeros((0, 15, 2)), np.zeros((0, 15), bool),
                    np.zeros((0, 15)), np.zeros(0))
    frame = Frame(1, "1.jpg", nobody, (np.array([[0.0, 0.0], [9.0, 0.0], [9.0, 9.0]]),))
    monkeypatch.setitem(sys.modules, "shapely", None)
    with pytest.raises(MissingPackageError, match=r"ignore regions needs the package shapely"):
        apply_ignore_regions(frame, nobody)
