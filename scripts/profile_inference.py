"""Where the fp32 SavedModel's inference time goes: a TensorFlow profiler
trace of its ``heatmaps`` signature, summed by op type.

    python -m scripts.profile_inference [--batch 1] [--calls 30] [--fresh_statistics]

Exports a random Pose-ResNet (``--depth``, 256x192, K=17; BatchNorm
statistics of a trained network's kind, ``scripts.random_weights``, unless
``--fresh_statistics``) as ``export_saved_model`` does, loads it as the
inference path does (``runtimes.load_network``), times ``--calls`` calls
(after 3 warm-up calls), then records as many with ``tf.profiler`` into
``--logdir`` (TensorBoard's profile plugin shows the timeline). Printed:
the wall time per call with and without the profiler, and the time per
call of each op type on TF's executor threads (ops of two threads can
overlap, so their sum may exceed the wall time).
"""

from __future__ import annotations

import collections
import glob
import importlib
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from scripts import machine  # noqa: E402

# keras_pose before TensorFlow: importing it turns TF's oneDNN kernels on.
importlib.import_module("keras_pose")

FLAGS = flags.FLAGS
flags.DEFINE_integer("depth", 50, "ResNet depth.")
flags.DEFINE_integer("batch", 1, "Crops per call.", lower_bound=1)
flags.DEFINE_integer("calls", 30, "Profiled calls (after as many unprofiled ones).",
                     lower_bound=1)
flags.DEFINE_boolean("fresh_statistics", False, "Keep a fresh network's BatchNorm statistics "
                     "(all folded biases zero: TF's convolution fusions do not apply).")
flags.DEFINE_string("logdir", os.path.join(tempfile.gettempdir(), "keras_pose_profile"),
                    "Where the trace is written.")
flags.DEFINE_integer("top", 12, "Op types printed.", lower_bound=1)


def _network(directory: str):
    """The exported heatmaps network: crops (B, 256, 192, 3) -> heatmaps."""
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.export import export_saved_model, runtimes
    from keras_pose.models import build_model_from_config
    from scripts.random_weights import trained_like_statistics
    config = apply_overrides(get_experiment("coco_resnet50_256x192"),
                             [f"model.depth={FLAGS.depth}"])
    model = build_model_from_config(config.model)
    if not FLAGS.fresh_statistics:
        trained_like_statistics(model)
    export_saved_model(model, config, directory)
    return runtimes.load_network(directory)


def _ms_per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return 1000 * (time.perf_counter() - start) / calls


def op_times(logdir: str, calls: int) -> tuple[collections.Counter, collections.Counter]:
    """(ms per call, ops per call) of each op type on TF's executor threads
    ('tf_Compute' lines of the host plane) in the newest trace of ``logdir``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    times, counts = collections.Counter(), collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if "/host:CPU" not in plane.name or not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name.replace("::", ""):  # Executor, thread-pool bookkeeping.
                    continue
                kind = name.rsplit(":", 1)[1]
                times[kind] += event.duration_ps / 1e9 / calls
                counts[kind] += 1 / calls
    return times, counts


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("profile_inference.py", _work)


def _work():
    import tensorflow as tf
    # Before the run (the profiler's own error came after it, as a traceback).
    cli.check_writable_leaving_no_folder(FLAGS.logdir, "--logdir")
    print(machine.header())
    with tempfile.TemporaryDirectory() as directory:
        network = _network(os.path.join(directory, "saved_model"))
        x = np.random.default_rng(0).normal(size=(FLAGS.batch, 256, 192, 3)).astype(np.float32)
        _ms_per_call(lambda: network(x), 3)  # Tracing, oneDNN's kernels: not timed.
        plain = _ms_per_call(lambda: network(x), FLAGS.calls)
        tf.profiler.experimental.start(FLAGS.logdir)
        profiled = _ms_per_call(lambda: network(x), FLAGS.calls)
        tf.profiler.experimental.stop()
    times, counts = op_times(FLAGS.logdir, FLAGS.calls)
    statistics = "fresh" if FLAGS.fresh_statistics else "trained-like"
    print(f"Pose-ResNet-{FLAGS.depth} 256x192 SavedModel fp32, batch {FLAGS.batch}, BatchNorm "
          f"statistics {statistics}: {plain:.1f} ms per call ({profiled:.1f} profiled); ops "
          f"{sum(times.values()):.1f} ms per call on the executor threads; trace in "
          f"{FLAGS.logdir}")
    print("| op type | ms per call | ops per call |\n| --- | --- | --- |")
    for kind, ms in times.most_common(FLAGS.top):
        print(f"| {kind} | {ms:.2f} | {counts[kind]:.0f} |")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
