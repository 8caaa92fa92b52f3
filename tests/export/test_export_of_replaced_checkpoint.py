"""An export given as the checkpoint, in ``<checkpoint>/exports/``, made
from other weights than its checkpoint holds now: training replaced
``best/`` while a ``--runtime`` run exported it, the export moved into the
new ``best/``, and evaluate.py on that folder ran the older epoch's
network without a word."""

import logging
import os

import numpy as np

from keras_pose.checkpoint import WEIGHTS_FILE, load_model
from keras_pose.inference import load_pose_model


def test_an_export_of_older_weights_in_a_checkpoint_is_said(
        private_checkpoint, fake_onnx_export, caplog):
    served = load_pose_model(private_checkpoint, runtime="onnxruntime").path
    assert os.path.dirname(os.path.dirname(served)) == os.path.join(private_checkpoint,
                                                                     "exports")
    caplog.set_level(logging.WARNING, logger="absl")
    load_pose_model(served)  # Made from these weights: nothing to say.
    assert "was exported from other weights" not in caplog.text
    newer, _ = load_model(private_checkpoint)  # Another epoch's weights, the export kept.
    newer.set_weights([w + np.float32(0.01) for w in newer.get_weights()])
    newer.save_weights(os.path.join(private_checkpoint, WEIGHTS_FILE))
    load_pose_model(served)
    assert (f"{served} was exported from other weights than {private_checkpoint} holds now"
            in caplog.text)
