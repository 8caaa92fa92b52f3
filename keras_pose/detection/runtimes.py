"""The D-FINE network in ONNX Runtime and OpenVINO: export, cache and run.

Only the network is exported: images (N, h, w, 3) float32 in [0, 1] at the
model's input size (``images``) -> ``logits`` (N, Q, C) and ``pred_boxes``
(N, Q, 4), what ``KerasHubPersonDetector.predict_raw_tf`` returns. Resizing,
box decoding, class selection, score filtering and NMS stay in TensorFlow
(``keras_hub_detector``), shared by every detector. The batch is dynamic.

How it converts (keras-hub 0.32, TensorFlow 2.21):

- ``onnxruntime``: tf2onnx (``tf2onnx.convert.from_function``, what Keras'
  ``Model.export(format="onnx")`` calls, here with the two outputs only),
  opset 17;
- ``openvino``: ``openvino.convert_model`` on the same tf.function (what
  ``Model.export(format="openvino")`` calls).

Two ops of the Keras graph do not convert as they are and are swapped while
exporting (:func:`convertible`); the deformable attention's grid sampling (a
Keras polyfill made of gathers) converts as is.

The export is cached once per model, runtime and precision in
``<keras_pose cache>/detectors/`` (:func:`cached_export`), written
atomically and reused; its name holds a fingerprint of the weights, the
configuration and the converters' versions, so new weights or an upgraded
converter export anew. ``export.json`` records the network files' sizes
and SHA-256 (as the pose exports do): a cached export that cannot be read
is made again, with a warning (``export_cache.cached_network``, which
checks and loads it).

int8 (:data:`PRECISIONS`): ONNX Runtime static quantization or NNCF, on
calibration images. bf16 (OpenVINO only): the fp32 IR compiled with
OpenVINO's ``INFERENCE_PRECISION_HINT=bf16``, OpenVINO's own default on CPUs
with bf16 units (AVX-512 BF16, AMX); a CPU without them runs it at f32. Both
keep their agreement with fp32 (the guard, ``runtime_detector``) in their
``export.json``.

Shapes: N images, Q queries, C classes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import math
import os
import re
import tempfile
import time
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from keras_pose import log as logging
from keras_pose.errors import MissingPackageError, install_command
from keras_pose.openvino_settings import compile_config, core, nncf_quantize, tf_conversion
from keras_pose.output_streams import shown
from keras_pose.signals import interrupts_kept
from keras_pose.tf_paths import path_or_bytes

RUNTIMES = ("onnxruntime", "openvino")
PRECISIONS = ("fp32", "bf16", "int8")
# Precisions that run in one runtime only (ONNX Runtime has no bf16 CPU kernels).
PRECISION_RUNTIMES = {"bf16": ("openvino",)}
# Importable module -> pip package: what runs each runtime's export, and
# what else making it takes (a cached export needs only its runtime).
RUN_PACKAGES = {"onnxruntime": {"onnxruntime": "onnxruntime"}, "openvino": {"openvino": "openvino"}}
EXPORT_PACKAGES = {"onnxruntime": {"tf2onnx": "tf2onnx", "onnx": "onnx"}, "openvino": {}}
INT8_EXPORT_PACKAGES = {"onnxruntime": {}, "openvino": {"nncf": "nncf"}}
FILES = {"onnxruntime": ("network.onnx",), "openvino": ("network.xml", "network.bin")}
INPUT_NAME = "images"
OUTPUT_NAMES = ("logits", "pred_boxes")
SIDECAR = "export.json"
COMPLETE = "complete"
ONNX_OPSET = 17
# Bumped when the export changes, so that caches of older exports are not reused.
EXPORT_VERSION = 1

RawOutputs = tuple  # (logits (N, Q, C), relative boxes (N, Q, 4)) float32 numpy


class RuntimeUnavailableError(MissingPackageError):
    """A runtime whose packages are not installed; the message names them."""


class ExportError(RuntimeError):
    """A network that did not convert to a runtime; the message says why."""


def missing_packages(runtime: str, precision: str = "fp32", export: bool = True) -> list[str]:
    """pip packages that exporting (``export``) or only running ``runtime``
    at ``precision`` needs and this environment lacks (empty: all there)."""
    needed = dict(RUN_PACKAGES[runtime])
    if export:
        needed.update(EXPORT_PACKAGES[runtime])
        if precision == "int8":
            needed.update(INT8_EXPORT_PACKAGES[runtime])
    return [pkg for module, pkg in needed.items() if importlib.util.find_spec(module) is None]


def check_runtime(runtime: str, precision: str = "fp32", export: bool = True) -> None:
    """Raises ValueError for an unknown runtime or precision and
    ``RuntimeUnavailableError`` naming the packages that exporting
    (``export``) or running it needs."""
    if runtime not in RUNTIMES:
        raise ValueError(f"detector runtime must be one of {', '.join(RUNTIMES)} (or tf), "
                         f"got {runtime!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"detector precision must be one of {', '.join(PRECISIONS)}, "
                         f"got {precision!r}")
    if runtime not in PRECISION_RUNTIMES.get(precision, RUNTIMES):
        raise ValueError(f"the detector runs {precision} in "
                         f"{', '.join(PRECISION_RUNTIMES[precision])} only, not in {runtime}")
    missing = missing_packages(runtime, precision, export)
    if missing:
        raise RuntimeUnavailableError(
            f"the {runtime} detector at {precision} needs {', '.join(missing)}: "
            f"{install_command(missing)}, or use --detector_runtime tf")


def _erf_gelu(x):
    # Keras' exact GELU runs as TF's Gelu with Erfc, which tf2onnx cannot
    # convert; 0.5 x (1 + erf(x / sqrt 2)) is the same function (it differs
    # by float rounding, < 1e-7 |x|, only where GELU is ~0).
    return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


@contextlib.contextmanager
def convertible(model):
    """The model with the ops that do not convert swapped for equivalents:

    - depthwise convolutions run with TF's depthwise kernel
      (``dfine.use_depthwise_kernels``, kept afterwards: same results), not as
      Keras' XLA-compiled grouped convolution, a ``StatefulPartitionedCall``
      that tf2onnx cannot convert;
    - exact GELU activations (of ``Activation`` layers, D-FINE's, or any
      layer's ``activation``) through ``Erf`` instead of ``Erfc`` (restored
      on exit, so the TensorFlow model keeps its own numerics).
    """
    import keras

    from keras_pose.detection.dfine import use_depthwise_kernels
    use_depthwise_kernels(model)
    swapped = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
               if getattr(layer, "activation", None) is keras.activations.gelu]
    for layer in swapped:
        layer.activation = _erf_gelu
    try:
        yield model
    finally:
        for layer in swapped:
            layer.activation = keras.activations.gelu


def input_size_of(model) -> tuple[int, int]:
    """(h, w) the model's anchors are laid out for: its only input size."""
    return tuple(int(v) for v in model.backbone.anchor_image_size)


