"""Training-step time of ``train.py``'s ``fit`` (PoseTrainingModel), on
in-memory batches (the data pipeline is measured by benchmark_pipeline_scaling).

    python -m scripts.benchmark_training --experiment tiny --batch 16
    python -m scripts.benchmark_training --experiment coco_resnet50_256x192 --batch 8

Prints milliseconds per optimizer step and images per second for each
``steps_per_execution`` given, after a warm-up (tracing) that is not timed.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("experiment", "tiny", "Named experiment (its model and input size).")
flags.DEFINE_integer("batch", 16, "Images per step.")
flags.DEFINE_integer("steps", 20, "Timed steps per measurement.")
flags.DEFINE_list("steps_per_execution", ["1", "4"], "Values of steps_per_execution to time.")
flags.DEFINE_integer("rounds", 2, "Measurements of each value (alternating).")
flags.DEFINE_multi_string("set", [], "Config overrides.")


def fit_step_ms(config, batch: int, steps: int, steps_per_execution: int) -> float:
    """Milliseconds per step of ``fit`` on one repeated in-memory batch."""
    import tensorflow as tf

    from keras_pose.models import build_model_from_config
    from keras_pose.training.model import PoseTrainingModel
    from keras_pose.training.trainer import make_optimizer
    keras.utils.set_random_seed(0)
    network = build_model_from_config(config.model)
    model = PoseTrainingModel(network, config, batch)
    model.compile(optimizer=make_optimizer(config), steps_per_execution=steps_per_execution)
    (w, h), (hw, hh), k = config.model.image_size, config.model.heatmap_size, \
        config.model.num_keypoints
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensors({
        "image": rng.integers(0, 255, (batch, h, w, 3)).astype("uint8"),
        "heatmaps": rng.uniform(size=(batch, hh, hw, k)).astype("float32"),
        "target_weight": np.ones((batch, k), "float32")}).repeat()
    model.fit(data, steps_per_epoch=2 * steps_per_execution, epochs=1, verbose=0)
    clock = _Clock()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
    return clock.seconds / steps * 1000


class _Clock(keras.callbacks.Callback):
    """Times ``fit`` from its first step to its last, leaving out the
    deletion of the finished dataset iterator (which waits, in TF 2.21, for
    the tf.data autotuner's sleep to end: up to tens of seconds, a cost of
    each ``fit`` call, not of its steps; training makes one call)."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start


def main(argv):
    del argv
    from keras_pose.configs import apply_overrides, get_experiment
    config = apply_overrides(get_experiment(FLAGS.experiment), FLAGS.set)
    for round_ in range(FLAGS.rounds):
        for value in FLAGS.steps_per_execution:
            spe = int(value)
            ms = fit_step_ms(config, FLAGS.batch, FLAGS.steps - FLAGS.steps % spe, spe)
            print(f"round {round_ + 1}: {FLAGS.experiment} batch {FLAGS.batch}, "
                  f"steps_per_execution {spe}: {ms:.0f} ms/step, "
                  f"{FLAGS.batch / ms * 1000:.1f} images/s", flush=True)


if __name__ == "__main__":
    app.run(main)
