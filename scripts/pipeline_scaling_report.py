"""The tables of ``scripts.benchmark_pipeline_scaling``: samples/s per
core by version, people per image and cores; CPU and Python-held time per
sample; the one-core stages; callgrind's instructions per unit.
"""

from __future__ import annotations

import numpy as np


def spread(values: list[float], digits: int = 1) -> str:
    values = sorted(values)
    return f"{np.median(values):.{digits}f} ({values[0]:.{digits}f}-{values[-1]:.{digits}f})"


def report_throughput(results, sets, cores, versions, reference: bool) -> None:
    print("| version | people per image | cores | samples/s | samples/s per core "
          "| CPU ms per sample | Python-held ms per sample (sample code) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows_of = [(v, "throughput", c) for v in versions for c in cores]
    rows_of += [("reference per-sample code", "reference", 1)] if reference else []
    for version, kind, c in rows_of:
        for ppi in sets:
            rows = [x for x in results if x["kind"] == kind and x["version"] == version
                    and x["people_per_image"] == ppi and x["cores"] == c]
            if not rows:
                continue
            rate = [x["samples_per_s"] for x in rows]
            held = [x["python_held_ms_per_sample"] for x in rows]
            print(f"| {version} | {ppi} | {c} | {spread(rate)} | "
                  f"{spread([v / c for v in rate])} | "
                  f"{spread([x['cpu_ms_per_sample'] for x in rows], 2)} | "
                  f"{spread(held, 3) if kind == 'throughput' else '-'} |")


def report_stages(results, sets, versions) -> None:
    print()
    print("Stages, one core, CPU ms per unit (median over rounds): read, decode and the "
          "numpy_function calls per image, the rest per sample")
    for version in versions:
        for ppi in sets:
            rows = [x for x in results if x["kind"] == "stages" and x["version"] == version
                    and x["people_per_image"] == ppi]
            med = {n: float(np.median([x["stages"][n]["ms_per_unit"] for x in rows]))
                   for n in rows[0]["stages"]}
            per_image = rows[0]["samples"] / rows[0]["images"]
            glue = (med["numpy_function_call"] - med["bare_tf_function_call"]) / per_image
            held = med["sample_code"] - med["warp"] + glue
            total = (med["read"] + med["decode"]) / per_image + med["sample_code"] + glue
            print(f"  {version} ppi={ppi} ({rows[0]['images']} images, {rows[0]['samples']} "
                  "samples): " + ", ".join(f"{n} {v:.3f}" for n, v in med.items()))
            print(f"    per sample: CPU {total:.3f} ms, of which Python-held {held:.3f} ms "
                  f"(sample code minus warp, plus the numpy_function call {glue:.3f}): "
                  f"one process <= {1e3 / held:,.0f} samples/s")


def report(results, instructions, sets, cores, versions, available, *, rounds: int,
           reference: bool, stages: bool) -> None:
    """Prints the throughput table, the instruction counts and the stages."""
    print()
    print(f"{available} core(s) available; {rounds} rounds; median (range) over rounds")
    report_throughput(results, sets, cores, versions, reference)
    for (version, ppi), counts in instructions.items():
        print(f"  {version} ppi={ppi} instructions per unit (callgrind): " + ", ".join(
            f"{n} {v / 1e6:.2f}M" for n, v in counts.items()))
    if stages and rounds:
        report_stages(results, sets, versions)
