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


def _use_tensorflow_backend() -> None:
    """Keras runs on TensorFlow here, whatever the user's Keras settings.

    Was a deep traceback for another backend ("Cannot convert a symbolic
    tf.Tensor ... to a numpy array" with ``"backend": "torch"`` in
    keras.json, ModuleNotFoundError with ``KERAS_BACKEND=jax``): the whole
    project is TensorFlow code (tf.data, tf.function, SavedModel). Before
    Keras is imported, ``KERAS_BACKEND=tensorflow`` (which wins over
    keras.json); an explicit other ``KERAS_BACKEND`` is said once. After,
    another backend cannot be undone: an ImportError says the fix.
    """
    config = _sys.modules.get("keras.src.backend.config")
    if config is None and "keras" not in _sys.modules:
        given = _os.environ.get("KERAS_BACKEND", "")
        _os.environ["KERAS_BACKEND"] = "tensorflow"
        if given and given != "tensorflow":
            import warnings
            warnings.warn(f"KERAS_BACKEND={given} is not used: keras-pose runs Keras on the "
                          "tensorflow backend", RuntimeWarning, stacklevel=3)
        return
    backend = getattr(config, "backend", lambda: "tensorflow")()
    if backend != "tensorflow":
        home = _os.path.join(_os.environ.get("KERAS_HOME", _os.path.join("~", ".keras")),
                             "keras.json")
        raise ImportError(f"keras-pose runs on Keras' tensorflow backend, but Keras was "
                          f"imported with the {backend!r} backend (set by KERAS_BACKEND or "
                          f"the \"backend\" entry of {home}): import keras_pose before "
                          "keras, or set KERAS_BACKEND=tensorflow")


_use_tensorflow_backend()


def __getattr__(name):
    # Predictor pulls in TensorFlow; import it only when asked for.
    if name == "Predictor":
        from keras_pose.inference.predictor import Predictor
        return Predictor
    raise AttributeError(f"module 'keras_pose' has no attribute {name!r}")
