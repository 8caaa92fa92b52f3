"""Peak memory and time of the SavedModel's ``encoded_image`` signature on a
large photo, for a few numbers of boxes.

Each measurement runs in a fresh process (so that peaks do not carry over):
it loads the SavedModel, calls ``encoded_image`` once with the JPEG bytes
and N boxes spread over the image, and reports the process's peak resident
memory (``ru_maxrss``), the resident memory before the call (the loaded
model) and the call's time.

    python -m scripts.benchmark_serving_memory --saved_model /tmp/sm --boxes 1,16,32

The image is 8000 x 6000 (48 megapixels) random-textured, encoded as JPEG
(``--megapixels`` changes it). Any SavedModel with an ``encoded_image``
signature (image_bytes, boxes) works, including ones written by older
versions of this project: that is how the before/after figures in
docs/benchmarks.md were taken.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from keras_pose.errors import FlagError  # noqa: E402

from scripts import machine  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("saved_model", None, "An exported SavedModel directory.")
flags.DEFINE_list("boxes", ["1", "16", "32"], "Numbers of boxes to measure.")
cli.check_list_flag("boxes")
# From a 115 x 87 image (its texture is drawn at 1/16 of the size) to JPEG's 65,535
# pixels a side.
flags.DEFINE_float("megapixels", 48.0, "Image size (4:3).", lower_bound=0.01, upper_bound=3000)
cli.check_finite_flag("megapixels")
flags.DEFINE_integer("repeats", 1, "Fresh processes per number of boxes.", lower_bound=1)
flags.DEFINE_string("child", None, "Internal: run one measurement (JSON arguments).")


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _measure(args: dict) -> dict:
    """One process: load, call once, report memory and time."""
    import numpy as np
    import tensorflow as tf
    loaded = tf.saved_model.load(args["saved_model"])
    signature = loaded.signatures["encoded_image"]
    with open(args["image"], "rb") as f:
        data = f.read()
    width, height, n = args["width"], args["height"], args["boxes"]
    rng = np.random.default_rng(0)
    w, h = width / 8, height / 3
    x = rng.uniform(0, width - w, n)
    y = rng.uniform(0, height - h, n)
    boxes = tf.constant(np.stack([x, y, np.full(n, w), np.full(n, h)], 1), tf.float32)
    before = _rss_mb()
    start = time.perf_counter()
    out = signature(image_bytes=tf.constant(data), boxes=boxes)
    keypoints = out["keypoints"]
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"boxes": n, "rss_before_call_mb": before, "peak_mb": peak, "seconds": seconds,
            "keypoints_shape": list(keypoints.shape)}


def _write_image(path: str, megapixels: float) -> tuple[int, int]:
    import cv2
    import numpy as np
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (height // 16, width // 16, 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"cannot write {path}")
    return width, height


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_serving_memory.py", _work)


def _work():
    if FLAGS.child:
        print(json.dumps(_measure(json.loads(FLAGS.child))))
        return
    if not FLAGS.saved_model:
        raise FlagError("--saved_model is required")
    if not os.path.isfile(os.path.join(FLAGS.saved_model, "saved_model.pb")):
        raise FlagError(f"--saved_model {FLAGS.saved_model}: no SavedModel there (a "
                             "folder holding saved_model.pb, as export_saved_model.py writes)")
    print(machine.header())
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "large.jpg")
        width, height = _write_image(image, FLAGS.megapixels)
        print(f"{FLAGS.saved_model}: {width}x{height} JPEG "
              f"({os.path.getsize(image) / 1e6:.1f} MB)")
        for n in [int(b) for b in FLAGS.boxes] * FLAGS.repeats:
            args = dict(saved_model=FLAGS.saved_model, image=image, width=width,
                        height=height, boxes=n)
            run = subprocess.run([sys.executable, "-m", "scripts.benchmark_serving_memory",
                                  "--child", json.dumps(args)],
                                 capture_output=True, text=True)
            if run.returncode:
                print(f"{n} boxes: failed (exit {run.returncode}): "
                      f"{run.stderr.strip().splitlines()[-1:]}")
                failures += 1
                continue
            r = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"{n:3d} boxes: peak {r['peak_mb']:8.0f} MB (loaded model "
                  f"{r['rss_before_call_mb']:.0f} MB), call {r['seconds']:.1f} s, "
                  f"keypoints {r['keypoints_shape']}")
    if failures:  # A failed measurement is no figure: the exit code says so too.
        sys.exit(1)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
