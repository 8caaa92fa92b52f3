"""Pose tracking in videos: the paper's flow-based tracker (Section 3).

Xiao, Wu, Wei, "Simple Baselines for Human Pose Estimation and Tracking",
ECCV 2018, Section 3: joint propagation by optical flow adds boxes for
missed detections, the flow-based (multi-frame) OKS similarity links poses
to tracks by greedy matching. No official code was released; this is our
implementation of the text (see ``tracker.py`` for the steps and the one
place where we depart from it).

    from keras_pose.configs.base import TrackConfig
    from keras_pose.tracking import PoseTracker, to_posetrack18
    tracker = PoseTracker(TrackConfig(), lambda image, boxes, scores:
                          predictor.predict(image, boxes, box_scores=scores))
    results = [tracker.step(frame, (boxes, scores)) for frame, (boxes, scores) in video]
    json.dump(to_posetrack18(results, file_names), open("000342_mpii_test.json", "w"))

Modules:
  flow: OpenCV dense flow (DIS, Farneback) and joint propagation.
  boxes: boxes from joints, IoU, the NMS of detected and propagated boxes.
  similarity: OKS between two sets of poses, greedy matching.
  tracker: ``PoseTracker``, ``FrameResult``.
  posetrack_format: PoseTrack18 JSON output.
  drawing: ``track_color``, ``draw_tracks``.

Nothing here imports TensorFlow.
"""

from keras_pose.tracking.boxes import box_from_joints, box_iou, unify_boxes
from keras_pose.tracking.drawing import draw_tracks, track_color
from keras_pose.tracking.flow import DenseFlow, propagate_joints, sample_flow
from keras_pose.tracking.posetrack_format import (POSETRACK18_KEYPOINT_NAMES,
                                                  posetrack18_image_id, to_posetrack18)
from keras_pose.oks import oks_between
from keras_pose.tracking.similarity import greedy_match
from keras_pose.tracking.tracker import FrameResult, PoseTracker

__all__ = [
    "DenseFlow", "FrameResult", "POSETRACK18_KEYPOINT_NAMES", "PoseTracker",
    "box_from_joints", "box_iou", "draw_tracks", "greedy_match", "oks_between",
    "posetrack18_image_id", "propagate_joints", "sample_flow", "to_posetrack18",
    "track_color", "unify_boxes",
]
