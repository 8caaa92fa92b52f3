"""scripts/benchmark_video.py's detector in a runtime: loaded through the
checked cache predict.py uses (it loaded the export directly: a damaged one
failed every benchmark run with the runtime's traceback)."""

import glob
import os

import numpy as np

from tests.detection.conftest import TINY_DFINE, TINY_QUERIES, TINY_SIZE, skip_if_missing


def test_the_benchmarks_runtime_detector_comes_from_the_checked_cache(load_script, tmp_path,
                                                                     caplog):
    skip_if_missing("onnxruntime")
    import keras

    from keras_pose.detection.dfine import build_dfine_detector
    video = load_script("benchmark_video")
    keras.utils.set_random_seed(0)
    models = video.Models.__new__(video.Models)  # Only the detector's part of it.
    models.work_dir, models.frames, models._detectors = str(tmp_path), [], {}
    models.dfine = build_dfine_detector(TINY_DFINE, num_classes=80, image_size=TINY_SIZE,
                                        num_queries=TINY_QUERIES)
    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    first = models.detector("onnxruntime").detect(frame)
    network, = glob.glob(str(tmp_path / "detectors" / "*onnxruntime-fp32*" / "network.onnx"))
    with open(network, "r+b") as f:  # Cut short, as a full disk leaves it.
        f.truncate(os.path.getsize(network) // 2)
    models._detectors.clear()
    again = models.detector("onnxruntime").detect(frame)
    assert "cannot be read" in caplog.text and "exporting it again" in caplog.text
    np.testing.assert_allclose(again.boxes, first.boxes, atol=1e-4)
