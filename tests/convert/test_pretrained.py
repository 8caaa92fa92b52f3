"""Backbone initialisation: model.pretrained values, the download cache, hashes.

No network: files are served from ``file://`` URLs in tmp_path, the cache is
a tmp_path folder (KERAS_POSE_CACHE), and the unreachable URL is a closed
port on 127.0.0.1.
"""

import hashlib
import os
import shutil

import numpy as np
import pytest

from keras_pose.configs import apply_overrides, get_experiment, list_experiments
from keras_pose.convert import download, imagenet
from keras_pose.convert.pretrained import load_pretrained_backbone, pretrained_source
from keras_pose.convert.state_dict import ConversionError
from keras_pose.models import build_pose_resnet

torch = pytest.importorskip("torch", reason="torch (test extra) writes the weight files")

from tests.convert.torch_resnet import random_model  # noqa: E402

# What the official yaml files name (MODEL.PRETRAINED), per depth.
OFFICIAL_FILES = {50: "resnet50-19c8e357.pth", 101: "resnet101-5d3b4d8f.pth",
                  152: "resnet152-b121ed2d.pth"}
INPUT = (64, 64, 3)


def _initialised(pretrained, depth=18):
    """A pytorch-style pose model whose backbone model.pretrained set."""
    model = build_pose_resnet(depth, 17, input_shape=INPUT)
    load_pretrained_backbone(model, pretrained, depth=depth, style="pytorch")
    return model


