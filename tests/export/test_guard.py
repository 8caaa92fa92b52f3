"""The accuracy guard: AP and keypoint displacement against fp32, and refusal."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from keras_pose.data.datasets import load_records
from keras_pose.export import guard, runtimes


@pytest.fixture(scope="module")
def setup(small_network, tiny_synthetic):
    model = small_network[0]
    return model, tiny_synthetic, load_records(tiny_synthetic, "test")


def _keras_numpy(model):
    return lambda x: model(x, training=False).numpy()


def test_same_network_through_numpy_matches_exactly(setup):
    model, config, records = setup
    reference_ap, (row,) = guard.compare_networks(
        lambda x: model(x, training=False),
        {"numpy": runtimes.numpy_network(_keras_numpy(model), config)}, config, records)
    assert row.ap == reference_ap and row.ap_drop == 0
    assert row.mean_px == 0 and row.p99_px == 0 and row.moved == 0
    guard.check_guard(reference_ap, [row])  # Passes.


def test_displacement_of_a_network_shifted_by_one_heatmap_pixel(setup):
    """Heatmaps moved one column right: every keypoint moves by one heatmap
    pixel, i.e. scale_x * 200 / W image pixels (give or take the quarter
    offset of the refinement)."""
    model, config, records = setup

    def shifted(x):
        return np.roll(model(x, training=False).numpy(), 1, axis=2)

    _, (row,) = guard.compare_networks(
        lambda x: model(x, training=False), {"shifted": runtimes.numpy_network(shifted, config)},
        config, records, flip=False)
    pixel = records.scale[:, 0] * 200 / config.model.heatmap_size[0]
    assert row.moved == pytest.approx(1.0)
    assert 0.5 * pixel.min() <= row.mean_px <= 1.5 * pixel.max()


def test_check_guard_refuses_a_drop_above_half_a_point(monkeypatch):
    ok = guard.GuardRow("onnx int8", 0.701, 0.005, 0.1, 1.0, 0.01)  # Exactly 0.5: kept.
    bad = guard.GuardRow("litert int8", 0.6999, 0.0061, 0.5, 4.0, 0.1)
    guard.check_guard(0.706, [ok])
    with pytest.raises(guard.AccuracyGuardError, match="litert int8 lost more than 0.5"):
        guard.check_guard(0.706, [ok, bad])
    logged = []
    monkeypatch.setattr(guard.logging, "error", lambda fmt, *args: logged.append(fmt % args))
    guard.check_guard(0.706, [ok, bad], force=True)  # Logged, not raised.
    assert len(logged) == 1 and "litert int8" in logged[0] and "exported anyway" in logged[0]
    table = guard.format_table(0.706, [ok, bad])
    assert "| litert int8 | 69.99 | -0.61 | 0.500 | 4.000 | 10.0% |" in table
    # --max_ap_drop 0.05 (point) said "lost more than 0.1 AP point".
    with pytest.raises(guard.AccuracyGuardError, match=r"lost more than 0.05 AP point"):
        guard.check_guard(0.706, [ok], max_drop=0.0005)


def test_whole_images_keeps_every_person_of_each_image(setup):
    _, _, records = setup
    subset = records.select(guard.whole_images(records, 3))
    assert 0 < len(subset) < len(records)
    for image_id in np.unique(subset.image_id):
        assert np.sum(subset.image_id == image_id) == np.sum(records.image_id == image_id)
    assert guard.whole_images(records, 0) is None  # All.
    assert guard.whole_images(records, len(records)) is None


def test_numpy_network_keeps_the_static_heatmap_shape(setup):
    model, config, _ = setup
    network = runtimes.numpy_network(_keras_numpy(model), config)
    traced = tf.function(network).get_concrete_function(tf.TensorSpec([None, 64, 64, 3]))
    assert traced.output_shapes.as_list() == [None, 16, 16, 17]


def test_a_dropped_numpy_network_frees_its_session(setup):
    # TF keeps a numpy_function traced in a tf.function for the process's
    # life: every dropped Predictor of an ONNX / OpenVINO model kept its
    # session (27-50 MB each).
    import gc
    import weakref
    _, config, _ = setup

    class Session:
        def __call__(self, x):
            return np.zeros((len(x), 16, 16, 17), np.float32)
    session = Session()
    freed = weakref.ref(session)
    network = runtimes.numpy_network(session, config)
    run = tf.function(network)
    assert run(tf.zeros([2, 64, 64, 3])).shape == (2, 16, 16, 17)
    del session, network, run
    gc.collect()
    assert freed() is None


def test_guard_on_crops_passes_agreement_and_refuses_a_moved_network(setup):
    """Without a data set: keypoint agreement with fp32 on the user's own
    crops. Heatmaps moved two columns put every keypoint two heatmap pixels
    away (flip test off, so that the move is not averaged with its mirror)."""
    model, config, _ = setup
    config = config.replace(test=dataclasses.replace(config.test, flip_test=False))
    crops = np.random.default_rng(0).uniform(0, 255, (20, 64, 64, 3)).astype(np.float32)
    reference = lambda x: model(x, training=False)  # noqa: E731
    same = guard.guard_on_crops(reference, runtimes.numpy_network(_keras_numpy(model), config),
                                "same", config, crops)
    assert same["agreement"] == 1.0 and same["people"] == 20

    def moved(x):
        return np.roll(model(x, training=False).numpy(), 2, axis=2)
    with pytest.raises(guard.AccuracyGuardError, match=r"moved: 0.0% of the keypoints of 20 "
                       r"people within 1 heatmap pixel.*at least 95% are needed"):
        guard.guard_on_crops(reference, runtimes.numpy_network(moved, config), "moved", config,
                             crops)


def test_a_reference_that_scores_no_more_than_the_drop_is_said_to_judge_nothing(monkeypatch):
    """A barely trained model (fp32 AP 0): its int8 export passed with
    keypoints 12 px off, the AP unable to fall; that passed in silence."""
    logged = []
    monkeypatch.setattr(guard.logging, "warning", lambda fmt, *args: logged.append(fmt % args))
    drifting = guard.GuardRow("onnx int8", 0.0, 0.0, 11.989, 69.0, 0.9)
    guard.check_guard(0.0, [drifting])  # Passes: nothing to refuse it by ...
    assert len(logged) == 1  # ... but said.
    assert "AP here is 0.00" in logged[0] and "cannot tell a worse export" in logged[0]
    assert "onnx int8 moved 12 px" in logged[0]
    guard.check_guard(0.706, [guard.GuardRow("onnx int8", 0.705, 0.001, 0.2, 1.0, 0.01)])
    assert len(logged) == 1  # A model that scores: no word.
    guard.check_guard(0.0, [guard.GuardRow("onnx fp32", 0.0, 0.0, 0.0004, 0.001, 0.0)])
    assert len(logged) == 1  # An export that moved nothing: no word either.


def test_a_guard_on_some_images_scores_only_their_ground_truth(setup, monkeypatch):
    """A subset's AP must not count the other images' people as missed: a
    network finding every person of the subset scores AP 1, not about the
    subset's share of the split."""
    from keras_pose.inference.records import Predictions
    model, config, records = setup
    images = np.unique(records.image_id)
    assert len(images) == 4

    def ground_truth_as_predictions(estimator, people, batch_size):
        # What a perfect network gives: every labelled joint where it is.
        visible = (np.asarray(people.joints_vis) > 0).astype(np.float32)
        return Predictions(np.asarray(people.joints, np.float32), visible,
                           np.ones(len(people), np.float32))
    monkeypatch.setattr(guard, "predict_records", ground_truth_as_predictions)
    network = lambda x: model(x, training=False)  # noqa: E731 (not run: patched out)
    reference_ap, (row,) = guard.compare_networks(
        network, {"same": network}, config, records,
        people=np.isin(records.image_id, images[:2]))
    assert reference_ap == pytest.approx(1.0) and row.ap_drop == 0


