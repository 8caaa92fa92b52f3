"""JointsMSELoss as the reference computes it."""

import numpy as np

from keras_pose.losses import joints_mse_loss, joints_mse_per_example


def _reference_loss(pred, target, weight):
    # lib/core/loss.py: per joint 0.5 * MSE(pred*w, gt*w), averaged over joints.
    b, h, w, k = pred.shape
    p = np.transpose(pred, (0, 3, 1, 2)).reshape(b, k, -1)
    t = np.transpose(target, (0, 3, 1, 2)).reshape(b, k, -1)
    loss = 0.0
    for j in range(k):
        loss += 0.5 * np.mean((p[:, j] * weight[:, j:j + 1] - t[:, j] * weight[:, j:j + 1]) ** 2)
    return loss / k


def test_matches_reference_formula():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(4, 8, 6, 5)).astype(np.float32)
    target = rng.uniform(size=(4, 8, 6, 5)).astype(np.float32)
    weight = (rng.uniform(size=(4, 5)) > 0.3).astype(np.float32)
    np.testing.assert_allclose(joints_mse_loss(pred, target, weight).numpy(),
                               _reference_loss(pred, target, weight), rtol=1e-5)
    unweighted = joints_mse_loss(pred, target, weight, use_target_weight=False).numpy()
    np.testing.assert_allclose(unweighted, _reference_loss(pred, target, np.ones_like(weight)),
                               rtol=1e-5)


def test_global_batch_averaging_is_split_invariant():
    rng = np.random.default_rng(1)
    pred = rng.normal(size=(8, 4, 4, 3)).astype(np.float32)
    target = rng.uniform(size=(8, 4, 4, 3)).astype(np.float32)
    weight = np.ones((8, 3), np.float32)
    whole = joints_mse_loss(pred, target, weight).numpy()
    for replicas in (2, 4):
        parts = [joints_mse_loss(p, t, w, global_batch_size=8).numpy()
                 for p, t, w in zip(np.split(pred, replicas), np.split(target, replicas),
                                    np.split(weight, replicas))]
        np.testing.assert_allclose(sum(parts), whole, rtol=1e-6)
    assert joints_mse_per_example(pred, target, weight).shape == (8,)