def network_function(model) -> tf.types.experimental.GenericFunction:
    """The network as a tf.function: images -> {logits, pred_boxes} float32
    (call inside :func:`convertible` to export it)."""
    height, width = input_size_of(model)

    @tf.function(input_signature=[tf.TensorSpec([None, height, width, 3], tf.float32,
                                                name=INPUT_NAME)])
    def network(images):
        outputs = model(images, training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in OUTPUT_NAMES}
    return network


def _write_onnx(network, path: str) -> None:
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx
    patch_tf2onnx()  # What Keras' ONNX export does first: tf2onnx 1.17 with NumPy 2.
    # tf2onnx deep-copies the whole graph before each of its optimisers unless
    # told not to: on D-FINE that copying is most of the conversion time.
    # Without it an optimiser that fails raises instead of being skipped.
    with _environment("TF2ONNX_CATCH_ERRORS", "FALSE"):
        tf2onnx.convert.from_function(network, input_signature=network.input_signature,
                                      opset=ONNX_OPSET, output_path=path)


@contextlib.contextmanager
def _environment(name: str, value: str):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _save_openvino(model, path: str) -> None:
    """``ov.save_model`` without fp16 compression (the fp32 export keeps
    fp32 weights); a full disk is the OSError naming ``path``: was
    OpenVINO's "basic_ios::clear: iostream error" traceback."""
    import openvino as ov

    from keras_pose.export.runtimes import openvino_write_errors
    with openvino_write_errors(path):
        ov.save_model(model, path, compress_to_fp16=False)


