"""Distribution: replicas do not change the numbers; workers agree.

Both run in subprocesses: logical devices and collective ops must be set up
before TensorFlow initialises, which pytest's process has already done.
"""

import json
import os
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest

from tests.training.conftest import REPO, fast_flags

REPLICA_SCRIPT = r"""
import json, os
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_pose.models import build_pose_resnet
from keras_pose.training.trainer import make_train_step

rng = np.random.default_rng(0)
batch = {"image": rng.normal(size=(4, 64, 64, 3)).astype("float32"),
         "heatmaps": rng.uniform(size=(4, 16, 16, 5)).astype("float32"),
         "target_weight": (rng.uniform(size=(4, 5)) > 0.2).astype("float32")}
out = {}
for name, strategy in [("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
                       ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]:
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_pose_resnet(18, 5, input_shape=(64, 64, 3), deconv_filters=(16, 16, 16),
                                  blocks_per_stage=(1, 1, 1, 1), sync_bn=name == "two")
        optimizer = keras.optimizers.Adam(1e-3, epsilon=1e-8)
        optimizer.build(model.trainable_variables)
    step = make_train_step(model, optimizer, strategy, global_batch=4)
    data = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(batch).batch(4))
    result = step(next(iter(data)))
    out[name] = {
        "replicas": strategy.num_replicas_in_sync,
        "loss": float(result["loss"]),
        "stem_bn_mean": model.get_layer("stem_bn").moving_mean.numpy().tolist(),
        "head_bn_var": model.get_layer("head_deconv1_bn").moving_variance.numpy().tolist(),
        "kernel": model.get_layer("stage5_block1_conv2").kernel.numpy().ravel()[:50].tolist(),
    }
print("RESULT " + json.dumps(out))
"""


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_two_replicas_match_one_device():
    proc = subprocess.run([sys.executable, "-c", REPLICA_SCRIPT], capture_output=True, text=True,
                          cwd=REPO, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    one, two = out["one"], out["two"]
    assert one["replicas"] == 1 and two["replicas"] == 2
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    # Synchronized BatchNorm: the same statistics as one device over the global batch.
    np.testing.assert_allclose(two["stem_bn_mean"], one["stem_bn_mean"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(two["head_bn_var"], one["head_bn_var"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(two["kernel"], one["kernel"], rtol=1e-4, atol=1e-6)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _h5_arrays(path):
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return arrays


def test_two_workers_finish_with_identical_weights(tmp_path, synthetic_root):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = str(tmp_path / "run")
    procs = []
    for index in range(2):
        env = _env()
        env["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                       "task": {"type": "worker", "index": index}})
        cmd = [sys.executable, "train.py", *fast_flags(synthetic_root), "--model_dir", model_dir,
               "--set", "train.epochs=1", "--set", "train.steps_per_epoch=2",
               "--set", "train.batch_size_per_replica=4", "--noexport"]
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=300)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("multi-worker training did not finish in 300 s")
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
    assert "with 2 replica(s)" in outputs[0], outputs[0][-3000:]
    chief = _h5_arrays(os.path.join(model_dir, "checkpoints", "epoch_0001", "model.weights.h5"))
    worker = _h5_arrays(os.path.join(model_dir, "worker_1", "checkpoints", "epoch_0001",
                                     "model.weights.h5"))
    assert chief.keys() == worker.keys() and len(chief) > 50
    for name in chief:
        np.testing.assert_array_equal(chief[name], worker[name], err_msg=name)
    state = json.load(open(os.path.join(model_dir, "checkpoints", "epoch_0001", "state.json")))
    assert state["step"] == 2 and state["global_batch"] == 8
