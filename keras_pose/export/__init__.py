"""Export: a SavedModel that returns keypoints for TF Serving, TFLite, and the
heatmaps network for ONNX Runtime, OpenVINO and LiteRT at fp32 / bf16 / fp16 /
int8, guarded by an accuracy check against fp32."""

from keras_pose.export.precision import cpu_has_bf16, resolve_precision
from keras_pose.export.runtimes import export_network, load_network
from keras_pose.export.saved_model import PoseServingModule, export_saved_model, export_tflite

__all__ = ["PoseServingModule", "cpu_has_bf16", "export_network", "export_saved_model",
           "export_tflite", "load_network", "resolve_precision"]
