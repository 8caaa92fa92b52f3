"""Parity: converted PyTorch weights give the PyTorch model's outputs.

The official architecture is defined in PyTorch (tests/convert/torch_resnet.py:
torchvision-style ResNet + three ConvTranspose2d(4, 2, padding 1, bias False)
+ BN + ReLU + 1x1 conv), initialised randomly with non-trivial BN statistics,
saved in the official checkpoint layouts, converted (read without torch),
and compared in eval mode.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch is not installed (pip install -e .[test]); the "
    "PyTorch parity tests need it")
nn = torch.nn

from keras_pose import convert  # noqa: E402
from keras_pose.checkpoint import load_model  # noqa: E402
from keras_pose.configs.base import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from keras_pose.convert.pretrained import load_pretrained_backbone  # noqa: E402
from keras_pose.convert.state_dict import ConversionError, read_state_dict  # noqa: E402
from keras_pose.models import build_pose_resnet  # noqa: E402
from tests.convert.torch_resnet import (random_model, save_official,  # noqa: E402
                                        torch_heatmaps)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
@pytest.mark.slow  # PyTorch parity
def test_pose_checkpoint_parity(tmp_path, depth, num_keypoints, layout, name):
    torch_model = random_model(depth, num_keypoints)
    source = str(tmp_path / name)
    save_official(torch_model, source, layout)
    out_dir = str(tmp_path / "converted")
    config = convert.convert_pose_checkpoint(source, out_dir)
    # The file name's 64x64 sets the input size.
    assert config.model.image_size == (64, 64)
    assert config.model.heatmap_size == (16, 16)
    assert config.model.color_order == "BGR"
    assert config.data.dataset == ("coco" if num_keypoints == 17 else "mpii")

    model, loaded_config = load_model(out_dir)
    assert loaded_config == config
    rng = np.random.default_rng(depth)
    x = rng.normal(size=(2, 64, 64, 3)).astype(np.float32)
    expected = torch_heatmaps(torch_model, x)
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
    plain = torch_heatmaps(model, x).transpose(0, 3, 1, 2)
    mirrored = torch_heatmaps(model, x[:, :, ::-1]).transpose(0, 3, 1, 2)
    back = mirrored[..., ::-1].copy()
    for a, b in flip_pairs:
        back[:, [a, b]] = back[:, [b, a]]
    shifted = back.copy()
    shifted[..., 1:] = back[..., :-1]
    return (plain + shifted) * 0.5


def _evaluation_keypoints(model, config, x, center, scale):
    """The one inference path (TopDownEstimator: network, flip test, decode)
    on crops that normalise to ``x`` exactly up to float rounding."""
    import dataclasses

    import tensorflow as tf
    from keras_pose.inference import TopDownEstimator
    identity = dataclasses.replace(config.model, color_order="RGB", mean=(0.0, 0.0, 0.0),
                                   std=(1 / 255.0,) * 3)  # (x / 255 - 0) * 255
    official_test = dataclasses.replace(config.test, shift_heatmap=True, refine=True)
    estimator = TopDownEstimator(lambda images: model(images, training=False),
                                 config.replace(model=identity, test=official_test), flip=True)
    out = estimator.keypoints_from_crops(
        tf.constant(x), tf.constant(center, tf.float32), tf.constant(scale, tf.float32),
        tf.ones([len(x)], tf.float32))
    return out["keypoints"].numpy(), out["keypoint_scores"].numpy()


@pytest.mark.slow  # PyTorch parity
def test_official_bgr_convention_on_a_real_image(tmp_path, coco_dir):
    """Official preprocessing (cv2 BGR, RGB statistics) in PyTorch equals RGB
    pixels + the converted config's normalisation in Keras."""
    import cv2
    from keras_pose.data import transforms
    torch_model = random_model(18, 17, seed=3)
    source = str(tmp_path / "pose_resnet_18_64x64.pth.tar")
    save_official(torch_model, source, "bare")
    out_dir = str(tmp_path / "converted")
    convert.convert_pose_checkpoint(source, out_dir)
    model, config = load_model(out_dir)

    path = os.path.join(coco_dir, "000000000785.jpg")
    bgr = cv2.resize(cv2.imread(path, cv2.IMREAD_COLOR), (64, 64),
                     interpolation=cv2.INTER_AREA)
    official = (bgr.astype(np.float32) / 255.0 - np.float32(IMAGENET_MEAN)) / np.float32(
        IMAGENET_STD)
    expected = torch_heatmaps(torch_model, official[None])

    # RGB as this project's readers return it (the decoder is not under test).
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    ours = np.asarray(transforms.normalize_image(
        rgb[None].astype(np.float32), config.model.color_order, config.model.mean,
        config.model.std))
    np.testing.assert_allclose(ours[0], official, atol=1e-5)
    got = np.asarray(model(ours, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


@pytest.mark.slow  # PyTorch parity
def test_backbone_only_parity(tmp_path):
    torch_model = random_model(18, head=False, seed=1)
    source = str(tmp_path / "resnet18-f37072fd.pth")
    torch.save(torch_model.state_dict(), source)  # torchvision: bare, with fc
    npz = str(tmp_path / "resnet18.npz")
    arch = convert.convert_backbone(source, npz)
    assert arch.depth == 18 and arch.has_classifier and not arch.has_head
    assert not any(k.startswith("fc") for k in np.load(npz).files)

    model = build_pose_resnet(18, 17, input_shape=(64, 96, 3))
    load_pretrained_backbone(model, npz, depth=18, style="pytorch")
    import keras
    features = keras.Model(model.input, model.get_layer("stage5_block2_out").output)
    x = np.random.default_rng(5).normal(size=(1, 64, 96, 3)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model.features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    expected = expected.numpy().transpose(0, 2, 3, 1)
    got = np.asarray(features(x, training=False))
    assert got.shape == expected.shape == (1, 2, 3, 512)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


@pytest.mark.slow  # PyTorch parity
def test_script_converts_and_reports_mismatches(tmp_path):
    """The command line: a good file converts, a broken one fails naming the
    offending tensor and writes nothing."""
    torch_model = random_model(18, 17, seed=2)
    good = str(tmp_path / "pose_resnet_18_64x64.pth.tar")
    save_official(torch_model, good, "module_state_dict")
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


@pytest.mark.slow  # PyTorch parity
def test_unreadable_files_are_named(tmp_path):
    garbage = tmp_path / "pose_resnet_50_256x192.pth.tar"
    garbage.write_bytes(b"\x00not a pickle" * 10)
    with pytest.raises(ConversionError,
                       match="pose_resnet_50_256x192.pth.tar: not a readable PyTorch"):
        read_state_dict(str(garbage))
    whole = tmp_path / "whole_model.pth"
    torch.save(nn.Sequential(nn.Conv2d(3, 4, 1)), whole)  # a pickled module
    with pytest.raises(ConversionError, match="state_dict"):
        read_state_dict(str(whole))
