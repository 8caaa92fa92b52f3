"""OpenVINO's compile settings per precision."""

from keras_pose.openvino_settings import compile_config


def test_fp32_and_bf16_are_asked_for_and_int8_keeps_openvinos_choice():
    assert compile_config("fp32") == {"INFERENCE_PRECISION_HINT": "f32"}
    assert compile_config("bf16", 2) == {"INFERENCE_PRECISION_HINT": "bf16",
                                         "INFERENCE_NUM_THREADS": 2}
    assert compile_config("int8") == {}
