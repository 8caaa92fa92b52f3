"""The litert export (Keras' own exporter) run in its runtime equals the Keras model."""

from tests.export.runtime_checks import check_runtime, skip_unless_installed


def test_litert_fp32_and_int8(small_network, calibration, tmp_path):
    skip_unless_installed("litert")
    check_runtime("litert", small_network, calibration, tmp_path)
