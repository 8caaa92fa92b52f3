"""Parity: converted PyTorch weights give the PyTorch model's outputs.

The official architecture is defined here in PyTorch (torchvision-style
ResNet + three ConvTranspose2d(4, 2, padding 1, bias False) + BN + ReLU +
1x1 conv), initialised randomly with non-trivial BN statistics, saved in the
official checkpoint layout, converted, and compared in eval mode.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (pip install -e .[torch]); the "
    "PyTorch parity tests need it")
nn = torch.nn

from keras_pose.checkpoint import load_model  # noqa: E402
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from keras_pose.models import build_pose_resnet  # noqa: E402
from keras_pose.models import torch_convert  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3),
          101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


class _Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        skip = self.downsample(x) if self.downsample is not None else x
        return torch.relu(y + skip)


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride, downsample):
        super().__init__()
        # torchvision / official "pytorch" style: the stride is on the 3x3.
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.downsample = downsample

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        skip = self.downsample(x) if self.downsample is not None else x
        return torch.relu(y + skip)


class TorchPoseResNet(nn.Module):
    """The official PoseResNet layout; ``head=False`` adds torchvision's fc."""

    def __init__(self, depth, num_keypoints=17, head=True):
        super().__init__()
        block = _Bottleneck if depth >= 50 else _Basic
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for index, (blocks, width) in enumerate(zip(LAYERS[depth], (64, 128, 256, 512))):
            stride = 1 if index == 0 else 2
            layers = []
            for b in range(blocks):
                s = stride if b == 0 else 1
                down = None
                if b == 0 and (s != 1 or cin != width * block.expansion):
                    down = nn.Sequential(
                        nn.Conv2d(cin, width * block.expansion, 1, s, bias=False),
                        nn.BatchNorm2d(width * block.expansion))
                layers.append(block(cin, width, s, down))
                cin = width * block.expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
        self.head = head
        if head:
            deconvs = []
            for _ in range(3):
                deconvs += [nn.ConvTranspose2d(cin, 256, 4, 2, padding=1,
                                               output_padding=0, bias=False),
                            nn.BatchNorm2d(256), nn.ReLU(inplace=True)]
                cin = 256
            self.deconv_layers = nn.Sequential(*deconvs)
            self.final_layer = nn.Conv2d(256, num_keypoints, 1)
        else:
            self.fc = nn.Linear(cin, 1000)

    def features(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x

    def forward(self, x):
        return self.final_layer(self.deconv_layers(self.features(x)))


def _random_model(depth, num_keypoints=17, head=True, seed=0):
    torch.manual_seed(seed)
    model = TorchPoseResNet(depth, num_keypoints, head)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                # Non-trivial statistics so that a swapped mean/var or
                # gamma/beta shows; variance around 1 keeps activations tame.
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
                module.running_mean.uniform_(-0.3, 0.3)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(7)
            elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                fan = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan) ** 0.5)
                if module.bias is not None:
                    module.bias.uniform_(-0.1, 0.1)
        # Residual branches end with a small gamma (as trained ResNets do), so
        # that activations stay O(1) through 16 blocks instead of growing.
        for name, module in model.named_modules():
            if name.startswith("layer") and name.endswith(("bn3", "bn2")) and (
                    depth < 50 or name.endswith("bn3")):
                module.weight.uniform_(0.1, 0.3)
        model.eval()
        if head:
            # Trained heatmaps peak near 1: scale the final layer so that the
            # outputs have that magnitude (the tolerance is absolute).
            probe = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(9))
            peak = model(probe).abs().max()
            model.final_layer.weight.mul_(2.0 / peak)
            model.final_layer.bias.mul_(2.0 / peak)
    return model


def _save_official(model, path, layout):
    state = model.state_dict()
    if layout == "module_state_dict":  # training checkpoint of a DataParallel model
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        torch.save({"epoch": 140, "model": "pose_resnet",
                    "state_dict": {f"module.{k}": v for k, v in state.items()},
                    "perf": 0.7, "optimizer": optimizer.state_dict()}, path)
    else:
        # The released files: a bare state_dict in the pre-1.6 (non-zip)
        # serialisation of 2018's torch.
        torch.save(state, path, _use_new_zipfile_serialization=False)


def _torch_heatmaps(model, nhwc):
    with torch.no_grad():
        out = model(torch.from_numpy(nhwc.transpose(0, 3, 1, 2).copy()))
    return out.numpy().transpose(0, 2, 3, 1)


