"""PoseTracker on synthetic videos of moving stick figures (oracle poses)."""

import dataclasses
import os
import threading
import types

import numpy as np
import pytest

from keras_pose.configs.base import TrackConfig
from keras_pose.tracking import PoseTracker, box_iou
from keras_pose.tracking import tracker as tracker_module
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


def _hidden_behind(back, front):
    """drop_detection: the detector misses ``back`` while ``front`` hides it."""
    def drop(t, person):
        overlap = box_iou(true_box(back.joints(t))[None], true_box(front.joints(t))[None])
        return person == 0 and overlap[0, 0] > 0.1
    return drop


def test_two_people_crossing_keep_their_ids():
    back, front = _crossing_people()

    hidden_behind = _hidden_behind(back, front)
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


def _tracker_of(person) -> PoseTracker:
    """A tracker whose stub estimator returns ``person``'s first-frame pose."""
    oracle = Oracle()
    oracle.truth, oracle.truth_scores = [person.joints(0)], [person.scores(0)]
    return PoseTracker(CONFIG, oracle)


def test_detections_below_the_threshold_are_ignored():
    person = Person(70, 60, 100, lambda t: (0.0, 0.0), seed=1)
    tracker = _tracker_of(person)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    box = true_box(person.joints(0))[None]
    assert len(tracker.step(frame, (box, [0.49])).track_ids) == 0
    assert tracker.low_score_detections == 1  # counted for the run's report
    # Detections as an object with .boxes and .scores (detection.Detections).
    result = tracker.step(frame, types.SimpleNamespace(boxes=box, scores=[0.5]))
    assert result.track_ids.tolist() == [0]
    assert (tracker.low_score_detections, tracker.unconfident_poses) == (1, 0)


def test_unconfident_poses_of_detected_boxes_are_counted():
    """predict.py reports them: a video whose poses all fall below the
    thresholds must not end with 0 people and no word."""
    two = np.arange(17) < 2  # fewer confident joints than min_keypoints (3)
    person = Person(70, 60, 100, lambda t: (0.0, 0.0), seed=1,
                    confident=lambda t: np.ones(17, bool) if t == 0 else two)
    tracker = _tracker_of(person)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    box = true_box(person.joints(0))[None]
    assert tracker.step(frame, (box, [0.9])).track_ids.tolist() == [0]
    tracker._estimate_fn.truth_scores = [person.scores(1)]
    # No detection: the propagated box's pose is dropped, a person leaving (not counted).
    assert len(tracker.step(frame, (np.zeros((0, 4)), [])).track_ids) == 0
    assert tracker.unconfident_poses == 0
    # The detected box's pose is dropped and counted.
    assert len(tracker.step(frame, (box, [0.9])).track_ids) == 0
    assert (tracker.unconfident_poses, tracker.low_score_detections) == (1, 0)


def test_reset_restarts_ids_and_a_new_frame_size_needs_it():
    person = Person(70, 60, 100, lambda t: (0.0, 0.0), seed=1)
    tracker = _tracker_of(person)
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


