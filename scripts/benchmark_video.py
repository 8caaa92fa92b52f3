"""What ``predict.py --input clip.mp4 --track`` costs per frame on this
machine, stage by stage, with random weights (nothing downloads).

    python -m scripts.benchmark_video [--people 4] [--frames 30]

On a 1280 x 720 video of ``--people`` people walking across a textured
background, times:

- the person detector (``KerasHubPersonDetector`` on the default preset's
  architecture, D-FINE-S) per frame, resizing included;
- the pose network path per person (``Predictor.predict`` of the experiment,
  default Pose-ResNet-50 256x192 with the flip test, all people of a frame
  in one call);
- the tracker's own work per frame (``PoseTracker.step`` minus the pose
  calls it makes): dense flow, joint propagation, box unification, NMS and
  greedy matching, with the people's true boxes as detections.

Random weights do not change any of these costs (the tracker's thresholds
are set to keep every pose, as a trained model's confident poses would be).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("experiment", "coco_resnet50_256x192", "Pose model experiment.")
flags.DEFINE_string("detector", "small", "D-FINE size of the detector ('' to skip).")
flags.DEFINE_integer("people", 4, "People per frame.")
flags.DEFINE_integer("frames", 30, "Timed frames (after 3 untimed).")


def _video(num_frames: int, people: int, rng) -> tuple[list, list]:
    """Frames (H, W, 3) uint8 and each frame's true boxes (people, 4)."""
    import cv2
    height, width = 720, 1280
    background = cv2.resize(rng.integers(0, 255, (45, 80, 3), dtype=np.uint8), (width, height))
    start = rng.uniform([50, 150], [1000, 250], (people, 2))
    frames, boxes = [], []
    for i in range(num_frames):
        frame = background.copy()
        xy = start + i * np.array([6.0, 1.0])
        for x, y in xy:
            cv2.rectangle(frame, (int(x), int(y)), (int(x) + 120, int(y) + 330), (200, 170, 150), -1)
            cv2.circle(frame, (int(x) + 60, int(y) - 30), 28, (210, 180, 160), -1)
        frames.append(frame)
        boxes.append(np.concatenate([xy - [0, 60], np.tile([120.0, 390.0], (people, 1))], 1))
    return frames, boxes


def _predictor(experiment: str):
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.inference import Predictor
    from keras_pose.inference.loading import PoseModel
    from keras_pose.models import build_model_from_config
    config = apply_overrides(get_experiment(experiment), ["model.pretrained=none"])
    network = build_model_from_config(config.model)
    return Predictor(PoseModel(lambda x: network(x, training=False), config, "keras", "",
                               keras_model=network))


def main(argv):
    del argv
    from keras_pose.configs.base import TrackConfig
    from keras_pose.tracking import PoseTracker
    rng = np.random.default_rng(0)
    frames, boxes = _video(FLAGS.frames + 3, FLAGS.people, rng)
    predictor = _predictor(FLAGS.experiment)
    pose_seconds = [0.0]

    def estimate(image, b, scores):
        start = time.perf_counter()
        result = predictor.predict(image, b, flip=True, box_scores=scores)
        pose_seconds[0] += time.perf_counter() - start
        return result

    # Random weights give low keypoint scores: keep every pose, so that the
    # tracker does its full work (the default thresholds would drop them).
    tracker = PoseTracker(TrackConfig(detection_threshold=0.0, keypoint_threshold=0.0), estimate)
    for frame, b in zip(frames[:3], boxes[:3]):  # Traces, warms up: not timed.
        tracker.step(frame, (b, np.ones(len(b))))
    pose_seconds[0], people = 0.0, 0
    start = time.perf_counter()
    for frame, b in zip(frames[3:], boxes[3:]):
        people += len(tracker.step(frame, (b, np.ones(len(b)))).track_ids)
    total = time.perf_counter() - start
    n = FLAGS.frames
    print(f"{FLAGS.experiment}, flip test: {1000 * pose_seconds[0] / max(people, 1):.0f} ms "
          f"per person ({people / n:.1f} people per frame)")
    print(f"tracker's own work (flow, propagation, matching) on 1280x720: "
          f"{1000 * (total - pose_seconds[0]) / n:.0f} ms per frame")
    print(f"tracking with pose, per frame: {1000 * total / n:.0f} ms")
    if FLAGS.detector:
        from keras_pose.detection import KerasHubPersonDetector
        from keras_pose.detection.dfine import build_dfine_detector
        detector = KerasHubPersonDetector(build_dfine_detector(FLAGS.detector))
        for frame in frames[:2]:
            detector.detect(frame)
        start = time.perf_counter()
        for frame in frames[3:]:
            detector.detect(frame)
        print(f"D-FINE-{FLAGS.detector[0].upper()} detector on 1280x720: "
              f"{1000 * (time.perf_counter() - start) / n:.0f} ms per frame")


if __name__ == "__main__":
    app.run(main)
