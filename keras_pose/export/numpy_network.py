"""A runtime's NumPy heatmaps function (an ONNX Runtime, OpenVINO or LiteRT
session) as a TF network for ``TopDownEstimator``."""

from __future__ import annotations

import threading
import weakref
from typing import Callable

import numpy as np
import tensorflow as tf

from keras_pose.configs import ExperimentConfig
from keras_pose.inference.estimator import Network


def numpy_network(fn: Callable[[np.ndarray], np.ndarray], config: ExperimentConfig) -> Network:
    """A NumPy heatmaps function (a runtime's session) as a TF network that
    ``TopDownEstimator`` can call eagerly or inside its ``tf.function``: the
    estimator's whole batch (crops and mirrors, at least one) in one call.

    Args:
      fn: crops (B, h, w, 3) float32 -> heatmaps (B, H, W, K) float32.
      config: gives H, W, K for the static shape (the estimator's decoding
        needs a static K).
    """
    width, height = config.model.heatmap_size
    k = config.model.num_keypoints
    session = _Session(fn)
    # TF keeps a numpy_function traced in a tf.function for the life of the
    # process (its eager context's graph): it holds the session weakly, and
    # ``network`` (the model's) strongly. Each dropped Predictor of an ONNX
    # or OpenVINO model kept its session: 27-50 MB each, never freed.
    weak = weakref.ref(session)

    def call(x: np.ndarray) -> np.ndarray:
        alive = weak()
        if alive is None:
            raise RuntimeError("the runtime session of this model was freed: load it again")
        return alive(x)

    def network(images: tf.Tensor) -> tf.Tensor:
        out = tf.numpy_function(call, [images], tf.float32, stateful=False)
        out.set_shape([None, height, width, k])
        return out
    network.session = session
    return network


class _Session:
    """A runtime's heatmaps function, one call at a time: an OpenVINO infer
    request and a LiteRT interpreter are not reentrant, and TF may run two
    graphs' numpy_functions at once on its threads."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]):
        self.fn, self.lock = fn, threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self.lock:
            return np.asarray(self.fn(x), np.float32)