def _write_openvino(network, path: str) -> None:
    import openvino as ov
    with tf_conversion():
        converted = ov.convert_model(network)
    _save_openvino(converted, path)


def _calibration_batches(calibration: np.ndarray, size: int = 4):
    return [np.asarray(calibration[i:i + size], np.float32)
            for i in range(0, len(calibration), size)]


def _quantize_onnx(fp32_path: str, path: str, calibration: np.ndarray) -> None:
    from onnxruntime import quantization as q
    batches = iter(_calibration_batches(calibration))

    class Reader(q.CalibrationDataReader):
        def get_next(self):
            batch = next(batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    # Convolutions and matrix products only: quantizing every op also turns
    # LayerNorm's mean (a GlobalAveragePool in ONNX) into an int8 kernel that
    # fails at run time ("parameter out of computation range").
    q.quantize_static(fp32_path, path, Reader(), quant_format=q.QuantFormat.QDQ,
                      per_channel=True, activation_type=q.QuantType.QUInt8,
                      weight_type=q.QuantType.QInt8, op_types_to_quantize=["Conv", "MatMul"])


def _quantize_openvino(fp32_path: str, path: str, calibration: np.ndarray) -> None:
    model = core().read_model(fp32_path)
    quantized = nncf_quantize(model, _calibration_batches(calibration), transformer=True)
    _save_openvino(quantized, path)


def export_network(model, directory: str, runtime: str, precision: str = "fp32",
                   calibration: Optional[np.ndarray] = None, name: Optional[str] = None) -> str:
    """Writes the network of a keras-hub ``DFineObjectDetector`` for
    ``runtime`` into ``directory`` (``FILES[runtime]`` and ``export.json``).

    Not atomic: :func:`cached_export` writes through a temporary directory.

    Args:
      calibration: (N, h, w, 3) float32 network inputs, for int8.
      name: the preset, recorded in ``export.json``.

    Returns:
      ``directory``.
    """
    check_runtime(runtime, precision)
    if precision == "int8" and (calibration is None or not len(calibration)):
        raise ValueError("an int8 detector export needs calibration images")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, FILES[runtime][0])
    write = {"onnxruntime": _write_onnx, "openvino": _write_openvino}[runtime]
    # The converters can swallow a Ctrl-C or SIGTERM, or wrap it in their own
    # error: was OpenVINO's RuntimeError around KeyboardInterrupt (exit 1).
    with convertible(model), tempfile.TemporaryDirectory() as tmp, interrupts_kept():
        # bf16 is chosen when OpenVINO compiles (_openvino_run): the fp32 IR.
        target = path if precision != "int8" else os.path.join(tmp, FILES[runtime][0])
        write(network_function(model), target)
        if precision == "int8":
            quantize = {"onnxruntime": _quantize_onnx, "openvino": _quantize_openvino}[runtime]
            quantize(target, path, calibration)
    info = {"runtime": runtime, "precision": precision, "preset": name,
            "input": INPUT_NAME, "input_size": list(input_size_of(model)),
            "outputs": list(OUTPUT_NAMES), "num_classes": int(model.num_classes),
            "num_queries": int(model.backbone.num_queries), "versions": _versions(runtime),
            "network_files": _files_record(directory, runtime)}
    write_sidecar(directory, info)
    _check_runs(directory, runtime)
    return directory


