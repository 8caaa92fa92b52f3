"""The openvino export (Keras' own exporter) run in its runtime equals the Keras model."""

from tests.export.runtime_checks import check_runtime, skip_unless_installed


def test_openvino_fp32_and_int8(small_network, calibration, tmp_path):
    skip_unless_installed("openvino")
    check_runtime("openvino", small_network, calibration, tmp_path)
