"""The ``track`` section of an experiment: the flow-based tracker's settings
(``keras_pose.tracking``), each checked when the section is built."""

from __future__ import annotations

import dataclasses

from keras_pose.configs.errors import ConfigError
from keras_pose.configs.ranges import check_count, check_number


@dataclasses.dataclass(frozen=True)
class TrackConfig:
    """Pose tracking in videos (the paper's flow-based tracker, Section 3).

    Used by ``keras_pose.tracking.PoseTracker``. "Paper" marks a value given
    in the paper (Section 3 and 4.2); "ours" a value it does not give, with
    the reason for ours.

    Attributes:
      flow_method: dense optical flow, "dis" (OpenCV's DIS), "farneback",
        or "none" (zero flow: the paper's plain pose similarity, its S_Pose
        ablation). Ours: the paper uses FlowNet2-S, a network to download;
        DIS is OpenCV's most accurate fast dense flow and needs nothing.
      dis_preset: DIS speed/accuracy preset, "ultrafast", "fast" or
        "medium". Ours: "medium" is the accurate one (variational
        refinement); at 1280x720 on 2 CPU cores (AMD EPYC, 2026-12-03) it
        takes about 0.06 s a frame, "fast" 0.013 s (0.26 vs 0.52 px worst
        error on a translation); predict.py runs it while the detector runs.
      flow_scale: the flow is computed on frames resized by this factor in
        (0, 1]. Ours: 0.5. The paper's FlowNet2-S predicts its flow at a
        quarter of its input's resolution and upsamples it; DIS at half
        resolution is still finer. At the joints of the 4 COCO val images
        (1280x720, moved by known small affine warps; 2-core AMD EPYC Zen 5,
        2026-12-03) "medium" at 0.5 takes 18 ms a frame against 54 ms at 1,
        mean error 0.15 against 0.09 px (max 1.9 against 3.6 px); the boxes
        it shapes are grown by 15% anyway. 1: full resolution.
      use_propagation: add boxes propagated from the previous frame's joints
        by the flow to the detections (paper: "joint propagation"; False
        is its ablation without it).
      box_extension: a propagated box is the box of the confident propagated
        joints grown by this fraction of its width and height (half on each
        side). Paper: 15%.
      detection_threshold: detector boxes scoring below it are dropped.
        Paper: 0.5.
      keypoint_threshold: joints scoring below it are not propagated, do not
        shape boxes and do not count in the similarity. Paper: joints below
        0.4 are dropped.
      min_keypoints: a pose with fewer joints at or above
        ``keypoint_threshold`` is dropped (neither output nor tracked); at
        least 2 (a box needs two joints). Ours: 3; with fewer there is no
        usable box and the OKS rests on one or two joints. A model of fewer
        keypoints (2) needs all of them (``tracking.tracker.tracked_min_keypoints``).
      box_nms_iou: IoU above which the NMS that unifies detected and
        propagated boxes drops a propagated box for a detection or a better
        propagated box (detections, already through their detector's NMS or
        the user's, are all kept). Ours: the paper gives none; 0.5 is the
        usual detector NMS threshold.
      pose_nms_oks: OKS above which a second pose of the same person (two
        boxes on one person that the box NMS kept) is dropped; 1 disables.
        Ours: the official code's OKS NMS threshold for COCO (0.9).
      similarity_threshold: a track and a pose whose flow-based similarity
        (OKS) is below it are never matched. Ours: the paper gives none; the
        same person after propagation scores about 0.6-0.9, a neighbour
        about 0.
      num_previous_frames: the multi-flow similarity takes the maximum OKS
        over the last this-many poses of a track, each carried into the
        current frame by the flow (paper: multi-frame similarity over
        ``L_Q`` previous frames; 1 is the single-flow similarity). Ours: 3;
        the paper gives no value, and 3 re-links a pose that shares no
        confident joint with the last one at little cost.
      max_missed_frames: a track not matched for more than this many
        consecutive frames ends; a person who comes back later gets a new
        id. Ours: 10 (a third of a second at 30 fps).
    """

    flow_method: str = "dis"
    dis_preset: str = "medium"
    flow_scale: float = 0.5
    use_propagation: bool = True
    box_extension: float = 0.15
    detection_threshold: float = 0.5
    keypoint_threshold: float = 0.4
    min_keypoints: int = 3
    box_nms_iou: float = 0.5
    pose_nms_oks: float = 0.9
    similarity_threshold: float = 0.3
    num_previous_frames: int = 3
    max_missed_frames: int = 10

    def __post_init__(self):
        # The names keras_pose.tracking.flow accepts (not imported: it needs cv2).
        choices = (("flow_method", ("dis", "farneback", "none")),
                   ("dis_preset", ("ultrafast", "fast", "medium")))
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise ConfigError(f"track.{name} must be one of {allowed}, "
                                  f"got {getattr(self, name)!r}")
        for name, low in (("num_previous_frames", 1), ("max_missed_frames", 0),
                          ("min_keypoints", 2)):
            check_count(f"track.{name}", getattr(self, name), low)
        check_number("track.box_extension", self.box_extension, 0.0,
                     note=" (a fraction of the box's width and height)")
        if not 0.0 < self.flow_scale <= 1.0:
            raise ConfigError(f"track.flow_scale must be in (0, 1], got {self.flow_scale}")
        # Scores, IoUs and OKS lie in [0, 1]: a threshold beyond never (or
        # always) holds, e.g. similarity_threshold 1.5 gave every pose a new id.
        for name in ("detection_threshold", "keypoint_threshold", "box_nms_iou",
                     "pose_nms_oks", "similarity_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # nan included
                raise ConfigError(f"track.{name} must be in [0, 1], got {getattr(self, name)}")