def copy_export(source: str, directory: str, precision: str) -> str:
    """An export's files copied into ``directory``, recorded as ``precision``:
    bf16 runs the fp32 network files (OpenVINO chooses bf16 when it
    compiles), so it needs no second conversion."""
    import shutil
    info = read_sidecar(source)
    check_runtime(info["runtime"], precision, export=False)  # Copied, not converted.
    os.makedirs(directory, exist_ok=True)
    for name in FILES[info["runtime"]]:
        shutil.copyfile(os.path.join(source, name), os.path.join(directory, name))
    write_sidecar(directory, {**info, "precision": precision,
                              "network_files": _files_record(directory, info["runtime"])})
    return directory


def network_paths(directory: str, runtime: str) -> list[str]:
    """The network files of an export of ``runtime`` in ``directory``."""
    return [os.path.join(directory, name) for name in FILES[runtime]]


def _files_record(directory: str, runtime: str) -> dict:
    """The network files' sizes and SHA-256, for ``export.json``."""
    from keras_pose.export.checkpoint_version import files_record
    return files_record(network_paths(directory, runtime))


def _check_runs(directory: str, runtime: str) -> None:
    """Runs the export once: a converter that met an op it cannot convert may
    still write a file (tf2onnx does), which only fails when loaded."""
    try:
        network = load_network(directory)
        logits, boxes = network(np.zeros((1, *network.input_size, 3), np.float32))
    except Exception as e:  # noqa: BLE001 - any runtime failure means the same.
        raise ExportError(f"the detector network exported to {runtime} does not run there "
                          f"({type(e).__name__}: {str(e).splitlines()[0][:300]}); use "
                          "--detector_runtime tf") from e
    if logits.ndim != 3 or boxes.shape[-1] != 4:
        raise ExportError(f"the {runtime} export gives outputs of shapes {logits.shape} and "
                          f"{boxes.shape}, not (N, Q, C) and (N, Q, 4)")


def write_sidecar(directory: str, info: dict) -> None:
    from keras_pose.files import write_json
    write_json(os.path.join(directory, SIDECAR), info, indent=1)


def read_sidecar(directory: str) -> dict:
    """``export.json`` of an export directory."""
    with open(os.path.join(directory, SIDECAR), encoding="utf-8") as f:
        return json.load(f)


def _versions(runtime: str, export: bool = True) -> dict:
    """The versions of what builds the network and runs it, and with
    ``export`` of what converts it (recorded in ``export.json``; not in
    :func:`fingerprint`, so that a cached export runs where the converters
    are not installed)."""
    packages = {**RUN_PACKAGES[runtime], **(
        {**EXPORT_PACKAGES[runtime], **INT8_EXPORT_PACKAGES[runtime]} if export else {})}
    from keras_pose.export.package_versions import installed_versions  # As the pose cache's.
    return installed_versions(["tensorflow", "keras", "keras-hub", *packages.values()])


def fingerprint(model, runtime: str, precision: str) -> str:
    """16 hex digits of SHA-256 over what the export depends on: the
    weights, the configuration, the runtime, precision and the versions of
    TF, Keras, keras-hub and the runtime (a new runtime exports anew).

    Layer names are left out: Keras numbers them per process
    (``d_fine_backbone_1``, ``_2``, ...), so the same preset loaded twice
    has other names but the same export. (keras-hub configs are constructor
    arguments; a plain functional model's config also names layers in its
    graph, so reloading one exports anew: wasted time, never a wrong reuse.)
    """
    digest = hashlib.sha256()
    header = {"export_version": EXPORT_VERSION, "runtime": runtime, "precision": precision,
              "versions": _versions(runtime, export=False),
              "config": _without_names(model.get_config())}
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for weight in model.weights:  # In the architecture's order.
        value = np.ascontiguousarray(weight.numpy())
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def _without_names(config):
    """A config with every ``name`` entry removed, recursively."""
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config]
    return config


def export_root() -> str:
    """``<keras_pose cache>/detectors`` (``$KERAS_POSE_CACHE``, else
    ``~/.keras/keras_pose``)."""
    from keras_pose.convert.download import cache_dir
    return os.path.join(cache_dir(), "detectors")


