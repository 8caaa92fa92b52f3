"""Inference and training-step speed: our exports in every runtime and precision
against PyTorch, in one run, alternating.

    python -m scripts.benchmark_inference [--depth 50] [--batch_sizes 1,32] [--rounds 3]

Builds a randomly initialised Pose-ResNet (256x192, K=17; nothing downloads;
BatchNorm statistics of a trained network's kind, ``scripts.random_weights``),
exports its fused inference network (BatchNorm folded, sub-pixel
deconvolutions) in each installed runtime and precision:

- SavedModel ``heatmaps`` signature, fp32 and bf16 (bf16 in the graph); with
  ``--plain`` also the unfused Keras layers in fp32;
- ONNX Runtime fp32 and int8 (static QDQ quantization);
- OpenVINO fp32 (``INFERENCE_PRECISION_HINT=f32``), bf16 (hint bf16; CPUs
  without bf16 units run f32) and int8 (NNCF);
- LiteRT fp32 and int8 (full-integer, float input/output);

and, when torch is installed, the same architecture in PyTorch (eval mode,
``inference_mode``): eager fp32, bf16 autocast with channels_last, and
OpenVINO on the PyTorch model at fp32 (hint f32: the reference of the ratios)
and, where the device's default precision is another (bf16 on AVX-512 BF16 /
AMX CPUs), at that default too. int8 is calibrated on random crops: the figures
are speed only (accuracy: ``keras_pose.export.guard``).

Each round times every candidate at every batch size for ``--seconds``
(after two warm-up calls); rounds alternate candidates so that a change of
machine load touches all of them. Printed: images/s, the median and range
over rounds, and each candidate's speed relative to ``--reference``
(default: OpenVINO on the PyTorch model) as the median and range of the
per-round ratios, by wall time and by the process's CPU time per image (on
a busy machine the CPU time, with ``--threads 1`` and ``taskset -c N``, is
the steadier measure of the work done; wall-time figures want a quiet
machine).

TensorFlow runs with its oneDNN kernels (``keras_pose`` sets
``TF_ENABLE_ONEDNN_OPTS=1`` before TF is imported). oneDNN caches its
convolution kernels per shape for the whole process, and the first caller's
weight layout wins: ``--plain`` (weights in variables) run before the frozen
SavedModel at batch 1 would slow the latter down, so time it in a separate
run (``--plain --only plain``).

``--train`` also times one training step at batch ``--train_batch``: ours
(``PoseTrainingModel``, Adam) with the float32 and mixed_bfloat16 Keras
policies, and PyTorch's fp32 and bf16 autocast channels_last step.
"""

from __future__ import annotations

import importlib
import os
import tempfile
import time
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402

from scripts import machine  # noqa: E402

# keras_pose before TensorFlow: importing it turns TF's oneDNN kernels on.
importlib.import_module("keras_pose")

# The reference of the inference ratios: OpenVINO at fp32 on the PyTorch
# model (INFERENCE_PRECISION_HINT f32, whatever the CPU's default).
OPENVINO_TORCH_FP32 = "OpenVINO on the PyTorch model, fp32 hint"

FLAGS = flags.FLAGS
flags.DEFINE_integer("depth", 50, "ResNet depth (50, 101, 152).")
flags.DEFINE_list("batch_sizes", ["1", "32"], "Batch sizes to time.")
cli.check_list_flag("batch_sizes")
flags.DEFINE_float("seconds", 4.0, "Minimum timed seconds per measurement (at least two "
                   "calls).", lower_bound=0)
cli.check_finite_flag("seconds")
flags.DEFINE_integer("rounds", 3, "Alternating rounds over all candidates.", lower_bound=1)
flags.DEFINE_list("only", [], "Time only candidates whose name contains one of these.")
flags.DEFINE_integer("calibration", 16, "Random crops calibrating the int8 exports.",
                     lower_bound=1)
flags.DEFINE_float("max_call_seconds", 20.0, "A candidate whose call takes longer (bf16 "
                   "emulated on CPUs without bf16 units) is timed by one call, and skipped at "
                   "batch sizes where its call would take longer.")
