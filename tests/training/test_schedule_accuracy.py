"""Learning-rate schedule and the reference's heatmap accuracy."""

import numpy as np
import pytest

from keras_pose.training.accuracy import HeatmapAccuracy
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
    """lib/core/evaluate.py accuracy() with gaussian heatmaps (N, K, H, W):
    (avg_acc, cnt)."""
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
    return (float(np.mean(accs)) if accs else 0.0), len(accs)


def _batch(rng, n=6, k=4):
    target = np.zeros((n, 16, 12, k), np.float32)
    for i in range(n):
        for j in range(k):
            target[i, rng.integers(0, 16), rng.integers(0, 12), j] = 1.0
    target[0, :, :, 1] = 0  # an invisible joint: not counted
    target[:, :, :, 3] = 0
    target[:, 5, 1, 3] = 1.0  # a peak at x = 1: never counted (x > 1 counts)
    pred = target + rng.normal(0, 0.6, target.shape).astype(np.float32)
    return pred, target


def test_the_logged_metric_is_the_reference_accuracy_over_the_epoch():
    """HeatmapAccuracy (the ``acc`` of the training log) after several
    batches equals the reference's AverageMeter over them:
    ``acc.update(avg_acc, cnt)`` with accuracy() of each batch (was the
    per-joint counts pooled over the epoch, 0.002 off here); it starts
    anew after reset."""
    rng = np.random.default_rng(0)
    metric = HeatmapAccuracy(4)
    for _ in range(2):
        metric.reset_state()
        weighted = count = 0.0
        for n in (6, 2, 9):
            pred, target = _batch(rng, n=n)
            metric.update_state(target, pred)
            avg_acc, cnt = _reference_accuracy(np.transpose(pred, (0, 3, 1, 2)),
                                               np.transpose(target, (0, 3, 1, 2)))
            weighted, count = weighted + avg_acc * cnt, count + cnt
        expected = weighted / count
        assert 0.05 < expected < 0.95
        assert float(metric.result()) == pytest.approx(expected, rel=1e-6)


def test_no_counted_joint_gives_zero():
    metric = HeatmapAccuracy(2)
    metric.update_state(np.zeros((2, 8, 8, 2), np.float32), np.ones((2, 8, 8, 2), np.float32))
    assert float(metric.result()) == 0.0


def test_lr_steps_in_any_order_give_the_same_schedule():
    """PyTorch's MultiStepLR sorts its milestones: [120, 90] is [90, 120]
    (at epoch 95 one step has passed: base x 0.1, not x 0.01)."""
    assert learning_rate_for_epoch(1e-3, 95, [120, 90], 0.1) == pytest.approx(1e-4)
    assert learning_rate_for_epoch(1e-3, 125, [120, 90], 0.1) == pytest.approx(1e-5)


def _one_peak_counts(size, target_xy, pred_xy=None, pred_map=None):
    """heatmap_accuracy_counts of one joint: a target peak at (x, y), a
    prediction peak at (x, y) or the given map; returns (correct, counted)."""
    from keras_pose.training.accuracy import heatmap_accuracy_counts
    h, w = size
    target = np.zeros((1, h, w, 1), np.float32)
    target[0, target_xy[1], target_xy[0], 0] = 1.0
    if pred_map is None:
        pred_map = np.zeros((h, w), np.float32)
        pred_map[pred_xy[1], pred_xy[0]] = 1.0
    correct, counted = heatmap_accuracy_counts(pred_map[None, :, :, None], target)
    return float(correct[0]), float(counted[0])


def test_accuracy_normalises_x_by_height_and_y_by_width_as_the_reference():
    """The reference's accuracy(): norm = [h, w] / 10 applied to (x, y). On a
    64x48 (HxW) map x is divided by 6.4, y by 4.8: an x error of 3 is
    3 / 6.4 = 0.47 < 0.5 (correct); with W for x it would be 3 / 4.8 = 0.63."""
    assert _one_peak_counts((64, 48), (20, 30), (23, 30)) == (1.0, 1.0)
    # And a y error of 3: 3 / 4.8 = 0.63 (wrong), not 3 / 6.4.
    assert _one_peak_counts((64, 48), (20, 30), (20, 33)) == (0.0, 1.0)


def test_a_target_peak_on_row_1_is_not_counted():
    """Only target peaks with x > 1 and y > 1 count (row 1 is out)."""
    assert _one_peak_counts((16, 12), (5, 1), (5, 1)) == (0.0, 0.0)
    assert _one_peak_counts((16, 12), (5, 2), (5, 2)) == (1.0, 1.0)


def test_a_distance_of_exactly_the_threshold_is_wrong():
    """Correct means distance < 0.5 (strict): on a 40x40 map the norm is 4,
    an x error of 2 is exactly 2 / 4 = 0.5."""
    assert _one_peak_counts((40, 40), (10, 10), (12, 10)) == (0.0, 1.0)
    assert _one_peak_counts((40, 40), (10, 10), (11, 10)) == (1.0, 1.0)  # 0.25


def test_an_all_negative_prediction_is_at_the_origin():
    """A prediction map whose maximum is <= 0 is placed at (0, 0), as the
    reference's get_max_preds: wrong here even though its max is on the target."""
    pred = np.full((16, 12), -1.0, np.float32)
    pred[10, 5] = -0.1  # the (negative) maximum at the target's (5, 10)
    assert _one_peak_counts((16, 12), (5, 10), pred_map=pred) == (0.0, 1.0)
