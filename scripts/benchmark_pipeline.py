"""Training-pipeline throughput: this project's tf.data pipeline against the
reference's per-sample code, side by side, in samples per second per core.

    taskset -c 0 python scripts/benchmark_pipeline.py --data_dir tests/data/coco

The reference side is ``keras_pose.data.reference_impl``: a faithful
NumPy/OpenCV re-implementation of the official ``__getitem__`` (full
``cv2.imread``, ``warpAffine``, the per-joint Python target loop) with the
same random augmentation. Both produce 256x192 crops and 64x48 targets from
the real COCO images of the given directory (``test_coco.json``), repeated.
Run it pinned to one core (``taskset -c 0``) for per-core figures.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "tests/data/coco", "Directory with test_coco.json and its images.")
flags.DEFINE_integer("samples", 600, "Samples to time for each pipeline.")
flags.DEFINE_integer("repeats", 2, "Timed runs of each pipeline (the best is reported).")
flags.DEFINE_boolean("normalize", False, "Normalise in the pipeline (train.py normalises in "
                     "the training step instead).")


def _records():
    from keras_pose.data import coco
    return coco.load_coco_gt(os.path.join(FLAGS.data_dir, "test_coco.json"), FLAGS.data_dir,
                             192 / 256)


def time_ours(records, n: int) -> float:
    from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
    from keras_pose.data import pipeline
    reps = int(np.ceil(n / len(records))) + 1
    values = {k: np.concatenate([v] * reps) for k, v in records.to_dict().items()}
    ds = pipeline.build_train_dataset(
        values, image_size=(192, 256), heatmap_size=(48, 64), sigma=2.0,
        flip_pairs=COCO_FLIP_PAIRS, scale_factor=0.3, rotation_factor=40.0, batch_size=32,
        seed=0, drop_remainder=False, normalize=FLAGS.normalize)
    it = iter(ds)
    next(it)  # warm up (tracing, thread pools)
    count, start = 0, time.perf_counter()
    for batch in it:
        count += int(batch["image"].shape[0])
        if count >= n:
            break
    return count / (time.perf_counter() - start)


def time_reference(records, n: int) -> float:
    from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
    from keras_pose.data import reference_impl as ref
    rng = np.random.default_rng(0)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    start = time.perf_counter()
    for i in range(n):
        j = i % len(records)
        sf, rf = 0.3, 40.0
        s = np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf)
        r = np.clip(rng.standard_normal() * rf, -2 * rf, 2 * rf) if rng.random() <= 0.6 else 0
        crop, target, weight, _ = ref.reference_sample(
            records.image_path[j], records.joints[j], records.joints_vis[j], records.center[j],
            records.scale[j], image_size=(192, 256), heatmap_size=(48, 64), sigma=2.0,
            flip_pairs=COCO_FLIP_PAIRS, scale_multiplier=s, rotation=r, flip=rng.random() <= 0.5)
        _ = ((crop / 255.0 - mean) / std).astype(np.float32)  # the reference's ToTensor+Normalize
    return n / (time.perf_counter() - start)


def main(argv):
    del argv
    records = _records()
    cores = len(os.sched_getaffinity(0))
    ours = max(time_ours(records, FLAGS.samples) for _ in range(FLAGS.repeats))
    theirs = max(time_reference(records, FLAGS.samples) for _ in range(FLAGS.repeats))
    print(f"cores available: {cores}")
    print(f"keras_pose tf.data pipeline: {ours:8.1f} samples/s  ({ours / cores:.1f} per core)")
    print(f"reference per-sample code:   {theirs:8.1f} samples/s  ({theirs / cores:.1f} per core)")
    print(f"speed-up: {ours / theirs:.2f}x")


if __name__ == "__main__":
    app.run(main)
