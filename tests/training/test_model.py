"""PoseTrainingModel details that fit's users never see."""

import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_pose.models import build_model_from_config
from keras_pose.training.model import PoseTrainingModel
from keras_pose.training.trainer import make_optimizer


def test_the_finished_iterator_is_deleted_in_the_background(fast_config, monkeypatch):
    errors = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    # Deleting a finished autotuned iterator waits for the autotuner's sleep
    # (up to a minute): fit must leave it to release_iterator, which drops
    # the last reference in another thread.
    config = fast_config
    network = build_model_from_config(config.model)
    model = PoseTrainingModel(network, config, global_batch=2)
    model.compile(optimizer=make_optimizer(config))
    k = config.model.num_keypoints
    data = tf.data.Dataset.from_tensors({
        "image": np.zeros((2, 64, 64, 3), np.uint8),
        "heatmaps": np.zeros((2, 16, 16, k), np.float32),
        "target_weight": np.ones((2, k), np.float32)}).repeat().map(
        lambda x: x, num_parallel_calls=tf.data.AUTOTUNE)
    model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)
    iterator = model.__dict__["_iterator"]  # kept alive past fit
    alive = weakref.ref(iterator)
    del iterator
    before = set(threading.enumerate())
    model.release_iterator()
    assert "_iterator" not in model.__dict__
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=120)
    assert alive() is None and not errors
    model.release_iterator()  # nothing left: a no-op
    keras.backend.clear_session()
