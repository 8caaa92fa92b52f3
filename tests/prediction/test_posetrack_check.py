"""predict.py --track's check of the model's keypoints against PoseTrack18's,
before any frame runs (PredictionRun.check_posetrack_keypoints)."""

import logging
from types import SimpleNamespace

import pytest

from keras_pose.configs.base import TrackConfig
from keras_pose.prediction.runner import PredictionRun
from tests.tracking.test_posetrack_layout import NAMES_19


def _said(names, caplog):
    """The PoseTrack18 warnings of the check for a model of ``names``."""
    run = SimpleNamespace(predictor=SimpleNamespace(config=SimpleNamespace(
        data=SimpleNamespace(keypoint_names=tuple(names)), track=TrackConfig())))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        PredictionRun.check_posetrack_keypoints(run)
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and "PoseTrack18" in r.getMessage()]


def test_a_model_with_posetracks_joints_among_others_in_another_style_is_not_warned(caplog):
    """Was "['right_ankle', ...] are missing" for L_Ankle, Head Top...: the
    JSON is now written in PoseTrack18's layout, which evaluates."""
    assert _said(NAMES_19, caplog) == []


@pytest.mark.parametrize("names,said", [
    ([n for n in NAMES_19 if n != "Head Bottom"], "['head_bottom'] are missing"),
    (["nose", "Nose"] + NAMES_19[2:], "name a PoseTrack18 joint twice"),
])
def test_a_model_lacking_or_doubling_a_joint_is_warned(names, said, caplog):
    warnings = _said(names, caplog)
    assert len(warnings) == 1 and said in warnings[0], warnings
