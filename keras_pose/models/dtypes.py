"""The Keras dtype state networks are built and run under: the global dtype
policy and ``floatx``, which are the caller's process-wide settings, and
the image data format, which decides the layout of every layer's weights.

A notebook that had called ``keras.mixed_precision.set_global_policy(
"mixed_bfloat16")`` (or ``keras.config.set_floatx("float16")``) loaded
checkpoints in that type, while every result said fp32 (AP 0.6883 against
0.6895; keypoints moved by up to 5.6 px); with ``floatx`` float64 training
crashed in its first step. Inside :func:`dtype_scope` both are ours; after
it, both are exactly the caller's again, an unset policy unset again (it
then follows ``floatx``, as before). Likewise the image data format: with
``"image_data_format": "channels_first"`` in ``~/.keras/keras.json``
(or a caller's ``keras.config.set_image_data_format``) the networks were
built channels-first: every checkpoint "did not fit the model" and
training crashed in its loss; inside the block it is channels-last.

(Ground floor of the Keras code: imports nothing of the project.)
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import keras

# The policy Keras keeps when one was set (None: unset, derived from floatx
# when first asked for). ``keras.config.dtype_policy()`` sets it as it reads
# it, so it cannot say "unset" nor put it back.
_POLICY_KEY = "dtype_policy"


def keras_global_state() -> Any:
    """Keras's global state module (private to Keras 3.15, which setup.py
    pins), or None if this Keras has it elsewhere."""
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # pragma: no cover - another Keras layout
        return None
    return global_state


def _saved_policy() -> Any:
    """The caller's global policy as Keras holds it (None: unset)."""
    state = keras_global_state()
    if state is None:  # pragma: no cover
        return keras.config.dtype_policy()
    return state.get_global_attribute(_POLICY_KEY, None)


def _restore_policy(policy: Any) -> None:
    state = keras_global_state()
    if policy is None and state is not None:
        state.set_global_attribute(_POLICY_KEY, None)
    elif policy is not None:
        keras.config.set_dtype_policy(policy)


@contextlib.contextmanager
def dtype_scope(policy: str) -> Iterator[None]:
    """Keras layers created (and metrics, initializers, ...) inside the
    block get ``policy`` ("float32", "mixed_bfloat16", "bfloat16", ...),
    with ``floatx`` float32 (the variables of the mixed policies, and the
    default of what takes no policy: Keras metrics were float64 under
    ``set_floatx("float64")``). The caller's policy and floatx are put back
    after the block, whatever happens in it; so is their image data format,
    channels-last in the block (NHWC: this package's layout)."""
    previous_policy, previous_floatx = _saved_policy(), keras.config.floatx()
    previous_format = keras.config.image_data_format()
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy(policy)
    keras.config.set_image_data_format("channels_last")
    try:
        yield
    finally:
        keras.config.set_image_data_format(previous_format)
        keras.config.set_floatx(previous_floatx)
        _restore_policy(previous_policy)


def float32_scope() -> contextlib.AbstractContextManager:
    """:func:`dtype_scope` of float32: how checkpoints are loaded and run
    for inference (``keras_pose.checkpoint.load_model``, the export and the
    final evaluation after training), whatever the caller's settings."""
    return dtype_scope("float32")
