"""JointsMSELoss as the reference computes it."""

import numpy as np

from keras_pose.losses import joints_mse_per_example


def _reference_loss(pred, target, weight):
    # lib/core/loss.py: per joint 0.5 * MSE(pred*w, gt*w), averaged over joints.
    b, h, w, k = pred.shape
    p = np.transpose(pred, (0, 3, 1, 2)).reshape(b, k, -1)
    t = np.transpose(target, (0, 3, 1, 2)).reshape(b, k, -1)
    loss = 0.0
    for j in range(k):
        loss += 0.5 * np.mean((p[:, j] * weight[:, j:j + 1] - t[:, j] * weight[:, j:j + 1]) ** 2)
    return loss / k


def test_batch_mean_matches_reference_formula():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(4, 8, 6, 5)).astype(np.float32)
    target = rng.uniform(size=(4, 8, 6, 5)).astype(np.float32)
    weight = (rng.uniform(size=(4, 5)) > 0.3).astype(np.float32)
    per_example = joints_mse_per_example(pred, target, weight).numpy()
    assert per_example.shape == (4,)
    np.testing.assert_allclose(per_example.mean(), _reference_loss(pred, target, weight),
                               rtol=1e-5)
    unweighted = joints_mse_per_example(pred, target, weight, use_target_weight=False).numpy()
    np.testing.assert_allclose(unweighted.mean(),
                               _reference_loss(pred, target, np.ones_like(weight)), rtol=1e-5)


def test_each_crop_is_its_own_loss():
    # The per-crop split is what makes the global-batch sum replica-invariant:
    # crop i's loss must not depend on the other crops of its batch.
    rng = np.random.default_rng(1)
    pred = rng.normal(size=(8, 4, 4, 3)).astype(np.float32)
    target = rng.uniform(size=(8, 4, 4, 3)).astype(np.float32)
    weight = (rng.uniform(size=(8, 3)) > 0.5).astype(np.float32)
    whole = joints_mse_per_example(pred, target, weight).numpy()
    for i in range(8):
        alone = joints_mse_per_example(pred[i:i + 1], target[i:i + 1], weight[i:i + 1]).numpy()
        np.testing.assert_allclose(alone, whole[i:i + 1], rtol=1e-6)
        np.testing.assert_allclose(alone, _reference_loss(pred[i:i + 1], target[i:i + 1],
                                                          weight[i:i + 1]), rtol=1e-5)
