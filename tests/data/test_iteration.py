"""keras_pose.data.iteration: the finished iterator is deleted off the
calling thread, however the loop ends."""

import threading

import pytest
import tensorflow as tf

from keras_pose.data import iteration


class _Iterator:
    """Records the thread that deletes it."""

    def __init__(self, items, deleted_by):
        self._items = iter(items)
        self._deleted_by = deleted_by

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._items)

    def __del__(self):
        self._deleted_by.append(threading.current_thread().name)


class _Dataset:
    def __init__(self, items):
        self.items = items
        self.deleted_by = []
        self.released = threading.Event()

    def __iter__(self):
        deleted_by = self.deleted_by
        released = self.released

        class Tracked(_Iterator):
            def __del__(self):
                super().__del__()
                released.set()

        return Tracked(self.items, deleted_by)


def _consume(dataset, stop_after=None, fail_after=None):
    seen = []
    for i, item in enumerate(iteration.iterate(dataset)):
        if fail_after is not None and i == fail_after:
            raise RuntimeError("boom")
        seen.append(item)
        if stop_after is not None and len(seen) == stop_after:
            break
    return seen


@pytest.mark.parametrize("how", ["exhausted", "break", "exception"])
def test_iterator_is_deleted_in_a_background_thread(how):
    dataset = _Dataset([1, 2, 3, 4])
    if how == "exhausted":
        assert _consume(dataset) == [1, 2, 3, 4]
    elif how == "break":
        assert _consume(dataset, stop_after=2) == [1, 2]
    else:
        with pytest.raises(RuntimeError, match="boom"):
            _consume(dataset, fail_after=1)
    assert dataset.released.wait(10)
    main = threading.current_thread().name
    assert dataset.deleted_by == ["tf.data iterator release"] != [main]


def test_iterates_a_tf_data_pipeline_completely():
    ds = tf.data.Dataset.range(10).map(lambda x: x * 2, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(3).prefetch(tf.data.AUTOTUNE)
    values = [int(v) for batch in iteration.iterate(ds) for v in batch.numpy()]
    assert values == list(range(0, 20, 2))
