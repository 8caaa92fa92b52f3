"""The embedded synthetic data set."""

import filecmp
import json
import os

import numpy as np
import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.data import datasets, synthetic


def test_generation_is_deterministic_and_coco_format(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert synthetic.ensure_dataset(a, num_train=6, num_val=3, seed=5)
    assert synthetic.ensure_dataset(b, num_train=6, num_val=3, seed=5)
    assert not synthetic.ensure_dataset(a, num_train=6, num_val=3, seed=5)  # already there
    for rel in ("annotations/person_keypoints_train.json", "annotations/person_keypoints_val.json",
                "images/train/000000000001.jpg", "images/val/000000100002.jpg",
                "person_detection_results/synthetic_val_detections.json"):
        assert filecmp.cmp(os.path.join(a, rel), os.path.join(b, rel), shallow=False), rel
    data = json.load(open(os.path.join(a, "annotations", "person_keypoints_train.json")))
    assert len(data["images"]) == 6 and data["categories"][0]["keypoints"][0] == "nose"
    per_image = np.bincount([ann["image_id"] for ann in data["annotations"]])
    assert per_image.max() >= 2  # several people per image
    vis = np.array([ann["keypoints"][2::3] for ann in data["annotations"]])
    assert (vis == 2).any() and ((vis == 1).any() or (vis == 0).any())
    for ann in data["annotations"]:
        assert ann["num_keypoints"] == sum(v > 0 for v in ann["keypoints"][2::3])
        assert ann["area"] > 0 and ann["bbox"][2] > 0
    other = str(tmp_path / "c")
    synthetic.ensure_dataset(other, num_train=6, num_val=3, seed=6)
    assert not filecmp.cmp(os.path.join(a, "images/train/000000000001.jpg"),
                           os.path.join(other, "images/train/000000000001.jpg"), shallow=False)


def test_left_joints_are_on_the_image_right():
    rng = np.random.default_rng(0)
    for _ in range(50):
        joints = synthetic.make_pose(rng, 200.0, 150.0, 230.0)
        assert joints[5, 0] > joints[6, 0] and joints[11, 0] > joints[12, 0]


def test_synthetic_reads_through_the_coco_path(tmp_path):
    config = apply_overrides(get_experiment("tiny"), [
        f"data.root={tmp_path / 'syn'}", "data.synthetic_train_images=5",
        "data.synthetic_val_images=2"])
    config = datasets.resolve_dataset_config(config)
    train = datasets.load_records(config, "train")
    val = datasets.load_records(config, "test")
    assert len(train) > 5 and len(val) >= 2 and train.num_keypoints == 17
    # evaluate.py --nouse_gt_boxes: the set's own detections (it looked for COCO's).
    mode = datasets.resolve_box_mode(config, use_gt_boxes=False)
    assert mode.detection_file == os.path.join(
        config.data.root, "person_detection_results", "synthetic_val_detections.json")
    detected = datasets.load_records(config, "test", mode)
    assert len(detected) >= len(val)


def test_refuses_to_overwrite_other_data(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "important.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a synthetic data set"):
        synthetic.ensure_dataset(str(tmp_path / "mine"), num_train=2, num_val=1)
    # A file given as the folder: it was moved aside as '<file>.old-<host>-<pid>', the
    # set generated in its place, and the next generation deleted it.
    (tmp_path / "notes.txt").write_text("my notes")
    for _ in range(2):
        with pytest.raises(FileExistsError, match="notes.txt is a file, not a folder"):
            synthetic.ensure_dataset(str(tmp_path / "notes.txt"), num_train=2, num_val=1)
    assert (tmp_path / "notes.txt").read_text() == "my notes"
    assert sorted(os.listdir(tmp_path)) == ["mine", "notes.txt"]
    # A link to a folder that does not exist: was "Not a directory: PATH".
    os.symlink(tmp_path / "gone", tmp_path / "link")
    with pytest.raises(FileNotFoundError, match=f"link is a link to {tmp_path}/gone, which "
                                                "does not exist: create that folder"):
        synthetic.ensure_dataset(str(tmp_path / "link"), num_train=2, num_val=1)
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}/link is a link to {tmp_path}/"
                                                "gone, which does not exist"):  # A folder in it.
        synthetic.ensure_dataset(str(tmp_path / "link" / "sub"), num_train=2, num_val=1)
    assert os.readlink(tmp_path / "link") == str(tmp_path / "gone")
    assert sorted(os.listdir(tmp_path)) == ["link", "mine", "notes.txt"]


