"""PoseTrack's NaN and zero rules as poseval's evaluateTracking / getCum
apply them: a joint group is a plain mean (NaN when one of its joints has
no ground truth) and MOTP is 0, not NaN, without any detection."""

import math

import pytest

from tests.evaluation.test_posetrack import LEFT_ANKLE, evaluate, person, sequence, two_people


def test_a_joint_without_ground_truth_makes_its_group_nan():
    """poseval's group columns are plain means: a group with a joint never
    annotated (MOTA NaN, no objects) is NaN, not the other
    joint's number."""
    gt = sequence([[person(1, 100 + 5 * i, absent=(LEFT_ANKLE,)),
                    person(2, 400 + 5 * i, absent=(LEFT_ANKLE,))] for i in range(4)])
    metrics = evaluate((gt, sequence(two_people(ids=(11, 12)))))
    assert math.isnan(metrics["MOTA/left_ankle"])  # 0 objects: 1 - x / 0.
    assert metrics["MOTA/right_ankle"] == pytest.approx(100.0)
    assert math.isnan(metrics["MOTA/Ankle"])  # mean(NaN, 100) = NaN, as poseval.
    assert metrics["MOTA/Knee"] == pytest.approx(100.0)
    assert metrics["MOTA/Total"] == pytest.approx(100.0)  # Total leaves NaN joints out.


def test_motp_without_any_detection_is_0():
    """poseval sets MOTP to 0 when a joint has no matched detection (its
    evaluateTracking: numDet == 0 -> motp 0.0), not NaN."""
    gt = sequence(two_people())
    # Every predicted person 100 px right of the truth: beyond half a head
    # size (15 px) for every joint, so nothing matches anywhere.
    pred = sequence([[person(11, 200 + 5 * i), person(12, 500 + 5 * i)] for i in range(4)])
    metrics = evaluate((gt, pred))
    assert metrics["Recall/Total"] == pytest.approx(0.0)  # No detection at all...
    for group in ("Head", "Wrist", "Ankle", "Total"):
        assert metrics[f"MOTP/{group}"] == 0.0, group  # ... so MOTP 0, per joint and group.
