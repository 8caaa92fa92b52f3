"""PoseTracker on synthetic videos of moving stick figures (oracle poses)."""

import dataclasses
import types

import numpy as np
import pytest

from keras_pose.configs.base import TrackConfig
from keras_pose.tracking import PoseTracker, box_iou
from tests.tracking.scenes import HEIGHT, WIDTH, Oracle, Person, run, true_box

CONFIG = TrackConfig()


def _ids_of(ids, person):
    return [frame.get(person) for frame in ids]


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_a_person_moving_smoothly_keeps_one_id(method):
    person = Person(70, 30, 100, lambda t: (3.0 * t, 0.5 * t), seed=1)
    results, ids = run([person], 25, dataclasses.replace(CONFIG, flow_method=method))
    assert _ids_of(ids, 0) == [0] * 25
    assert all(len(r.track_ids) == 1 for r in results)
    assert [r.frame_index for r in results] == list(range(25))


def test_ids_start_at_zero_and_increase_in_order_of_appearance():
    first = Person(60, 30, 100, lambda t: (2.0 * t, 0), seed=1)
    second = Person(60, 120, 100, lambda t: (-2.0 * t, 0), visible=lambda t: t >= 5, seed=2)
    results, ids = run([first, second], 10, CONFIG)
    assert _ids_of(ids, 0) == [0] * 10
    assert _ids_of(ids, 1) == [None] * 5 + [1] * 5
    assert results[7].track_ids.tolist() == [0, 1]  # sorted by id


def _crossing_people():
    # Person 0 walks right behind person 1, who walks left in front of it.
    back = Person(70, 25, 105, lambda t: (4.0 * t, 0), seed=2)
    front = Person(60, 135, 92, lambda t: (-4.0 * t, 0), seed=3)
    return back, front


def test_two_people_crossing_keep_their_ids():
    back, front = _crossing_people()

    def hidden_behind(t, person):  # the detector misses the occluded person
        overlap = box_iou(true_box(back.joints(t))[None], true_box(front.joints(t))[None])
        return person == 0 and overlap[0, 0] > 0.1

    results, ids = run([back, front], 28, CONFIG, drop_detection=hidden_behind)
    back_ids, front_ids = _ids_of(ids, 0), _ids_of(ids, 1)
    assert len(set(back_ids)) == 1 and None not in back_ids
    assert len(set(front_ids)) == 1 and None not in front_ids
    assert back_ids[0] != front_ids[0]
    crossing = [t for t in range(28) if hidden_behind(t, 0)]
    assert len(crossing) >= 8  # the scene really crosses
    # While hidden, the person is held by boxes propagated by the flow.
    for t in crossing:
        index = results[t].track_ids.tolist().index(back_ids[0])
        assert results[t].propagated[index]


def test_flow_similarity_keeps_ids_of_fast_neighbours_where_plain_oks_swaps():
    # Two people 16 px apart moving 10 px per frame: without flow, each
    # person's new pose lies nearer the other's old pose.
    def scene():
        return [Person(60, 15, 100, lambda t: (10.0 * t, 0.0), seed=5),
                Person(60, 31, 96, lambda t: (10.0 * t, 0.0), seed=6)]

    _, ids = run(scene(), 8, CONFIG)
    assert {(f.get(0), f.get(1)) for f in ids} == {(1, 0)}
    _, ids = run(scene(), 8, dataclasses.replace(CONFIG, flow_method="none"))
    assert len({(f.get(0), f.get(1)) for f in ids}) > 2


