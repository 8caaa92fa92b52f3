"""The training step of the official recipe, as a Keras model for ``fit``.

:class:`PoseTrainingModel` wraps the functional pose network (whose weights
are what every checkpoint saves) and defines ``train_step``: normalisation of
the uint8 crops on the device, the network in training mode, the reference's
JointsMSELoss with target weights averaged over the *global* batch (each
replica's share of the sum, so the summed gradients and the loss do not
change with the number of replicas), and the train-time heatmap accuracy.

Shapes: B crops per replica, h x w input, H x W heatmap, K keypoints.
"""

from __future__ import annotations

import threading

import keras
import tensorflow as tf

from keras_pose.configs import ExperimentConfig
from keras_pose.data.transforms import normalize_image
from keras_pose.losses import joints_mse_per_example
from keras_pose.training.accuracy import HeatmapAccuracy


class PoseTrainingModel(keras.Model):
    """The network plus the recipe's training step.

    Args:
      network: the functional pose model (N, h, w, 3) -> (N, H, W, K).
      config: the experiment (input normalisation, target weights).
      global_batch: images per step over all replicas.
      multi_worker: training runs on several workers
        (MultiWorkerMirroredStrategy).
    """

    def __init__(self, network: keras.Model, config: ExperimentConfig, global_batch: int,
                 multi_worker: bool = False, **kwargs):
        super().__init__(name="pose_training", **kwargs)
        self.network = network
        self.global_batch = int(global_batch)
        self.multi_worker = bool(multi_worker)
        self.use_target_weight = bool(config.train.use_target_weight)
        m = config.model
        self._normalization = (m.color_order, tuple(m.mean), tuple(m.std))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = HeatmapAccuracy(m.num_keypoints, name="acc")
        self.built = True  # The functional network is built; nothing else has weights.

    def compile(self, *args, **kwargs) -> None:
        """Keras' compile, then the optimizer's slots, created here (under
        the strategy's scope) rather than inside the first distributed step."""
        super().compile(*args, **kwargs)
        self.optimizer.build(self.network.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Nothing to build: the network, the optimizer and the metrics are.

        Keras (3.15) would otherwise, under a distribution strategy, take the
        first batch off the training iterator and average it over the
        replicas to build the model symbolically: that batch would never be
        trained on (shifting the data order, which resumption relies on),
        and MultiWorkerMirroredStrategy cannot average a dict of uint8
        crops at all.
        """

    def make_train_function(self, force: bool = False):
        """Keras' train function, keeping a reference to the data iterator it
        is given, so that :meth:`release_iterator` (not the end of ``fit``)
        deletes it."""
        if getattr(self.train_function, "keeps_iterator", False) and not force:
            return self.train_function
        super().make_train_function(force)
        function = self.train_function

        def train_function(iterator):
            # Not through setattr: Keras/TF would track it as a dependency.
            self.__dict__["_iterator"] = iterator
            return function(iterator)
        train_function.keeps_iterator = True
        self.train_function = train_function
        return train_function

    def release_iterator(self) -> None:
        """Deletes the last training iterator in a background thread.

        Deleting a finished tf.data iterator waits (TF 2.21) for the
        autotuner's current sleep, whose period doubles while the iterator
        lives: 0-60 s at the end of a run, for nothing (on the demo, 6 s or
        38 s between the last epoch and the export).
        """
        iterator = self.__dict__.pop("_iterator", None)
        if iterator is not None:
            # The thread's arguments are its last reference: dropped there.
            threading.Thread(target=_drop, args=(iterator,), daemon=True).start()
            del iterator

    @property
    def metrics(self) -> list:
        return [self.loss_tracker, self.accuracy]

    def normalize(self, images: tf.Tensor) -> tf.Tensor:
        """uint8 RGB crops -> the network's normalised input."""
        return normalize_image(images, *self._normalization)

    def call(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.network(self.normalize(images), training=training)

    def train_step(self, data: dict) -> dict:
        """One optimizer step on this replica's part of a global batch.

        Args:
          data: a batch of the training pipeline (``image`` uint8,
            ``heatmaps``, ``target_weight``).
        """
        with tf.GradientTape() as tape:
            pred = self.network(self.normalize(data["image"]), training=True)
            per_example = joints_mse_per_example(pred, data["heatmaps"], data["target_weight"],
                                                 self.use_target_weight)
            loss = tf.reduce_sum(per_example) / self.global_batch
            scaled = self.optimizer.scale_loss(loss)
        variables = self.network.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        local = tf.cast(tf.shape(per_example)[0], tf.float32)
        self.loss_tracker.update_state(tf.reduce_mean(per_example), sample_weight=local)
        self.accuracy.update_state(data["heatmaps"], pred)
        results = {m.name: m.result() for m in self.metrics}
        if self.multi_worker:
            # Keras 3.15 averages the step's outputs over workers along axis
            # 0, which a scalar lacks: give each one (the mean is unchanged).
            results = {k: tf.reshape(v, [1]) for k, v in results.items()}
        return results


def _drop(_) -> None:
    """Nothing: the argument is released when the thread ends."""
