"""Training-step time of ``train.py``'s ``fit`` (PoseTrainingModel), on
in-memory batches (the data pipeline is measured by benchmark_pipeline_scaling),
side by side with PyTorch's step on the same architecture.

    python -m scripts.benchmark_training --experiment coco_resnet50_256x192 --batch 8
    python -m scripts.benchmark_training --experiment tiny --batch 16 --steps_per_execution 1,4
    taskset -c 1 python -m scripts.benchmark_training --experiment coco_resnet50_256x192 \\
        --batch 8 --threads 1   # one core: steadier on a busy machine

Each round times, one after the other, ``fit`` for every
``steps_per_execution`` given (one model each, built and warmed up once:
tracing is not timed) and, when torch is installed and the experiment is a
standard Pose-ResNet (the official layout: full stages, three 256-filter
kernel-4 deconvolutions, 1x1 final conv), PyTorch's step (``train()``
mode, Adam, MSE) on the same batch size and input size. Printed per round:
milliseconds per step, images per second and the process's CPU time per
step; then, over the rounds, the median (range) of images per second and
of each per-round ratio to PyTorch, by wall time and by CPU time (with
``--threads 1`` and ``taskset`` the CPU time is the steadier measure on a
busy machine).
"""

from __future__ import annotations

import importlib
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# keras_pose before TensorFlow: importing it turns TF's oneDNN kernels on.
importlib.import_module("keras_pose")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402

from scripts import machine  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("experiment", "tiny", "Named experiment (its model and input size).")
flags.DEFINE_integer("batch", 16, "Images per step.", lower_bound=1)
flags.DEFINE_integer("steps", 20, "Timed steps per measurement.", lower_bound=1)
flags.DEFINE_list("steps_per_execution", ["1"], "Values of steps_per_execution to time.")
cli.check_list_flag("steps_per_execution")
flags.DEFINE_integer("rounds", 3, "Measurements of each candidate (alternating).",
                     lower_bound=1)
flags.DEFINE_boolean("torch", True, "Also time PyTorch's step (when torch is installed and "
                     "the architecture is the official one).")
flags.DEFINE_integer("threads", 0, "CPU threads of TF (intra- and inter-op) and PyTorch; "
                     "0: their defaults.", lower_bound=0)
flags.DEFINE_multi_string("set", [], "Config overrides.")


class _Clock(keras.callbacks.Callback):
    """Times ``fit`` from its first step to its last, leaving out the
    deletion of the finished dataset iterator (which waits, in TF 2.21, for
    the tf.data autotuner's sleep to end: up to tens of seconds, a cost of
    each ``fit`` call, not of its steps; training makes one call)."""

    def on_train_begin(self, logs=None):
        self.start, self.cpu = time.perf_counter(), time.process_time()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu


def fit_runner(config, batch: int, steps_per_execution: int):
    """steps -> (seconds, CPU seconds, steps run) of ``fit`` on one repeated
    in-memory batch; the model is built, compiled and traced here."""
    import tensorflow as tf

    from keras_pose.models import build_model_from_config
    from keras_pose.training.model import PoseTrainingModel
    from keras_pose.training.trainer import make_optimizer
    keras.utils.set_random_seed(0)
    network = build_model_from_config(config.model)
    model = PoseTrainingModel(network, config, batch)
    model.compile(optimizer=make_optimizer(config), steps_per_execution=steps_per_execution)
    (w, h), (hw, hh), k = config.model.image_size, config.model.heatmap_size, \
        config.model.num_keypoints
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensors({
        "image": rng.integers(0, 255, (batch, h, w, 3)).astype("uint8"),
        "heatmaps": rng.uniform(size=(batch, hh, hw, k)).astype("float32"),
        "target_weight": np.ones((batch, k), "float32")}).repeat()
    model.fit(data, steps_per_epoch=2 * steps_per_execution, epochs=1, verbose=0)

    def run(steps: int) -> tuple[float, float, int]:
        steps = max(steps - steps % steps_per_execution, steps_per_execution)
        clock = _Clock()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
        return clock.seconds, clock.cpu_seconds, steps
    return run


