"""The heatmaps network in the deployment runtimes' formats, through Keras' export.

``Model.export(format="onnx" | "openvino" | "litert")`` writes the fused
inference network (``build_inference_model``: BatchNorm folded, sub-pixel
deconvolutions) with one input, ``images``: normalised crops (B, h, w, 3)
float32, and one output, heatmaps (B, h/4, w/4, K) float32. The batch is
dynamic.

What each format carries. The SavedModel (``export_saved_model``) carries
the whole inference path: image decoding, the affine crops, normalisation,
flip test, decoding and rescoring. These three carry the network only; the
application crops, normalises (``assets``: the sidecar's ``experiment``
gives the colour order, mean and std), flips and decodes (the experiment's
decoding, msra's argmax and quarter offset or DARK's refinement, then the
inverse crop: ``keras_pose.codec``), as with the SavedModel's
``heatmaps`` signature. (Normalisation, the flip and the argmax are plain
tensor ops that all three could hold; the image decoding and the bilinear
crops of arbitrary boxes are TF ops they do not have.)

Precisions (``keras_pose.export.precision``), per format:

- ONNX (ONNX Runtime): ``fp32``; ``int8`` = ONNX Runtime static
  quantization (QDQ, per-channel int8 weights, uint8 activations, min-max
  calibration on the given crops).
- OpenVINO: ``fp32``; ``bf16`` = the fp32 IR run with OpenVINO's
  ``INFERENCE_PRECISION_HINT=bf16`` (OpenVINO chooses arithmetic at compile
  time, not in the IR; on CPUs with AVX-512 BF16/AMX bf16 is its *default*,
  so :func:`load_network` sets ``f32`` for an fp32 export); ``int8`` =
  NNCF post-training quantization on the given crops.
- LiteRT: ``fp32``; ``fp16`` (float16 weights, for GPU delegates; the CPU
  computes in float32); ``int8`` = full-integer quantization with the crops
  as representative data set (float32 input and output, int8 inside).

Each artifact has a sidecar ``<stem>.json``: format, precision, input and
output shapes, the experiment config, the size and SHA-256 of each network
file (``network_files``: another export's sidecar is refused). The runtimes
are the optional ``deploy`` extra; :func:`missing_packages` names what is
not installed.

:func:`load_export` makes an artifact a ``PoseModel`` (the network wrapped
by :func:`numpy_network` for the TF graph of ``TopDownEstimator``, the
sidecar's config): ``keras_pose.inference.load_pose_model`` loads export
files through it, so evaluation, the ``Predictor`` and the tracker run them
with the same crops, flip test, decoding and rescoring as a checkpoint.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import shutil
import tempfile
from typing import Iterable, Iterator, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_pose.checkpoint import CheckpointError
from keras_pose.configs import ConfigError, ExperimentConfig
from keras_pose.configs.conversion import config_to_dict, saved_config_from_dict
from keras_pose.errors import MissingFileError, MissingPackageError, install_command
from keras_pose.export.checkpoint_version import files_mismatch, files_record
from keras_pose.export.inference_model import build_inference_model
from keras_pose.export.numpy_network import numpy_network
from keras_pose.export.precision import FORMAT_PRECISIONS, ExportError, resolve_precision
from keras_pose.export.runtime_loaders import (HeatmapsFn, litert_fn, load_errors, onnx_fn,
                                               openvino_fn, runtime_reason)
from keras_pose.files import write_atomically, write_files_atomically, write_json
from keras_pose.inference.loading import PoseModel, load_saved_model, with_overrides
from keras_pose.openvino_settings import core, nncf_quantize, tf_conversion
from keras_pose.signals import interrupts_kept
from keras_pose.special_files import special_kind
from keras_pose.tf_paths import path_text, plain_tempdir

FORMATS = ("saved_model", "onnx", "openvino", "litert")
SUFFIXES = {"onnx": ".onnx", "openvino": ".xml", "litert": ".tflite"}
PRECISIONS = FORMAT_PRECISIONS
# Importable module -> pip package: what runs each format, and what else
# making an export takes (running a shipped file needs only its runtime).
RUN_PACKAGES = {"onnx": {"onnxruntime": "onnxruntime"}, "openvino": {"openvino": "openvino"},
                "litert": {"ai_edge_litert": "ai-edge-litert"}}
EXPORT_PACKAGES = {"onnx": {"tf2onnx": "tf2onnx", "onnx": "onnx"}}
INT8_EXPORT_PACKAGES = {"openvino": {"nncf": "nncf"}}
INPUT_NAME = "images"
# The way out of a damaged export.
AGAIN = "export the checkpoint again (scripts/export_saved_model.py)"
# Free space under which a failed write is taken for a full disk (a
# network's weights: tens of MB).
_FULL_BYTES = 64 << 20
# The runtime that runs each format (what --runtime and metrics.json call it).
RUNTIME_OF = {"saved_model": "tf", "onnx": "onnxruntime", "openvino": "openvino",
              "litert": "litert"}

class DamagedExportError(CheckpointError):
    """An export whose files its runtime cannot read (cut short by a full
    disk or an interrupted copy, a missing OpenVINO ``.bin``, a sidecar that
    is not JSON) or whose sidecar does not describe them (another export's,
    an edited one): the message names the file and says to export again.
    ``keras_pose.export.cache`` makes its own exports again on it.

    Args:
      problem: what is wrong, naming the file (``problem`` attribute); the
        message adds the way out.
    """

    def __init__(self, problem: str):
        super().__init__(f"{problem}; {AGAIN}")
        self.problem = problem


def missing_packages(fmt: str, precision: str = "fp32", export: bool = True) -> list[str]:
    """pip packages that exporting (``export``) or only running ``fmt`` at
    ``precision`` needs and this environment lacks (empty: all there)."""
    needed = dict(RUN_PACKAGES.get(fmt, {}))
    if export:
        needed.update(EXPORT_PACKAGES.get(fmt, {}))
        if precision == "int8":
            needed.update(INT8_EXPORT_PACKAGES.get(fmt, {}))
    return [pkg for module, pkg in needed.items() if importlib.util.find_spec(module) is None]


def check_format(fmt: str, precision: str, export: bool = True) -> None:
    """Raises ExportError for an unknown format or a precision it lacks, and
    MissingPackageError naming the packages that exporting (``export``) or
    running it needs."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}, got {fmt!r}")
    if precision not in PRECISIONS[fmt]:
        raise ExportError(f"format {fmt} takes precision {' / '.join(PRECISIONS[fmt])}, "
                          f"not {precision}")
    missing = missing_packages(fmt, precision, export)
    if missing:
        what = "the" if export else "running a"
        raise MissingPackageError(f"{what} {fmt} export at {precision} needs "
                                  f"{', '.join(missing)}: {install_command(missing)}")


