"""Each runtime's loader of a network file of
:func:`keras_pose.export.runtimes.export_network`: crops (B, h, w, 3)
float32 numpy -> heatmaps (B, H, W, K) float32 numpy, in ONNX Runtime,
OpenVINO or LiteRT; what each raises for a file it cannot read, and its
words in one line. Their checks (sidecar, damage) are
:func:`keras_pose.export.runtimes.load_network`'s.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

import numpy as np

from keras_pose.export.precision import ExportError
from keras_pose.openvino_settings import compile_config, core
from keras_pose.tf_paths import path_or_bytes

HeatmapsFn = Callable[[np.ndarray], np.ndarray]


def load_errors(fmt: str) -> tuple[type, ...]:
    """What each runtime raises for a file it cannot read (OpenVINO: any
    RuntimeError; ONNX Runtime: its own classes; LiteRT: ValueError)."""
    if fmt == "onnx":
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
        return (ort_errors.InvalidProtobuf, ort_errors.InvalidArgument,
                ort_errors.InvalidGraph, ort_errors.NoModel, ort_errors.Fail)
    return (RuntimeError,) if fmt == "openvino" else (ValueError, RuntimeError)


def runtime_reason(error: Exception) -> str:
    """The runtime's own words in one line: OpenVINO's message is a stack
    of "Exception from <file>" and "Check ... failed at" lines around them."""
    lines = [line.strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Exception from",
                                                                      "Check '"))]
    # ONNX Runtime's: "[ONNXRuntimeError] : 7 : ... Load model from <path> failed:<why>".
    return lines[-1].rsplit(" failed:", 1)[-1] if lines else type(error).__name__


def onnx_fn(path: str, precision: str, num_threads: Optional[int]) -> HeatmapsFn:
    """The ``.onnx`` file in ONNX Runtime on the CPU."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
    # A path that is not UTF-8 (an export cache under cache\xe9) was a TypeError
    # of ONNX Runtime's binding, after the export: its bytes instead.
    session = ort.InferenceSession(path_or_bytes(path), options,
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: np.asarray(x, np.float32)})[0]


def openvino_fn(path: str, precision: str, num_threads: Optional[int]) -> HeatmapsFn:
    """The ``.xml`` IR (and its ``.bin``) compiled by OpenVINO for the CPU
    at ``precision`` (OpenVINO takes any path, UTF-8 or not)."""
    model = core().read_model(path)  # A damaged file fails here (load_network).
    try:
        compiled = core().compile_model(model, "CPU", compile_config(precision, num_threads))
    except RuntimeError as e:  # The file read: not damaged, so not made again by the cache.
        raise ExportError(
            f"{path}: OpenVINO reads it but cannot compile it for this machine's CPU "
            f"({runtime_reason(e)}); run the checkpoint it was made from with another "
            "--runtime, or --runtime tf") from e
    request = compiled.create_infer_request()
    return lambda x: request.infer([np.asarray(x, np.float32)])[compiled.output(0)].copy()


def litert_fn(path: str, precision: str, num_threads: Optional[int]) -> HeatmapsFn:
    """The ``.tflite`` file in LiteRT's interpreter (all cores by default)."""
    from ai_edge_litert.interpreter import Interpreter
    model = path_or_bytes(path)  # Not UTF-8: its bytes (the path was a TypeError).
    source = {"model_path": model} if isinstance(model, str) else {"model_content": model}
    interpreter = Interpreter(**source, num_threads=num_threads or os.cpu_count())
    runner = interpreter.get_signature_runner()
    (name,) = interpreter.get_signature_list()[next(iter(interpreter.get_signature_list()))][
        "inputs"]

    def run(x: np.ndarray) -> np.ndarray:
        (out,) = runner(**{name: np.asarray(x, np.float32)}).values()
        return out
    return run
