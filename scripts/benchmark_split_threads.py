"""Batch 1 on two threads: TF's intra-op threading against the same
convolutions split in two halves of their output channels, each half an op
of its own on two inter-op threads with one intra-op thread each.

    for mode in whole split one_thread; do
        python -m scripts.benchmark_split_threads --mode $mode; done

TF's thread settings are process-wide and fixed at start-up, so each mode is
its own process: run them one after the other, repeated, on a quiet machine
(docs/benchmarks.md, "A lead, not built"). Two measurements per mode: a
chain of eight 3x3 convolutions (bias, ReLU) at each stage's size
(``layers``), and a whole Pose-ResNet-50 256x192 written in raw TF ops
(``network``: bottlenecks [3, 4, 6, 3], the head as three
``conv2d_transpose``, random weights as constants). An experiment, not the
exported network (``keras_pose.export.inference_model``).
"""

from __future__ import annotations

import importlib
import time

import numpy as np
from absl import app, flags

from keras_pose import cli
from scripts import machine

# keras_pose before TensorFlow: importing it turns TF's oneDNN kernels on.
importlib.import_module("keras_pose")
import tensorflow as tf  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_enum("mode", "whole", ["whole", "split", "one_thread"],
                  "whole: TF's default threads; split: halves on 2 inter-op threads, "
                  "1 intra-op; one_thread: whole, 1 thread.")
flags.DEFINE_float("seconds", 4.0, "Seconds per timed round of the network.",
                   lower_bound=0.1)  # 0 or nan timed no call: "0.00 images/s".
cli.check_finite_flag("seconds")

LAYERS = [(64, 48, 64), (32, 24, 128), (16, 12, 256), (8, 6, 512)]  # (h, w, channels)


class Builder:
    """Raw TF ops with seeded random weights; ``split`` halves the output
    channels of every convolution of 128 or more (and of the head)."""

    def __init__(self, split: bool):
        self.split = split
        self.rng = np.random.default_rng(0)

    def _halves(self, w: np.ndarray, b: np.ndarray, axis: int, count: int):
        if not self.split or count < 128:
            return [(w, b)]
        half = count // 2
        return [(np.take(w, range(half), axis), b[:half]),
                (np.take(w, range(half, count), axis), b[half:])]

    def conv(self, x, k: int, cin: int, cout: int, stride: int = 1, relu: bool = True,
             residual=None):
        w = (self.rng.standard_normal((k, k, cin, cout)) * np.sqrt(2 / (k * k * cin)))
        b = self.rng.standard_normal(cout) * 0.1
        outs = [tf.nn.bias_add(tf.nn.conv2d(x, tf.constant(pw, tf.float32), stride, "SAME"),
                               tf.constant(pb, tf.float32))
                for pw, pb in self._halves(w, b, 3, cout)]
        y = outs[0] if len(outs) == 1 else tf.concat(outs, -1)
        y = y if residual is None else y + residual
        return tf.nn.relu(y) if relu else y

    def deconv(self, x, cin: int, cout: int):
        w = self.rng.standard_normal((4, 4, cout, cin)) * 0.02
        b = self.rng.standard_normal(cout) * 0.1
        h, wd = x.shape[1], x.shape[2]
        outs = [tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d_transpose(
                    x, tf.constant(pw, tf.float32), [1, 2 * h, 2 * wd, pw.shape[2]], 2, "SAME"),
                    tf.constant(pb, tf.float32)))
                for pw, pb in self._halves(w, b, 2, cout)]
        return outs[0] if len(outs) == 1 else tf.concat(outs, -1)

    def network(self, x):
        """(1, 256, 192, 3) -> (1, 64, 48, 17)."""
        x = tf.nn.max_pool2d(self.conv(x, 7, 3, 64, 2), 3, 2, "SAME")
        cin = 64
        for width, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            for i in range(blocks):
                s = stride if i == 0 else 1
                short = self.conv(x, 1, cin, width * 4, s, relu=False) if i == 0 else x
                y = self.conv(self.conv(x, 1, cin, width), 3, width, width, s)
                x, cin = self.conv(y, 1, width, width * 4, residual=short), width * 4
        for _ in range(3):
            x, cin = self.deconv(x, cin, 256), 256
        return self.conv(x, 1, 256, 17, relu=False)


def _per_call(fn, x, calls: int = 20, rounds: int = 5) -> float:
    """Best of ``rounds`` mean seconds per call, after 5 warm-up calls."""
    for _ in range(5):
        fn(x)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn(x)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def time_layers(builder: Builder) -> str:
    rng = np.random.default_rng(1)
    parts = []
    for h, w, c in LAYERS:
        x = tf.constant(rng.standard_normal((1, h, w, c)), tf.float32)

        def chain(y, c=c):  # Traced once: eight convolutions, their weights constants.
            for _ in range(8):
                y = builder.conv(y, 3, c, c)
            return y

        seconds = _per_call(tf.function(chain), x) / 8
        parts.append(f"{h}x{w}x{c} {seconds * 1e3:.3f}")
    return "ms per 3x3 convolution: " + ", ".join(parts)


def time_network(builder: Builder) -> str:
    fn = tf.function(builder.network)
    x = tf.constant(np.random.default_rng(2).standard_normal((1, 256, 192, 3)), tf.float32)
    assert fn(x).shape == (1, 64, 48, 17)
    _per_call(fn, x, calls=5, rounds=1)
    rates = []
    for _ in range(3):
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < FLAGS.seconds:
            fn(x)
            calls += 1
        rates.append(calls / (time.perf_counter() - start))
    return "network images/s: " + " ".join(f"{r:.2f}" for r in rates)


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_split_threads.py", _work)


def _work():
    if FLAGS.mode != "whole":  # Before any op runs: TF fixes them then.
        threads = (2, 1) if FLAGS.mode == "split" else (1, 1)
        tf.config.threading.set_inter_op_parallelism_threads(threads[0])
        tf.config.threading.set_intra_op_parallelism_threads(threads[1])
    print(machine.header())
    builder = Builder(split=FLAGS.mode == "split")
    print(f"{FLAGS.mode}: {time_layers(builder)}")
    print(f"{FLAGS.mode}: {time_network(builder)}")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