def sidecar_path(path: str) -> str:
    """``model.onnx`` -> ``model.json`` (the artifact's description)."""
    return os.path.splitext(path)[0] + ".json"


def export_network(model: keras.Model, config: ExperimentConfig, path: str | os.PathLike,
                   fmt: str, precision: str = "fp32",
                   calibration: Optional[np.ndarray] = None) -> str:
    """Writes the fused heatmaps network of ``model`` as ONNX, OpenVINO IR or
    LiteRT, and its sidecar JSON.

    Args:
      model: the Keras pose model (training form).
      config: its experiment config.
      path: the artifact (suffix ``.onnx``, ``.xml`` (+ ``.bin``) or
        ``.tflite``), a str or a pathlib.Path.
      fmt: ``onnx``, ``openvino`` or ``litert``.
      precision: see the module docstring (``auto`` resolved first).
      calibration: normalised crops (N, h, w, 3) float32 for ``int8``
        (a few hundred: :func:`keras_pose.export.calibration.calibration_crops`).

    Returns:
      ``path`` (a str).

    Raises:
      TypeError: ``path`` is not a str or a pathlib.Path (was an AttributeError).
    """
    path = path_text(path, "export_network: path")
    precision = resolve_precision(precision, choices=PRECISIONS.get(fmt))
    if fmt == "saved_model":
        raise ValueError("the SavedModel is written by keras_pose.export.export_saved_model")
    check_format(fmt, precision)
    if not path.endswith(SUFFIXES[fmt]) or os.path.basename(path) == SUFFIXES[fmt]:
        raise ExportError(f"a {fmt} export is a named {SUFFIXES[fmt]} file (such as "
                          f"heatmaps{SUFFIXES[fmt]}), got {path!r}")
    from keras_pose.export.destination import check_output
    check_output(path, fmt, flag="path")  # A user's own file there is not replaced.
    if precision == "int8" and (calibration is None or not len(calibration)):
        raise ValueError("int8 needs calibration crops (N, h, w, 3)")
    fused = build_inference_model(model, config)  # fp32: the runtime lowers it.
    height, width = config.model.image_size[1], config.model.image_size[0]
    signature = [tf.TensorSpec([None, height, width, 3], tf.float32, name=INPUT_NAME)]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    writer = {"onnx": _write_onnx, "openvino": _write_openvino, "litert": _write_litert}[fmt]
    with interrupts_kept():  # The converters can swallow or wrap a Ctrl-C.
        writer(fused, signature, path, precision, calibration)
    info = {**sidecar_info(config, fmt, precision),
            "network_files": files_record(network_files(path))}
    write_atomically(sidecar_path(path), json.dumps(info, indent=1))
    return path