def torch_runner(config, batch: int):
    """PyTorch's step on the same architecture (None: no torch, or an
    architecture ``tests.convert.torch_resnet`` does not build)."""
    import importlib.util
    m = config.model
    if (importlib.util.find_spec("torch") is None or m.blocks_per_stage
            or tuple(m.deconv_filters) != (256, 256, 256)
            or tuple(m.deconv_kernels) != (4, 4, 4) or m.final_kernel != 1):
        return None
    import torch

    from tests.convert.torch_resnet import TorchPoseResNet
    torch.manual_seed(0)
    net = TorchPoseResNet(m.depth, m.num_keypoints).train()
    optimizer = torch.optim.Adam(net.parameters(), config.train.learning_rate)
    (w, h), (hw, hh) = m.image_size, m.heatmap_size
    x = torch.randn(batch, 3, h, w)
    target = torch.rand(batch, m.num_keypoints, hh, hw)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), target)
        loss.backward()
        optimizer.step()
        return loss.item()
    step()
    step()

    def run(steps: int) -> tuple[float, float, int]:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        return time.perf_counter() - start, time.process_time() - cpu, steps
    return run


def _runners(config) -> dict:
    """name -> runner: ours for every ``--steps_per_execution``, PyTorch's."""
    runners = {f"ours: fit, steps_per_execution {int(v)}": fit_runner(config, FLAGS.batch, int(v))
               for v in FLAGS.steps_per_execution}
    if FLAGS.torch:
        if FLAGS.threads:
            import torch
            torch.set_num_threads(FLAGS.threads)
        run = torch_runner(config, FLAGS.batch)
        if run is None:
            print("PyTorch: not installed, or not the official architecture: not timed")
        else:
            runners["PyTorch fp32, train() mode, Adam"] = run
    return runners


def _report(times: dict[str, list[tuple[float, float]]]) -> None:
    """The table: images/s and the per-round ratios to PyTorch (>1: faster),
    from each round's (seconds per step, CPU seconds per step)."""
    reference = next((n for n in times if n.startswith("PyTorch")), None)
    print(f"\n{FLAGS.experiment}, batch {FLAGS.batch}, {os.cpu_count()} CPU cores, "
          f"threads {FLAGS.threads or 'default'}, {FLAGS.rounds} alternating rounds, "
          "median (min-max):")
    print("| step | images/s | ratio to PyTorch, wall time | ratio, CPU time |")
    print("|---|---|---|---|")
    for name, values in times.items():
        rate = FLAGS.batch / np.array([w for w, _ in values])
        cells = [f"{np.median(rate):.2f} ({rate.min():.2f}-{rate.max():.2f})", "", ""]
        if reference and name != reference:
            ref, own = np.array(times[reference]), np.array(values)
            by_wall, by_cpu = ref[:, 0] / own[:, 0], ref[:, 1] / own[:, 1]
            cells[1:] = [f"**{np.median(by_wall):.2f}x** ({by_wall.min():.2f}-"
                         f"{by_wall.max():.2f})",
                         f"{np.median(by_cpu):.2f}x ({by_cpu.min():.2f}-{by_cpu.max():.2f})"]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_training.py", _work)


def _work():
    from keras_pose.configs import apply_overrides, get_experiment
    if FLAGS.threads:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
        tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    print(machine.header())
    config = apply_overrides(get_experiment(FLAGS.experiment), FLAGS.set)
    runners = _runners(config)
    times: dict[str, list[tuple[float, float]]] = {}
    for round_ in range(FLAGS.rounds):
        for name, run in runners.items():
            seconds, cpu, steps = run(FLAGS.steps)
            times.setdefault(name, []).append((seconds / steps, cpu / steps))
            print(f"round {round_ + 1}: {FLAGS.experiment} batch {FLAGS.batch}, {name}: "
                  f"{seconds / steps * 1000:.0f} ms/step, {FLAGS.batch * steps / seconds:.2f} "
                  f"images/s, {cpu / steps * 1000:.0f} CPU ms/step", flush=True)
    _report(times)

if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
