"""Training-pipeline throughput: this project's tf.data pipeline against the
reference's per-sample code, side by side, in samples per second per core.

    taskset -c 0 python -m scripts.benchmark_pipeline --data_dir tests/data/coco

(run as a module from the repository root: the reference side lives with the
tests). The reference side is ``tests.reference_impl``: a faithful
NumPy/OpenCV re-implementation of the official ``__getitem__`` (full
``cv2.imread``, ``warpAffine``, the per-joint Python target loop) with the
same random augmentation. Both produce 256x192 crops and 64x48 targets from
the real COCO images of the given directory (``test_coco.json``).

The data set is made of ``--copies`` copies of each image, as separate files
(our pipeline decodes each image file once for all its people, so repeating
the same path would flatter it). People are dropped from the copies at random
(at least one is kept per copy) until the mean number of people per image is
``--people_per_image``: 2.63 by default, COCO train2017's ~150K people in
~57K images. Both sides process exactly the same records, each once per pass,
and each figure covers a whole pass, start-up included, after one untimed pass of each
(ours up to its last batch; the iterator's teardown is printed separately).
Run it pinned to one core (``taskset -c 0``) for per-core figures.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "tests/data/coco", "Directory with test_coco.json and its images.")
flags.DEFINE_integer("copies", 100, "Copies of each image (separate files).")
flags.DEFINE_float("people_per_image", 150 / 57,
                   "Mean people per image after dropping (COCO train2017: about 150K people "
                   "in about 57K images, 2.63).")
flags.DEFINE_integer("repeats", 3, "Timed passes of each pipeline (the best is reported).")


def make_records(work_dir: str) -> dict[str, np.ndarray]:
    """Person records over ``--copies`` file copies of the sample's images."""
    from keras_pose.data import coco
    records = coco.load_coco_gt(os.path.join(FLAGS.data_dir, "test_coco.json"), FLAGS.data_dir,
                                192 / 256).to_dict()
    rng = np.random.default_rng(0)
    rows, paths = [], []
    for c in range(FLAGS.copies):
        for source in sorted(set(records["image_path"])):
            name = f"{c:04d}_{os.path.basename(source)}"
            shutil.copyfile(source, os.path.join(work_dir, name))
            for i in np.flatnonzero(records["image_path"] == source):
                rows.append(i)
                paths.append(os.path.join(work_dir, name))
    rows, paths = np.array(rows), np.array(paths)
    num_images = len(set(paths))
    target = int(round(FLAGS.people_per_image * num_images))
    keep = np.ones(len(rows), bool)
    for i in rng.permutation(len(rows)):
        if keep.sum() <= target:
            break
        if np.sum(keep & (paths == paths[i])) > 1:
            keep[i] = False
    values = {k: np.asarray(v)[rows[keep]] for k, v in records.items()}
    values["image_path"] = paths[keep]
    return values


def time_ours(values, n: int) -> tuple[float, float]:
    """Samples per second over one epoch (one pass of the ``n`` people,
    batches of 32, the tail that does not fill a batch dropped), and the
    seconds that deleting the iterator then takes."""
    from keras_pose.codec import MSRAHeatmap
    from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
    from keras_pose.data import pipeline
    aug = pipeline.Augmentation((192, 256), COCO_FLIP_PAIRS, scale_factor=0.3,
                                rotation_factor=40.0, flip=True)
    steps = n // 32
    ds = pipeline.build_train_dataset(values, aug, MSRAHeatmap((192, 256), (48, 64), 2.0),
                                      batch_size=32, steps_per_epoch=steps, seed=0).take(steps)
    count, start = 0, time.perf_counter()
    iterator = iter(ds)
    for batch in iterator:
        count += int(batch["image"].shape[0])
    end = time.perf_counter()
    del iterator
    teardown = time.perf_counter() - end
    assert count == steps * 32, (count, n)
    return count / (end - start), teardown


def time_reference(records, n: int) -> float:
    """The reference's per-sample loop over the same records, in order."""
    from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
    from tests import reference_impl as ref
    rng = np.random.default_rng(0)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    start = time.perf_counter()
    for i in range(n):
        j = i
        sf, rf = 0.3, 40.0
        s = np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf)
        r = np.clip(rng.standard_normal() * rf, -2 * rf, 2 * rf) if rng.random() <= 0.6 else 0
        crop, target, weight, _ = ref.reference_sample(
            records["image_path"][j], records["joints"][j], records["joints_vis"][j],
            records["center"][j], records["scale"][j], image_size=(192, 256),
            heatmap_size=(48, 64), sigma=2.0,
            flip_pairs=COCO_FLIP_PAIRS, scale_multiplier=s, rotation=r, flip=rng.random() <= 0.5)
        _ = ((crop / 255.0 - mean) / std).astype(np.float32)  # the reference's ToTensor+Normalize
    return n / (time.perf_counter() - start)


def main(argv):
    del argv
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as work_dir:
        values = make_records(work_dir)
        n, num_images = len(values["image_path"]), len(set(values["image_path"]))
        time_ours(values, n), time_reference(values, n)  # warm-up, not reported
        ours, teardowns, theirs = [], [], []
        for _ in range(FLAGS.repeats):
            rate, teardown = time_ours(values, n)
            ours.append(rate)
            teardowns.append(teardown)
            theirs.append(time_reference(values, n))
    print(f"{n} people in {num_images} image files ({n / num_images:.2f} per image), "
          f"{cores} core(s) available")
    print("keras_pose tf.data pipeline: " + ", ".join(f"{v:.1f}" for v in ours) + " samples/s")
    print("  iterator teardown after each pass: "
          + ", ".join(f"{t:.2f}" for t in teardowns) + " s; with it: "
          + ", ".join(f"{n / (n / v + t):.1f}" for v, t in zip(ours, teardowns)) + " samples/s")
    print("reference per-sample code:   " + ", ".join(f"{v:.1f}" for v in theirs) + " samples/s")
    best, ref_best = max(ours), max(theirs)
    print(f"best: {best:.1f} vs {ref_best:.1f} samples/s ({best / cores:.1f} vs "
          f"{ref_best / cores:.1f} per core): {best / ref_best:.2f}x")


if __name__ == "__main__":
    app.run(main)