def network_files(path: str) -> list[str]:
    """The artifact ``path`` and, beside an OpenVINO ``.xml``, its ``.bin``."""
    return [path] + ([os.path.splitext(path)[0] + ".bin"] if path.endswith(".xml") else [])


def sidecar_info(config: ExperimentConfig, fmt: str, precision: str) -> dict:
    """What a runtime export's sidecar says: its format and precision, the
    network's input and output (crops (B, h, w, 3) -> heatmaps (B, H, W,
    K)) and the experiment that decodes it."""
    width, height = config.model.image_size
    hw, hh = config.model.heatmap_size
    return {"format": fmt, "precision": precision, "input": INPUT_NAME,
            "input_shape": [None, height, width, 3],
            "output_shape": [None, hh, hw, config.model.num_keypoints],
            "experiment": config_to_dict(config)}


def _batches(crops: np.ndarray, size: int = 8) -> Iterable[np.ndarray]:
    for start in range(0, len(crops), size):
        yield np.asarray(crops[start:start + size], np.float32)


def _write_onnx(fused, signature, path, precision, calibration) -> None:
    if precision == "fp32":
        fused.export(path, format="onnx", input_signature=signature, verbose=False)
        return
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, "fp32.onnx")
        fused.export(fp32, format="onnx", input_signature=signature, verbose=False)
        quantize_onnx(fp32, path, calibration)


def quantize_onnx(fp32_path: str, path: str, calibration: np.ndarray) -> str:
    """ONNX Runtime static quantization of an fp32 ONNX heatmaps network:
    QDQ, per-channel int8 weights, uint8 activations (ONNX Runtime's CPU
    recommendation), min-max ranges of ``calibration`` (N, h, w, 3)."""
    from onnxruntime import quantization as q

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self._batches = iter(_batches(calibration))

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    q.quantize_static(fp32_path, path, Reader(), quant_format=q.QuantFormat.QDQ,
                      per_channel=True, activation_type=q.QuantType.QUInt8,
                      weight_type=q.QuantType.QInt8)
    return path


def _write_openvino(fused, signature, path, precision, calibration) -> None:
    with openvino_write_errors(path), tf_conversion():
        fused.export(path, format="openvino", input_signature=signature, verbose=False)
    if precision == "int8":  # bf16 is a compile-time choice: see load_network.
        quantize_openvino(path, path, calibration)


@contextlib.contextmanager
def openvino_write_errors(path: str) -> Iterator[None]:
    """OpenVINO's writer reports a failed write (a full disk) as a
    RuntimeError "basic_ios::clear: iostream error" naming nothing (a
    traceback): raised as the OSError it is, naming ``path``."""
    try:
        yield
    except RuntimeError as e:
        if "iostream" not in str(e):
            raise
        folder = os.path.dirname(os.path.abspath(path))
        full = shutil.disk_usage(folder).free < _FULL_BYTES
        raise OSError(errno.ENOSPC if full else errno.EIO,
                      "No space left on device" if full else f"cannot be written ({e})",
                      path) from e


