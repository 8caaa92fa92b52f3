"""Precision choice: the CPU's bf16 units, ``auto``, Keras dtype policies."""

import keras
import pytest

from keras_pose.export import precision as p

XEON_AMX = "flags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
XEON_AVX512_BF16 = "flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n"
EPYC_AVX2 = "flags\t\t: fpu avx2 fma f16c vaes\n"
# A flag that merely contains the name is not the flag.
LOOKALIKE = "flags\t\t: fpu avx2 xamx_bf16x notavx512_bf16\n"


@pytest.mark.parametrize("text,expected", [
    (XEON_AMX, True), (XEON_AVX512_BF16, True), (EPYC_AVX2, False), (LOOKALIKE, False)])
def test_cpu_has_bf16_reads_the_cpu_flags(tmp_path, text, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\n" + text)
    assert p.cpu_has_bf16(str(cpuinfo)) is expected


def test_cpu_has_bf16_without_cpuinfo_is_false(tmp_path):
    assert p.cpu_has_bf16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("text,gpu,expected", [
    (XEON_AMX, False, "bf16"), (EPYC_AVX2, False, "fp32"), (EPYC_AVX2, True, "fp16"),
    (XEON_AMX, True, "fp16")])
def test_auto_chooses_by_machine_and_logs_why(tmp_path, text, gpu, expected, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    logged = []
    monkeypatch.setattr(p.logging, "info", lambda fmt, *args: logged.append(fmt % args))
    assert p.resolve_precision("auto", has_gpu=gpu, cpuinfo=str(cpuinfo)) == expected
    assert len(logged) == 1 and logged[0].startswith(f"precision auto -> {expected} (")


@pytest.mark.parametrize("text,gpu,fmt,expected", [
    # bf16 units: ONNX has no bf16 (was chosen, then refused by the export).
    (XEON_AMX, False, "onnx", "fp32"), (XEON_AMX, False, "litert", "fp32"),
    (XEON_AMX, False, "openvino", "bf16"), (XEON_AMX, False, "saved_model", "bf16"),
    # A GPU: LiteRT's fp16 is for its GPU delegates; OpenVINO runs on the CPU.
    (XEON_AMX, True, "litert", "fp16"), (XEON_AMX, True, "openvino", "bf16"),
    (EPYC_AVX2, True, "onnx", "fp32")])
def test_auto_picks_what_the_format_takes_and_says_why(tmp_path, text, gpu, fmt, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    choices = p.FORMAT_PRECISIONS[fmt]
    chosen, why = p.auto_precision(choices, has_gpu=gpu, cpuinfo=str(cpuinfo))
    assert chosen == expected
    assert p.resolve_precision("auto", has_gpu=gpu, cpuinfo=str(cpuinfo),
                               choices=choices) == expected
    if expected == "fp32" and (gpu or text == XEON_AMX):
        assert why.startswith(f"the format takes {' / '.join(choices)}, not the machine's")


@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16", "int8"])
def test_explicit_precisions_are_kept(name):
    assert p.resolve_precision(name, has_gpu=True) == name


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        p.resolve_precision("bfloat16")


def test_keras_policies_and_int8_refused():
    assert p.keras_policy("bf16") == "bfloat16"
    assert p.keras_policy("fp16") == "float16"
    with pytest.raises(ValueError, match="int8 is a quantization"):
        p.keras_policy("int8")


def test_dtype_policy_scope_restores_the_global_policy():
    before = keras.config.dtype_policy().name
    with p.dtype_policy_scope("bfloat16"):
        assert keras.layers.Dense(2).dtype_policy.name == "bfloat16"
    assert keras.config.dtype_policy().name == before
    with pytest.raises(RuntimeError):
        with p.dtype_policy_scope("float16"):
            raise RuntimeError("a failing build")
    assert keras.config.dtype_policy().name == before


def test_export_info_round_trip(tmp_path):
    assert p.read_export_info(str(tmp_path)) == {"format": "saved_model", "precision": "fp32"}
    p.write_export_info(str(tmp_path / "assets"), format="saved_model", precision="bf16")
    assert p.read_export_info(str(tmp_path / "assets"))["precision"] == "bf16"