def test_a_generation_killed_midway_leaves_nothing_after_the_next_one(tmp_path):
    """kill -9 while the set is generated (train.py's first run, Ctrl-C
    does clean up) left data/synthetic.tmp-<host>-<pid>/ for good, the
    size of a partial data set; the next complete generation removes it."""
    import signal
    import subprocess
    import sys
    import time
    root = str(tmp_path / "synthetic")
    code = ("import sys; from keras_pose.data import synthetic; "
            "synthetic.ensure_dataset(sys.argv[1], num_train=100000, num_val=3)")
    proc = subprocess.Popen([sys.executable, "-c", code, root])
    deadline = time.time() + 120
    while time.time() < deadline and not any(
            os.path.isdir(os.path.join(tmp_path, n, "images", "train"))
            for n in os.listdir(tmp_path)):
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith("synthetic.tmp-")]
    assert len(leftovers) == 1, os.listdir(tmp_path)
    assert synthetic.ensure_dataset(root, num_train=4, num_val=2)
    # The set, and its readers' lock beside it (test_a_set_read_by_another_run...).
    assert sorted(os.listdir(tmp_path)) == [".synthetic.readers", "synthetic"]


def test_other_settings_are_not_generated_over_files_of_the_users(tmp_path):
    """A synthetic set asked for with other settings (evaluate.py --set
    data.test_set=testx) replaced the whole folder: the user's image-info
    file, detections and linked images were deleted."""
    root = str(tmp_path / "syn")
    assert synthetic.ensure_dataset(root, num_train=3, num_val=2)
    # Only generated files: other settings generate again, as before.
    assert synthetic.ensure_dataset(root, num_train=4, num_val=2)
    mine = os.path.join(root, "annotations", "image_info_testx.json")
    with open(mine, "w") as f:
        f.write("{}")
    os.symlink(os.path.join(root, "images", "val"), os.path.join(root, "images", "testx"))
    with pytest.raises(FileExistsError, match=r"syn is a synthetic data set of other settings "
                       r"\(val_split 'val' -> 'testx'\) that also holds files it did not "
                       r"generate \(annotations/image_info_testx.json, images/testx\)"):
        synthetic.ensure_dataset(root, num_train=4, num_val=2, val_split="testx")
    assert open(mine).read() == "{}" and os.path.islink(os.path.join(root, "images", "testx"))
    assert not synthetic.ensure_dataset(root, num_train=4, num_val=2)  # Its own: still there.


def test_its_train_split_is_evaluated_as_it_is(tmp_path):
    """evaluate.py --set data.test_set=train generated the set again, both
    splits of the validation images into train/: the training split was
    replaced, and the AP reported as train's was val's."""
    root = str(tmp_path / "syn")
    assert synthetic.ensure_dataset(root, num_train=4, num_val=2)
    train_file = os.path.join(root, "annotations", "person_keypoints_train.json")
    before = open(train_file).read()
    assert not synthetic.ensure_dataset(root, num_train=4, num_val=2, val_split="train")
    assert not synthetic.ensure_dataset(root, num_train=4, num_val=2, train_split="val",
                                        val_split="train")
    assert open(train_file).read() == before
    assert os.path.isfile(os.path.join(root, "annotations", "person_keypoints_val.json"))
    with pytest.raises(synthetic.SplitsError, match="are both 'train'"):  # Nothing to read yet.
        synthetic.ensure_dataset(str(tmp_path / "new"), num_train=4, num_val=2,
                                 val_split="train")
    assert not os.path.exists(tmp_path / "new")


def test_a_set_read_by_another_run_is_not_generated_again_under_it(tmp_path):
    """train.py read a set while another command (a second train.py, an
    evaluate.py) asked for it with other sizes: its images were replaced
    under it (half its training samples skipped, validations failed, exit
    code 0). Now refused while the reader runs; generated again after."""
    import subprocess
    import sys
    root = str(tmp_path / "syn")
    code = ("import sys, time; from keras_pose.data import synthetic; "
            "synthetic.ensure_dataset(sys.argv[1], num_train=3, num_val=2); "
            "print('reading', flush=True); time.sleep(60)")
    reader = subprocess.Popen([sys.executable, "-c", code, root], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert reader.stdout.readline().strip() == "reading"
        with pytest.raises(FileExistsError, match=r"syn is read by another run .*\(num_train "
                           r"3 -> 4\) would replace its images under it; give another "
                           r"--data_dir, or run again once it ends"):
            synthetic.ensure_dataset(root, num_train=4, num_val=2)
        assert not synthetic.ensure_dataset(root, num_train=3, num_val=2)  # Read alike: fine.
    finally:
        reader.kill()
        reader.wait()
    assert synthetic.ensure_dataset(root, num_train=4, num_val=2)

