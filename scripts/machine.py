"""The machine a benchmark runs on, printed above its figures.

Figures differ by CPU generation (AVX2 against AVX-512 VNNI/BF16, AMX) and
by what else runs, so every benchmark script starts with :func:`header`:
the date, the CPU's model name, family and model (two EPYCs of one model
name can be Zen 4 or Zen 5), its cores, its SIMD extensions and the load.
"""

from __future__ import annotations

import datetime
import os

SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8",
              "avx_vnni")


def _cpuinfo(path: str) -> dict[str, str]:
    """The first processor's entries of /proc/cpuinfo (empty if unreadable)."""
    entries: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # The first processor's block ends.
                key, _, value = line.partition(":")
                entries.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return entries


def describe(cpuinfo: str = "/proc/cpuinfo") -> str:
    """E.g. 'AMD EPYC (family 25, model 17), 2 cores (avx2, fma, avx512f, ...)'."""
    info = _cpuinfo(cpuinfo)
    cpu = info.get("model name", "unknown CPU")
    if "cpu family" in info:
        cpu += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    flags = set(info.get("flags", "").split())
    simd = [f for f in SIMD_FLAGS if f in flags]
    return f"{cpu}, {os.cpu_count()} cores ({', '.join(simd) or 'no AVX2'})"


def load_average() -> float:
    """The 1-minute load average (0 where the OS has none): others' work
    slows the figures down."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def header() -> str:
    """The line a benchmark prints first: date and time, machine, load."""
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"{now}, {describe()}, load average {load_average():.2f}"
