"""make_detector: the detector ``--detector`` / ``--boxes`` describe."""

import json
import pathlib

import numpy as np
import pytest

from keras_pose.detection import FileDetector, make_detector

IMAGE = np.zeros((40, 60, 3), np.uint8)


def test_boxes_files_given_as_path_objects(tmp_path):
    """The docstring's "a boxes file": a pathlib.Path was an AttributeError
    ('PosixPath' object has no attribute 'lower')."""
    path = tmp_path / "boxes.json"
    path.write_text(json.dumps({"x.jpg": [[5, 5, 10, 20]]}))
    assert isinstance(path, pathlib.Path)
    for detector in (make_detector(path), make_detector(boxes=path)):
        assert isinstance(detector, FileDetector)
        np.testing.assert_array_equal(detector.detect(IMAGE, "x.jpg").boxes, [[5, 5, 10, 20]])


@pytest.mark.parametrize("argument", ["spec", "boxes"])
def test_a_spec_or_boxes_of_another_type_is_refused_by_name(argument):
    with pytest.raises(TypeError, match=f"^make_detector: {argument}: expected a path "
                                        r"\(a str or a pathlib\.Path\), got int"):
        make_detector(**{argument: 3})
