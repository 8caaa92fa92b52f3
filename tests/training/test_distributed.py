"""Distribution: replicas and workers compute what one device computes.

Both run in subprocesses: logical devices and collective ops must be set up
before TensorFlow initialises, which pytest's process has already done.
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from tests.training.conftest import FAST, REPO, fast_flags, free_ports

REPLICA_SCRIPT = r"""
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.models import build_model_from_config
from keras_pose.training.model import PoseTrainingModel
from keras_pose.training.trainer import make_optimizer

fused, apply_adam = {}, tf.raw_ops.ResourceApplyAdam  # Counts FusedAdam's traced updates.
tf.raw_ops.ResourceApplyAdam = lambda **k: fused.update(calls=fused.get("calls", 0) + 1) or apply_adam(**k)

config = apply_overrides(get_experiment("tiny"), ["model.image_size=64,64",
    "model.heatmap_size=16,16", "model.blocks_per_stage=1,1,1,1",
    "model.deconv_filters=16,16,16", "model.num_keypoints=5"])
rng = np.random.default_rng(0)
batch = {"image": rng.integers(0, 255, (4, 64, 64, 3)).astype("uint8"),
         "heatmaps": rng.uniform(size=(4, 16, 16, 5)).astype("float32"),
         "target_weight": (rng.uniform(size=(4, 5)) > 0.2).astype("float32")}
out = {}
for name, strategy in [("one", tf.distribute.OneDeviceStrategy("/cpu:0")),
                       ("two", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))]:
    keras.utils.set_random_seed(0)
    with strategy.scope():
        network = build_model_from_config(config.model, sync_bn=name == "two")
        model = PoseTrainingModel(network, config, global_batch=4)
        model.compile(optimizer=make_optimizer(config))
    history = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    out[name] = {
        "replicas": strategy.num_replicas_in_sync,
        "loss": float(history.history["loss"][0]),
        "stem_bn_mean": network.get_layer("stem_bn").moving_mean.numpy().tolist(),
        "head_bn_var": network.get_layer("head_deconv1_bn").moving_variance.numpy().tolist(),
        "kernel": network.get_layer("stage5_block1_conv2").kernel.numpy().ravel()[:50].tolist(),
        # Each replica's copy of every weight and Adam slot, against the first.
        "copies_differ": max(float(np.abs(c.numpy() - copies[0].numpy()).max())
                             for v in network.weights + model.optimizer.variables
                             for copies in [getattr(v.value, "values", [v.value])]
                             for c in copies),
        "fused": fused.pop("calls", 0),
    }
    # The logged accuracy of a batch split over the replicas: the whole batch's.
    from keras_pose.training.accuracy import HeatmapAccuracy
    target = np.zeros((8, 16, 12, 4), np.float32)
    peaks = np.random.default_rng(1).integers(0, [16, 12], (8, 4, 2))
    for i, j in np.ndindex(8, 4):
        target[i, peaks[i, j, 0], peaks[i, j, 1], j] = 1.0
    pred = target + np.random.default_rng(2).normal(0, 0.6, target.shape).astype("float32")
    with strategy.scope():
        metric = HeatmapAccuracy(4)
    step = tf.function(lambda t, p: strategy.run(metric.update_state, args=(t, p)))
    for t, p in strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices((target, pred)).batch(8)):
        step(t, p)
    out[name]["acc"] = float(metric.result())
