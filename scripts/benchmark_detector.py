"""Person-detector speed on this machine, with random weights (no download).

    python -m scripts.benchmark_detector [--architectures small] [--batch_sizes 1,4]

Builds the keras-hub D-FINE architecture of the default preset
(``dfine_small_obj2coco``: D-FINE-S; ``--architectures nano,small,medium``
for the others) with random weights, wrapped in ``KerasHubPersonDetector``,
and prints images per second:

- the network at its 640 x 640 input (already resized images), decoding and
  NMS included, at each batch size;
- ``detect`` on whole images of each ``--image_sizes`` (resizing included),
  one image per call, as ``predict.py`` runs it.

The weights do not change the cost (the decoder always refines all 300
queries), so the figures hold for the downloaded preset.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402

from scripts import machine  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("architectures", ["small"], "D-FINE sizes: nano, small, medium.")
cli.check_list_flag("architectures", kind=None, words=("nano", "small", "medium"))
flags.DEFINE_list("batch_sizes", ["1", "4"], "Batch sizes for the network timing.")
cli.check_list_flag("batch_sizes")
flags.DEFINE_list("image_sizes", ["480x640", "720x1280", "1080x1920"],
                  "Whole-image sizes (HxW) for the detect() timing.")
cli.check_list_flag("image_sizes", pattern=r"[1-9][0-9]*[xX][1-9][0-9]*",
                    form="HEIGHTxWIDTH, e.g. 720x1280")
flags.DEFINE_float("seconds", 10.0, "Minimum timed seconds per measurement.")


def _rate(fn, images_per_call: int) -> float:
    """Images per second of ``fn`` after two warm-up calls."""
    fn()
    fn()
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < FLAGS.seconds or runs < 2:
        fn()
        runs += 1
    return runs * images_per_call / (time.perf_counter() - start)


def _load() -> str:
    """The 1-minute load average: other processes slow the figures down."""
    return f" [load {os.getloadavg()[0]:.2f}]" if hasattr(os, "getloadavg") else ""


def time_architecture(name: str) -> None:
    import tensorflow as tf

    from keras_pose.detection import KerasHubPersonDetector
    from keras_pose.detection.dfine import build_dfine_detector
    start = time.perf_counter()
    model = build_dfine_detector(name)
    detector = KerasHubPersonDetector(model)
    height, width = detector.input_size
    print(f"\nD-FINE {name}: {model.count_params():,} parameters, input {height}x{width} "
          f"(built in {time.perf_counter() - start:.1f} s)")
    rng = np.random.default_rng(0)
    detect = detector._untracked.detect  # the traced network + decoding + NMS
    for batch in [int(b) for b in FLAGS.batch_sizes]:
        x = tf.constant(rng.uniform(size=(batch, height, width, 3)).astype(np.float32))
        sizes = tf.constant([[height, width]] * batch, tf.float32)
        start = time.perf_counter()
        detect(x, sizes)
        first = time.perf_counter() - start
        rate = _rate(lambda: [t.numpy() for t in detect(x, sizes)], batch)
        print(f"  network, batch {batch:2d}: {rate:6.2f} images/s ({1000 / rate:7.1f} ms per "
              f"image; first call {first:.1f} s){_load()}")
    for spec in FLAGS.image_sizes:
        h, w = (int(v) for v in spec.lower().split("x"))
        image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        rate = _rate(lambda: detector.detect(image), 1)
        print(f"  detect() on a {h}x{w} image: {rate:6.2f} images/s ({1000 / rate:7.1f} ms)"
              f"{_load()}")


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_detector.py", _work)


def _work():
    import keras_hub
    import tensorflow as tf
    print(machine.header())
    print(f"TensorFlow {tf.__version__}, keras-hub {keras_hub.__version__}, "
          f"{FLAGS.seconds:.0f} s per measurement")
    for name in FLAGS.architectures:
        time_architecture(name)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
