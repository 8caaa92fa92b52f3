"""The litert export (Keras' own exporter) run in its runtime equals the Keras model."""

import pytest

from tests.export.runtime_checks import check_fp32, check_int8


@pytest.mark.slow  # a LiteRT conversion (ONNX Runtime and OpenVINO fp32 run by default)
def test_litert_fp32(small_network, calibration, tmp_path):
    check_fp32("litert", small_network, calibration, tmp_path)


@pytest.mark.slow
def test_litert_int8(small_network, calibration, tmp_path):
    check_int8("litert", small_network, calibration, tmp_path)
