"""A Predictor in a forked child, pickled, copied (keras_pose.fork_safety).

TensorFlow hangs for ever in a forked child of a process that had run it
(gunicorn --preload, celery prefork, multiprocessing's 'fork'): such a child
is refused with the way out. Each fork runs under a timeout, so that the old
code (the hang) fails the test instead of stalling the run.
"""

import copy
import os
import pickle
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from keras_pose import Predictor

# Far above the refusal's milliseconds and a fresh child's load and predict.
CHILD_TIMEOUT_S = 60
IMAGE = np.zeros((120, 100, 3), np.uint8)
BOXES = [[10, 20, 50, 80]]


@pytest.fixture(scope="module")
def predictor(tiny_exported):
    predictor = Predictor.from_checkpoint(tiny_exported[2])
    predictor.predict(IMAGE, BOXES)  # The parent has run TensorFlow.
    return predictor


def _in_forked_child(work) -> str:
    """Runs ``work()`` in an os.fork() child; its outcome as text ("ok", or
    the exception's type and message), or fails after CHILD_TIMEOUT_S."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # The child: never returns into pytest.
        try:
            os.close(read)
            try:
                work()
                text = "ok"
            except BaseException as e:  # noqa: BLE001 - reported to the parent.
                text = f"{type(e).__name__}: {e}"
            os.write(write, text.encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], CHILD_TIMEOUT_S)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"the forked child hung for {CHILD_TIMEOUT_S} s")
        chunks = []
        while chunk := os.read(read, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)


def _assert_refused(text: str, call: str) -> None:
    assert text.startswith("ForkedTensorFlowError: "), text
    assert call in text
    assert "cannot run it (it would hang)" in text
    assert "'spawn' or 'forkserver'" in text and "without --preload" in text


def test_predict_in_a_forked_child_is_refused_not_hung(predictor):
    start = time.monotonic()
    text = _in_forked_child(lambda: predictor.predict(IMAGE, BOXES))
    _assert_refused(text, "Predictor.predict")
    assert time.monotonic() - start < 20  # At once, not after a hang.
    # The parent goes on as before.
    assert predictor.predict(IMAGE, BOXES).keypoints.shape == (1, 17, 2)


def test_loading_in_a_forked_child_is_refused_not_hung(predictor, tiny_exported):
    text = _in_forked_child(lambda: Predictor.from_checkpoint(tiny_exported[2]))
    _assert_refused(text, "Predictor.from_checkpoint")
    from keras_pose.inference import load_pose_model
    _assert_refused(_in_forked_child(lambda: load_pose_model(tiny_exported[3])),
                    "load_pose_model")


def test_detectors_in_a_forked_child_are_refused(monkeypatch):
    # As in a forked child of a process that had run TensorFlow.
    from keras_pose import fork_safety
    from keras_pose.detection.keras_hub_detector import detect_in_batches, load_dfine_detector
    from keras_pose.detection.saved_model_detector import SavedModelDetector
    monkeypatch.setattr(fork_safety, "_parent_ran_tensorflow", True)
    with pytest.raises(fork_safety.ForkedTensorFlowError, match="would hang"):
        detect_in_batches([IMAGE], 1, None, None)
    with pytest.raises(fork_safety.ForkedTensorFlowError, match="would hang"):
        load_dfine_detector("dfine_small_obj2coco")
    detector = object.__new__(SavedModelDetector)  # The check comes first.
    with pytest.raises(fork_safety.ForkedTensorFlowError, match="would hang"):
        detector.detect(IMAGE)


def test_a_parent_that_only_imported_can_fork_a_working_child(tiny_exported):
    # Importing TensorFlow does not start its runtime: such a fork is fine,
    # and tensorflow_started() tells the two apart (TF's private flag).
    script = textwrap.dedent(f"""
        import os, select, sys
        import numpy as np
        from keras_pose import Predictor
        from keras_pose.fork_safety import tensorflow_started
        assert not tensorflow_started(), "True after a mere import"
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            p = Predictor.from_checkpoint({tiny_exported[2]!r})
            shape = p.predict(np.zeros((120, 100, 3), np.uint8), {BOXES!r}).keypoints.shape
            os.write(write, str(shape).encode())
            os._exit(0)
        if not select.select([read], [], [], {CHILD_TIMEOUT_S})[0]:
            os.kill(pid, 9)
            sys.exit("the child hung")
        print("child", os.read(read, 100).decode())
        Predictor.from_checkpoint({tiny_exported[2]!r})
        print("started", tensorflow_started())
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=3 * CHILD_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[-3:] == ["child (1, 17, 2)", "started True", ""]


def test_a_child_forked_after_tensorflow_ran_but_before_keras_pose_was_imported_is_refused(
        tiny_exported):
    """The fork hook comes with keras_pose's import: a parent that ran TensorFlow
    first and forked before importing keras_pose left its child hung in silence."""
    script = textwrap.dedent(f"""
        import os, select, sys
        import numpy as np
        import tensorflow as tf
        tf.reduce_sum(tf.ones(3))  # TensorFlow's runtime started, keras_pose not imported.
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                from keras_pose import Predictor
                Predictor.from_checkpoint({tiny_exported[2]!r}).predict(
                    np.zeros((120, 100, 3), np.uint8), {BOXES!r})
                text = "ok"
            except Exception as e:
                text = type(e).__name__
            os.write(write, text.encode())
            os._exit(0)
        if not select.select([read], [], [], {CHILD_TIMEOUT_S})[0]:
            os.kill(pid, 9)
            sys.exit("the child hung")
        print("child", os.read(read, 100).decode())
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=3 * CHILD_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[-2:] == ["child ForkedTensorFlowError", ""]


def test_pickling_a_predictor_says_what_to_do(predictor):
    with pytest.raises(TypeError, match=r"a Predictor holds a loaded network and is not "
                       r"pickled: pass the checkpoint path \(and overrides\) and call "
                       r"Predictor.from_checkpoint in the child"):
        pickle.dumps(predictor)


def test_copies_still_predict(tiny_exported):
    fresh = Predictor.from_checkpoint(tiny_exported[2])
    before = copy.deepcopy(fresh)  # Worked before pickling was refused.
    expected = fresh.predict(IMAGE, BOXES).keypoints
    # After a predict too: its traced runs (FuncGraphs) were a TypeError.
    for copied in (before, copy.deepcopy(fresh), copy.copy(fresh)):
        assert copied is not fresh
        np.testing.assert_array_equal(copied.predict(IMAGE, BOXES).keypoints, expected)
