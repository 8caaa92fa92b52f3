"""Inference speed: the exported SavedModel against an equivalent PyTorch model.

    python scripts/benchmark_inference.py [--depth 50] [--batch_sizes 1,32]

Exports a randomly initialised Pose-ResNet (256x192, K=17) twice, as the
plain Keras layers and in the optimised inference form (BatchNorm folded,
sub-pixel deconvolutions; the default of ``export_saved_model``), and times
the ``heatmaps`` signature (normalised crops -> heatmaps, the network only)
in images per second at each batch size. When torch is installed, the same
architecture defined in PyTorch here (torchvision-style bottlenecks, three
ConvTranspose2d(256, 4, 2, padding 1) + BN + ReLU, 1x1 conv) runs on the
same machine in eval mode for comparison.
"""

from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("depth", 50, "ResNet depth (50, 101, 152).")
flags.DEFINE_list("batch_sizes", ["1", "32"], "Batch sizes to time.")
flags.DEFINE_float("seconds", 8.0, "Minimum timed seconds per measurement.")


def _rate(fn, batch: int) -> float:
    fn()  # warm up
    fn()
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < FLAGS.seconds or runs < 2:
        fn()
        runs += 1
    return runs * batch / (time.perf_counter() - start)


def keras_rates(batches: list[int], optimize: bool) -> dict[int, float]:
    import tensorflow as tf
    from keras_pose.configs import apply_overrides, get_experiment
    from keras_pose.export import export_saved_model
    from keras_pose.models import build_model_from_config
    config = apply_overrides(get_experiment("coco_resnet50_256x192"),
                             [f"model.depth={FLAGS.depth}"])
    model = build_model_from_config(config.model)
    path = os.path.join(tempfile.mkdtemp(), "saved_model")
    export_saved_model(model, config, path, optimize=optimize)
    signature = tf.saved_model.load(path).signatures["heatmaps"]
    out = {}
    for b in batches:
        x = tf.constant(np.random.default_rng(0).normal(size=(b, 256, 192, 3)).astype(np.float32))
        out[b] = _rate(lambda: signature(images=x)["heatmaps"].numpy(), b)
    return out


def torch_rates(batches: list[int]) -> dict[int, float] | None:
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    blocks = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}[FLAGS.depth]

    class Bottleneck(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width * 4)
            self.down = None
            if stride != 1 or cin != width * 4:
                self.down = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False),
                                          nn.BatchNorm2d(width * 4))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return torch.relu(y + (self.down(x) if self.down is not None else x))

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for i in range(n):
            layers.append(Bottleneck(cin, width, 2 if (i == 0 and stage > 0) else 1))
            cin = width * 4
    for _ in range(3):
        layers += [nn.ConvTranspose2d(cin, 256, 4, 2, 1, bias=False), nn.BatchNorm2d(256),
                   nn.ReLU()]
        cin = 256
    layers.append(nn.Conv2d(256, 17, 1))
    net = nn.Sequential(*layers).eval()
    out = {}
    with torch.inference_mode():
        for b in batches:
            x = torch.randn(b, 3, 256, 192)
            out[b] = _rate(lambda: net(x).numpy(), b)
    return out


def main(argv):
    del argv
    batches = [int(b) for b in FLAGS.batch_sizes]
    plain = keras_rates(batches, optimize=False)
    ours = keras_rates(batches, optimize=True)
    theirs = torch_rates(batches)
    print(f"Pose-ResNet-{FLAGS.depth} 256x192, K=17, images/s on {os.cpu_count()} CPU cores")
    for b in batches:
        line = (f"batch {b:3d}: exported (optimised) {ours[b]:7.2f}   "
                f"exported (plain Keras layers) {plain[b]:7.2f}")
        if theirs:
            line += f"   PyTorch {theirs[b]:7.2f}   optimised/PyTorch {ours[b] / theirs[b]:.2f}x"
        print(line)
    if not theirs:
        print("(PyTorch not installed: pip install -e .[torch] for the comparison)")


if __name__ == "__main__":
    app.run(main)
