"""Benchmarks evaluation post-processing for 100,000 people on one core.

Times the three host-side steps that follow the network when evaluating the
104k-box COCO val2017 detection set: heatmap decoding (``MSRAHeatmap.decode_tf``
and ``to_image_tf``: argmax, quarter offset, back to the image, the same TF ops
the inference path runs after the network), rescoring
(``keras_pose.inference.estimator.person_scores``) and greedy OKS NMS per
image (``keras_pose.evaluation.coco.nms_per_image``). Network time is not
included. The heatmaps are Gaussian peaks plus noise (64x48x17, the 256x192
model); people are spread over images like the detection set (about 21 per
image) with near-duplicate boxes so that NMS has work to do. For comparison,
the same rescoring + NMS written like the reference (per person and per joint
Python loops, ``oks_iou`` per remaining person) runs on a subset and is
extrapolated.

Run on one core from the repository root (with the package installed,
``pip install -e .``):  taskset -c 0 python -m scripts.benchmark_postprocess
"""

import importlib
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# keras_pose before TensorFlow: importing it turns TF's oneDNN kernels on, as
# in predict.py and evaluate.py, whose post-processing this times.
importlib.import_module("keras_pose")

import time  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from keras_pose.errors import FlagError  # noqa: E402
from scripts import machine  # noqa: E402

from keras_pose.codec import MSRAHeatmap  # noqa: E402
from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS  # noqa: E402
from keras_pose.evaluation import coco  # noqa: E402
from keras_pose.inference.estimator import person_scores  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("people", 100_000, "People to post-process.", lower_bound=1)
flags.DEFINE_integer("chunk", 500, "People decoded per call (an eval batch; at most --people).",
                     lower_bound=1)
flags.DEFINE_float("people_per_image", 20.8, "Mean people per image (COCO val "
                   "detections: 104,125 boxes / 5,000 images).", lower_bound=1.0)
cli.check_finite_flag("people_per_image")  # inf: no image at all (a traceback).
flags.DEFINE_integer("reference_people", 5_000, "People for the reference-style "
                     "loop comparison (0: skip).", lower_bound=0)
flags.DEFINE_integer("seed", 0, "Random seed.")


def make_heatmaps(rng, count, height=64, width=48, k=17, sigma=2.0):
    """Gaussian peaks at random places plus noise, float32 (N, H, W, K)."""
    ys = np.arange(height, dtype=np.float32)[None, :, None, None]
    xs = np.arange(width, dtype=np.float32)[None, None, :, None]
    cy = rng.uniform(0, height - 1, (count, 1, 1, k)).astype(np.float32)
    cx = rng.uniform(0, width - 1, (count, 1, 1, k)).astype(np.float32)
    peak = rng.uniform(0.05, 1.0, (count, 1, 1, k)).astype(np.float32)
    maps = peak * np.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * sigma ** 2))
    return maps + rng.normal(0, 0.01, maps.shape).astype(np.float32)


def make_people(rng, count, per_image):
    """Image ids, box centers/scales, box scores and areas: a few true
    people per image, each with several jittered detections."""
    image_ids = np.sort(rng.integers(0, int(count / per_image), count))
    owner = rng.integers(0, 4, count)  # which true person of the image
    base = rng.uniform(100, 500, (int(count / per_image) + 1, 4, 2))
    center = base[image_ids, owner] + rng.normal(0, 3, (count, 2))
    scale = np.stack([rng.uniform(0.3, 1.5, count)] * 2, -1) * [0.75, 1.0]
    scale = scale * 1.25
    score = rng.uniform(0.0, 1.0, count)
    area = np.prod(scale * 200.0, axis=1)
    # Detections of the same true person share heatmaps (see main).
    return (image_ids, owner, center.astype(np.float32),
            scale.astype(np.float32), score, area)


def reference_rescore_and_nms(image_ids, kpts, box_scores, areas, sigmas,
                              in_vis=0.2, thr=0.9):
    """Rescoring + OKS NMS written like the reference's loops (timing only)."""
    variances = (np.asarray(sigmas) * 2) ** 2
    groups = {}
    for i, img in enumerate(image_ids.tolist()):
        groups.setdefault(img, []).append(i)
    kept_all = []
    for rows in groups.values():
        scores = []
        for n in rows:
            total, valid = 0.0, 0
            for j in range(kpts.shape[1]):
                s = kpts[n, j, 2]
                if s > in_vis:
                    total += s
                    valid += 1
            scores.append(box_scores[n] * (total / valid if valid else 0.0))
        scores = np.asarray(scores)
        flat = kpts[rows].reshape(len(rows), -1)
        a = areas[rows]
        order = scores.argsort()[::-1]
        keep = []
        while order.size > 0:
            i = order[0]
            keep.append(rows[i])
            g = flat[i]
            ious = np.zeros(order.size - 1)
            for m, d_i in enumerate(order[1:]):
                d = flat[d_i]
                e = ((d[0::3] - g[0::3]) ** 2 + (d[1::3] - g[1::3]) ** 2) / variances / (
                    (a[i] + a[d_i]) / 2 + np.spacing(1)) / 2
                ious[m] = np.sum(np.exp(-e)) / e.shape[0]
            order = order[np.where(ious <= thr)[0] + 1]
        kept_all.extend(keep)
    return kept_all


