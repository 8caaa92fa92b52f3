"""PoseTrack evaluation (per-joint AP and MOTA) as the official ``poseval``.

The numbers are those of poseval's ``evaluate.py --evalPoseEstimation
--evalPoseTracking`` (leonid-pishchulin/poseval, ``eval_helpers.py``,
``evaluateAP.py``, ``evaluateTracking.py``, ``convert.py``) on PoseTrack18
JSON files, one file per video sequence, read with the same rules:

- **Joints.** poseval evaluates 15 joints, in its order (``JOINT_NAMES``):
  right_ankle, right_knee, right_hip, left_hip, left_knee, left_ankle,
  right_wrist, right_elbow, right_shoulder, left_shoulder, left_elbow,
  left_wrist, head_bottom (poseval's "neck"), nose, head_top. They are found
  by *name* in the file's ``categories[0].keypoints`` (15 or 17 names); the
  ears of the 17-keypoint PoseTrack18 layout are dropped. A keypoint counts
  as annotated (or predicted) unless it is exactly ``(0, 0, 0)``: a
  visibility of 0 with non-zero coordinates still counts, as in poseval.
- **Frames.** Ground truth and predictions are paired by their position in
  ``images`` (the counts must agree). Only frames whose ground truth holds at
  least one person annotation are evaluated; that is poseval's notion of a
  labelled frame (``is_labeled`` itself is not read by poseval, nor here).
- **Head size** is 0.6 x the diagonal of ``bbox_head`` [x, y, w, h]; a
  joint matches when its distance / head size <= 0.5 (PCKh@0.5).
- **Ignore regions** (``ignore_regions_x`` / ``_y`` of a ground-truth image,
  one polygon per list): in a frame with at least one polygon, every
  predicted *and* ground-truth joint strictly inside a polygon (shapely's
  ``contains``) is dropped, then every person left without joints.
- **AP** (evaluateAP): per frame, each prediction picks the ground-truth
  person of highest PCKh (the fraction of that person's annotated joints it
  matches), each ground-truth person keeps the best of the predictions that
  picked it; every joint of a kept prediction is a true positive when it
  matches, every joint of any other prediction a false positive. Per joint,
  the scored labels of all frames of all sequences are pooled, sorted by
  score, and AP is the VOC area under the interpolated precision/recall
  curve, in percent. Total = mean over the 15 joints (NaN ones left out);
  the groups (Head = head_top, head_bottom, nose; Shoulder ... Ankle = left
  and right) are plain means.
- **MOTA** (evaluateTracking): one ``motmetrics.MOTAccumulator`` per joint
  and sequence, fed frame by frame with the ground-truth and predicted track
  ids that have this joint and their normalised distances (NaN beyond 0.5).
  Misses, switches, false positives, objects, detections and the summed
  distances are added up over the sequences, then MOTA = 100 (1 - (misses +
  switches + false positives) / objects), MOTP = 100 (1 - distance sum /
  detections), precision = 100 detections / (detections + false positives),
  recall = 100 detections / objects, per joint; Total = mean over joints.

poseval's quirks, reproduced because they are in the official numbers:

1. **The last evaluated frame of every sequence is left out of the tracking
   metrics** (``imgidxs[:-1]``); AP uses every frame.
2. **A frame without any predicted person** (or whose ground truth is empty
   after the ignore regions) feeds every joint's accumulator one dummy
   ground-truth object and one dummy hypothesis that never match: one miss
   and one false positive per joint, however many people the frame has.
3. **MOTP's distance sum is** ``accumulator.events['D'].sum()``, which
   includes motmetrics' RAW events: every ground-truth/prediction pair within
   0.5 head sizes counts once as a raw distance and once more when matched
   (and, in motmetrics 1.4, again in its TRANSFER/ASCEND/MIGRATE events).
   MOTP is therefore not the CLEAR-MOT mean distance (a mean of the matched
   distances): a perfect prediction gives 100 only when no joint of one
   person lies within half a head size of the same joint of another person;
   each such pair of different people adds its distance and lowers MOTP, as
   in poseval.
4. Ties in the AP score sort are broken as NumPy's default ``argsort``
   reversed, over the scores in sequence order: poseval's sequence order is
   its directory listing's, ours the order of ``update`` calls (the
   command-line tool sorts the file names).

Where this module deliberately differs: a prediction without ``scores``
takes its keypoint scores from the third keypoint values (poseval falls back
to -9999 for all, which makes AP depend on tie order); malformed input stops
with a ``PoseTrackFormatError`` naming the file and entry, where poseval
would crash or silently mis-evaluate (an annotation whose ``image_id`` is not
an image, paired frames with neither the same ``id`` nor the same
``file_name`` base name, or with the same ``id`` but the file name of another
ground-truth frame (frames listed in another order), a file holding several videos, of which poseval evaluates only
the first); poseval's track-id limit (< 10000), which only serves its id
offsets, is not imposed; a sequence with a single evaluated frame adds no
tracking frames (poseval crashes; a warning names such sequences).

Shapes: P people of a frame, J = 15 joints, K keypoints in the file.

Modules:
  reader: PoseTrack18 JSON -> ``PoseTrackSequence``, checked
    (``PoseTrackFormatError`` names the file and entry).
  matching: per frame, ignore regions, joint distances, person assignment.
  metric: AP, MOTA, MOTP, precision, recall; ``PoseTrackMetric``; tables.
  pairs: ``sequence_pairs``, ground-truth and prediction files by name.

The names below are re-exported so that ``from keras_pose.evaluation.posetrack
import PoseTrackMetric`` keeps working; each is defined in its module only.
"""

from keras_pose.evaluation.posetrack.reader import (
    HEAD_SIZE_FACTOR, JOINT_NAMES, NUM_JOINTS, Frame, People, PoseTrackFormatError,
    PoseTrackSequence, Source, check_predictions, load_sequence, read_sequence)
from keras_pose.evaluation.posetrack.matching import (
    PCKH_THRESHOLD, FrameResult, apply_ignore_regions, assign_predictions, evaluate_frame,
    joint_distances)
from keras_pose.evaluation.posetrack.metric import (
    GROUP_NAMES, JOINT_GROUPS, MOT_COUNT_NAMES, SEQUENCES_FILE, PoseTrackMetric,
    average_precision, format_table, tracking_counts, tracking_metrics)
from keras_pose.evaluation.posetrack.pairs import sequence_pairs

__all__ = [
    "HEAD_SIZE_FACTOR", "JOINT_NAMES", "NUM_JOINTS", "Frame", "People", "PoseTrackFormatError",
    "PoseTrackSequence", "Source", "check_predictions", "load_sequence", "read_sequence",
    "PCKH_THRESHOLD", "FrameResult", "apply_ignore_regions", "assign_predictions",
    "evaluate_frame", "joint_distances", "GROUP_NAMES", "JOINT_GROUPS", "MOT_COUNT_NAMES",
    "SEQUENCES_FILE", "PoseTrackMetric", "average_precision", "format_table",
    "tracking_counts", "tracking_metrics", "sequence_pairs"]
