"""OpenVINO's compile settings per precision and the process's one Core."""

import subprocess
import sys

import pytest

from keras_pose.openvino_settings import compile_config


def test_fp32_and_bf16_are_asked_for_and_int8_keeps_openvinos_choice():
    assert compile_config("fp32") == {"INFERENCE_PRECISION_HINT": "f32"}
    assert compile_config("bf16", 2) == {"INFERENCE_PRECISION_HINT": "bf16",
                                         "INFERENCE_NUM_THREADS": 2}
    assert compile_config("int8") == {}


# A child process: the failure this guards against is a segfault.
_TWO_NETWORKS_THEN_CTRL_C = r"""
import json, os, signal, sys
import numpy as np
import openvino as ov
from openvino import opset13 as ops
from keras_pose.export.runtimes import load_network

x = ops.parameter([1, 8, 8, 3], np.float32)
w = ops.constant(np.ones((4, 3, 1, 1), np.float32))
y = ops.convolution(ops.transpose(x, ops.constant([0, 3, 1, 2])), w,
                    [1, 1], [0, 0], [0, 0], [1, 1])
path = os.path.join(sys.argv[1], "net.xml")
ov.save_model(ov.Model([ops.transpose(y, ops.constant([0, 2, 3, 1]))], [x]), path)
with open(os.path.join(sys.argv[1], "net.json"), "w") as f:
    json.dump({"precision": "fp32"}, f)
first = load_network(path)     # e.g. a guard's network ...
second = load_network(path)    # ... and the one that runs
assert second(np.ones((1, 8, 8, 3), np.float32)).shape == (1, 8, 8, 4)
del first, second              # freed in the order they were made
got = []
signal.signal(signal.SIGINT, lambda *_: got.append("SIGINT"))
os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C
print(got)
"""


def test_ctrl_c_after_two_networks_were_freed_is_handled_not_a_segfault(tmp_path):
    pytest.importorskip("openvino")
    run = subprocess.run([sys.executable, "-c", _TWO_NETWORKS_THEN_CTRL_C, str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"rc {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.strip().endswith("['SIGINT']")


_QUANTIZE_WITHOUT_TORCH = r"""
import sys
import numpy as np
import openvino as ov
from openvino import opset13 as ops
from keras_pose.openvino_settings import nncf_quantize
x = ops.parameter([1, 3, 8, 8], np.float32)
y = ops.convolution(x, ops.constant(np.ones((4, 3, 3, 3), np.float32)), [1, 1], [1, 1], [1, 1],
                    [1, 1])
data = [np.random.default_rng(i).normal(size=(1, 3, 8, 8)).astype(np.float32) for i in range(3)]
quantized = nncf_quantize(ov.Model([y], [x]), data)
print(sorted({op.get_type_name() for op in quantized.get_ops()} & {"FakeQuantize"}),
      "torch" in sys.modules)
"""


def test_nncf_quantizes_without_importing_torch():
    """NNCF imported torch whenever it was installed, and asked it whether
    the model was torch's (the first int8 OpenVINO export paid its import
    and memory): PyTorch is no run-time dependency."""
    pytest.importorskip("nncf")
    pytest.importorskip("torch")  # Installed, so that NNCF would import it.
    run = subprocess.run([sys.executable, "-c", _QUANTIZE_WITHOUT_TORCH], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "['FakeQuantize'] False"


def _as_on_python_313(framework):
    """OpenVINO 2026.4's reading of TF's version as it fails on Python 3.13
    (each exec its own copy of the locals: ``del tensorflow`` finds none)."""
    raise NameError("name 'tensorflow' is not defined")


def test_a_tf_function_converts_where_openvino_cannot_read_tfs_version(monkeypatch):
    """Every OpenVINO export (pose and detector) failed on Python 3.13 with
    that NameError; here it is made to fail the same way on this Python."""
    pytest.importorskip("openvino")
    import numpy as np
    import openvino as ov
    import tensorflow as tf
    from openvino.frontend.tensorflow import utils

    from keras_pose.openvino_settings import tf_conversion
    monkeypatch.setattr(utils, "get_environment_setup", _as_on_python_313)
    double = tf.function(lambda x: 2.0 * x,
                         input_signature=[tf.TensorSpec([1, 3], tf.float32)])
    with pytest.raises(NameError):
        ov.convert_model(double)
    with tf_conversion():
        converted = ov.convert_model(double)
    assert utils.get_environment_setup is _as_on_python_313  # Put back after the block.
    compiled = ov.Core().compile_model(converted, "CPU")
    out = compiled(np.array([[1, 2, 3]], np.float32))[0]
    np.testing.assert_array_equal(out, [[2, 4, 6]])
