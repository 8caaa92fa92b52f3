"""PoseTracker's propagated boxes and thresholds, with stub estimators: what
a propagated box carries (its pose's score, every stored pose carried by the
flow), how it ranks against a detection, and thresholds that include their
limit. (test_tracker.py holds the scene tests; it is at its size limit.)"""

import dataclasses
import types

import numpy as np

from keras_pose.configs.base import TrackConfig
from keras_pose.tracking import PoseTracker
from tests.tracking.scenes import HEIGHT, WIDTH, Person, run, true_box

# Zero flow: a still person's propagated box is exactly its pose's box.
STILL = dataclasses.replace(TrackConfig(), flow_method="none")


class FixedPose:
    """estimate_fn returning one person's pose for every box, recording the
    box scores it is given; the person score is ``detected_score`` for the
    box ``detection`` and ``other_score`` for any other box."""

    def __init__(self, joints, detection, detected_score=0.9, other_score=0.9,
                 joint_score=0.9):
        self.joints, self.detection = np.asarray(joints, np.float32), np.asarray(detection)
        self.detected_score, self.other_score = detected_score, other_score
        self.joint_score = joint_score
        self.box_scores = []

    def __call__(self, image, boxes, box_scores):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.box_scores.append(np.asarray(box_scores).tolist())
        detected = np.all(np.abs(boxes - self.detection) < 1e-3, axis=1)
        return types.SimpleNamespace(
            keypoints=np.repeat(self.joints[None], len(boxes), 0),
            keypoint_scores=np.full((len(boxes), len(self.joints)), self.joint_score, np.float32),
            scores=np.where(detected, self.detected_score, self.other_score).astype(np.float32),
            boxes=boxes)


FRAME = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
PERSON = Person(70, 60, 100, lambda t: (0.0, 0.0), seed=1)
# A detection box far from the person (IoU 0 with its propagated box): box
# NMS keeps both boxes, the stub puts the same pose in each.
AWAY = np.array([[130.0, 5.0, 20.0, 20.0]], np.float32)


def test_the_detections_pose_wins_over_the_same_pose_from_a_propagated_box():
    """Pose NMS ranks detections first (the detector saw this frame): the
    propagated box's duplicate does not win by a higher score, nor is the
    person reported as held by propagation."""
    estimate = FixedPose(PERSON.joints(0), AWAY[0], detected_score=0.8, other_score=0.95)
    tracker = PoseTracker(STILL, estimate)
    assert tracker.step(FRAME, (AWAY, [0.9])).propagated.tolist() == [False]
    # Frame 1: the detection and the box propagated from frame 0, the same
    # pose in both (OKS 1 > pose_nms_oks 0.9): one is suppressed.
    assert len(estimate.box_scores[-1]) == 1
    result = tracker.step(FRAME, (AWAY, [0.9]))
    assert len(estimate.box_scores[-1]) == 2  # Both boxes were estimated...
    assert result.propagated.tolist() == [False]  # ... the detection's pose kept,
    assert result.scores.tolist() == [np.float32(0.8)]  # with its own score.


def test_a_propagated_box_carries_the_person_score_of_its_pose():
    """The box propagated into a frame whose detection was missed carries
    the score of the pose it came from (the tracker's docstring), not the
    score of the track's first pose."""
    box = true_box(PERSON.joints(0))[None]
    estimate = FixedPose(PERSON.joints(0), box[0], detected_score=0.6, other_score=0.3)
    tracker = PoseTracker(STILL, estimate)
    tracker.step(FRAME, (box, [0.9]))            # Pose score 0.6 (the detected box).
    tracker.step(FRAME, (np.zeros((0, 4)), []))  # Missed: box propagated, pose score 0.3.
    tracker.step(FRAME, (np.zeros((0, 4)), []))
    assert estimate.box_scores == [[np.float32(0.9)], [np.float32(0.6)], [np.float32(0.3)]]


def test_joints_scoring_exactly_the_keypoint_threshold_are_confident():
    """keypoint_threshold is inclusive: poses whose joints all score exactly
    0.5 under threshold 0.5 are not dropped as unconfident."""
    box = true_box(PERSON.joints(0))[None]
    config = dataclasses.replace(STILL, keypoint_threshold=0.5)
    tracker = PoseTracker(config, FixedPose(PERSON.joints(0), box[0], joint_score=0.5))
    assert tracker.step(FRAME, (box, [0.9])).track_ids.tolist() == [0]
    assert tracker.unconfident_poses == 0


def test_a_still_person_keeps_its_id_under_similarity_threshold_1():
    """Similarity "at least" the threshold links: an unmoved pose (OKS
    exactly 1 under zero flow) keeps its id at threshold 1."""
    box = true_box(PERSON.joints(0))[None]
    config = dataclasses.replace(STILL, similarity_threshold=1.0, use_propagation=False)
    tracker = PoseTracker(config, FixedPose(PERSON.joints(0), box[0]))
    ids = [tracker.step(FRAME, (box, [0.9])).track_ids.tolist() for _ in range(3)]
    assert ids == [[0], [0], [0]]


def test_every_stored_pose_is_carried_by_the_flow_not_only_the_newest():
    """Multi-frame similarity compares a new pose with the track's older
    poses carried into the current frame: at 9 px per frame (DIS follows
    up to about that here), poses left where they were seen would no
    longer match. Frame 3 shows only the legs,
    frame 4 only the upper body: frame 4 links to the track only through
    the poses of frames 1 and 2, carried 3 and 2 frames."""
    legs = np.arange(17) >= 11

    def confident(t):
        return legs if t == 3 else ~legs if t == 4 else np.ones(17, bool)

    def scene():
        return [Person(70, 25, 100, lambda t: (9.0 * t, 0.0), seed=1, confident=confident)]

    config = dataclasses.replace(TrackConfig(), num_previous_frames=3)
    _, ids = run(scene(), 6, config)
    assert [frame.get(0) for frame in ids] == [0] * 6
    # Without the older poses frame 4 has nothing in common with the track.
    _, ids = run(scene(), 6, dataclasses.replace(config, num_previous_frames=1))
    assert ids[4].get(0) != 0


def test_a_pose_scoring_nan_propagates_its_box_with_score_0():
    """A model with broken weights scores a person NaN: its box, propagated into
    the next frame with that score, was refused there by the Predictor ("box
    score 1 is nan"), and predict.py --track stopped with a traceback."""
    box = true_box(PERSON.joints(0))[None]
    estimate = FixedPose(PERSON.joints(0), box[0], detected_score=np.nan, other_score=np.nan)
    tracker = PoseTracker(STILL, estimate)
    tracker.step(FRAME, (box, [0.9]))
    tracker.step(FRAME, (np.zeros((0, 4)), []))  # Missed: the box propagated.
    assert estimate.box_scores[-1] == [0.0]