def quantize_openvino(fp32_path: str, path: str, calibration: np.ndarray) -> str:
    """NNCF post-training quantization of an fp32 OpenVINO IR (``.xml``):
    the PERFORMANCE preset (symmetric int8), ranges of ``calibration``."""
    import openvino as ov
    model = core().read_model(fp32_path)
    # Batches: subset_size counted as crops made NNCF warn "only 38 samples,
    # smaller than 300" while every crop was used.
    held = {"model": model, "quantized": nncf_quantize(model, list(_batches(calibration)))}
    del model

    def write(tmps: list[str]) -> None:
        # No fp16 compression: the layers left in float keep their fp32 weights.
        with openvino_write_errors(tmps[0]):
            ov.save_model(held["quantized"], tmps[0], compress_to_fp16=False)
        held.clear()  # Before the renames: the fp32 .bin may be memory-mapped.

    stem = os.path.splitext(path)[0]
    write_files_atomically([stem + ".xml", stem + ".bin"], write)
    return path


def _write_litert(fused, signature, path, precision, calibration) -> None:
    options = {}
    if precision == "fp16":
        options = {"optimizations": [tf.lite.Optimize.DEFAULT],
                   "target_spec": {"supported_types": [tf.float16]}}
    elif precision == "int8":
        def representative():
            for crop in calibration:
                yield [np.asarray(crop[None], np.float32)]
        options = {"optimizations": [tf.lite.Optimize.DEFAULT],
                   "representative_dataset": representative,
                   "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]}}
    # Keras writes a SavedModel under TMPDIR and converts it; TF globs its
    # variables path: was "Failed to find any matching files" for a TMPDIR
    # holding '['.
    with plain_tempdir():
        fused.export(path, format="litert", input_signature=signature, verbose=False,
                     **options)


def read_sidecar(path: str) -> dict:
    """The sidecar of an artifact written by :func:`export_network`."""
    side = sidecar_path(path)
    kind = special_kind(side)
    if kind:  # Was "has no <side>": isfile is False for a pipe or a device.
        raise DamagedExportError(f"{side}, the sidecar of {path}, is {kind}, not a file")
    if not os.path.isfile(side):
        raise MissingFileError(f"{path} has no {os.path.basename(side)}: it was not "
                               "written by keras_pose.export.runtimes.export_network "
                               "(export the checkpoint with scripts/export_saved_model.py)")
    try:
        with open(side, encoding="utf-8") as f:
            info = json.load(f)
    except ValueError as e:  # Cut short, or not text: was a JSONDecodeError traceback.
        raise DamagedExportError(f"{side}, the sidecar of {path}, is not valid JSON ({e}): "
                                 "the export is damaged") from e
    if not isinstance(info, dict):
        raise DamagedExportError(f"{side}, the sidecar of {path}, is not a JSON object: the "
                                 "export is damaged")
    return info


def update_sidecar(path: str, **fields) -> str:
    """Adds ``fields`` (how the export was made, checked, from what) to the
    sidecar of ``path``; returns the sidecar's path."""
    return write_json(sidecar_path(path), {**read_sidecar(path), **fields}, indent=1)


def export_format(path: str) -> Optional[str]:
    """``onnx``, ``openvino`` or ``litert`` for a file with their suffix, else None."""
    return {v: k for k, v in SUFFIXES.items()}.get(os.path.splitext(path)[1])


def _sidecar_config(path: str, sidecar: dict) -> ExperimentConfig:
    side = sidecar_path(path)
    fmt = export_format(path)
    if sidecar.get("format") != fmt:  # The cache makes its own exports again on these.
        raise DamagedExportError(f"{side} describes a {sidecar.get('format')!r} export but "
                                 f"{path} is a {fmt} file: the sidecar belongs to another "
                                 "export")
    if sidecar.get("precision") not in PRECISIONS[fmt]:
        raise DamagedExportError(f"{side}: no {fmt} precision ({sidecar.get('precision')!r}; "
                                 f"{' / '.join(PRECISIONS[fmt])}): the export is damaged")
    try:
        return saved_config_from_dict(sidecar["experiment"])  # load_config's checks.
    except (KeyError, TypeError, ConfigError) as e:
        raise DamagedExportError(f"{side}: no usable 'experiment' config ({e})") from e


def _check_shapes(path: str, fn: HeatmapsFn, config: ExperimentConfig) -> None:
    """Runs one zero crop of the config's size: the artifact must take it and
    return the config's heatmaps, or the sidecar describes another model."""
    width, height = config.model.image_size
    hw, hh = config.model.heatmap_size
    expected = (1, hh, hw, config.model.num_keypoints)

    def mismatch(got: str) -> DamagedExportError:
        return DamagedExportError(
            f"{path} does not match the config of its sidecar {sidecar_path(path)}: for "
            f"{height}x{width} crops the sidecar promises heatmaps {expected}, the file gives "
            f"{got}; the sidecar belongs to another export, or was edited")
    try:
        got = tuple(np.shape(fn(np.zeros((1, height, width, 3), np.float32))))
    except Exception as e:  # noqa: BLE001 - each runtime raises its own types here.
        raise mismatch(f"an error ({type(e).__name__})") from e
    if got != expected:
        raise mismatch(str(got))


def load_export(path: str, overrides: Sequence[str] = (),
                num_threads: Optional[int] = None) -> PoseModel:
    """An ONNX, OpenVINO or LiteRT export as a pose model (the loader of
    ``keras_pose.inference.load_pose_model`` for these files).

    Args:
      path: the ``.onnx``, ``.xml`` or ``.tflite`` file, beside its sidecar.
      overrides: ``data.*`` / ``test.*`` changes of the sidecar's config.
      num_threads: as for :func:`load_network`.

    Raises:
      FileNotFoundError: no sidecar (named).
      CheckpointError: a sidecar that does not describe this file.
      ImportError: the runtime is not installed (names the package).
    """
    sidecar = read_sidecar(path)
    config = _sidecar_config(path, sidecar)
    fn = load_network(path, num_threads)
    _check_shapes(path, fn, config)
    fmt, side = export_format(path), sidecar_path(path)  # side: named if its metadata is wrong.
    return PoseModel(numpy_network(fn, config), with_overrides(config, overrides, side), fmt,
                     path, runtime=RUNTIME_OF[fmt], precision=sidecar["precision"])


def load_network(path: str | os.PathLike, num_threads: Optional[int] = None) -> HeatmapsFn:
    """The artifact as a function: crops (B, h, w, 3) float32 numpy ->
    heatmaps (B, H, W, K) float32 numpy, in its own runtime.

    Args:
      path: an ``.onnx``, ``.xml`` or ``.tflite`` file of
        :func:`export_network`, or a SavedModel directory (its ``heatmaps``
        signature, loaded by ``keras_pose.inference.load_saved_model``).
      num_threads: CPU threads (None: the runtime's default; LiteRT: all
        cores).

    Raises:
      keras_pose.checkpoint.CheckpointError: a directory that is not a
        keras_pose SavedModel.
      TypeError: ``path`` is not a str or a pathlib.Path.
    """
    path = path_text(path, "load_network: path")
    if os.path.isdir(path):
        network = load_saved_model(path).network  # Its checks and errors.
        return lambda x: network(tf.constant(x, tf.float32)).numpy()
    fmt = export_format(path)
    if fmt is None:
        raise ExportError(f"{path}: not an .onnx, .xml or .tflite file nor a SavedModel")
    sidecar = read_sidecar(path)
    check_format(fmt, sidecar["precision"], export=False)  # A shipped file: its runtime.
    try:
        fn = {"onnx": onnx_fn, "openvino": openvino_fn,
              "litert": litert_fn}[fmt](path, sidecar["precision"], num_threads)
    except load_errors(fmt) as e:
        raise DamagedExportError(
            f"{path}: {RUNTIME_OF[fmt]} cannot load it ({runtime_reason(e)}): the export "
            "is damaged (a file cut short or missing)") from e
    _check_network_files(path, sidecar)
    return fn


def _check_network_files(path: str, sidecar: dict) -> None:
    """Raises DamagedExportError (the cache makes it again) for network files
    other than the sidecar records: another export's sidecar (an int8 network
    was reported fp32), a file changed since. Run after loading: an unreadable
    file keeps its runtime's words. Sidecars before the record: as then."""
    mismatch = "network_files" in sidecar and files_mismatch(sidecar["network_files"],
                                                             network_files(path))
    if mismatch:
        raise DamagedExportError(
            f"{sidecar_path(path)} does not describe {mismatch[0]} ({mismatch[1]}): the "
            "sidecar belongs to another export, or the file was changed since it was "
            "exported")
