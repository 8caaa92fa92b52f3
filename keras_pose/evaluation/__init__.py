"""Evaluation: one metric class per benchmark, and the evaluate.py runner.

Modules:
  metrics: the metric interface and the choice of a metric per data set.
  coco: OKS NMS, COCO results JSON, COCOeval, ``CocoKeypointMetric``.
  mpii: PCKh against ``gt_valid.mat``, ``pred.mat``, ``MpiiPckhMetric``.
  posetrack/: the PoseTrack metrics of poseval (per-joint AP, MOTA...): the
    PoseTrack18 reader, the frame matcher, the metric, file pairing.
  runner: the library side of evaluate.py (also used to validate in training).

Submodules are imported on use so that ``import keras_pose.evaluation.coco``
does not pull in TensorFlow.
"""
