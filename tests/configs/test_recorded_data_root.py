"""A checkpoint's recorded data.root that does not exist on this machine (a
model copied from another) gives way to the data set's default folder,
data/<name>, as --dataset's help says and train.py --init_checkpoint reads
it: evaluate.py --dataset synthetic was refused "Permission denied:
/old/root/data" with no word of --data_dir, or (as root) generated the
whole synthetic set at the old path although ./data/synthetic existed."""

import dataclasses
import logging

import pytest

from keras_pose.configs import get_experiment
from keras_pose.configs.cli import build_config


def _trained(root: str, dataset: str = "synthetic"):
    config = get_experiment("tiny")
    return config.replace(data=dataclasses.replace(config.data, root=root, dataset=dataset))


@pytest.mark.parametrize("dataset", ["synthetic", None])
def test_a_recorded_root_gone_from_this_machine_is_the_default_folder(tmp_path, caplog, dataset):
    gone = str(tmp_path / "old" / "root" / "data")
    with caplog.at_level(logging.WARNING):
        config = build_config(dataset=dataset, start=_trained(gone))
    assert config.data.root == "data/synthetic"
    assert (f"data.root {gone}, the checkpoint's, does not exist on this machine: the synthetic "
            "data set is read from its default folder, data/synthetic (--data_dir names "
            "another)") in caplog.text


def test_a_custom_set_falls_back_to_its_own_name(tmp_path):
    config = build_config(dataset="lizards", start=_trained(str(tmp_path / "x" / "lizards"),
                                                            "custom"))
    assert config.data.root == "data/lizards" and config.data.dataset == "custom"


def test_a_recorded_root_that_exists_or_a_chosen_root_is_kept(tmp_path, caplog):
    there = str(tmp_path)
    assert build_config(dataset="synthetic", start=_trained(there)).data.root == there
    gone = str(tmp_path / "gone")
    with caplog.at_level(logging.WARNING):
        assert build_config(start=_trained(gone), data_dir="/d").data.root == "/d"
        chosen = build_config(start=_trained(gone), overrides=[f"data.root={gone}"])
    assert chosen.data.root == gone and "does not exist on this machine" not in caplog.text