@pytest.fixture(scope="module")
def torchvision18(tmp_path_factory):
    """A torchvision-format ResNet-18 file named as torchvision names them:
    (torch model, path of resnet18-<first 8 hex of its sha256>.pth)."""
    model = random_model(18, head=False, seed=11)
    folder = tmp_path_factory.mktemp("served")
    raw = folder / "raw.pth"
    torch.save(model.state_dict(), raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    path = folder / f"resnet18-{digest[:8]}.pth"
    raw.rename(path)
    return model, path


def _assert_backbone_equals(keras_model, torch_model):
    """Every backbone variable equals its torch tensor in the Keras layout
    (conv kernels (out, in, kh, kw) -> (kh, kw, in, out)); every torch
    backbone tensor is compared once."""
    state = {k: v.numpy() for k, v in torch_model.state_dict().items()
             if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    variables = {"kernel": "weight", "gamma": "weight", "beta": "bias",
                 "moving_mean": "running_mean", "moving_variance": "running_var"}
    compared = set()
    for layer in keras_model.layers:
        if not layer.weights or not layer.name.startswith(("stem_", "stage")):
            continue
        module = _torch_module(layer.name)
        for variable in layer.weights:
            name = f"{module}.{variables[variable.name]}"
            expected = state[name]
            if expected.ndim == 4:
                expected = expected.transpose(2, 3, 1, 0)
            np.testing.assert_array_equal(variable.numpy(), expected, err_msg=name)
            compared.add(name)
    assert compared == set(state)


def _torch_module(layer):
    """stage3_block2_bn1 -> layer2.1.bn1 (written out here, independently of
    keras_pose.convert.state_dict)."""
    if layer.startswith("stem_"):
        return {"stem_conv": "conv1", "stem_bn": "bn1"}[layer]
    stage, block, *rest = layer.split("_")
    prefix = f"layer{int(stage[5:]) - 1}.{int(block[5:]) - 1}"
    if rest[0] == "downsample":
        return f"{prefix}.downsample.{0 if rest[1] == 'conv' else 1}"
    return f"{prefix}.{rest[0]}"


def _features(keras_model, torch_model):
    import keras
    x = np.random.default_rng(3).normal(size=(1, *INPUT)).astype(np.float32)
    ours = keras.Model(keras_model.input, keras_model.get_layer("stage5_block2_out").output)
    with torch.no_grad():
        theirs = torch_model.features(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
    return np.asarray(ours(x, training=False)), theirs.numpy().transpose(0, 2, 3, 1)


def test_file_url_downloads_into_the_cache_and_loads_exactly(cache, torchvision18):
    torch_model, served = torchvision18
    model = _initialised(served.as_uri())
    _assert_backbone_equals(model, torch_model)
    ours, theirs = _features(model, torch_model)
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
    assert sorted(os.listdir(cache)) == [served.name]  # no partial file left
    assert (cache / served.name).read_bytes() == served.read_bytes()
    # The cached copy is used (and checked) from then on: the source may go.
    gone = (served.parent / "gone" / served.name).as_uri()
    assert download.fetch(gone) == str(cache / served.name)


def test_local_pth_and_safetensors_load_exactly(tmp_path, cache, torchvision18):
    from safetensors.torch import save_file
    torch_model, served = torchvision18
    tensors = str(tmp_path / "resnet18.tv_in1k.safetensors")
    save_file(torch_model.state_dict(), tensors)
    for path in (str(served), tensors):
        model = _initialised(path)
        _assert_backbone_equals(model, torch_model)
    assert not cache.exists()  # local files are read in place


def test_imagenet_uses_the_torchvision_file_of_the_depth(cache, torchvision18, monkeypatch):
    torch_model, served = torchvision18
    monkeypatch.setattr(imagenet, "TORCHVISION_BASE_URL", served.parent.as_uri() + "/")
    monkeypatch.setitem(imagenet.TORCHVISION_FILES, 18, served.name)
    model = _initialised("imagenet")
    _assert_backbone_equals(model, torch_model)
    assert os.listdir(cache) == [served.name]


def test_wrong_hash_is_an_error_and_nothing_is_kept(tmp_path, cache, torchvision18):
    _, served = torchvision18
    wrong = tmp_path / "resnet18-00000000.pth"
    shutil.copy(served, wrong)
    with pytest.raises(download.HashMismatchError,
                       match=r"resnet18-00000000\.pth: SHA-256 [0-9a-f]{64} does not start "
                             r"with 00000000.*not kept"):
        load_pretrained_backbone(None, wrong.as_uri(), depth=18, style="pytorch")
    assert not cache.exists() or os.listdir(cache) == []
    # A file put in the cache by hand is checked too, and left for the user.
    cache.mkdir(exist_ok=True)
    shutil.copy(served, cache / "resnet18-5c106cde.pth")
    with pytest.raises(download.HashMismatchError, match="delete .*resnet18-5c106cde.pth"):
        imagenet.imagenet_weights(18)
    # And a local path (docs/reproducing.md's offline way): it was used unchecked.
    with pytest.raises(download.HashMismatchError,
                       match=r"resnet18-00000000\.pth: SHA-256 [0-9a-f]{64} does not start"):
        load_pretrained_backbone(None, str(wrong), depth=18, style="pytorch")


def test_unreachable_url_names_file_url_and_destination(cache):
    url = "http://127.0.0.1:9/models/resnet50-19c8e357.pth"
    with pytest.raises(download.DownloadError) as info:
        load_pretrained_backbone(None, url, depth=50, style="pytorch")
    message = str(info.value)
    destination = os.path.join(str(cache), "resnet50-19c8e357.pth")
    assert "resnet50-19c8e357.pth" in message and url in message
    assert f"put it at {destination}" in message
    assert "model.pretrained=none trains from a random initialisation" in message
    assert not cache.exists() or os.listdir(cache) == []


def test_offline_switch_refuses_downloads(cache, monkeypatch):
    monkeypatch.setenv(download.OFFLINE_ENV, "1")
    with pytest.raises(download.DownloadError,
                       match=r"resnet50-19c8e357\.pth from https://download\.pytorch\.org/"
                             r"models/resnet50-19c8e357\.pth .*disabled"):
        load_pretrained_backbone(None, "imagenet", depth=50, style="pytorch")


@pytest.mark.parametrize("name", [n for n in list_experiments() if n != "tiny"])
def test_official_experiments_start_from_the_official_files(name):
    model = get_experiment(name).model
    source = pretrained_source(model.pretrained, model.depth, model.style)
    if model.style == "caffe":
        assert source == f"keras.applications.ResNet{model.depth}"
    else:
        assert source == f"https://download.pytorch.org/models/{OFFICIAL_FILES[model.depth]}"


def test_random_init_on_purpose():
    tiny = get_experiment("tiny").model
    assert pretrained_source(tiny.pretrained, tiny.depth, tiny.style) is None
    official = apply_overrides(get_experiment("coco_resnet50_256x192"),
                               ["model.pretrained=none"]).model
    assert pretrained_source(official.pretrained, 50, "pytorch") is None
    assert download.hash_prefix("resnet18-5c106cde.pth") == "5c106cde"
    assert download.hash_prefix("pose_resnet_50_256x192.pth.tar") is None


def test_wrong_style_depth_or_type_is_refused(tmp_path, cache, torchvision18):
    # Each is refused before the model is touched (hence model=None).
    _, served = torchvision18
    with pytest.raises(ValueError, match="pytorch style"):
        load_pretrained_backbone(None, str(served), depth=18, style="caffe")
    with pytest.raises(ConversionError, match="holds a ResNet-18; the model is a ResNet-34"):
        load_pretrained_backbone(None, str(served), depth=34, style="pytorch")
    other = tmp_path / "weights.onnx"
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="unknown weights file type"):
        load_pretrained_backbone(None, str(other), depth=18, style="pytorch")
    with pytest.raises(ValueError, match="ResNet-50/101/152"):
        load_pretrained_backbone(None, "imagenet", depth=18, style="caffe")
    with pytest.raises(FileNotFoundError, match="nothere.pth does not exist"):
        load_pretrained_backbone(None, str(tmp_path / "nothere.pth"), depth=18,
                                 style="pytorch")
    for random_init in ("", "none", "None", None):
        load_pretrained_backbone(None, random_init, depth=18, style="pytorch")
