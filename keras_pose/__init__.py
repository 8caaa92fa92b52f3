"""keras-pose: Simple Baselines for Human Pose Estimation in TensorFlow 2 / Keras 3.

Public entry points: ``keras_pose.models.build_pose_resnet``,
``keras_pose.configs`` (experiments), ``keras_pose.codec`` (heatmap codecs: msra, dark),
``keras_pose.data`` (readers, pipeline), ``keras_pose.evaluation``,
``keras_pose.Predictor`` (inference on images).
"""

import os as _os
import platform as _platform
import sys as _sys

__version__ = "0.1.0"

# TensorFlow's oneDNN CPU kernels (convolutions in oneDNN's blocked weight
# layouts, fused BatchNorm, ...), which TF 2.21 turns on by itself only on
# CPUs with AVX-512 VNNI / BF16 / AMX; on AVX2 CPUs its default Eigen kernels
# run the exported network and the training step markedly slower
# (scripts/benchmark_inference.py times both). TF reads the variable once, at
# its first import: set later, it would do nothing in this process (only in
# its children), so it is set only while TF is not imported yet, which is
# the case for every script of this project (each imports keras_pose first).
# setdefault: TF_ENABLE_ONEDNN_OPTS=0 in the environment keeps Eigen.
if "tensorflow" not in _sys.modules and _platform.machine().lower() in ("x86_64", "amd64"):
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def __getattr__(name):
    # Predictor pulls in TensorFlow; import it only when asked for.
    if name == "Predictor":
        from keras_pose.inference.predictor import Predictor
        return Predictor
    raise AttributeError(f"module 'keras_pose' has no attribute {name!r}")
