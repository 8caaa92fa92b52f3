"""A run's precision and devices: the final evaluation in float32 whatever
--export says, --jit_compile refused on several CPU replicas, clashing
precision flags refused, and a resume on other replicas told the batch that
keeps the checkpoint's schedule."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from keras_pose.configs import apply_overrides, load_config
from keras_pose.training import TrainingError, train
from tests.training.conftest import REPO, fast_flags

# train.py's work() on two logical CPU replicas (MirroredStrategy), once per
# argument list given as JSON: logical devices must be set up before
# TensorFlow initialises, which pytest's process has already done.
TWO_REPLICAS = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import importlib.util
from keras_pose import cli
from keras_pose.training import trainer
trainer.select_strategy = lambda: tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
spec = importlib.util.spec_from_file_location("train_script", "train.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)
for args in json.loads(sys.argv[1]):
    script.FLAGS.unparse_flags()
    script.FLAGS(["train.py", *args])
    print("CODE", cli.run("train.py", script.work), flush=True)
"""


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_the_final_evaluation_without_export_runs_in_float32(tmp_path, fast_config):
    """--precision mixed_bfloat16 --final_eval --noexport: the final
    evaluation ran best/ in bf16 (the export alone set float32) and
    recorded it as fp32; it computes what evaluate.py computes on best/."""
    from keras_pose.evaluation.runner import run_evaluation
    model_dir = str(tmp_path / "run")
    config = apply_overrides(fast_config, ["train.epochs=1", "train.validate_every=1",
                                           "train.precision=mixed_bfloat16",
                                           "train.final_evaluation=true"])
    train(config, model_dir, progress=False, export=False)
    assert tf.keras.config.dtype_policy().name == "float32"  # put back
    final = os.path.join(model_dir, "eval", "final")
    assert json.load(open(os.path.join(final, "metrics.json")))["precision"] == "fp32"
    fp32 = str(tmp_path / "fp32")  # evaluate.py's, under the default float32 policy
    run_evaluation(checkpoint=model_dir, progress=False, output_dir=fp32,
                   settings=load_config(os.path.join(model_dir, "config.json")))
    name = os.listdir(os.path.join(final, "results"))[0]
    ran, expected = (json.load(open(os.path.join(d, "results", name))) for d in (final, fp32))
    assert [p["score"] for p in ran] == [p["score"] for p in expected]
    assert [p["keypoints"] for p in ran] == [p["keypoints"] for p in expected]


def test_export_at_end_puts_the_training_policy_back(tmp_path, fast_config):
    """The export's float32 was left for the rest of the process."""
    from keras_pose.checkpoint import load_model
    from keras_pose.training.finish import export_at_end
    model_dir = str(tmp_path / "run")
    train(apply_overrides(fast_config, ["train.epochs=1"]), model_dir, progress=False,
          export=False)
    network, saved = load_model(os.path.join(model_dir, "checkpoints", "epoch_0001"))
    tf.keras.config.set_dtype_policy("mixed_bfloat16")  # as train() has it
    try:
        export_at_end(network, saved, model_dir, model_dir)
        assert tf.keras.config.dtype_policy().name == "mixed_bfloat16"
    finally:
        tf.keras.config.set_dtype_policy("float32")
    assert os.path.isfile(os.path.join(model_dir, "saved_model", "saved_model.pb"))