flags.DEFINE_boolean("plain", False, "Also time the SavedModel of the plain (unfused) "
                     "Keras layers.")
flags.DEFINE_boolean("inference", True, "Time inference.")
flags.DEFINE_boolean("train", True, "Time the training step.")
flags.DEFINE_integer("train_batch", 8, "Training step batch size.", lower_bound=1)
flags.DEFINE_integer("threads", 0, "CPU threads of every runtime (TF intra- and inter-op, "
                     "OpenVINO, ONNX Runtime, LiteRT, PyTorch); 0: each runtime's default.",
                     lower_bound=0)
flags.DEFINE_string("reference", OPENVINO_TORCH_FP32, "Inference ratios are to "
                    "the candidate whose name starts with this (none found: no ratios); "
                    "training-step ratios are to PyTorch fp32.")

SIZE = (256, 192)  # height, width
Runner = Callable[[np.ndarray], object]


def _rate(fn: Callable[[], object], batch: int, seconds: float) -> tuple[float, float]:
    """(images/s, CPU seconds of the process per image)."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()  # warm up
    first = time.perf_counter() - start
    if first > FLAGS.max_call_seconds:
        # Too slow to repeat (emulated bf16): one call.
        return batch / first, (time.process_time() - cpu) / batch
    fn()
    runs, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds or runs < 2:
        fn()
        runs += 1
    return (runs * batch / (time.perf_counter() - start),
            (time.process_time() - cpu) / (runs * batch))


def _set_threads() -> None:
    """``--threads`` for TF (before it runs anything) and PyTorch."""
    if not FLAGS.threads:
        return
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    import importlib.util
    if importlib.util.find_spec("torch") is not None:
        import torch
        torch.set_num_threads(FLAGS.threads)


def _config():
    from keras_pose.configs import apply_overrides, get_experiment
    return apply_overrides(get_experiment("coco_resnet50_256x192"),
                           [f"model.depth={FLAGS.depth}"])


def our_runners(directory: str) -> dict[str, Runner]:
    """name -> crops -> heatmaps, for every installed runtime and precision."""
    from keras_pose.export import export_saved_model, runtimes
    from keras_pose.models import build_model_from_config
    from scripts.random_weights import trained_like_statistics
    config = _config()
    model = build_model_from_config(config.model)
    trained_like_statistics(model)  # Zero biases would cost TF its fusions.
    crops = np.random.default_rng(1).normal(
        size=(FLAGS.calibration, *SIZE, 3)).astype(np.float32)
    out = {}
    if FLAGS.plain and _wanted("ours: SavedModel fp32, plain Keras layers"):
        path = os.path.join(directory, "saved_model_plain")
        export_saved_model(model, config, path, optimize=False)
        out["ours: SavedModel fp32, plain Keras layers"] = runtimes.load_network(path)
    for precision in ("fp32", "bf16"):
        name = f"ours: SavedModel {precision}"
        if _wanted(name):
            path = os.path.join(directory, f"saved_model_{precision}")
            export_saved_model(model, config, path, precision=precision)
            out[name] = runtimes.load_network(path)
    names = {"onnx": "ONNX Runtime", "openvino": "OpenVINO", "litert": "LiteRT"}
    for fmt, precisions in (("onnx", ("fp32", "int8")), ("openvino", ("fp32", "bf16", "int8")),
                            ("litert", ("fp32", "int8"))):
        for precision in precisions:
            name = f"ours: {names[fmt]} {precision}"
            if runtimes.missing_packages(fmt, precision) or not _wanted(name):
                continue
            path = os.path.join(directory, f"{fmt}_{precision}{runtimes.SUFFIXES[fmt]}")
            start = time.perf_counter()
            runtimes.export_network(model, config, path, fmt, precision, calibration=crops)
            print(f"exported {name} in {time.perf_counter() - start:.0f} s", flush=True)
            out[name] = runtimes.load_network(path, FLAGS.threads or None)
    return out


def _wanted(name: str) -> bool:
    return not FLAGS.only or any(part in name for part in FLAGS.only)


def torch_network(depth: int, num_keypoints: int = 17):
    """The official architecture in PyTorch (``tests.convert.torch_resnet``,
    the one the parity tests check the converter against); None without
    torch."""
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        return None
    from tests.convert.torch_resnet import TorchPoseResNet
    return TorchPoseResNet(depth, num_keypoints)


def torch_runners() -> dict[str, Runner]:
    """PyTorch eager fp32, bf16 autocast channels_last, and OpenVINO on the
    PyTorch model (device default precision)."""
    net = torch_network(FLAGS.depth)
    if net is None:
        return {}
    import torch
    net = net.eval()
    fast = torch_network(FLAGS.depth).eval().to(memory_format=torch.channels_last)
    fast.load_state_dict(net.state_dict())

    def eager(x):
        with torch.inference_mode():
            return net(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).numpy()

    def bf16(x):
        nchw = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(
            memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return fast(nchw).float().numpy()

    out = {"PyTorch eager fp32": eager, "PyTorch bf16 autocast channels_last": bf16}
    try:
        import openvino as ov
    except ImportError:
        return out
    model = ov.convert_model(net, example_input=torch.zeros(1, 3, *SIZE))
    config = {"INFERENCE_NUM_THREADS": FLAGS.threads} if FLAGS.threads else {}
    # fp32 always (the reference); the device's default precision too when it
    # is another (bf16 on AVX-512 BF16 / AMX CPUs).
    fp32 = ov.compile_model(model, "CPU", {**config, "INFERENCE_PRECISION_HINT": "f32"})
    out[OPENVINO_TORCH_FP32] = _openvino_nchw(fp32)
    default = ov.compile_model(model, "CPU", config)
    precision = default.get_property("INFERENCE_PRECISION_HINT")
    if str(precision) != str(fp32.get_property("INFERENCE_PRECISION_HINT")):
        out[f"OpenVINO on the PyTorch model (default hint: {precision})"] = \
            _openvino_nchw(default)
    return out


def _openvino_nchw(compiled) -> Runner:
    """A compiled OpenVINO model of NCHW input as a runner of NHWC batches."""
    request = compiled.create_infer_request()
    return lambda x: request.infer([np.ascontiguousarray(x.transpose(0, 3, 1, 2))])


def alternate(runners: dict[str, Runner], batches: list[int]) -> dict:
    """(name, batch) -> (images/s, CPU seconds per image) of each round."""
    inputs = {b: np.random.default_rng(b).normal(size=(b, *SIZE, 3)).astype(np.float32)
              for b in batches}
    for fn in runners.values():  # Tracing / graph compilation, out of every timing.
        fn(inputs[min(batches)])
    rates: dict = {}
    for r in range(FLAGS.rounds):
        for name, fn in runners.items():
            for b in batches:
                seen = [x for (n, _), xs in rates.items() if n == name for x, _ in xs]
                if seen and b / max(seen) > FLAGS.max_call_seconds:
                    print(f"round {r + 1}: {name:55s} batch {b:3d}: skipped (a call would "
                          f"take about {b / max(seen):.0f} s)", flush=True)
                    continue
                rate, cpu = _rate(lambda: fn(inputs[b]), b, FLAGS.seconds)
                rates.setdefault((name, b), []).append((rate, cpu))
                print(f"round {r + 1}: {name:55s} batch {b:3d}: {rate:7.2f} images/s, "
                      f"{cpu * 1000:7.1f} CPU ms/image", flush=True)
    return rates


def keras_train_steps() -> dict[str, Callable[[], object]]:
    """Our training step (PoseTrainingModel, train.py's Adam) under two Keras policies."""
    import tensorflow as tf
    from keras_pose.export.precision import dtype_policy_scope
    from keras_pose.models import build_model_from_config
    from keras_pose.training.model import PoseTrainingModel
    from keras_pose.training.trainer import make_optimizer
    config = _config()
    b, (h, w) = FLAGS.train_batch, SIZE
    rng = np.random.default_rng(0)
    batch = {"image": tf.constant(rng.integers(0, 255, (b, h, w, 3)), tf.uint8),
             "heatmaps": tf.constant(rng.uniform(0, 1, (b, h // 4, w // 4, 17)), tf.float32),
             "target_weight": tf.ones((b, 17), tf.float32)}
    out = {}
    for policy in ("float32", "mixed_bfloat16"):
        with dtype_policy_scope(policy):
            network = build_model_from_config(config.model)
            model = PoseTrainingModel(network, config, b)
            model.compile(optimizer=make_optimizer(config))  # train.py's Adam
            step = tf.function(model.train_step)
            out[f"ours: Keras {policy}"] = (lambda s: lambda: s(batch)["loss"].numpy())(step)
    return out


def torch_train_steps() -> dict[str, Callable[[], object]]:
    """PyTorch's step (Adam, MSE): fp32, and bf16 autocast channels_last."""
    net = torch_network(FLAGS.depth)
    if net is None:
        return {}
    import torch
    b, (h, w) = FLAGS.train_batch, SIZE
    x = torch.randn(b, 3, h, w)
    target = torch.rand(b, 17, h // 4, w // 4)
    out = {}
    for name, fmt, dtype in (("PyTorch fp32", torch.contiguous_format, None),
                             ("PyTorch bf16 autocast channels_last", torch.channels_last,
                              torch.bfloat16)):
        model = torch_network(FLAGS.depth).train().to(memory_format=fmt)
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        inputs = x.contiguous(memory_format=fmt)

        def step(model=model, optimizer=optimizer, inputs=inputs, dtype=dtype):
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
                loss = torch.nn.functional.mse_loss(model(inputs).float(), target)
            loss.backward()
            optimizer.step()
            return loss.item()
        out[name] = step
    return out


def _report(rates: dict, batches: list[int], what: str, prefix: str) -> None:
    """The table; ratios to the candidate whose name starts with ``prefix``."""
    names = list(dict.fromkeys(name for name, _ in rates))
    reference = next((n for n in names if n.startswith(prefix)), None)
    threads = f"{FLAGS.threads} thread(s) per runtime" if FLAGS.threads else \
        "default threads"
    print(f"\nPose-ResNet-{FLAGS.depth} 256x192, K=17, {what}, on {os.cpu_count()} CPU cores, "
          f"{threads}, {FLAGS.rounds} alternating rounds, median (min-max)"
          + (f"; ratio to {reference} per round (by wall time; by CPU time)" if reference
             else "") + ":")
    print("| | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|---|" + "---|" * len(batches))

    def cell(name, b):
        if (name, b) not in rates:
            return "skipped (too slow)"
        wall = np.array([w for w, _ in rates[name, b]])
        text = f"{np.median(wall):.2f} ({wall.min():.2f}-{wall.max():.2f})"
        if reference and (reference, b) in rates and name != reference:
            n = min(len(rates[name, b]), len(rates[reference, b]))
            ref = np.array(rates[reference, b][:n])
            own = np.array(rates[name, b][:n])
            by_wall, by_cpu = own[:, 0] / ref[:, 0], ref[:, 1] / own[:, 1]
            text += (f", **{np.median(by_wall):.2f}x** ({by_wall.min():.2f}-"
                     f"{by_wall.max():.2f}); CPU {np.median(by_cpu):.2f}x "
                     f"({by_cpu.min():.2f}-{by_cpu.max():.2f})")
        return text
    for name in names:
        print(f"| {name} | " + " | ".join(cell(name, b) for b in batches) + " |")


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_inference.py", _work)


def _work():
    print(machine.header())
    _set_threads()
    batches = [int(b) for b in FLAGS.batch_sizes]
    if FLAGS.inference:
        with tempfile.TemporaryDirectory() as directory:
            runners = {**our_runners(directory), **torch_runners()}
            runners = {k: v for k, v in runners.items() if _wanted(k)}
            inference = alternate(runners, batches)
        _report(inference, batches, "inference images/s", FLAGS.reference)
    if FLAGS.train:
        steps = {**keras_train_steps(), **torch_train_steps()}
        runners = {k: (lambda s: lambda x: s())(v) for k, v in steps.items() if _wanted(k)}
        _report(alternate(runners, [FLAGS.train_batch]), [FLAGS.train_batch],
                "training step images/s", "PyTorch fp32")


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