class _People:
    """The image ids of a split's people."""

    def __init__(self, image_id):
        self.image_id = np.asarray(image_id)

    def __len__(self):
        return len(self.image_id)


def test_whole_images_take_every_image_that_fits_in_max_people():
    """Two people in each of three images and max_people 4: the first two
    images fit exactly (2 + 2 = 4): both are taken, not one."""
    kept = guard.whole_images(_People([7, 7, 8, 8, 9, 9]), 4)
    assert kept.tolist() == [True, True, True, True, False, False]
    kept = guard.whole_images(_People([7, 7, 8, 8, 9, 9]), 3)
    assert kept.tolist() == [True, True, False, False, False, False]  # 8 would pass 3.


def _without_flip(config):
    return config.replace(test=dataclasses.replace(config.test, flip_test=False))


def test_keypoints_exactly_one_heatmap_pixel_away_agree(setup):
    """The agreement limit is "within" one heatmap pixel: heatmaps moved by
    one column (every keypoint exactly 1 heatmap pixel away, the argmax and
    its quarter offset moving together) pass."""
    model, config, _ = setup
    config = _without_flip(config)
    crops = np.random.default_rng(0).uniform(0, 255, (20, 64, 64, 3)).astype(np.float32)
    reference = lambda x: model(x, training=False)  # noqa: E731
    reference_points = guard.heatmap_keypoints(reference, config, crops)
    # Keep the people whose every peak (x = column +- its quarter offset) and
    # both its neighbours stay inside the 16 columns before and after the
    # move: columns 1 to 13 (at the border the offset has no neighbour).
    x = reference_points[..., 0]
    people = np.flatnonzero(((x > 0.5) & (x < 13.5)).all(axis=1))
    assert len(people) >= 3, len(people)

    def moved(x):
        return np.roll(model(x, training=False).numpy(), 1, axis=2)
    out = guard.guard_on_crops(reference, runtimes.numpy_network(moved, config), "moved",
                               config, crops[people])
    assert out["agreement"] == 1.0 and out["mean_heatmap_px"] == pytest.approx(1.0)


def test_one_keypoint_in_seventeen_moved_is_below_95_percent_agreement(setup):
    """16 of 17 keypoints agreeing (94.1%) is below the 95% asked: refused."""
    model, config, _ = setup
    config = _without_flip(config)
    crops = np.random.default_rng(0).uniform(0, 255, (20, 64, 64, 3)).astype(np.float32)

    def channel_0_moved(x):  # Only the first keypoint's heatmap, two columns.
        heatmaps = model(x, training=False).numpy()
        heatmaps[..., 0] = np.roll(heatmaps[..., 0], 2, axis=2)
        return heatmaps
    with pytest.raises(guard.AccuracyGuardError, match=r"94\.1% of the keypoints"):
        guard.guard_on_crops(lambda x: model(x, training=False),
                             runtimes.numpy_network(channel_0_moved, config), "moved", config,
                             crops)