def test_jit_compile_on_several_cpu_replicas_is_refused_and_a_resume_names_replicas(
        tmp_path, synthetic_root, fast_config):
    """--jit_compile on two CPU replicas aborted in XLA ("Collectives are not
    yet implemented for CPU devices"), exit 134, leaving config.json and
    logs/; a 2-replica x 8 run resumed on one device said only "use the
    same data and batch"."""
    jit_dir, model_dir = str(tmp_path / "jit"), str(tmp_path / "run")
    base = fast_flags(synthetic_root) + ["--noexport", "--set", "train.epochs=1"]
    runs = [base + ["--model_dir", jit_dir, "--jit_compile"], base + ["--model_dir", model_dir]]
    proc = subprocess.run([sys.executable, "-c", TWO_REPLICAS, json.dumps(runs)], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=300)
    codes = [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("CODE ")]
    assert codes == ["1", "0"], proc.stderr[-3000:]
    assert ("train.py: error: --jit_compile (train.jit_compile=true) with 2 replicas on CPU "
            "devices") in proc.stderr and "needs GPUs" in proc.stderr
    assert not os.path.exists(jit_dir)  # nothing written
    latest = os.path.join(model_dir, "checkpoints", "epoch_0001")
    with pytest.raises(TrainingError) as e:  # one device, the same batch_size_per_replica
        train(apply_overrides(fast_config, ["train.epochs=2"]), model_dir, progress=False,
              export=False)
    assert f"{latest} was written with" in str(e.value)
    assert "global batch 16 (2 replicas x 8), this run has" in str(e.value)
    assert "and 8 (1 replica x 8)" in str(e.value)
    assert "give --set train.batch_size_per_replica=16 (global batch 16" in str(e.value)


def test_jit_compile_on_one_device_is_kept(fast_config):
    from keras_pose.training.precision import check_jit_compile
    config = apply_overrides(fast_config, ["train.jit_compile=true"])
    check_jit_compile(config, tf.distribute.get_strategy())
    check_jit_compile(config, tf.distribute.OneDeviceStrategy("/cpu:0"))


@pytest.fixture
def train_script(script_module):
    return script_module(os.path.join(REPO, "train.py"), "train_script")


@pytest.mark.parametrize("flags,named", [
    (["--mixed_precision", "--precision", "fp32"], ["--mixed_precision", "--precision fp32"]),
    (["--precision", "mixed_bfloat16", "--mixed_precision"],
     ["--mixed_precision", "--precision mixed_bfloat16"]),
    (["--nomixed_precision", "--set", "train.precision=mixed_float16"],
     ["--nomixed_precision", "--set train.precision=mixed_float16"]),
    (["--precision", "fp32", "--set", "train.precision=mixed_bfloat16"],
     ["--precision fp32", "--set train.precision=mixed_bfloat16"]),
    (["--jit_compile", "--set", "train.jit_compile=false"],
     ["--jit_compile", "--set train.jit_compile=false"]),
])
def test_clashing_precision_flags_are_refused(synthetic_root, run_script,
                                              tmp_path, flags, named):
    """Were settled in silence (the flag won over --set, --precision over
    --mixed_precision, --nomixed_precision gave way)."""
    # No epoch, no export: the old code, taking the flags, ended at once.
    code, _, err = run_script("train.py")(fast_flags(synthetic_root) + flags + [
        "--set", "train.epochs=0", "--noexport", "--model_dir", str(tmp_path / "run")])
    assert code == 1 and "train.py: error: " in err, err[-2000:]
    line = next(l for l in err.splitlines() if "train.py: error: " in l)
    assert all(name in line for name in named) and "give one of them" in line, line
    assert not os.path.exists(tmp_path / "run")


def test_the_same_value_given_both_ways_is_taken(train_script, synthetic_root):
    for flags, precision, jit in (
            (["--mixed_precision", "--precision", "mixed_float16"], "mixed_float16", False),
            (["--precision", "fp32", "--set", "train.precision=fp32"], "fp32", False),
            (["--nomixed_precision", "--precision", "mixed_bfloat16"], "mixed_bfloat16", False),
            (["--jit_compile", "--set", "train.jit_compile=true"], "fp32", True)):
        train_script.FLAGS.unparse_flags()
        train_script.FLAGS(["train.py", *fast_flags(synthetic_root), *flags])
        config = train_script.build_config()
        assert (config.train.precision, config.train.jit_compile) == (precision, jit), flags