def _decoder(codec):
    """The inference path's decoding: heatmaps -> image coordinates, scores."""
    @tf.function(reduce_retracing=True)
    def decode(maps, center, scale):
        coords, scores = codec.decode_tf(tf.convert_to_tensor(maps))
        return codec.to_image_tf(coords, tf.cast(center, tf.float32),
                                 tf.cast(scale, tf.float32)), scores
    return decode


def rescore_and_nms(image_ids, coords, scores, box_score, area):
    """The evaluation's rescoring (threshold 0.2) then OKS NMS (0.9)."""
    rescored = person_scores(scores, box_score, 0.2).numpy()
    kept = coco.nms_per_image(image_ids, coords, rescored, area, 0.9, COCO_OKS_SIGMAS)
    return kept, rescored


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_postprocess.py", _work)


def _check_people() -> None:
    """Refuses fewer people than one image holds (was a traceback: no image)."""
    if FLAGS.people < FLAGS.people_per_image:
        raise FlagError(f"--people {FLAGS.people} is fewer than --people_per_image "
                        f"{FLAGS.people_per_image:g}: give at least one image's people, or a "
                        "smaller --people_per_image")


def _work():
    _check_people()
    print(machine.header())
    rng = np.random.default_rng(FLAGS.seed)
    n, chunk = FLAGS.people, min(FLAGS.chunk, FLAGS.people)  # Fewer people: one call.
    pool = make_heatmaps(rng, chunk)
    image_ids, owner, center, scale, box_score, area = make_people(
        rng, n, FLAGS.people_per_image)
    # Duplicates of one true person get the same heatmaps, so their decoded
    # keypoints nearly coincide and OKS NMS suppresses them.
    pool_index = (image_ids * 4 + owner) % chunk
    codec = MSRAHeatmap(input_size=(192, 256), heatmap_size=(48, 64), sigma=2.0)
    decode = _decoder(codec)
    decode(pool[:chunk], center[:chunk], scale[:chunk])  # Traces (not timed).
    coords = np.zeros((n, 17, 2), np.float32)
    scores = np.zeros((n, 17), np.float32)
    decode_s = 0.0
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        # The batch of heatmaps, as the network leaves them: a tensor (not timed).
        maps = tf.constant(pool[pool_index[lo:hi]])
        start = time.perf_counter()
        c, s = decode(maps, center[lo:hi], scale[lo:hi])
        coords[lo:hi] = c.numpy()
        scores[lo:hi] = s.numpy()
        decode_s += time.perf_counter() - start

    start = time.perf_counter()
    kept, rescored = rescore_and_nms(image_ids, coords, scores, box_score, area)
    nms_s = time.perf_counter() - start

    start = time.perf_counter()
    results = coco.make_results(image_ids[kept], coords[kept], scores[kept],
                                rescored[kept])
    results_s = time.perf_counter() - start
    assert len(results) == len(image_ids[kept])

    total = decode_s + nms_s + results_s
    num_images = len(np.unique(image_ids))
    print(f"people: {n:,} on {num_images:,} images; kept by OKS NMS: {len(kept):,}")
    print(f"decode (argmax, quarter offset, inverse affine): {decode_s:7.2f} s "
          f"({n / decode_s:,.0f} people/s)")
    print(f"rescoring + OKS NMS per image:                   {nms_s:7.2f} s "
          f"({n / nms_s:,.0f} people/s)")
    print(f"results JSON records:                            {results_s:7.2f} s")
    print(f"total post-processing for {n:,} people:          {total:7.2f} s "
          f"(target < 30 s on one core)")
    if FLAGS.reference_people:
        m = min(FLAGS.reference_people, n)
        # Whole images only, so that NMS sees the same groups.
        cut = int(np.searchsorted(image_ids, image_ids[m - 1], side="right"))
        kpts = np.concatenate([coords[:cut], scores[:cut, :, None]], -1)
        start = time.perf_counter()
        ref_kept = reference_rescore_and_nms(image_ids[:cut], kpts,
                                             box_score[:cut], area[:cut],
                                             COCO_OKS_SIGMAS)
        ref_s = time.perf_counter() - start
        ours, _ = rescore_and_nms(image_ids[:cut], coords[:cut], scores[:cut],
                                  box_score[:cut], area[:cut])
        same = sorted(ref_kept) == sorted(ours.tolist())
        print(f"reference-style loops, rescoring + NMS on {cut:,} people: "
              f"{ref_s:.2f} s -> {ref_s * n / cut:.1f} s for {n:,} "
              f"(same people kept: {same})")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
