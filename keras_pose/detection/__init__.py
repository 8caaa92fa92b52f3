"""Person detection for the top-down pose pipeline.

Every detector maps an (H, W, 3) uint8 RGB image to ``Detections`` (boxes
(M, 4) float32 [x, y, w, h] pixels, scores (M,) best first):

- ``KerasHubPersonDetector``: a COCO-trained D-FINE from keras-hub (default
  preset ``dfine_small_obj2coco``, downloaded on first use), also usable in a
  TF graph (``detect_tf``);
- ``RuntimePersonDetector``: the same D-FINE with its network exported to
  ONNX Runtime or OpenVINO (on first use, cached), the same boxes within
  0.1 px;
- ``FileDetector``: boxes from COCO detection results or ``{file: boxes}``;
- ``WholeImageDetector``: the whole image as one person.

``make_detector(spec, boxes)`` builds one from command-line settings;
``write_coco_detections`` saves detections for ``evaluate.py --detections``.
"""

from keras_pose.detection.base import (Detections, PersonDetector, WholeImageDetector,
                                       filter_detections, filter_detections_tf)
from keras_pose.detection.box_files import DetectionFileError, load_detection_file
from keras_pose.detection.factory import make_detector
from keras_pose.detection.file_detectors import FileDetector
from keras_pose.detection.keras_hub_detector import (DEFAULT_PRESET, DetectorUnavailableError,
                                                     KerasHubPersonDetector)
from keras_pose.detection.results import write_coco_detections
from keras_pose.detection.runtime_detector import RuntimePersonDetector
from keras_pose.detection.runtimes import RuntimeUnavailableError

__all__ = [
    "DEFAULT_PRESET", "DetectionFileError", "Detections", "DetectorUnavailableError",
    "FileDetector", "KerasHubPersonDetector", "PersonDetector", "RuntimePersonDetector",
    "RuntimeUnavailableError", "WholeImageDetector",
    "filter_detections", "filter_detections_tf", "load_detection_file", "make_detector",
    "write_coco_detections",
]