def _numpy_decode(heatmaps_nkhw, center, scale):
    """The official get_final_preds: argmax, quarter offset, inverse affine."""
    n, k, h, w = heatmaps_nkhw.shape
    flat = heatmaps_nkhw.reshape(n, k, -1)
    idx = flat.argmax(-1)
    maxvals = flat.max(-1)
    coords = np.stack([idx % w, idx // w], -1).astype(np.float64)
    coords *= (maxvals > 0)[..., None]
    for i in range(n):
        for j in range(k):
            hm = heatmaps_nkhw[i, j]
            px, py = int(coords[i, j, 0] + 0.5), int(coords[i, j, 1] + 0.5)
            if 1 < px < w - 1 and 1 < py < h - 1:
                coords[i, j, 0] += 0.25 * np.sign(hm[py, px + 1] - hm[py, px - 1])
                coords[i, j, 1] += 0.25 * np.sign(hm[py + 1, px] - hm[py - 1, px])
    out = np.empty_like(coords)
    for i in range(n):
        out[i, :, 0] = center[i, 0] + (coords[i, :, 0] - w / 2) * scale[i, 0] * 200 / w
        out[i, :, 1] = center[i, 1] + (coords[i, :, 1] - h / 2) * scale[i, 1] * 200 / h
    return out, maxvals


@pytest.mark.parametrize("depth,num_keypoints,layout,name", [
    (50, 17, "module_state_dict", "pose_resnet_50_64x64.pth.tar"),
    (18, 16, "bare", "pose_resnet_18_64x64.pth.tar"),
])
def test_pose_checkpoint_parity(tmp_path, depth, num_keypoints, layout, name):
    torch_model = _random_model(depth, num_keypoints)
    source = str(tmp_path / name)
    _save_official(torch_model, source, layout)
    out_dir = str(tmp_path / "converted")
    config = torch_convert.convert_pose_checkpoint(source, out_dir)
    # The file name's 64x64 sets the input size.
    assert config.model.image_size == (64, 64)
    assert config.model.heatmap_size == (16, 16)
    assert config.model.color_order == "BGR"
    assert config.data.dataset == ("coco" if num_keypoints == 17 else "mpii")

    model, loaded_config = load_model(out_dir)
    assert loaded_config == config
    rng = np.random.default_rng(depth)
    x = rng.normal(size=(2, 64, 64, 3)).astype(np.float32)
    expected = _torch_heatmaps(torch_model, x)
    got = np.asarray(model(x, training=False))
    assert got.shape == (2, 16, 16, num_keypoints)
    assert np.abs(expected).max() > 1e-2  # not a degenerate all-zero output
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)

    # Keypoints: evaluate.py's path (flip test in TF, HeatmapCodec.decode)
    # vs the official validate in PyTorch + a NumPy decode.
    center = np.array([[120.0, 80.0], [40.5, 300.0]])
    scale = np.array([[0.5, 0.5], [0.3, 0.3]])
    coords, scores = _evaluation_keypoints(model, config, x, center, scale)
    ref_coords, ref_scores = _numpy_decode(
        _torch_flip_test(torch_model, x, config.data.flip_pairs), center, scale)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    np.testing.assert_allclose(coords, ref_coords, atol=1e-3)


def _torch_flip_test(model, x, flip_pairs):
    """The official validate: mirrored input, heatmaps flipped back, pairs
    swapped, shifted one pixel right, averaged. (N, K, H, W)."""
    plain = _torch_heatmaps(model, x).transpose(0, 3, 1, 2)
    mirrored = _torch_heatmaps(model, x[:, :, ::-1]).transpose(0, 3, 1, 2)
    back = mirrored[..., ::-1].copy()
    for a, b in flip_pairs:
        back[:, [a, b]] = back[:, [b, a]]
    shifted = back.copy()
    shifted[..., 1:] = back[..., :-1]
    return (plain + shifted) * 0.5


def _evaluation_keypoints(model, config, x, center, scale):
    import tensorflow as tf
    from keras_pose.codec import HeatmapCodec
    from keras_pose.evaluation import inference
    dataset = tf.data.Dataset.from_tensor_slices({
        "image": x, "center": center.astype(np.float32),
        "scale": scale.astype(np.float32), "index": np.arange(len(x))}).batch(2)
    heatmap_fn = inference.make_heatmap_fn(
        inference.keras_model_fn(model), flip=True,
        flip_pairs=config.data.flip_pairs, shift_heatmap=True)
    predictions = inference.predict_dataset(
        heatmap_fn, dataset, len(x), HeatmapCodec.from_model_config(config.model),
        refine=True)
    return predictions.coords, predictions.scores


def test_official_bgr_convention_on_a_real_image(tmp_path, coco_dir):
    """Official preprocessing (cv2 BGR, RGB statistics) in PyTorch equals RGB
    pixels + the converted config's normalisation in Keras."""
    import cv2
    from keras_pose.data import transforms
    torch_model = _random_model(18, 17, seed=3)
    source = str(tmp_path / "pose_resnet_18_64x64.pth.tar")
    _save_official(torch_model, source, "bare")
    out_dir = str(tmp_path / "converted")
    torch_convert.convert_pose_checkpoint(source, out_dir)
    model, config = load_model(out_dir)

    path = os.path.join(coco_dir, "000000000785.jpg")
    bgr = cv2.resize(cv2.imread(path, cv2.IMREAD_COLOR), (64, 64),
                     interpolation=cv2.INTER_AREA)
    official = (bgr.astype(np.float32) / 255.0 - np.float32(IMAGENET_MEAN)) / np.float32(
        IMAGENET_STD)
    expected = _torch_heatmaps(torch_model, official[None])

    # RGB as this project's readers return it (the decoder is not under test).
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    ours = np.asarray(transforms.normalize_image(
        rgb[None].astype(np.float32), config.model.color_order, config.model.mean,
        config.model.std))
    np.testing.assert_allclose(ours[0], official, atol=1e-5)
    got = np.asarray(model(ours, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_backbone_only_parity(tmp_path):
    torch_model = _random_model(18, head=False, seed=1)
    source = str(tmp_path / "resnet18-f37072fd.pth")
    torch.save(torch_model.state_dict(), source)  # torchvision: bare, with fc
    npz = str(tmp_path / "resnet18.npz")
    arch = torch_convert.convert_backbone(source, npz)
    assert arch.depth == 18 and arch.has_classifier and not arch.has_head
    assert not any(k.startswith("fc") for k in np.load(npz).files)

    model = build_pose_resnet(18, 17, input_shape=(64, 96, 3), pretrained=npz)
    import keras
    features = keras.Model(model.input, model.get_layer("stage5_block2_out").output)
    x = np.random.default_rng(5).normal(size=(1, 64, 96, 3)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model.features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    expected = expected.numpy().transpose(0, 2, 3, 1)
    got = np.asarray(features(x, training=False))
    assert got.shape == expected.shape == (1, 2, 3, 512)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_script_converts_and_reports_mismatches(tmp_path):
    """The command line: a good file converts, a broken one fails naming the
    offending tensor and writes nothing."""
    torch_model = _random_model(18, 17, seed=2)
    good = str(tmp_path / "pose_resnet_18_64x64.pth.tar")
    _save_official(torch_model, good, "module_state_dict")
    state = torch_model.state_dict()
    state["final_layer.weight"] = state["final_layer.weight"][:, :128]
    state["extra_layer.weight"] = torch.zeros(3)
    bad = str(tmp_path / "pose_resnet_18_64x64_bad.pth.tar")
    torch.save(state, bad)
    script = os.path.join(REPO, "scripts", "convert_pytorch_checkpoint.py")
    # PYTHONPATH: works before `pip install -e .` too.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    outputs, codes = [], []
    for source, target in ((good, "good"), (bad, "bad")):
        result = subprocess.run(
            [sys.executable, script, "--input", source, "--output",
             str(tmp_path / target)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        outputs.append(result.stdout + result.stderr)
        codes.append(result.returncode)
    out = "\n".join(outputs)
    assert codes == [0, 1], out
    assert "Traceback" not in out
    assert os.path.isfile(tmp_path / "good" / "model.weights.h5")
    assert "K=17" in out and "BGR" in out
    assert "extra_layer.weight" in out and "final_layer.weight" in out
    assert not os.path.exists(tmp_path / "bad")


def test_unreadable_files_are_named(tmp_path):
    garbage = tmp_path / "pose_resnet_50_256x192.pth.tar"
    garbage.write_bytes(b"\x00not a pickle" * 10)
    with pytest.raises(torch_convert.ConversionError,
                       match="pose_resnet_50_256x192.pth.tar: not a readable PyTorch"):
        torch_convert.read_torch_state_dict(str(garbage))
    whole = tmp_path / "whole_model.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 4, 1)), whole)  # a pickled module
    with pytest.raises(torch_convert.ConversionError, match="state_dict"):
        torch_convert.read_torch_state_dict(str(whole))