@pytest.mark.parametrize("gap,same_id", [(2, True), (3, True), (4, False), (6, False)])
def test_a_person_who_returns_gets_a_new_id_only_after_max_missed_frames(gap, same_id):
    config = dataclasses.replace(CONFIG, max_missed_frames=3)
    person = Person(70, 60, 100, lambda t: (1.0 * t, 0),
                    visible=lambda t: not 8 <= t < 8 + gap, seed=4)
    oracle = Oracle()
    results, ids = run([person], 20, config, oracle=oracle)
    seen = _ids_of(ids, 0)
    assert seen[:8] == [0] * 8 and seen[8:8 + gap] == [None] * gap
    assert all(len(r.track_ids) == 0 for r in results[8:8 + gap])
    # Frame 8 gets a box propagated from frame 7 (nobody in it); later gap
    # frames none: only poses of the previous frame propagate.
    assert len(oracle.calls) == 20 - gap + 1
    assert seen[8 + gap:] == [0 if same_id else 1] * (20 - 8 - gap)


def test_a_missed_detection_is_bridged_by_the_propagated_box():
    person = Person(70, 30, 100, lambda t: (3.0 * t, 0.5 * t), seed=1)
    missed = range(6, 10)
    oracle = Oracle()
    results, ids = run([person], 16, CONFIG, drop_detection=lambda t, i: t in missed,
                       oracle=oracle)
    assert _ids_of(ids, 0) == [0] * 16
    assert [bool(r.propagated[0]) for r in results] == [t in missed for t in range(16)]
    for t in missed:
        # The box given to the estimator: the propagated joints' box + 15%,
        # i.e. (flow being accurate) the true joint box + 15%.
        np.testing.assert_allclose(oracle.calls[t], true_box(person.joints(t), 0.15)[None],
                                   atol=1.5)
    _, ids = run([person], 16, dataclasses.replace(CONFIG, use_propagation=False),
                 drop_detection=lambda t, i: t in missed)
    assert _ids_of(ids, 0) == [0] * 6 + [None] * 4 + [0] * 6


def test_multi_frame_similarity_links_poses_with_no_joint_in_common_with_the_last():
    # Frame 6: only the legs are confident; frame 7: only the upper body.
    legs = np.arange(17) >= 11

    def confident(t):
        return legs if t == 6 else ~legs if t == 7 else np.ones(17, bool)

    person = Person(70, 30, 100, lambda t: (3.0 * t, 0.5 * t), seed=1, confident=confident)
    _, ids = run([person], 10, dataclasses.replace(CONFIG, num_previous_frames=1))
    assert _ids_of(ids, 0)[7] != 0  # single flow: nothing shared with frame 6
    _, ids = run([person], 10, dataclasses.replace(CONFIG, num_previous_frames=3))
    assert _ids_of(ids, 0) == [0] * 10


def test_detections_below_the_threshold_are_ignored():
    person = Person(70, 60, 100, lambda t: (0.0, 0.0), seed=1)
    oracle = Oracle()
    oracle.truth, oracle.truth_scores = [person.joints(0)], [person.scores(0)]
    tracker = PoseTracker(CONFIG, oracle)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    box = true_box(person.joints(0))[None]
    assert len(tracker.step(frame, (box, [0.49])).track_ids) == 0
    # Detections as an object with .boxes and .scores (detection.Detections).
    result = tracker.step(frame, types.SimpleNamespace(boxes=box, scores=[0.5]))
    assert result.track_ids.tolist() == [0]


def test_reset_restarts_ids_and_a_new_frame_size_needs_it():
    person = Person(70, 60, 100, lambda t: (0.0, 0.0), seed=1)
    oracle = Oracle()
    oracle.truth, oracle.truth_scores = [person.joints(0)], [person.scores(0)]
    tracker = PoseTracker(CONFIG, oracle)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    detections = (true_box(person.joints(0))[None], [0.9])
    tracker.step(frame, detections)
    assert tracker.active_track_ids == [0]
    with pytest.raises(ValueError, match="reset"):
        tracker.step(np.zeros((HEIGHT, WIDTH + 2, 3), np.uint8), detections)
    tracker.reset()
    result = tracker.step(frame, detections)
    assert result.frame_index == 0 and result.track_ids.tolist() == [0]
    with pytest.raises(ValueError, match="uint8"):
        tracker.step(frame.astype(np.float32), detections)
