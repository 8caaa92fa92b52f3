"""Evaluation: flip test, COCO OKS AP (COCOeval) and MPII PCKh.

Modules:
  flip: flip-back, one-pixel shift and fusion of flip-test heatmaps
    (NumPy and pure TF).
  coco: rescoring, OKS NMS, COCO results JSON, COCOeval and its table.
  mpii: PCKh against ``gt_valid.mat``, ``pred.mat``, the PCKh table.
  inference: runs a model over an evaluation dataset and decodes.
  runner: the library side of evaluate.py (also used by train.py).

Submodules are imported on use so that ``import keras_pose.evaluation.coco``
does not pull in TensorFlow.
"""
