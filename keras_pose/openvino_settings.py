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
"""

from __future__ import annotations

import functools
from typing import Optional

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