print("RESULT " + json.dumps(out))
"""


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.mark.slow  # several replicas and workers
def test_two_replicas_match_one_device():
    proc = subprocess.run([sys.executable, "-c", REPLICA_SCRIPT], capture_output=True, text=True,
                          cwd=REPO, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    one, two = out["one"], out["two"]
    assert one["replicas"] == 1 and two["replicas"] == 2
    # FusedAdam on each replica's copy: two updates traced per weight.
    assert two["fused"] == 2 * one["fused"] > 0 and two["copies_differ"] == 0
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    assert 0.05 < one["acc"] < 0.95 and two["acc"] == pytest.approx(one["acc"], rel=1e-6)
    # Synchronized BatchNorm: the same statistics as one device over the global batch.
    np.testing.assert_allclose(two["stem_bn_mean"], one["stem_bn_mean"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(two["head_bn_var"], one["head_bn_var"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(two["kernel"], one["kernel"], rtol=1e-4, atol=1e-6)


SYNC_BN_SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from absl import logging
from keras_pose.configs import apply_overrides, get_experiment, load_config
from keras_pose.training import trainer

logging.set_verbosity(logging.INFO)
logging.use_absl_handler()  # keras-pose's lines show on a handler the program sets up, as a tool's.

built = []
real = trainer.build_model_from_config
trainer.build_model_from_config = lambda *a, **k: built.append(real(*a, **k)) or built[-1]
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
out = {}
for name in ("auto", "false"):
    # auto: built only (the epoch count is reached); false: it also trains.
    setting = ["model.sync_bn=false"] if name == "false" else ["train.epochs=0"]
    config = apply_overrides(get_experiment("tiny"), json.loads(sys.argv[2]) + setting)
    trainer.train(config, sys.argv[1] + "/" + name, strategy=strategy, export=False,
                  progress=False)
    out[name] = {"synchronized": sorted({l.synchronized for l in built[-1].layers
                                         if isinstance(l, keras.layers.BatchNormalization)}),
                 "saved": load_config(sys.argv[1] + "/" + name + "/config.json").model.sync_bn}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow  # several replicas and workers
def test_sync_bn_false_is_honoured_with_two_replicas(tmp_path, synthetic_root):
    overrides = FAST + [f"data.root={synthetic_root}", "train.epochs=1",
                        "train.steps_per_epoch=1", "train.batch_size_per_replica=4"]
    proc = subprocess.run([sys.executable, "-c", SYNC_BN_SCRIPT, str(tmp_path),
                           json.dumps(overrides)], capture_output=True, text=True, cwd=REPO,
                          env=_env(), timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    # false: each replica's own statistics; the default: synchronized over
    # several replicas, and config.json keeps the setting (auto), not the choice.
    assert out["false"] == {"synchronized": [False], "saved": False}
    assert out["auto"] == {"synchronized": [True], "saved": None}
    assert "BatchNorm: synchronized across the 2 replicas (model.sync_bn=auto)" in proc.stderr
    assert "BatchNorm: NOT synchronized" in proc.stderr and "(model.sync_bn=false)" in proc.stderr


def _start_workers(cluster, model_dir, synthetic_root, extra, own=((), ()), export=False,
                   roots=None):
    """Two train.py workers; ``own[i]``: --set items of worker i alone;
    ``roots[i]``: worker i's --data_dir (default: ``synthetic_root``)."""
    procs = []
    for index in range(2):
        env = _env()
        env["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                       "task": {"type": "worker", "index": index}})
        root = roots[index] if roots else synthetic_root
        cmd = [sys.executable, "train.py", *fast_flags(root), "--model_dir", model_dir,
               "--export" if export else "--noexport"] + [
                   a for item in [*extra, *own[index]] for a in ("--set", item)]
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    return procs



def _h5_arrays(path):
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return arrays


SINGLE_SCRIPT = r"""
import sys
import tensorflow as tf
import keras
from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.codec import build_codec
from keras_pose.data import datasets, pipeline, samples
from keras_pose.models import build_model_from_config
from keras_pose.training.model import PoseTrainingModel
from keras_pose.training.trainer import make_optimizer

config = datasets.resolve_dataset_config(apply_overrides(get_experiment("tiny"),
                                                         sys.argv[2:]))
records = datasets.load_records(config, "train")
aug = samples.Augmentation.from_config(config)
codec = build_codec(config.model)
# The two workers' input pipelines, side by side: the global batches they made.
shards = [pipeline.build_train_dataset(
    records, aug, codec, batch_size=4, steps_per_epoch=2, seed=config.data.seed,
    input_context=tf.distribute.InputContext(2, i, 2)) for i in range(2)]
both = tf.data.Dataset.zip(tuple(shards)).map(
    lambda a, b: {k: tf.concat([a[k], b[k]], 0) for k in a}).take(2)
keras.utils.set_random_seed(config.train.seed)
network = build_model_from_config(config.model, sync_bn=False)
model = PoseTrainingModel(network, config, global_batch=8)
model.compile(optimizer=make_optimizer(config))
model.fit(both, epochs=1, verbose=0, shuffle=False)
network.save_weights(sys.argv[1])
"""


@pytest.mark.slow  # several replicas and workers
def test_two_workers_train_as_one_device_on_the_same_global_batches(tmp_path, synthetic_root):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = str(tmp_path / "run")
    extra = ["train.epochs=1", "train.steps_per_epoch=2", "train.batch_size_per_replica=4"]
    procs = _start_workers(cluster, model_dir, synthetic_root, extra)
    outputs = []
    for proc in procs:
        try:
            outputs.append(proc.communicate(timeout=400)[0])
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("multi-worker training did not finish in 400 s")
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
    assert "2 replica(s), global batch 8" in outputs[0], outputs[0][-3000:]
    single = str(tmp_path / "single.weights.h5")
    overrides = FAST + [f"data.root={synthetic_root}"] + extra
    proc = subprocess.run([sys.executable, "-c", SINGLE_SCRIPT, single, *overrides], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    chief = _h5_arrays(os.path.join(model_dir, "checkpoints", "epoch_0001", "model.weights.h5"))
    expected = _h5_arrays(single)
    assert chief.keys() == expected.keys() and len(chief) > 30
    # Synchronized BatchNorm over 2 x 4 = BatchNorm over 8: the moving
    # statistics (which the data and the BN sync decide, and, from the
    # second step, the weights) agree to 1e-4 (oneDNN's float sums move
    # them by up to 2.5e-5 through the weights' Adam steps below; BatchNorm
    # per worker, over 4 people, moves them by up to 8e-2).
    # Weights agree up to float sums, which Adam turns into whole steps where
    # a gradient is ~0 (m / sqrt(v) ~ +-1): nearly every weight agrees to a
    # tenth of a step, none by more than two steps (lr 1e-3). Other data or
    # per-worker statistics fail both.
    close = total = 0
    for name in chief:
        a, b = chief[name], expected[name]
        if name.endswith(("vars/2", "vars/3")) and "batch_normalization" in name:
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4, err_msg=name)
        assert np.abs(a - b).max() <= 2.5e-3, name
        close += int(np.sum(np.abs(a - b) <= 1e-4 + 1e-3 * np.abs(b)))
        total += a.size
    assert close / total > 0.999, close / total
    state = json.load(open(os.path.join(model_dir, "checkpoints", "epoch_0001", "state.json")))
    assert state["step"] == 2 and state["global_batch"] == 8


REPLICA_RESUME_SCRIPT = r"""
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.training import trainer

root, overrides = sys.argv[1], sys.argv[2:]
two = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
one = tf.distribute.OneDeviceStrategy("/cpu:0")
config = apply_overrides(get_experiment("tiny"), overrides)
for name, strategy, epochs in [("whole", two, [2]), ("parts", two, [1, 2]), ("one", one, [2])]:
    batch = 4 if strategy is two else 8
    for n in epochs:
        trainer.train(apply_overrides(config, [f"train.epochs={n}",
                                               f"train.batch_size_per_replica={batch}"]),
                      root + "/" + name, strategy=strategy, export=False, progress=False)
"""


def _assert_same_training(a, b):
    """The tolerance of one device against synchronized replicas (see the
    two-worker test): BatchNorm statistics to 1e-4, weights within Adam's
    float-sum steps, nearly all to a tenth of a step."""
    assert a.keys() == b.keys() and len(a) > 30
    close = total = 0
    for name in a:
        if name.endswith(("vars/2", "vars/3")) and "batch_normalization" in name:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-3, atol=1e-4, err_msg=name)
        assert np.abs(a[name] - b[name]).max() <= 2.5e-3, name
        close += int(np.sum(np.abs(a[name] - b[name]) <= 1e-4 + 1e-3 * np.abs(b[name])))
        total += a[name].size
    assert close / total > 0.999, close / total