def export_directory(model, runtime: str, precision: str, name: Optional[str] = None,
                     root: Optional[str] = None) -> str:
    """Where the cached export of ``model`` lives: ``<root>/<name>-<runtime>-
    <precision>-<fingerprint>``."""
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(str(name or "dfine").rstrip("/")))
    return os.path.join(root or export_root(), f"{label or 'dfine'}-{runtime}-{precision}-"
                                               f"{fingerprint(model, runtime, precision)}")


def is_complete(directory: str) -> bool:
    """Whether ``directory`` is a finished export (its marker is written last)."""
    return os.path.isfile(os.path.join(directory, COMPLETE))


def cached_export(model, runtime: str, precision: str = "fp32", name: Optional[str] = None,
                  root: Optional[str] = None, write: Optional[Callable[[str], None]] = None,
                  again: bool = False) -> tuple[str, bool]:
    """The export of ``model`` for ``runtime``, written once and then reused.

    Args:
      name: the preset (the directory's readable part).
      root: the cache folder (default :func:`export_root`).
      write: fills a directory (default: :func:`export_network` at
        ``precision``); int8 and bf16 pass their own (the guard).
      again: write it even if complete (it cannot be read), replacing it.

    Returns:
      (the export directory, whether it was written now).
    """
    directory = export_directory(model, runtime, precision, name, root)
    if is_complete(directory) and not again:
        return directory, False
    check_runtime(runtime, precision)
    from keras_pose.files import write_directory_atomically
    if write is None:
        def write(tmp):
            export_network(model, tmp, runtime, precision, name=name)
    logging.info("Exporting the detector network to %s at %s, once (D-FINE-S: minutes) into "
                 "%s", runtime, precision, shown(directory))  # Escaped: a name not UTF-8.
    start = time.perf_counter()
    write_directory_atomically(directory, write, marker=COMPLETE)
    logging.info("Exported in %.0f s", time.perf_counter() - start)
    return directory, True


def cpu_runs_bf16() -> bool:
    """Whether OpenVINO reports bf16 units on this CPU (else a bf16 hint runs f32)."""
    return "BF16" in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@dataclasses.dataclass
class ExportedNetwork:
    """An export loaded in its runtime: images (N, h, w, 3) float32 numpy ->
    (logits (N, Q, C), relative boxes (N, Q, 4)) float32 numpy.

    Attributes:
      run: the runtime's call.
      info: its ``export.json``.
      directory: where it was loaded from.
    """

    run: Callable[[np.ndarray], RawOutputs]
    info: dict
    directory: str

    def __call__(self, images: np.ndarray) -> RawOutputs:
        return self.run(np.asarray(images, np.float32))

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(self.info["input_size"])


def load_network(directory: str, num_threads: Optional[int] = None) -> ExportedNetwork:
    """An export directory (``export_network``) in its runtime.

    Args:
      num_threads: CPU threads (None: the runtime's default, all cores).
    """
    info = read_sidecar(directory)
    runtime, precision = info["runtime"], info["precision"]
    check_runtime(runtime, precision, export=False)
    path = os.path.join(directory, FILES[runtime][0])
    loader = {"onnxruntime": _onnxruntime_run, "openvino": _openvino_run}[runtime]
    return ExportedNetwork(loader(path, precision, num_threads), info, directory)


def _onnxruntime_run(path: str, precision: str, num_threads: Optional[int]):
    import onnxruntime as ort
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
    # A path that is not UTF-8 (a cache folder named cache\xe9): its bytes.
    session = ort.InferenceSession(path_or_bytes(path), options,
                                   providers=["CPUExecutionProvider"])
    return lambda x: tuple(session.run(list(OUTPUT_NAMES), {INPUT_NAME: x}))


def _openvino_run(path: str, precision: str, num_threads: Optional[int]):
    compiled = core().compile_model(path, "CPU", compile_config(precision, num_threads))
    request = compiled.create_infer_request()
    outputs = [compiled.output(name) for name in OUTPUT_NAMES]

    def run(x):
        results = request.infer([x])
        return tuple(results[output].copy() for output in outputs)
    return run
