"""Evaluation images this user may not read: named, with the reason."""

import json
import os

import cv2
import numpy as np

from tests.permissions import run_without_override


def predict_message(paths: list[str]) -> str:
    """The error of evaluating one person per image of ``paths`` (run in the
    subprocess of :func:`run_without_override`), or "" when none."""
    from keras_pose.data.images import ImageReadError
    from keras_pose.data.records import PersonRecords
    from keras_pose.inference import TopDownEstimator
    from keras_pose.inference.records import predict_records
    from tests.inference.test_estimator import CONFIG, brightness_network
    n = len(paths)
    records = PersonRecords.from_lists({
        "image_path": paths, "image_id": list(range(n)), "center": [[40, 60]] * n,
        "scale": [[0.2, 0.4]] * n, "joints": [np.zeros((17, 2))] * n,
        "joints_vis": [np.zeros(17)] * n, "score": [1.0] * n, "area": [1.0] * n,
        "box": [[0, 0, 1, 1]] * n}, 17)
    try:
        predict_records(TopDownEstimator(brightness_network, CONFIG, flip=False), records,
                        batch_size=2)
    except ImageReadError as e:
        return str(e)
    return ""


def test_an_evaluation_image_without_read_permission_is_named_with_the_reason(tmp_path):
    """Was TensorFlow's PermissionDeniedError traceback (evaluate.py)."""
    paths = [str(tmp_path / f"{i}.png") for i in range(3)]
    for path in paths:
        cv2.imwrite(path, np.full((120, 160, 3), 100, np.uint8))
    os.chmod(paths[1], 0)
    try:
        out = run_without_override(
            "from tests.inference.test_unreadable_records import predict_message; "
            f"print(predict_message({json.dumps(paths)}))")
    finally:
        os.chmod(paths[1], 0o644)
    bad = paths[1]
    assert out.strip() == (f"{bad}: cannot be read (Permission denied) (1 such image(s) among "
                           f"the evaluation images: {bad})")


def test_a_folder_among_the_evaluation_images_is_named(tmp_path):
    """TensorFlow's FailedPreconditionError there was a traceback too."""
    image = str(tmp_path / "0.png")
    cv2.imwrite(image, np.full((120, 160, 3), 100, np.uint8))
    folder = tmp_path / "1.png"
    folder.mkdir()
    assert predict_message([image, str(folder)]) == (
        f"{folder}: a folder, not an image file (1 such image(s) among the evaluation images: "
        f"{folder})")
