"""What ``train()`` must hand back to the process that called it as it
found it: the global random generators, which training seeds for
reproducible weights (``keras.utils.set_random_seed(train.seed)``), and
OpenCV's thread count, which the input pipeline sets to 1 (tf.data
parallelises across images; it stayed 1 for the rest of the process).

Was never put back: a random search calling ``train()`` between its draws
(``random.random()``, ``np.random.rand()``, ``tf.random.uniform``) drew the
same "random" values in every trial after the first. The Keras dtype
policy and floatx have their own scope (``keras_pose.models.dtypes``).
"""

from __future__ import annotations

import contextlib
import random
from typing import Any, Iterator

import cv2
import numpy as np
import tensorflow as tf

from keras_pose.models.dtypes import keras_global_state

# Keras's own global seed and the generator keras.random uses when given
# no seed (keras.src.utils.rng_utils / keras.src.random.seed_generator).
_KERAS_SEED_KEYS = ("global_random_seed", "global_seed_generator")


def _tf_context() -> Any:
    """TF's eager context: it holds the global seed (``_seed``, None when
    unset) and the generator of the operation seeds derived from it
    (``_rng``); TF has no public getter for either."""
    from tensorflow.python.eager import context
    return context.context()


def _save_tf() -> tuple[Any, Any]:
    """(global seed or None, state of its operation-seed generator or None)."""
    ctx = _tf_context()
    seed = getattr(ctx, "_seed", None)
    rng = getattr(ctx, "_rng", None) if seed is not None else None
    return seed, (rng.getstate() if rng is not None else None)


def _restore_tf(saved: tuple[Any, Any]) -> None:
    seed, rng_state = saved
    tf.random.set_seed(seed)  # None: unset again.
    rng = getattr(_tf_context(), "_rng", None)
    if rng_state is not None and rng is not None:
        # The same seed alone would start its operation seeds over: the
        # caller's next tf.random.uniform repeated the one before train().
        rng.setstate(rng_state)


@contextlib.contextmanager
def random_state_kept() -> Iterator[None]:
    """Python's ``random``, NumPy's global generator, TF's global seed and
    Keras's global seed generator are after the block exactly as before it
    (an unset TF seed unset again), whatever happens in it."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_state = _save_tf()
    keras_state = keras_global_state()
    keras_saved = ([keras_state.get_global_attribute(k, None) for k in _KERAS_SEED_KEYS]
                   if keras_state is not None else None)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        _restore_tf(tf_state)
        if keras_saved is not None:
            for key, value in zip(_KERAS_SEED_KEYS, keras_saved):
                keras_state.set_global_attribute(key, value)


@contextlib.contextmanager
def caller_state_kept() -> Iterator[None]:
    """:func:`random_state_kept`, and OpenCV's thread count as it was."""
    threads = cv2.getNumThreads()
    try:
        with random_state_kept():
            yield
    finally:
        cv2.setNumThreads(threads)