def _same_results(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for field in dataclasses.fields(x):
            np.testing.assert_array_equal(getattr(x, field.name), getattr(y, field.name))


def _record_flow_threads(monkeypatch) -> list:
    """The name of the thread of every flow computed from now on."""
    names = []

    class RecordingFlow(tracker_module.DenseFlow):
        def __call__(self, prev_gray, gray):
            names.append(threading.current_thread().name)
            return super().__call__(prev_gray, gray)
    monkeypatch.setattr(tracker_module, "DenseFlow", RecordingFlow)
    return names


@pytest.mark.parametrize("method", ["dis", "farneback", "none"])
def test_the_flow_started_by_prepare_is_used_and_gives_the_same_results(method, monkeypatch):
    # predict.py starts each frame's flow in a thread before the detector
    # runs: the tracks must be exactly those of step alone. The hidden
    # person is held by propagated boxes only, which a flow between the
    # wrong frames would misplace.
    threads = _record_flow_threads(monkeypatch)
    config = dataclasses.replace(CONFIG, flow_method=method)
    back, front = _crossing_people()
    plain_oracle, prepared_oracle = Oracle(), Oracle()
    plain, _ = run([back, front], 28, config, _hidden_behind(back, front), oracle=plain_oracle)
    assert set(threads) == {threading.current_thread().name} and len(threads) == 27
    threads.clear()
    back, front = _crossing_people()
    prepared, _ = run([back, front], 28, config, _hidden_behind(back, front),
                      oracle=prepared_oracle, prepare=True)
    # Every flow ran in prepare's thread; step computed none of its own.
    assert threads == ["pose-tracker-flow"] * 27
    _same_results(plain, prepared)
    for x, y in zip(plain_oracle.calls, prepared_oracle.calls):
        np.testing.assert_array_equal(x, y)
    assert sum(bool(r.propagated.any()) for r in plain) >= 8
    assert not [t for t in threading.enumerate() if t.name == "pose-tracker-flow"]


def _one_person_video(num_frames: int):
    """Frames, detections and an oracle for one person walking."""
    from keras_pose.data.synthetic import _background
    from tests.tracking.scenes import render
    person = Person(70, 30, 100, lambda t: (3.0 * t, 0.5 * t), seed=1)
    background = _background(np.random.default_rng(0), WIDTH, HEIGHT)
    frames = [render([person], t, background) for t in range(num_frames)]
    boxes = [(true_box(person.joints(t))[None], np.ones(1, np.float32))
             for t in range(num_frames)]
    return person, frames, boxes


def test_prepare_on_another_frame_is_ignored():
    person, frames, boxes = _one_person_video(3)
    results = []
    for use_prepare in (False, True):
        oracle = Oracle()
        tracker = PoseTracker(CONFIG, oracle)
        out = []
        for t in range(3):
            oracle.truth, oracle.truth_scores = [person.joints(t)], [person.scores(t)]
            if use_prepare:  # The flow of another array is dropped, step computes its own.
                tracker.prepare(frames[t].copy())
            out.append(tracker.step(frames[t], boxes[t]))
        results.append(out)
    _same_results(*results)


def test_an_error_of_the_flow_thread_is_raised_by_step_and_reset_drops_it():
    person, frames, boxes = _one_person_video(3)
    tracker = _tracker_of(person)
    tracker.step(frames[0], boxes[0])

    def broken(prev, nxt):
        raise RuntimeError("flow failed")
    tracker._flow = broken
    tracker.prepare(frames[1])
    with pytest.raises(RuntimeError, match="flow failed"):
        tracker.step(frames[1], boxes[1])
    tracker.prepare(frames[1])
    tracker.reset()  # Waits for the flow and drops it.
    assert tracker.step(frames[1], boxes[1]).frame_index == 0
    with pytest.raises(ValueError, match="uint8"):
        tracker.prepare(frames[2].astype(np.float32))


def test_a_flow_prepared_and_abandoned_ends_by_itself():
    # A video given up between prepare and step (an error in the detector,
    # Ctrl-C, a generator closed): the thread waits on nothing, it ends.
    person, frames, boxes = _one_person_video(2)
    tracker = _tracker_of(person)
    tracker.step(frames[0], boxes[0])
    tracker.prepare(frames[1])
    thread = tracker._pending._thread
    # Not a daemon: the interpreter's exit waits for its flow (an abort
    # otherwise, test_leaving_while_the_flow_runs_exits_cleanly); it must end.
    assert not thread.daemon
    del tracker
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_a_step_that_raises_leaves_the_tracker_as_it_was():
    """The tracks were carried into the frame before the detections were
    checked and the estimator ran: after an error (a box the Predictor
    refuses), the next step carried them one frame too far. Frames 2-4
    have no detections, so their boxes come from propagation alone."""
    person, frames, boxes = _one_person_video(5)

    def track(failure=None):
        oracle, failing = Oracle(), [False]

        def estimate(image, boxes, box_scores):
            if failing[0]:
                raise RuntimeError("the estimator refused a box")
            return oracle(image, boxes, box_scores)

        tracker = PoseTracker(CONFIG, estimate)
        out = []
        for t in range(5):
            oracle.truth, oracle.truth_scores = [person.joints(t)], [person.scores(t)]
            detections = boxes[t] if t < 2 else None
            if t == 2 and failure is not None:
                failing[0] = failure == "estimator"
                with pytest.raises((ValueError, RuntimeError)):
                    tracker.step(frames[t], {
                        "counts": ([[1.0, 1.0, 5.0, 5.0]], [0.9, 0.9]),
                        "not finite": ([[np.nan, 1.0, 5.0, 5.0]], [0.9]),
                        # Boxes with their scores: were five boxes of garbage.
                        "shape": (np.ones((4, 5)), np.ones(5)),
                        "estimator": None}[failure])
                failing[0] = False
            out.append(tracker.step(frames[t], detections))
        return out

    clean = track()
    assert [bool(r.propagated.all()) for r in clean] == [False, False, True, True, True]
    for failure in ("counts", "not finite", "shape", "estimator"):
        _same_results(clean, track(failure))


def test_ctrl_c_while_step_waits_for_the_flow_stops_the_step_and_loses_nothing():
    """A Ctrl-C that came while step waited for the prepared flow was
    swallowed, and Python 3.11's interrupted Thread.join took the running
    thread for finished: the flow was None (an AttributeError and exit 1
    from predict.py), or the Ctrl-C was lost. The step is not taken; the
    same frame stepped again gives the uninterrupted result."""
    import os
    import signal
    person, frames, boxes = _one_person_video(3)
    expected = _tracker_of(person)
    want = [expected.step(frames[t], boxes[t]) for t in range(3)]
    tracker = _tracker_of(person)
    tracker.step(frames[0], boxes[0])
    flow, release = tracker._flow, threading.Event()
    # The flow of a big frame, held until the Ctrl-C has been seen (the
    # timeout only bounds the old code's wait): the signal always comes
    # while step waits, however loaded the machine.
    tracker._flow = lambda prev, nxt: (release.wait(timeout=20), flow(prev, nxt))[1]
    tracker.prepare(frames[1])
    # Python's own handler, whatever the runner set (xdist's workers ignore SIGINT).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            tracker.step(frames[1], boxes[1])
    finally:
        release.set()
        timer.join()
        signal.signal(signal.SIGINT, previous)
    tracker._flow = flow
    got = [want[0], tracker.step(frames[1], boxes[1]), tracker.step(frames[2], boxes[2])]
    _same_results(want, got)


def test_ctrl_c_while_prepare_starts_the_flow_leaves_one_flow_at_a_time(ctrl_c_raises,
                                                                        monkeypatch):
    """A Ctrl-C inside Thread.start() (it waits for the thread to run) left
    the flow running but not pending: prepare taken again ran a second flow
    on the same OpenCV object beside it (other track ids, once a segmentation
    fault in a notebook). The frame taken again gives the uninterrupted
    result, one flow at a time."""
    import os
    import signal
    person, frames, boxes = _one_person_video(3)
    expected = _tracker_of(person)
    want = [expected.step(frames[t], boxes[t]) for t in range(3)]
    tracker = _tracker_of(person)
    tracker.step(frames[0], boxes[0])
    flow, release, running, most = tracker._flow, threading.Event(), [], []

    def counted(prev, nxt):  # The first flow held until well after the second prepare began.
        running.append(1)
        most.append(len(running))
        release.wait(timeout=20)
        try:
            return flow(prev, nxt)
        finally:
            running.pop()
    tracker._flow = counted
    start = threading.Thread.start

    def start_then_ctrl_c(self):
        monkeypatch.setattr(threading.Thread, "start", start)
        start(self)
        os.kill(os.getpid(), signal.SIGINT)  # Lands while start() returns.
        signal.sigtimedwait([], 0.05)
    monkeypatch.setattr(threading.Thread, "start", start_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        tracker.prepare(frames[1])
    timer = threading.Timer(0.5, release.set)
    timer.start()
    tracker.prepare(frames[1])  # The cell run again.
    got = [want[0], tracker.step(frames[1], boxes[1]), tracker.step(frames[2], boxes[2])]
    timer.join()
    assert max(most) == 1
    _same_results(want, got)


EXIT_DURING_FLOW = """
import sys, types
import numpy as np
from keras_pose.configs.base import TrackConfig
from keras_pose.tracking import PoseTracker

def estimate(image, boxes, scores):
    n = len(boxes)
    keypoints = np.zeros((n, 17, 2), np.float32)
    for i, (x, y, w, h) in enumerate(boxes):
        keypoints[i] = np.stack([x + w * np.linspace(0.2, 0.8, 17),
                                 y + h * np.linspace(0.1, 0.9, 17)], 1)
    return types.SimpleNamespace(keypoints=keypoints, scores=np.ones(n, np.float32),
                                 keypoint_scores=np.ones((n, 17), np.float32))

tracker = PoseTracker(TrackConfig(), estimate)
frame = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), np.uint8)
tracker.prepare(frame)
tracker.step(frame, (np.array([[100, 50, 200, 400]], np.float32), np.ones(1, np.float32)))
tracker.prepare(np.roll(frame, 3, axis=1))
raise SystemExit(3)  # While the second frame's flow runs (a Ctrl-C in the detector).
"""


def test_leaving_while_the_flow_runs_exits_cleanly():
    """A daemon flow thread still inside OpenCV when the interpreter tore
    down aborted the process (exit 134) after a Ctrl-C."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run([sys.executable, "-c", EXIT_DURING_FLOW], cwd=root, timeout=120,
                         capture_output=True, text=True)
    assert run.returncode == 3, run.stderr[-2000:]


def _few_keypoints_estimator(k):
    """A stub estimator of a k-keypoint model of one person standing still:
    the same confident joints (down the middle of the box below) for any box."""
    joints = np.stack([np.full(k, 70.0), 40.0 + 100.0 * np.arange(k) / max(k - 1, 1)], -1)

    def estimate(image, boxes, box_scores):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        keypoints = np.repeat(joints[None], len(boxes), 0)
        return types.SimpleNamespace(keypoints=keypoints,
                                     keypoint_scores=np.full((len(boxes), k), 0.9),
                                     scores=np.full(len(boxes), 0.9), boxes=boxes)
    return estimate


def test_a_model_of_fewer_keypoints_than_min_keypoints_is_tracked_with_all_of_them():
    """A 2-keypoint model had every pose dropped by min_keypoints=3 (its
    default), and a 1-keypoint model cannot be tracked at all: said at once."""
    from keras_pose.configs import ConfigError
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    box = np.array([[40.0, 30.0, 60.0, 120.0]])
    assert CONFIG.min_keypoints == 3
    tracker = PoseTracker(CONFIG, _few_keypoints_estimator(2))
    for _ in range(3):
        assert tracker.step(frame, (box, [0.9])).track_ids.tolist() == [0]
    assert tracker.unconfident_poses == 0
    assert tracker_module.tracked_min_keypoints(CONFIG, 2) == 2
    assert tracker_module.tracked_min_keypoints(CONFIG, 17) == 3
    with pytest.raises(ConfigError, match="2 or more keypoints .* this one has 1: predict "
                       "without --track"):
        PoseTracker(CONFIG, _few_keypoints_estimator(1)).step(frame, (box, [0.9]))


def test_a_second_thread_stepping_the_same_tracker_is_refused():
    # Two threads on one tracker: "deque mutated during iteration", and new
    # ids for the same two people. The second call is refused, the first
    # one's frame tracked as alone.
    person, frames, boxes = _one_person_video(2)
    oracle, inside, release = Oracle(), threading.Event(), threading.Event()

    def estimate(image, boxes, box_scores):
        inside.set()
        release.wait(30)
        return oracle(image, boxes, box_scores)
    tracker = PoseTracker(CONFIG, estimate)
    oracle.truth, oracle.truth_scores = [person.joints(0)], [person.scores(0)]
    results = []
    first = threading.Thread(target=lambda: results.append(tracker.step(frames[0], boxes[0])))
    first.start()
    assert inside.wait(30)
    with pytest.raises(RuntimeError, match=r"PoseTracker.step\(\) called while another call "
                       r"on this tracker runs .*give each thread its own tracker"):
        tracker.step(frames[1], boxes[1])
    release.set()
    first.join(30)
    assert list(results[0].track_ids) == [0]
    oracle.truth, oracle.truth_scores = [person.joints(1)], [person.scores(1)]
    assert list(tracker.step(frames[1], boxes[1]).track_ids) == [0]  # Free again.


def test_two_people_side_by_side_are_both_tracked():
    """Their boxes overlap by IoU > box_nms_iou: the box NMS dropped one of
    them (the user's --boxes too) in every frame, unsaid."""
    people = [Person(100, 70, 110, lambda t: (0.0, 0.0), seed=1),
              Person(100, 82, 110, lambda t: (0.0, 0.0), seed=2)]
    overlap = box_iou(true_box(people[0].joints(0))[None], true_box(people[1].joints(0))[None])
    assert overlap[0, 0] > CONFIG.box_nms_iou
    _, ids = run(people, 5, CONFIG)
    assert _ids_of(ids, 0) == [0] * 5 and _ids_of(ids, 1) == [1] * 5


def test_a_second_box_on_one_person_gives_one_pose_and_is_counted():
    person = Person(70, 60, 100, lambda t: (0.0, 0.0), seed=1)
    tracker = _tracker_of(person)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    box = true_box(person.joints(0))
    result = tracker.step(frame, (np.stack([box, box + [1, 0, 0, 0]]), [0.9, 0.8]))
    assert result.track_ids.tolist() == [0] and tracker.duplicate_poses == 1


def test_frames_before_the_first_pose_have_the_models_k():
    """Without sigmas, frames before the first pose (skipped, or nobody in
    them) had (0, 0, 2) keypoints, the later ones (P, 17, 2)."""
    oracle = Oracle()  # A 17-keypoint model.
    tracker = PoseTracker(CONFIG, oracle)
    frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for result in (tracker.skip(), tracker.step(frame, None), tracker.step(frame, ([], []))):
        assert result.keypoints.shape == (0, 17, 2)
        assert result.keypoint_scores.shape == (0, 17)
    assert [len(boxes) for boxes in oracle.calls] == [0]  # Asked once, with no box.
    sigmas = PoseTracker(CONFIG, oracle, sigmas=[0.05] * 4)  # K of the sigmas: not asked.
    assert sigmas.skip().keypoints.shape == (0, 4, 2) and len(oracle.calls) == 1


def test_an_estimator_that_gives_no_k_for_no_box_is_refused_with_the_fix():
    def no_people(image, boxes, box_scores):
        return types.SimpleNamespace(keypoints=np.zeros((0,)), keypoint_scores=np.zeros((0,)),
                                     scores=np.zeros((0,)))
    with pytest.raises(ValueError, match=r"keypoints of shape \(0,\) for 0 boxes; expected "
                                         r"\(0, K, 2\) .* or give PoseTracker sigmas="):
        PoseTracker(CONFIG, no_people).skip()
