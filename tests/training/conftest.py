"""Small data sets and configs for training tests."""

import os

import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.data import synthetic

# A tiny, fast variant of the tiny experiment.
FAST = ["model.image_size=64,64", "model.heatmap_size=16,16", "model.sigma=1.5",
        "model.blocks_per_stage=1,1,1,1", "model.deconv_filters=32,32,32", "train.batch_size_per_replica=8",
        "train.validate_every=0", "train.image_summary_every=0", "train.log_every=1",
        "data.synthetic_train_images=12", "data.synthetic_val_images=3", "data.seed=0"]


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("synthetic") / "data")
    synthetic.ensure_dataset(root, num_train=12, num_val=3)
    return root


@pytest.fixture()
def fast_config(synthetic_root):
    return apply_overrides(get_experiment("tiny"), FAST + [f"data.root={synthetic_root}"])


def fast_flags(root: str, model: bool = True) -> list[str]:
    """train.py flags for the same fast configuration; ``model`` False: without
    its model.* settings (a fine-tune's --init_checkpoint decides them, and an
    explicit --set model.* would override it)."""
    flags = ["--dataset", "synthetic", "--data_dir", root, "--noprogress"]
    for item in FAST:
        if model or not item.startswith("model."):
            flags += ["--set", item]
    return flags


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_ports(n: int) -> list:
    """``n`` TCP ports free on 127.0.0.1 a moment ago (for TF_CONFIG clusters)."""
    import socket
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports
