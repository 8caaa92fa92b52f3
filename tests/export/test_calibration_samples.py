"""``samples=`` and ``data_config=`` of load_pose_model / Predictor.from_checkpoint
(what calibrates and checks an int8 export) are checked as Predictor.predict
checks its arguments: each refusal names the argument and what it takes
(they were TensorFlow, TypeError and AttributeError tracebacks)."""

import numpy as np
import pytest

from keras_pose.configs import get_experiment
from keras_pose.data.images import ImageArrayError
from keras_pose.export.calibration import input_crops
from keras_pose.inference import load_pose_model

IMAGE = np.full((80, 60, 3), 128, np.uint8)
BOX = [[5, 5, 40, 60]]


@pytest.mark.parametrize("second, said", [
    (IMAGE[..., 0], r"samples: image 1 must be \(H, W, 3\) uint8 RGB, got uint8 \(80, 60\); "
                    r"grey: convert it"),
    ("photo.jpg", r"samples: image 1 must be \(H, W, 3\) uint8 RGB, got <U9 \(\); a file's "
                  r"path: read it first"),
], ids=["grey", "path"])
def test_an_image_that_is_not_rgb_is_named(second, said):
    config = get_experiment("tiny")
    with pytest.raises(ImageArrayError, match=said):
        input_crops(config, [(IMAGE, BOX), (second, BOX)])


def test_a_sample_that_is_not_a_pair_is_named():
    with pytest.raises(TypeError, match=r"samples: item 0 is not an \(image, boxes\) pair "
                                        r"\(got ndarray\)"):
        input_crops(get_experiment("tiny"), [IMAGE])


def test_samples_and_data_config_of_another_kind_are_named(private_checkpoint,
                                                           fake_onnx_export):
    int8 = dict(runtime="onnxruntime", precision="int8")
    with pytest.raises(TypeError, match=r"samples must be a function returning \(image, "
                                        r"boxes\) pairs .* e.g. samples=lambda: zip\(images, "
                                        r"boxes\), got list"):
        load_pose_model(private_checkpoint, samples=[(IMAGE, BOX)] * 16, **int8)
    with pytest.raises(TypeError, match=r"data_config must be an ExperimentConfig .*, got "
                                        r"DataConfig: a DataConfig is the .data of one; pass "
                                        r"the ExperimentConfig itself"):
        load_pose_model(private_checkpoint, data_config=get_experiment("tiny").data, **int8)
    assert fake_onnx_export == []
