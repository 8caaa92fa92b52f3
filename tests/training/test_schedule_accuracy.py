"""Learning-rate schedule and the reference's heatmap accuracy."""

import numpy as np
import pytest

from keras_pose.training.accuracy import accuracy_from_counts, heatmap_accuracy_counts
from keras_pose.training.schedule import base_learning_rate, learning_rate_for_epoch


def test_multistep_schedule_of_the_official_experiments():
    lrs = [learning_rate_for_epoch(1e-3, e, (90, 120), 0.1) for e in range(140)]
    assert lrs[0] == lrs[89] == 1e-3
    assert lrs[90] == pytest.approx(1e-4) and lrs[119] == pytest.approx(1e-4)
    assert lrs[120] == pytest.approx(1e-5) and lrs[139] == pytest.approx(1e-5)


def test_linear_scaling_rule():
    assert base_learning_rate(1e-3, 64, 128, True) == pytest.approx(5e-4)
    assert base_learning_rate(1e-3, 64, 128, False) == 1e-3


def _reference_accuracy(output, target, thr=0.5):
    """lib/core/evaluate.py accuracy() with gaussian heatmaps (N, K, H, W)."""
    def max_preds(hm):
        n, k, h, w = hm.shape
        flat = hm.reshape(n, k, -1)
        idx = flat.argmax(2)
        maxvals = flat.max(2)
        preds = np.stack([idx % w, idx // w], -1).astype(np.float32)
        return preds * (maxvals > 0)[..., None]
    pred, gt = max_preds(output), max_preds(target)
    h, w = output.shape[2], output.shape[3]
    norm = np.array([h, w]) / 10
    accs = []
    for j in range(output.shape[1]):
        valid = (gt[:, j, 0] > 1) & (gt[:, j, 1] > 1)
        if valid.sum() == 0:
            continue
        d = np.linalg.norm(pred[valid, j] / norm - gt[valid, j] / norm, axis=-1)
        accs.append((d < thr).mean())
    return float(np.mean(accs)) if accs else 0.0


def test_accuracy_matches_reference():
    rng = np.random.default_rng(0)
    for _ in range(5):
        target = np.zeros((6, 16, 12, 4), np.float32)
        for n in range(6):
            for k in range(4):
                target[n, rng.integers(0, 16), rng.integers(0, 12), k] = 1.0
        target[0, :, :, 1] = 0  # an invisible joint: not counted
        pred = target + rng.normal(0, 0.6, target.shape).astype(np.float32)
        correct, counted = heatmap_accuracy_counts(pred, target)
        expected = _reference_accuracy(np.transpose(pred, (0, 3, 1, 2)),
                                       np.transpose(target, (0, 3, 1, 2)))
        assert accuracy_from_counts(correct.numpy(), counted.numpy()) == pytest.approx(expected)
