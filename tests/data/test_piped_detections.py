"""evaluate.py --detections given a pipe (``<(cat dets.json)``, a FIFO)
reads it once into a file, as predict.py --boxes reads one: it said "does
not exist". A device is named by its kind (/dev/null), as is an annotation
file that is a FIFO (it said "no annotation file ... name its splits",
naming the split already used)."""

import hashlib
import os
import threading

import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.configs.cli import build_config
from keras_pose.data import coco, datasets, synthetic
from keras_pose.data.coco_files import AnnotationError
from keras_pose.special_files import saved_pipe

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")


def _writer(fifo: str, data: bytes) -> threading.Thread:
    """Writes ``data`` into ``fifo`` once a reader opens it."""
    def write():
        with open(fifo, "wb") as f:
            f.write(data)
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _release(fifo: str, thread: threading.Thread) -> None:
    """Lets a writer that nobody read go (the old code never opened it)."""
    if thread.is_alive():
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    thread.join(5)


def _synthetic(tmp_path):
    root = str(tmp_path / "data")
    synthetic.ensure_dataset(root, num_train=2, num_val=2)
    return apply_overrides(get_experiment("tiny"), [f"data.root={root}"]), root


def test_a_fifo_of_detections_is_read_once_into_a_file(tmp_path):
    config, root = _synthetic(tmp_path)
    with open(synthetic.detections_file(root), "rb") as f:
        data = f.read()
    fifo = str(tmp_path / "dets.fifo")
    os.mkfifo(fifo)
    writer = _writer(fifo, data)
    try:
        mode = datasets.resolve_box_mode(config, detection_file=fifo)
    finally:
        _release(fifo, writer)
    assert not mode.use_gt_boxes and mode.detection_file != fifo
    # Read again as often as the evaluation does (boxes, then digest): the same bytes.
    with open(mode.detection_file, "rb") as f:
        assert f.read() == data
    assert os.path.basename(mode.detection_file) == hashlib.sha256(data).hexdigest()[:16] + ".json"
    records = datasets.load_records(config, "test", mode)
    assert len(records) > 0


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_device_given_as_detections_is_named_by_its_kind(tmp_path):
    config, _ = _synthetic(tmp_path)
    with pytest.raises(AnnotationError, match=r"^detections file /dev/null \(--detections / "
                                              r"test.detection_file\) is a character device, "
                                              r"not a file: save what it gives into a file"):
        datasets.resolve_box_mode(config, detection_file="/dev/null")


def test_a_pipe_giving_more_than_the_bound_is_refused():
    """An endless writer (cat /dev/zero) stops at the bound, not a full disk."""
    read, write = os.pipe()
    with os.fdopen(write, "wb") as f:
        f.write(b"[" + b" " * 100)
    try:
        with pytest.raises(ValueError, match="^gives more than 0.0 GiB$"):
            saved_pipe(f"/dev/fd/{read}", 64)
    finally:
        os.close(read)


def test_an_annotation_file_that_is_a_fifo_is_named_by_its_kind(tmp_path):
    root = tmp_path / "mine"
    (root / "annotations").mkdir(parents=True)
    fifo = root / "annotations" / "person_keypoints_train.json"
    os.mkfifo(fifo)
    config = build_config(dataset="mine", data_dir=str(root),
                          overrides=["data.train_set=train", "data.test_set=val"])
    with pytest.raises(datasets.DatasetError, match=f"^annotation file {fifo} is a named pipe "
                                                    r"\(FIFO\), not a file: save what it gives"):
        datasets.resolve_dataset_config(config)
    assert datasets.other_splits(str(root)) == (
        f"; {fifo} is a named pipe (FIFO), not a file: save what it gives into a file first")
    # A labelled split named "test" as a FIFO is read, and named, as its keypoints file (was
    # taken for an image-info split: "image_info_test.json does not exist").
    os.mkfifo(root / "annotations" / "person_keypoints_test.json")
    assert coco.annotation_path(str(root), "test") == str(
        root / "annotations" / "person_keypoints_test.json")


def test_evaluating_on_a_fifo_annotation_file_names_its_kind(tmp_path):
    """It said "... does not exist" before naming the FIFO."""
    from keras_pose.evaluation.runner import EvaluationError, check_data_on_disk
    config, root = _synthetic(tmp_path)
    val = datasets.annotation_file(config, "test")
    os.remove(val)
    os.mkfifo(val)
    with pytest.raises(EvaluationError, match=f"^{val} is a named pipe \\(FIFO\\), not a "
                                              "regular file: the synthetic val files"):
        check_data_on_disk(config, "tiny")
