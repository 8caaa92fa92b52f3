"""How this project talks to OpenVINO: the process's one ``Core`` and the CPU
compile settings for a network's precision, one rule for the pose exports
(``export.runtimes``) and the detector (``detection.runtimes``).

One Core per process, never freed: each Core's CPU plugin installs its own
alternate signal stack on the thread that creates it and, when freed, puts
back the one it found. Two Cores freed in the order they were made (a
guard's network, then the one that ran) leave the thread on the first one's
freed stack, and the next signal handled there -- Ctrl-C -- segfaults
instead of stopping (OpenVINO 2026.4: ``tests/test_openvino_settings.py``).

OpenVINO chooses arithmetic when it compiles, not in the IR: on CPUs with
bf16 units (AVX-512 BF16, AMX) its default runs an fp32 IR in bf16, so fp32
and bf16 are asked for explicitly (a CPU without bf16 units keeps f32 either
way); an int8 IR keeps OpenVINO's own choice for its float parts.

NNCF, OpenVINO's quantizer, is called here too (:func:`nncf_quantize`), and
its converter of TF objects runs under :func:`tf_conversion`.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Any, Iterator, Optional

PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}


@functools.cache
def core():
    """The process's ``openvino.Core`` (created on first use, kept to exit)."""
    import openvino as ov
    return ov.Core()


def compile_config(precision: str, num_threads: Optional[int] = None) -> dict:
    """``Core.compile_model``'s config for ``precision`` (fp32, bf16, int8)
    and ``num_threads`` CPU threads (None: OpenVINO's default, all cores)."""
    config = {}
    if precision in PRECISION_HINTS:
        config["INFERENCE_PRECISION_HINT"] = PRECISION_HINTS[precision]
    if num_threads:
        config["INFERENCE_NUM_THREADS"] = num_threads
    return config


@contextlib.contextmanager
def tf_conversion() -> Iterator[None]:
    """``openvino.convert_model`` of a TF object (a tf.function, a Keras
    model's ``export(format="openvino")``) that also runs on Python 3.13.

    OpenVINO 2026.4's TF front end reads TF's version with ``exec("import
    tensorflow")`` then ``exec("del tensorflow")`` inside a function; Python
    3.13 gives each ``exec`` its own copy of the function's locals (PEP 667),
    so the ``del`` raised NameError and every OpenVINO export failed there.
    In the block, a NameError of that reading (private to OpenVINO 2026.x,
    which setup.py pins) gives the same answer from ``sys.modules``.
    """
    try:
        from openvino.frontend.tensorflow import utils
    except ImportError:  # No TF front end: convert_model says so itself.
        yield
        return
    original = utils.get_environment_setup

    def environment_setup(framework):
        try:
            return original(framework)
        except NameError:
            if framework != "tf" or "tensorflow" not in sys.modules:
                raise
            import platform
            return {"python_version": platform.python_version(), "sys_platform": sys.platform,
                    "tensorflow": utils.get_imported_module_version(sys.modules["tensorflow"])}

    utils.get_environment_setup = environment_setup
    try:
        yield
    finally:
        utils.get_environment_setup = original


@contextlib.contextmanager
def _torch_hidden() -> Iterator[None]:
    """torch unimportable for the block (ImportError, which NNCF skips),
    unless the process imported it already."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None
    try:
        yield
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]


def nncf_quantize(model: Any, batches: list, transformer: bool = False) -> Any:
    """NNCF's post-training int8 quantization of an ``openvino.Model``
    (PERFORMANCE preset: symmetric), calibrated on all of ``batches``
    (``subset_size`` counts batches); ``transformer``: NNCF's scheme for
    attention models (softmax, layer norms and the like kept in float).

    torch stays hidden from NNCF: it imports and queries it whenever it is
    installed (1.5-1.6 s against 0.6 s for its import alone, and torch's
    memory, at the first int8 export; Zen 4 machine, 2026-12-05, other work
    running), which quantizing an OpenVINO model never uses, and PyTorch is
    no run-time dependency of this project.
    """
    with _torch_hidden():
        import nncf
        options = {"model_type": nncf.ModelType.TRANSFORMER} if transformer else {}
        return nncf.quantize(model, nncf.Dataset(batches),
                             preset=nncf.QuantizationPreset.PERFORMANCE,
                             subset_size=len(batches), **options)
