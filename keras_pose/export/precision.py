"""Numeric precision of exported and inference networks.

One vocabulary for every export and runtime:

- ``fp32``: float32 weights and arithmetic (the reference).
- ``bf16``: bfloat16 weights and activations, float32 accumulation inside
  the convolutions (oneDNN, OpenVINO). Fast on CPUs with AMX or AVX-512
  BF16; elsewhere the CPU emulates it (correct, slower than fp32).
- ``fp16``: float16 weights and activations, for GPUs (and LiteRT's
  float16 weight compression).
- ``int8``: post-training quantization with calibration crops, for the
  deployment runtimes (ONNX Runtime, OpenVINO, LiteRT); TF's own CPU
  kernels have no int8 convolution, so there is no int8 SavedModel.
- ``auto``: resolved once, on the exporting machine, by
  :func:`resolve_precision` (bf16 on CPUs with bf16 units, fp16 on GPUs,
  fp32 otherwise; the first of these the format takes), and logged.

The choice is baked into each artifact (a Keras dtype policy for the
SavedModel, quantized weights for int8, a runtime option for OpenVINO):
no runtime flag is needed to get it back.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

from keras_pose import log as logging
from keras_pose.errors import UserError



class ExportError(UserError, ValueError):
    """An export asked for with a format, precision or file it cannot have;
    the message names the flag and the choices."""


PRECISIONS = ("fp32", "bf16", "fp16", "int8", "auto")
# What each export format takes (keras_pose.export.runtimes); here, where no
# TensorFlow is imported, so that a command line can check its flags at once.
FORMAT_PRECISIONS = {"saved_model": ("fp32", "bf16", "fp16"), "onnx": ("fp32", "int8"),
                     "openvino": ("fp32", "bf16", "int8"), "litert": ("fp32", "fp16", "int8")}

# Keras dtype policies of the float precisions: the whole inference network
# (variables included) in that type; the final "heatmaps" layer is float32
# by construction, so outputs stay float32.
KERAS_POLICIES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}

CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when this CPU has bfloat16 matrix units (AMX or AVX-512 BF16).

    Args:
      cpuinfo: the Linux CPU description to read; a missing or unreadable
        file (another OS) means no.
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def _has_gpu() -> bool:
    import tensorflow as tf
    return bool(tf.config.list_logical_devices("GPU"))


def resolve_precision(precision: str, *, has_gpu: bool | None = None,
                      cpuinfo: str = "/proc/cpuinfo",
                      choices: Sequence[str] | None = None) -> str:
    """``auto`` -> the fastest precision of this machine; others unchanged.

    Args:
      precision: one of :data:`PRECISIONS`.
      has_gpu: whether TF sees a GPU (None: ask TF).
      cpuinfo: the CPU description (see :func:`cpu_has_bf16`).
      choices: the precisions the format takes (``runtimes.PRECISIONS``):
        ``auto`` picks among them (an ONNX export has no bf16).

    Raises:
      ExportError: for an unknown precision.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return precision
    chosen, why = auto_precision(choices, has_gpu=has_gpu, cpuinfo=cpuinfo)
    logging.info("precision auto -> %s (%s)", chosen, why)
    return chosen


def auto_precision(choices: Sequence[str] | None = None, *, has_gpu: bool | None = None,
                   cpuinfo: str = "/proc/cpuinfo") -> tuple[str, str]:
    """(precision, why): what ``auto`` means here, for a format taking
    ``choices`` (None: any). The machine's fastest first (fp16 with a GPU,
    bf16 with bf16 units, else fp32), the first the format takes; never
    int8, which needs calibration and the guard, so is asked for by name."""
    gpu = _has_gpu() if has_gpu is None else has_gpu
    bf16 = cpu_has_bf16(cpuinfo)
    ranked = ([("fp16", "a GPU is visible")] if gpu else []) + \
        ([("bf16", f"the CPU has {' or '.join(CPU_BF16_FLAGS)}")] if bf16 else []) + \
        [("fp32", "no GPU and no bf16 units on this CPU")]
    taken = [(p, why) for p, why in ranked if choices is None or p in choices]
    chosen, why = taken[0]
    passed = [p for p, _ in ranked if p not in dict(taken)]
    if passed:
        why = (f"the format takes {' / '.join(choices)}, not the machine's "
               f"{' / '.join(passed)}")
    return chosen, why


def keras_policy(precision: str) -> str:
    """The Keras dtype policy that computes in ``precision`` (float ones).

    Raises:
      ValueError: for int8 (a runtime quantization, not a Keras policy) or
        an unresolved/unknown precision.
    """
    if precision not in KERAS_POLICIES:
        raise ValueError(f"no Keras dtype policy for precision {precision!r}: Keras "
                         f"networks take {tuple(KERAS_POLICIES)} (int8 is a quantization "
                         "of the ONNX, OpenVINO and LiteRT exports; resolve 'auto' first)")
    return KERAS_POLICIES[precision]


def dtype_policy_scope(policy: str) -> contextlib.AbstractContextManager:
    """Builds the Keras layers created inside under ``policy`` (floatx
    float32), then puts the caller's policy and floatx back: the one scope,
    ``keras_pose.models.dtypes.dtype_scope`` (imported when used: this
    module is read without Keras)."""
    from keras_pose.models.dtypes import dtype_scope
    return dtype_scope(policy)


EXPORT_INFO = "export.json"  # Beside the SavedModel's assets/config.json.


def write_export_info(assets_dir: str, **info: object) -> str:
    """Writes ``assets_dir/export.json`` (precision, format, ...) and returns
    its path: what an exported artifact computes in, for loaders and users."""
    import json
    import os
    os.makedirs(assets_dir, exist_ok=True)
    path = os.path.join(assets_dir, EXPORT_INFO)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def read_export_info(assets_dir: str) -> dict:
    """The export's ``export.json``; exports written before it existed
    were float32 SavedModels, which is what a missing file means."""
    import json
    import os
    path = os.path.join(assets_dir, EXPORT_INFO)
    if not os.path.isfile(path):
        return {"format": "saved_model", "precision": "fp32"}
    with open(path, encoding="utf-8") as f:
        return json.load(f)
