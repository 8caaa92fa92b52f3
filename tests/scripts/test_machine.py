"""scripts/machine.py: the machine line above every benchmark's figures,
and the benchmark scripts' list flags checked before any work."""

import os
import subprocess
import sys

import pytest

from scripts import machine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse avx2 fma avx512f avx512_vnni avx512_bf16 avx512vl

processor\t: 1
cpu family\t: 26
model name\t: Other CPU
flags\t\t: fpu
"""


def test_describe_names_model_family_and_simd_of_the_first_processor(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    line = machine.describe(str(path))
    assert line.startswith("AMD EPYC (family 25, model 17), ")
    assert line.endswith("cores (avx2, fma, avx512f, avx512_vnni, avx512_bf16)")


def test_describe_without_cpuinfo_says_unknown(tmp_path):
    assert machine.describe(str(tmp_path / "missing")).startswith("unknown CPU, ")


def test_header_has_date_machine_and_load():
    line = machine.header()
    assert line[:4].isdigit() and " cores (" in line and "load average" in line


@pytest.mark.parametrize("script, flag", [("benchmark_inference", "--batch_sizes=1,x")])
def test_a_bad_list_item_is_absl_error_not_traceback(script, flag):
    run = subprocess.run([sys.executable, "-m", f"scripts.{script}", flag], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert "--batch_sizes: 'x': give integers >= 1" in run.stderr