@pytest.mark.slow  # several replicas
def test_replicas_of_one_machine_resume_exactly_and_see_one_device_batches(
        tmp_path, synthetic_root):
    """MirroredStrategy over one machine's devices (the multi-GPU path): its
    one input pipeline feeds the replicas in turn, so an epoch took two
    epochs' samples and a resumed run other samples than the uninterrupted
    one (every weight differed). Now a resume is exact and the replicas'
    global batches are one device's."""
    overrides = FAST + [f"data.root={synthetic_root}", "train.steps_per_epoch=2"]
    proc = subprocess.run([sys.executable, "-c", REPLICA_RESUME_SCRIPT, str(tmp_path),
                           *overrides], capture_output=True, text=True, cwd=REPO, env=_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    def weights(name, epoch):
        return _h5_arrays(os.path.join(tmp_path, name, "checkpoints", f"epoch_{epoch:04d}",
                                       "model.weights.h5"))

    whole, parts = weights("whole", 2), weights("parts", 2)
    for name in whole:
        np.testing.assert_array_equal(whole[name], parts[name], err_msg=name)
    _assert_same_training(weights("whole", 1), weights("one", 1))
    # Epoch 2, from the next pass as one device's: Adam's float-sum steps
    # have grown to about 1e-3 over 4 steps; other samples (the old
    # pipeline) differ by about 0.2, already in epoch 1.
    one = weights("one", 2)
    assert max(np.abs(whole[name] - one[name]).max() for name in whole) < 1e-2


def _workers_past_a_checkpoint(tmp_path, synthetic_root, epoch=1):
    """Two workers of a long run, once the chief's checkpoint of ``epoch`` is
    written: (cluster, model_dir, the --set items, processes)."""
    import time
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    model_dir = str(tmp_path / "run")
    extra = ["train.epochs=60", "train.steps_per_epoch=2", "train.batch_size_per_replica=4"]
    procs = _start_workers(cluster, model_dir, synthetic_root, extra)
    first = os.path.join(model_dir, "checkpoints", f"epoch_{epoch:04d}")
    deadline = time.monotonic() + 300
    while not os.path.isdir(first) and time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            break
        time.sleep(0.2)
    if not os.path.isdir(first):
        for proc in procs:
            proc.kill()
        pytest.fail("no first checkpoint: " + procs[0].communicate()[0][-3000:])
    return cluster, model_dir, extra, procs


@pytest.mark.slow  # several workers, a heartbeat timeout
def test_a_worker_killed_mid_training_stops_the_others_with_a_way_to_resume(
        tmp_path, synthetic_root):
    """kill -9 of one worker: the other must neither hang in its collectives
    nor end in TF's traceback; both started again resume from the same epoch
    (the killed one may have saved one fewer: made certain here) and finish."""
    import shutil
    import signal
    cluster, model_dir, extra, procs = _workers_past_a_checkpoint(tmp_path, synthetic_root, 3)
    try:
        procs[1].send_signal(signal.SIGKILL)
        output = procs[0].communicate(timeout=240)[0]  # A hang fails here.
    finally:
        for proc in procs:
            proc.kill()
            proc.communicate()
    assert procs[0].returncode == 1, output[-3000:]
    assert "train.py: error: lost worker 1 of the cluster" in output, output[-3000:]
    assert "the last complete checkpoint is " + os.path.join(model_dir, "checkpoints",
                                                             "epoch_00") in output
    assert "start every worker again with the same command to resume" in output
    assert "Traceback" not in output
    private = os.path.join(model_dir, "worker_1", "checkpoints")
    behind = sorted(os.listdir(private))
    shutil.rmtree(os.path.join(private, behind[-1]))  # Killed before its last save.
    procs = _start_workers(cluster, model_dir, synthetic_root, extra)
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
    agreed = int(behind[-2][len("epoch_"):])
    assert f"Resuming from epoch {agreed}, the newest every worker has" in outputs[0]
    assert "Resuming from " + os.path.join(model_dir, "checkpoints", behind[-2]) in outputs[0]
    assert os.path.isdir(os.path.join(model_dir, "checkpoints", "epoch_0060"))


@pytest.mark.slow  # several workers
def test_sigterm_stops_a_worker_though_tf_traps_it(tmp_path, synthetic_root):
    """TF's coordination service traps SIGTERM (for preemption notices): a
    worker went on training after ``kill <pid>``. Now it stops as on
    Ctrl-C, and the other worker says it lost it."""
    _, _, _, procs = _workers_past_a_checkpoint(tmp_path, synthetic_root)
    try:
        procs[1].terminate()  # SIGTERM
        outputs = [proc.communicate(timeout=240)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    # A failure shows where the stop went (once, in a loaded CI run, nowhere).
    clues = "\n".join(line for line in outputs[1].splitlines()
                      if any(word in line for word in ("SIGTERM", "Terminated", "ignored",
                                                       "Traceback", "Epoch 2:")))
    assert procs[1].returncode == 143, clues + "\n...\n" + outputs[1][-1500:]
    assert "train.py: stopped: interrupted (SIGTERM)" in outputs[1]
    assert procs[0].returncode == 1 and "lost worker 1 of the cluster" in outputs[0]
    assert not any("Traceback" in output for output in outputs)


@pytest.mark.slow  # two workers
def test_workers_started_with_different_settings_stop_before_training(tmp_path,
                                                                     synthetic_root):
    """Another learning rate on one worker trained two different models
    under one name in silence (another step count: a collective's
    traceback). Every worker stops, naming the setting; nothing is trained."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    model_dir = str(tmp_path / "run")
    extra = ["train.epochs=1", "train.steps_per_epoch=2", "train.batch_size_per_replica=4"]
    procs = _start_workers(cluster, model_dir, synthetic_root, extra,
                           own=((), ("train.learning_rate=0.01", "data.root=" + synthetic_root)))
    outputs = [proc.communicate(timeout=400)[0] for proc in procs]
    for index, (proc, output) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 1, output[-3000:]
        last = output.strip().splitlines()[-1]
        assert last.startswith("train.py: error: the workers were started with different "
                               "settings: train.learning_rate (here "), last
        assert ("0.01)" if index else "0.001)") in last and "data.root" not in last
    assert not os.path.exists(os.path.join(model_dir, "checkpoints", "epoch_0001"))


def _one_process(root, model_dir, *settings):
    """A one-process train.py run of two steps an epoch (``settings``:
    more --set items), which must succeed."""
    sets = [a for item in ("train.steps_per_epoch=2", *settings) for a in ("--set", item)]
    run = subprocess.run([sys.executable, "train.py", *fast_flags(root), "--model_dir",
                          model_dir, "--noexport", *sets], cwd=REPO, env=_env(), timeout=400,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.slow  # one process, then two workers
def test_workers_starting_from_different_weights_stop_before_training(tmp_path,
                                                                      synthetic_root):
    """Each worker loads its own --init_checkpoint file (its path may
    differ between machines): two different files trained two models under
    one run, the logs alike (both losses the average). Every worker stops."""
    import shutil
    source = str(tmp_path / "source")
    _one_process(synthetic_root, source, "train.epochs=1", "train.validate_every=0")
    first = os.path.join(source, "checkpoints", "epoch_0001")
    other = shutil.copytree(first, str(tmp_path / "other"))
    with h5py.File(os.path.join(other, "model.weights.h5"), "r+") as f:
        kernels = []
        f.visititems(lambda name, obj: kernels.append(obj) if isinstance(obj, h5py.Dataset)
                     and obj.ndim == 4 else None)
        kernels[0][...] = kernels[0][()] + 0.5  # Another file of the same model.
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    model_dir = str(tmp_path / "run")
    extra = ["train.epochs=1", "train.steps_per_epoch=2", "train.batch_size_per_replica=4",
             "train.validate_every=0"]
    procs = _start_workers(cluster, model_dir, synthetic_root, extra,
                           own=((f"train.init_checkpoint={first}",),
                                (f"train.init_checkpoint={other}",)))
    for proc in procs:
        output = proc.communicate(timeout=400)[0]
        assert proc.returncode == 1 and "Traceback" not in output, output[-3000:]
        last = output.strip().splitlines()[-1]
        assert last.startswith("train.py: error: the workers start from different weights "
                               "(worker(s) [1] differ from worker 0)"), last
    assert not os.path.exists(os.path.join(model_dir, "checkpoints", "epoch_0001"))


@pytest.mark.slow  # two workers
def test_workers_end_together_after_the_chiefs_export(tmp_path):
    """Worker 1 left while the chief validated and exported: the chief
    logged "The tasks have crashed" after a run that went well."""
    from keras_pose.data import synthetic
    root = str(tmp_path / "data")  # A long validation; not the shared set's.
    synthetic.ensure_dataset(root, num_train=12, num_val=1500)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    extra = ["train.epochs=1", "train.steps_per_epoch=2", "train.batch_size_per_replica=4",
             "train.validate_every=1", "data.synthetic_val_images=1500"]
    procs = _start_workers(cluster, str(tmp_path / "run"), root, extra, export=True,
                           roots=(root, root))
    outputs = [proc.communicate(timeout=400)[0] for proc in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    assert os.path.isfile(tmp_path / "run" / "saved_model" / "saved_model.pb")
    for output in outputs:
        assert "stopped sending heartbeats" not in output and "have crashed" not in output


@pytest.mark.slow  # one process, then two workers three times
def test_a_refusal_on_one_worker_stops_every_worker_with_one_line(tmp_path, synthetic_root):
    """A run continued as one process, resumed by two workers: the chief's
    newer epochs were trained again over its checkpoints (a worker only
    one save behind is the designed case). A check only the chief makes
    (the export's folder): the other worker ended in a TF traceback. Now
    every worker stops with one line, the first naming what to copy where;
    done so, the workers resume from the newer epoch."""
    import shutil
    model_dir = str(tmp_path / "run")
    _one_process(synthetic_root, model_dir, "train.epochs=2", "train.batch_size_per_replica=8")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    extra = ["train.epochs=3", "train.steps_per_epoch=2", "train.batch_size_per_replica=4"]
    chief_epoch = os.path.join(model_dir, "checkpoints", "epoch_0002")
    private = os.path.join(model_dir, "worker_1", "checkpoints")
    procs = _start_workers(cluster, model_dir, synthetic_root, extra)
    for proc in procs:
        output = proc.communicate(timeout=400)[0]
        assert proc.returncode == 1 and "Traceback" not in output, output[-3000:]
        last = output.strip().splitlines()[-1]
        assert ("starting over from the initial weights would train epochs 1-2 again over "
                "worker 0's") in last
        assert f"copy {chief_epoch} into {private}{os.sep} (worker 1's machine)" in last, last
    shutil.copytree(chief_epoch, os.path.join(private, "epoch_0002"))  # As the message says.
    # Refusals on worker 1 alone: its data (before any collective), then its
    # copy of the checkpoint, damaged (the chief went on into training).
    weights = os.path.join(private, "epoch_0002", "model.weights.h5")
    intact = open(weights, "rb").read()
    no_images = str(tmp_path / "no_images")
    shutil.copytree(synthetic_root, no_images, ignore=shutil.ignore_patterns("*.jpg", "*.png"))
    for root, refusal in ((no_images, "every image is missing"),
                          (synthetic_root, "model.weights.h5 is damaged")):
        if root == synthetic_root:
            with open(weights, "r+b") as f:
                f.truncate(1000)
        procs = _start_workers(cluster, model_dir, synthetic_root, extra,
                               roots=(synthetic_root, root))
        outputs = [proc.communicate(timeout=400)[0] for proc in procs]
        assert [p.returncode for p in procs] == [1, 1], outputs[0][-2000:] + outputs[1][-2000:]
        assert not any("Traceback" in o for o in outputs)
        assert refusal in outputs[1].strip().splitlines()[-1]
        assert outputs[0].strip().splitlines()[-1].startswith(
            "train.py: error: worker 1 refused the run before training"), outputs[0][-2000:]
    with open(weights, "wb") as f:
        f.write(intact)
    os.makedirs(os.path.join(model_dir, "saved_model"))
    with open(os.path.join(model_dir, "saved_model", "mine.txt"), "w") as f:
        f.write("mine")
    procs = _start_workers(cluster, model_dir, synthetic_root, extra, export=True)
    outputs = [proc.communicate(timeout=400)[0] for proc in procs]
    assert all(p.returncode == 1 for p in procs) and not any("Traceback" in o for o in outputs)
    assert "saved_model holds mine.txt" in outputs[0].strip().splitlines()[-1]
    assert outputs[1].strip().splitlines()[-1] == (
        "train.py: error: worker 0 refused the run before training (its output says why); "
        "nothing was trained: fix that, then start every worker again with the same command")
    os.remove(os.path.join(model_dir, "saved_model", "mine.txt"))
    procs = _start_workers(cluster, model_dir, synthetic_root, extra)
    outputs = [proc.communicate(timeout=400)[0] for proc in procs]
    assert all(p.returncode == 0 for p in procs), outputs[0][-2000:] + outputs[1][-2000:]
    assert "Resuming from " + chief_epoch in outputs[0]
    assert sorted(os.listdir(os.path.join(model_dir, "checkpoints")))[-1] == "epoch_0003"
