"""BatchNormalization whose training step runs TF's fused batch norm kernel.

Keras 3 (3.15) computes a BatchNormalization in training mode from separate
ops: ``tf.nn.moments`` (Mean, SquaredDifference, Mean) and
``tf.nn.batch_normalization`` (Mul, Sub, Add), and its gradient from a
dozen more (Mul, Sum, Tile, AddN, ...): in the Pose-ResNet-50 training step
these element-wise passes over the activations cost about 15% of the step on
CPU. :class:`BatchNormalization` computes the same thing with one
``FusedBatchNormV3`` op (and its one gradient op), which TF fuses further
with the following ReLU under oneDNN. Same normalisation (biased batch
variance, the layer's epsilon), same moving-statistics update, same
gradients, up to float rounding.

Everything else (inference, masks, synchronized BN, renorm, other ranks or
axes, no scale or center) is Keras' own code.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="keras_pose")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (same arguments, weights and
    config) with a fused training step on TensorFlow."""

    def _fused_training(self, inputs, training, mask) -> bool:
        return bool(training and self.trainable and mask is None and not self.synchronized
                    and not self.renorm and self.center and self.scale
                    and len(inputs.shape) == 4 and self.axis in (-1, 3)
                    and keras.backend.backend() == "tensorflow")

    def call(self, inputs, training=None, mask=None):
        if not self._fused_training(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf
        # As Keras: statistics and normalisation in float32 (bf16/fp16 sums
        # overflow), the result in the layer's compute dtype. The op takes
        # bf16/fp16 activations as they are and computes in float32 inside:
        # casting them to float32 and back around it took 15% of the
        # mixed_bfloat16 training step on CPU, and kept its ReLU unfused.
        x = inputs if inputs.dtype in (tf.bfloat16, tf.float16) else tf.cast(inputs, tf.float32)
        empty = tf.constant([], tf.float32)
        y, mean, variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=tf.cast(self.gamma, tf.float32), offset=tf.cast(self.beta, tf.float32),
            mean=empty, variance=empty, epsilon=self.epsilon, exponential_avg_factor=1.0,
            data_format="NHWC", is_training=True)
        # The op returns the unbiased (n - 1) variance; Keras' moving
        # variance follows the biased one it normalises with.
        count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
        variance = variance * ((count - 1.0) / count)
        momentum = self.momentum
        self.moving_mean.assign(
            tf.cast(self.moving_mean, tf.float32) * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            tf.cast(self.moving_variance, tf.float32) * momentum + variance * (1.0 - momentum))
        return tf.cast(y, self.compute_dtype)
