"""The onnx export (Keras' own exporter) run in its runtime equals the Keras model."""

import pytest

from tests.export.runtime_checks import check_fp32, check_int8


def test_onnx_fp32(small_network, calibration, tmp_path):
    check_fp32("onnx", small_network, calibration, tmp_path)


@pytest.mark.slow
def test_onnx_int8(small_network, calibration, tmp_path):
    check_int8("onnx", small_network, calibration, tmp_path)
