"""The openvino export (Keras' own exporter) run in its runtime equals the Keras model."""

import pytest

from tests.export.runtime_checks import check_fp32, check_int8


def test_openvino_fp32(small_network, calibration, tmp_path):
    check_fp32("openvino", small_network, calibration, tmp_path)


@pytest.mark.slow
def test_openvino_int8(small_network, calibration, tmp_path):
    check_int8("openvino", small_network, calibration, tmp_path)
