"""keras-pose: Simple Baselines for Human Pose Estimation in TensorFlow 2 / Keras 3.

Public entry points: ``keras_pose.models.build_pose_resnet``,
``keras_pose.configs`` (experiments), ``keras_pose.codec`` (heatmap codecs: msra, dark),
``keras_pose.data`` (readers, pipeline), ``keras_pose.evaluation``,
``keras_pose.Predictor`` (inference on images).
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Predictor pulls in TensorFlow; import it only when asked for.
    if name == "Predictor":
        from keras_pose.inference.predictor import Predictor
        return Predictor
    raise AttributeError(f"module 'keras_pose' has no attribute {name!r}")
