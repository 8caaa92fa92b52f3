"""Adam whose update of each weight is TF's one fused op.

Keras 3 (3.15) updates each weight with a dozen element-wise ops (``Sub``,
``Mul``, ``Square``, ``Sqrt``, ``RealDiv``, ``AddV2`` and three
assignments): in the Pose-ResNet-50 training step on CPU they took about
14% of the executor threads' time. TF's ``ResourceApplyAdam`` computes the
same formula in one pass over each weight:

    lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);  v += (g^2 - v) * (1 - beta_2)
    w -= lr_t * m / (sqrt(v) + epsilon)

Same arguments, variables and slot names as ``keras.optimizers.Adam`` (so
its saved state restores into either); where the fused op does not apply
(AMSGrad, sparse gradients, other backends) Keras' update runs.

Under a distribution strategy (MirroredStrategy on GPUs, several workers)
Keras calls ``update_step`` once per replica inside the strategy's update,
with that replica's copy of the weight; a slot's ``handle`` there is the
same replica's copy, so each replica's update is fused as well.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="keras_pose")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` whose update is ``ResourceApplyAdam``."""

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf
        if (self.amsgrad or keras.backend.backend() != "tensorflow"
                or isinstance(gradient, tf.IndexedSlices)
                or not isinstance(variable, tf.Variable)):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        # Adam's private slots (_momentums, _velocities): keras is held below
        # 3.16 in setup.py; test_fused_adam compares with Keras' own update.
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
