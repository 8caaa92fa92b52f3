"""OpenVINO's CPU compile settings for a network's precision: one rule for
the pose exports (``export.runtimes``) and the detector (``detection.runtimes``).

OpenVINO chooses arithmetic when it compiles, not in the IR: on CPUs with
bf16 units (AVX-512 BF16, AMX) its default runs an fp32 IR in bf16, so fp32
and bf16 are asked for explicitly (a CPU without bf16 units keeps f32 either
way); an int8 IR keeps OpenVINO's own choice for its float parts.
"""

from __future__ import annotations

from typing import Optional

PRECISION_HINTS = {"fp32": "f32", "bf16": "bf16"}


def compile_config(precision: str, num_threads: Optional[int] = None) -> dict:
    """``Core.compile_model``'s config for ``precision`` (fp32, bf16, int8)
    and ``num_threads`` CPU threads (None: OpenVINO's default, all cores)."""
    config = {}
    if precision in PRECISION_HINTS:
        config["INFERENCE_PRECISION_HINT"] = PRECISION_HINTS[precision]
    if num_threads:
        config["INFERENCE_NUM_THREADS"] = num_threads
    return config
