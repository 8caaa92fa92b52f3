"""mmpose SimpleBaseline checkpoints, written in mmpose's layouts with real torch.

Nothing is downloaded: a PyTorch SimpleBaseline (tests/convert/torch_resnet.py)
is saved the way mmpose publishes it (``{"meta", "state_dict"[,
"message_hub", "param_schedulers"]}``, 1.x ``backbone.``/``head.`` or 0.x
``backbone.``/``keypoint_head.`` names, legacy or zip serialisation) with a
``meta`` holding config text, NumPy arrays, lists, dicts and instances of
stand-ins for mmengine / mmpose classes. Those classes' modules exist only
while saving, so the pickles name them and the reader must do without.

Then: converted heatmaps equal PyTorch's; keypoints of the whole inference
path (flip test, real image, a box) equal a reference decoding of PyTorch's
heatmaps (the official one and DARK, tests/reference_impl.py); pickles that
would run code (``os.system``, ``eval``, ``exec``, ``subprocess.Popen``, an
import with a side effect, through REDUCE, STACK_GLOBAL, NEWOBJ, BUILD with
``__setstate__``, INST, OBJ and an EXT code) run nothing: in ``meta`` they
are skipped, in ``state_dict`` they are an error naming the key; wrong files
are errors naming the file.
"""

import collections
import contextlib
import copyreg
import io
import os
import pickle
import pickletools
import struct
import subprocess
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (test extra) writes the files")

from keras_pose.checkpoint import load_model  # noqa: E402
from keras_pose.configs import ConfigError, apply_overrides, get_experiment  # noqa: E402
from keras_pose.convert import mmpose, torch_objects, torch_pickle, torch_reader  # noqa: E402
from keras_pose.convert.state_dict import ConversionError  # noqa: E402
from tests import reference_impl as ref  # noqa: E402
from tests.convert.state_dicts import official_state_dict  # noqa: E402
from tests.convert.torch_resnet import random_model, torch_heatmaps  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAD_PREFIX = {"1.x": "head.", "0.x": "keypoint_head."}
# COCO's mmpose flip_indices (left/right keypoints swapped).
COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
# mmpose's data_preprocessor for these models: RGB, 0-255 units.
MMPOSE_MEAN = np.array([123.675, 116.28, 103.53])
MMPOSE_STD = np.array([58.395, 57.12, 57.375])
EXT_CODE = 0x3F1  # A copyreg extension code registered only inside the tests.


# ---------------------------------------------------------------------------
# Stand-ins for the mmengine / mmpose classes a checkpoint's pickle names.


class HistoryBuffer:
    __module__ = "mmengine.logging.history_buffer"

    def __init__(self, values):
        self.max_length = 1000000
        self._log_history = np.asarray(values, np.float64)
        self._count_history = np.ones(len(values), np.float64)


class MessageHub:
    __module__ = "mmengine.logging.message_hub"

    def __init__(self):
        self.instance_name = "mmpose"
        self._log_scalars = {"train/loss": HistoryBuffer([0.002, 0.0015]),
                             "train/lr": HistoryBuffer([5e-4, 5e-5])}
        self._runtime_info = {"epoch": 210, "iter": 97650, "max_epochs": 210}
        self._resumed_keys = {"train/loss": True, "epoch": True}


class PoseDataSample:
    __module__ = "mmpose.structures"

    def __init__(self, metainfo):
        self._metainfo_fields = set(metainfo)
        self.metainfo = metainfo


_FAKE_MODULES = {
    "mmengine": {}, "mmengine.logging": {},
    "mmengine.logging.history_buffer": {"HistoryBuffer": HistoryBuffer},
    "mmengine.logging.message_hub": {"MessageHub": MessageHub},
    "mmpose": {}, "mmpose.structures": {"PoseDataSample": PoseDataSample},
}


@contextlib.contextmanager
def fake_mm_modules():
    """mmengine / mmpose modules, only while a file is written (or torch
    reads it): the pickler checks that the classes it names exist."""
    saved = {name: sys.modules.get(name) for name in _FAKE_MODULES}
    for name, attributes in _FAKE_MODULES.items():
        module = types.ModuleType(name)
        for key, value in attributes.items():
            setattr(module, key, value)
        sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


# ---------------------------------------------------------------------------
# Pickles that run code when an ordinary unpickler reads them.


class Raw:
    """Opcodes spliced into a torch.save pickle where this object is."""

    def __init__(self, ops):
        self.ops = ops


class _RawPickler(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Raw):
            self.write(obj.ops)
            return
        super().save(obj, save_persistent_id)


# torch.save(pickle_module=...): the standard module but for the pickler.
RAW_PICKLE = types.SimpleNamespace(Pickler=_RawPickler, Unpickler=pickle.Unpickler,
                                   dump=pickle.dump, load=pickle.load, __name__="pickle")


class _Reduce:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _ops(obj, protocol):
    """The opcodes that push ``obj``: no header, STOP or memo (the memo
    indices would collide with the enclosing pickle's)."""
    data = pickletools.optimize(pickle.dumps(obj, protocol=protocol, fix_imports=False))
    ops = list(pickletools.genops(data))
    out = []
    for (op, _, pos), (_, _, end) in zip(ops, ops[1:] + [(None, None, len(data))]):
        if op.name in ("PROTO", "FRAME", "STOP"):
            continue
        assert "PUT" not in op.name and "GET" not in op.name and op.name != "MEMOIZE"
        out.append(data[pos:end])
    return b"".join(out)


def _unicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def payloads(marker):
    """name -> (opcodes that push one object and, run by pickle, create
    ``marker``; the global the reader names for it)."""
    touch = f"touch {marker}"
    code = f"open({marker!r}, 'w').close()"
    # NEWOBJ of a class with a __dict__, BUILD {"__setstate__": os.system},
    # BUILD "touch": an ordinary unpickler looks __setstate__ up on the
    # instance and calls it.
    setstate = (b"}" + _unicode("__setstate__") + b"cposix\nsystem\nsb" + _unicode(touch)
                + b"b")
    return {
        "reduce_os_system": (_ops(_Reduce(os.system, touch), 2), "posix.system"),
        "reduce_eval": (_ops(_Reduce(eval, code), 2), "builtins.eval"),
        "reduce_exec": (_ops(_Reduce(exec, code), 2), "builtins.exec"),
        "reduce_popen": (_ops(_Reduce(subprocess.Popen, ["touch", marker]), 2),
                         "subprocess.Popen"),
        "stack_global": (_ops(_Reduce(os.system, touch), 4), "posix.system"),
        "newobj_setstate": (b"cargparse\nNamespace\n)\x81" + setstate, "argparse.Namespace"),
        # The same through an allowed global: an OrderedDict keeps no attribute.
        "ordereddict_setstate": (b"ccollections\nOrderedDict\n)R" + setstate, None),
        "inst_protocol0": (b"(S'" + touch.encode() + b"'\nios\nsystem\n", "os.system"),
        "obj_protocol1": (b"(cbuiltins\nexec\n" + _unicode(code) + b"o", "builtins.exec"),
        "ext_code": (b"\x83" + struct.pack("<H", EXT_CODE) + _unicode(touch) + b"\x85R",
                     "posix.system"),
        "import_side_effect": (b"cmmpose_test_side_effect\nanything\n",
                               "mmpose_test_side_effect.anything"),
    }


def run_live(ops):
    """Runs a payload with Python's own unpickler (the payload is live)."""
    result = pickle.loads(b"\x80\x04" + ops + b".")
    if isinstance(result, subprocess.Popen):
        result.wait()


@pytest.fixture()
def hostile_process(tmp_path, monkeypatch):
    """What a hostile pickle could count on in the reading process: the EXT
    code registered as posix.system (and already resolved in copyreg's
    cache), an importable module whose import creates a file. Yields the
    marker file's path."""
    marker = str(tmp_path / "marker")
    module = tmp_path / "modules" / "mmpose_test_side_effect.py"
    module.parent.mkdir()
    module.write_text(f"open({marker!r}, 'w').close()\nanything = None\n")
    monkeypatch.syspath_prepend(str(module.parent))
    copyreg.add_extension("posix", "system", EXT_CODE)
    copyreg._extension_cache[EXT_CODE] = os.system
    try:
        yield marker
    finally:
        copyreg.remove_extension("posix", "system", EXT_CODE)
        sys.modules.pop("mmpose_test_side_effect", None)


# ---------------------------------------------------------------------------
# mmpose's checkpoint layout.


def mmpose_state_dict(state, version):
    """Official / torchvision names -> mmpose's, with torch's ``_metadata``."""
    head = HEAD_PREFIX[version]
    out = collections.OrderedDict()
    for name, value in state.items():
        is_head = name.startswith(("deconv_layers.", "final_layer."))
        out[(head if is_head else "backbone.") + name] = value
    out._metadata = collections.OrderedDict(
        [("", {"version": 2 if version == "1.x" else 1}), ("backbone", {"version": 1}),
         (head[:-1], {"version": 2 if version == "1.x" else 1})])
    return out


def dataset_meta(num_keypoints=17):
    flip = COCO_FLIP_INDICES if num_keypoints == 17 else list(range(num_keypoints))
    return {
        "dataset_name": "coco", "num_keypoints": num_keypoints,
        "keypoint_id2name": {i: f"kp{i}" for i in range(num_keypoints)},
        "keypoint_name2id": {f"kp{i}": i for i in range(num_keypoints)},
        "upper_body_ids": [0, 1, 2], "lower_body_ids": [11, 12],
        "flip_indices": flip, "flip_pairs": [[i, j] for i, j in enumerate(flip) if i < j],
        "keypoint_colors": np.full((num_keypoints, 3), 255, np.uint8),
        "num_skeleton_links": 2, "skeleton_links": [(15, 13), (13, 11)],
        "skeleton_link_colors": np.array([[0, 255, 0], [255, 128, 0]], np.uint8),
        "dataset_keypoint_weights": np.ones(num_keypoints, np.float32),
        "sigmas": np.linspace(0.025, 0.107, num_keypoints).astype(np.float32),
        "CLASSES": [{"supercategory": "person", "id": 1, "name": "person"}],
    }


CONFIG_TEXT = ("model = dict(type='TopdownPoseEstimator',\n"
               "    backbone=dict(type='ResNet', depth=18),\n"
               "    head=dict(type='HeatmapHead', out_channels=17))\n")


def checkpoint(state, version, num_keypoints=17):
    """The dict mmpose's runner saves (1.x: mmengine; 0.x: mmcv)."""
    if version == "1.x":
        meta = {"epoch": 210, "iter": 97650, "cfg": CONFIG_TEXT, "seed": 0,
                "experiment_name": "td-hm_res18_test", "time": "20220923_101010",
                "mmengine_version": "0.1.0", "dataset_meta": dataset_meta(num_keypoints),
                "sample": PoseDataSample({"img_shape": (64, 64)}),
                "sample_class": PoseDataSample, "loss": np.float64(0.0015)}
        return {"meta": meta, "state_dict": state, "message_hub": MessageHub(),
                "param_schedulers": [{"by_epoch": True, "milestones": [170, 200],
                                      "gamma": 0.1, "last_step": 210}]}
    meta = {"mmcv_version": "1.3.8", "time": "Fri Jul  9 10:10:10 2021",
            "env_info": "sys.platform: linux\nPython: 3.8.10\nPyTorch: 1.8.1",
            "seed": 0, "config": CONFIG_TEXT, "mmpose_version": "0.16.0+4a3fd3b",
            "epoch": 210, "iter": 97650, "hook_msgs": {"last_ckpt": "epoch_210.pth"}}
    return {"meta": meta, "state_dict": state}


def save_mmpose(path, state, version, layout, meta_extra=None, num_keypoints=17):
    """Writes an mmpose checkpoint of ``state`` (official names) as mmpose's
    tools/misc/publish_model.py does (legacy) or as older files are (zip)."""
    obj = checkpoint(mmpose_state_dict(state, version), version, num_keypoints)
    obj["meta"].update(meta_extra or {})
    raw = any(isinstance(v, Raw) for v in list(obj["meta"].values())
              + list(obj["state_dict"].values()))
    with fake_mm_modules():
        torch.save(obj, str(path), _use_new_zipfile_serialization=layout == "zip",
                   **({"pickle_module": RAW_PICKLE} if raw else {}))
    return str(path)


def small_state():
    """A few tensors with valid names: enough for the reader's checks."""
    rng = np.random.default_rng(0)
    state = collections.OrderedDict()
    state["conv1.weight"] = torch.from_numpy(rng.normal(size=(64, 3, 7, 7)).astype(np.float32))
    for name in ("weight", "bias", "running_mean", "running_var"):
        state[f"bn1.{name}"] = torch.from_numpy(rng.uniform(0.5, 1, 64).astype(np.float32))
    state["bn1.num_batches_tracked"] = torch.tensor(7)
    state["final_layer.weight"] = torch.zeros(17, 256, 1, 1)
    state["final_layer.bias"] = torch.arange(17.0)
    return state


def coco_config(depth=18, codec="msra", overrides=()):
    return apply_overrides(get_experiment("coco_resnet50_256x192"), [
        f"model.depth={depth}", "model.image_size=64,64", "model.heatmap_size=16,16",
        f"model.codec={codec}", "name=mmpose_test", *overrides])


# ---------------------------------------------------------------------------
# Reading: the tensors torch.load gives, and nothing from meta needed.


@pytest.fixture(scope="module")
def resnet18():
    return random_model(18, 17, seed=11)


@pytest.mark.parametrize("layout", ["legacy", "zip"])
@pytest.mark.parametrize("version", ["1.x", "0.x"])
def test_reader_gives_torch_load_tensors_without_mm_modules(tmp_path, resnet18, version,
                                                            layout):
    path = save_mmpose(tmp_path / "model.pth", resnet18.state_dict(), version, layout)
    with open(path, "rb") as f:
        assert (f.read(4) == b"PK\x03\x04") == (layout == "zip")
    with fake_mm_modules():  # torch.load imports what the file names.
        expected = torch.load(path, map_location="cpu", weights_only=False)
    assert not any(name.startswith(("mmengine", "mmpose")) for name in sys.modules)

    state = mmpose.read_mmpose_state_dict(path)
    assert list(state) == list(resnet18.state_dict())  # official names, same order
    for name, tensor in expected["state_dict"].items():
        official = name.split(".", 1)[1]
        assert state[official].dtype == tensor.numpy().dtype, name
        assert state[official].tobytes() == tensor.numpy().tobytes(), name

    loaded = torch_reader.load_torch_file(path)
    assert not any(name.startswith(("mmengine", "mmpose")) for name in sys.modules)
    meta = loaded["meta"]  # Plain data kept, the rest inert placeholders.
    assert loaded["state_dict"]._metadata == expected["state_dict"]._metadata
    if version == "1.x":
        assert meta["cfg"] == CONFIG_TEXT and meta["dataset_meta"]["flip_indices"] == (
            COCO_FLIP_INDICES)
        assert torch_objects.placeholder_global(meta["dataset_meta"]["sigmas"]) in (
            "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct")
        assert torch_objects.placeholder_global(meta["sample"]) == (
            "mmpose.structures.PoseDataSample")
        assert str(meta["sample_class"]) == "mmpose.structures.PoseDataSample"
        assert torch_objects.placeholder_global(loaded["message_hub"]) == (
            "mmengine.logging.message_hub.MessageHub")
        assert meta["loss"] == np.float64(0.0015)
    else:
        assert meta["config"] == CONFIG_TEXT and meta["mmpose_version"] == "0.16.0+4a3fd3b"


# ---------------------------------------------------------------------------
# Conversion: heatmaps and keypoints equal PyTorch's.


@pytest.fixture(scope="module", params=[("1.x", "legacy", "msra"), ("0.x", "zip", "dark")],
                ids=["1.x-legacy-msra", "0.x-zip-dark"])
def converted(request, tmp_path_factory, resnet18):
    """A converted ResNet-18 mmpose checkpoint; the 1.x file also carries
    every hostile payload in its meta (skipped: conversion works)."""
    version, layout, codec = request.param
    folder = tmp_path_factory.mktemp(f"mmpose_{version}_{codec}")
    marker = str(folder / "marker")
    extra = {f"payload_{name}": Raw(ops) for name, (ops, _) in payloads(marker).items()
             } if version == "1.x" else {}
    path = save_mmpose(folder / "td-hm_res18_test-64x64.pth", resnet18.state_dict(),
                       version, layout, extra)
    out_dir = str(folder / "converted")
    config = mmpose.convert_mmpose_checkpoint(path, out_dir, coco_config(codec=codec))
    assert not os.path.exists(marker)
    model, loaded_config = load_model(out_dir)
    return types.SimpleNamespace(config=config, loaded_config=loaded_config, model=model,
                                 codec=codec)


@pytest.mark.slow  # PyTorch parity
def test_converted_heatmaps_equal_pytorch(converted, resnet18):
    config = converted.config
    assert converted.loaded_config == config
    assert config.model.pretrained == "" and config.model.codec == converted.codec
    assert config.model.color_order == "RGB" and config.name == "mmpose_test"
    x = np.random.default_rng(1).normal(size=(2, 64, 64, 3)).astype(np.float32)
    expected = torch_heatmaps(resnet18, x)
    got = np.asarray(converted.model(x, training=False))
    assert got.shape == expected.shape == (2, 16, 16, 17)
    assert np.abs(expected).max() > 1e-2
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def _reference_keypoints(torch_model, crops, center, scale, codec):
    """mmpose's preprocessing (RGB, its 0-255 mean/std), PyTorch heatmaps
    of the crop and its mirror, the reference's flip back (pairs swapped,
    shift one pixel), then the official decoding or DARK's (sigma 2:
    kernel 11), and the inverse crop.

    Returns:
      keypoints (M, K, 2) and the integer argmax's image position (M, K, 2),
      scores (M, K), fused heatmaps (M, K, H, W).
    """
    x = ((crops - MMPOSE_MEAN) / MMPOSE_STD).astype(np.float32)
    plain = torch_heatmaps(torch_model, x).transpose(0, 3, 1, 2)
    mirrored = torch_heatmaps(torch_model, x[:, :, ::-1]).transpose(0, 3, 1, 2)
    pairs = [(i, j) for i, j in enumerate(COCO_FLIP_INDICES) if i < j]
    fused = (plain + ref.reference_flip_back(mirrored, pairs, shift=True)) / 2
    height, width = fused.shape[2:]

    def to_image(points):
        return np.stack([[ref.apply_affine(p, ref.affine_matrix(c, s, 0, (width, height),
                                                                inv=True))
                          for p in person] for person, c, s in zip(points, center, scale)])

    flat = fused.reshape(len(fused), fused.shape[1], -1).argmax(-1)
    start = to_image(np.stack([flat % width, flat // width], -1).astype(np.float64))
    if codec == "msra":
        coords, maxvals = ref.reference_final_preds(fused, center, scale)
        return coords, start, maxvals[..., 0], fused
    preds, maxvals = ref.dark_refine(fused, 11)
    return to_image(preds), start, maxvals, fused


def test_keypoints_on_a_real_image_follow_the_reference(converted, resnet18, coco_dir):
    import cv2
    import tensorflow as tf

    from keras_pose.inference import TopDownEstimator

    image = cv2.cvtColor(cv2.imread(os.path.join(coco_dir, "000000000785.jpg")),
                         cv2.COLOR_BGR2RGB)
    boxes = tf.constant([[280.79, 44.73, 218.7, 346.68], [300.0, 60.0, 150.0, 200.0]])
    config = converted.loaded_config
    estimator = TopDownEstimator(lambda x: converted.model(x, training=False), config,
                                 flip=True)
    center, scale = estimator.centers_and_scales(boxes)
    index = tf.zeros([2], tf.int32)
    out = estimator(tf.constant(image[None]), index, center, scale, tf.ones([2]))
    # The reference sees the same pixels (the crop is not under test here).
    crops = estimator.crops(tf.constant(image[None]), index, center, scale).numpy()
    coords, start, scores, fused = _reference_keypoints(
        resnet18, crops, center.numpy(), scale.numpy(), converted.codec)
    got = out["keypoints"].numpy()
    np.testing.assert_allclose(out["keypoint_scores"].numpy(), scores, atol=1e-4)
    assert (scores > 0).sum() > 20  # real peaks, not the max <= 0 rule
    step = np.linalg.norm(coords - start, axis=-1, keepdims=True)
    if converted.codec == "msra":
        np.testing.assert_allclose(got, coords, atol=2e-3, rtol=0)
    else:
        # DARK's Newton step scales heatmap rounding (float32 here, float64
        # in the reference) by the inverse Hessian: a random network's
        # heatmaps are not Gaussians and some steps are long (no clamp, as
        # in mmpose), so the tolerance grows with the step.
        assert np.all(np.abs(got - coords) <= 2e-3 + 1e-3 * step)
        pixel = scale.numpy()[:, None, :1] * 200 / 16  # image px per heatmap px
        assert ((step > 0.01 * pixel) & (step < pixel)).sum() >= 3  # sub-pixel steps
    # The decoding under test is the config's: msra and DARK differ here.
    other = _reference_keypoints(resnet18, crops, center.numpy(), scale.numpy(),
                                 "dark" if converted.codec == "msra" else "msra")[0]
    assert np.abs(other - coords).max() > 1.0


@pytest.mark.slow  # PyTorch parity
def test_two_deconvolution_head(tmp_path):
    """mmpose's JHMDB models: two deconvolutions (keypoint_head.deconv_layers.
    0, 1, 3, 4), heatmaps at stride 8."""
    torch_model = random_model(18, 15, seed=5, deconvs=2)
    path = save_mmpose(tmp_path / "res50_2deconv_jhmdb_sub1_256x256.pth",
                       torch_model.state_dict(), "0.x", "legacy", num_keypoints=15)
    names = set(torch_reader.load_torch_file(path)["state_dict"])
    assert "keypoint_head.deconv_layers.4.weight" in names
    assert not any(n.startswith("keypoint_head.deconv_layers.6") for n in names)
    config = coco_config(overrides=["model.num_keypoints=15", "model.heatmap_size=8,8",
                                    "model.deconv_filters=256,256",
                                    "model.deconv_kernels=4,4", "data.flip_pairs=[]"])
    with pytest.raises(ConversionError, match="deconv_filters=.256, 256.*256, 256, 256"):
        mmpose.convert_mmpose_checkpoint(path, str(tmp_path / "out"), coco_config(
            overrides=["model.num_keypoints=15"]))
    mmpose.convert_mmpose_checkpoint(path, str(tmp_path / "out"), config)
    assert_converted_equals_torch(str(tmp_path / "out"), torch_model, (64, 64), (1, 8, 8, 15),
                                  seed=2)


def assert_converted_equals_torch(out_dir, torch_model, crop_size, heatmaps_shape, seed):
    """The converted checkpoint's heatmaps equal the PyTorch model's (1e-4)
    on a random crop of ``crop_size`` (h, w)."""
    model, _ = load_model(out_dir)
    x = np.random.default_rng(seed).normal(size=(1, *crop_size, 3)).astype(np.float32)
    expected = torch_heatmaps(torch_model, x)
    assert expected.shape == heatmaps_shape
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected, atol=1e-4,
                               rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("version,layout", [("1.x", "legacy"), ("0.x", "zip")])
def test_resnet50_at_256x192(tmp_path, version, layout):
    """A full-size model: ResNet-50, 256x192 input (the fast tests: ResNet-18)."""
    torch_model = random_model(50, 17, seed=6)
    path = save_mmpose(tmp_path / "td-hm_res50_8xb64-210e_coco-256x192.pth",
                       torch_model.state_dict(), version, layout)
    config = apply_overrides(get_experiment("coco_resnet50_256x192"), ["name=mmpose_res50"])
    written = mmpose.convert_mmpose_checkpoint(path, str(tmp_path / "out"), config)
    assert written.model.image_size == (192, 256) and written.model.pretrained == ""
    assert_converted_equals_torch(str(tmp_path / "out"), torch_model, (256, 192), (1, 64, 48, 17),
                                  seed=3)


# ---------------------------------------------------------------------------
# Safety: pickles that would run code run nothing.


@pytest.mark.parametrize("layout", ["legacy", "zip"])
@pytest.mark.parametrize("name", sorted(payloads("m")))
def test_payload_in_meta_is_skipped(tmp_path, hostile_process, name, layout):
    marker = hostile_process
    ops, global_name = payloads(marker)[name]
    path = save_mmpose(tmp_path / "model.pth", small_state(), "1.x", layout,
                       {"payload": Raw(ops), "after": "intact"})
    state = mmpose.read_mmpose_state_dict(path)
    assert list(state) == list(small_state())
    np.testing.assert_array_equal(state["final_layer.bias"], np.arange(17.0))
    meta = torch_reader.load_torch_file(path)["meta"]
    assert not os.path.exists(marker)
    assert "mmpose_test_side_effect" not in sys.modules
    assert meta["after"] == "intact" and meta["cfg"] == CONFIG_TEXT  # the stack stayed sane
    if global_name is None:  # An allowed OrderedDict: the attribute was dropped.
        assert type(meta["payload"]) is collections.OrderedDict and not vars(meta["payload"])
    else:
        assert torch_objects.placeholder_global(meta["payload"]) == global_name
    run_live(ops)  # Python's unpickler runs it.
    assert os.path.exists(marker)


@pytest.mark.parametrize("layout", ["legacy", "zip"])
@pytest.mark.parametrize("name", sorted(payloads("m")))
def test_payload_in_state_dict_is_an_error_naming_the_key(tmp_path, hostile_process, name,
                                                          layout):
    marker = hostile_process
    ops, global_name = payloads(marker)[name]
    state = small_state()
    state["conv1.weight"] = Raw(ops)
    path = save_mmpose(tmp_path / "evil-12345678_20230101.pth", state, "1.x", layout)
    what = global_name.replace(".", r"\.") if global_name else "OrderedDict"
    with pytest.raises(ConversionError,
                       match=rf"evil-12345678_20230101\.pth: entry 'backbone\.conv1\.weight' "
                             rf"is .*{what}.*not a tensor"):
        mmpose.convert_mmpose_checkpoint(path, str(tmp_path / "out"), coco_config())
    assert not os.path.exists(marker) and not os.path.exists(tmp_path / "out")
    assert "mmpose_test_side_effect" not in sys.modules


def test_placeholder_storage_and_persistent_id_are_refused(tmp_path, hostile_process):
    """Where refusing is right: a tensor rebuilt from a placeholder instead
    of a storage, or a persistent id that is not a storage, is an error
    naming the file (wherever it is), and still runs nothing."""
    marker = hostile_process
    system = b"cposix\nsystem\n" + _unicode(f"touch {marker}") + b"\x85R"
    tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + system
              + b"K\x00K\x01\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtR")
    persistent = b"(" + _unicode("storage") + system + _unicode("0") + _unicode("cpu") + (
        b"K\x01tQ")
    for ops, message in ((tensor, r"a tensor without a storage \(.*posix\.system"),
                         (persistent, "unexpected persistent id")):
        path = save_mmpose(tmp_path / "bad.pth", small_state(), "1.x", "legacy",
                           {"payload": Raw(ops)})
        with pytest.raises(ConversionError, match=rf"bad\.pth: .*{message}"):
            mmpose.read_mmpose_state_dict(path)
        assert not os.path.exists(marker)
    with pytest.raises(pickle.UnpicklingError):
        run_live(persistent)  # Python's unpickler has run the payload first.
    assert os.path.exists(marker)


def test_every_opcode_is_handled_by_a_whitelist():
    """Each pickle opcode has a handler or is refused; every opcode that
    resolves a name, calls or mutates has one of ours (the standard ones
    would import, call and look up __setstate__)."""
    table = torch_pickle.RestrictedUnpickler.dispatch
    standard = pickle._Unpickler.dispatch
    own = ("REDUCE", "NEWOBJ", "NEWOBJ_EX", "INST", "OBJ", "BUILD", "EXT1", "EXT2", "EXT4",
           "APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS")
    for op in pickletools.opcodes:
        code = op.code.encode("latin-1")[0]
        if op.name in torch_pickle.REFUSED_OPCODES:
            assert code not in table, op.name
        else:
            assert code in table, op.name
        if op.name in own:
            assert table[code] is not standard[code], op.name
    assert torch_pickle.RestrictedUnpickler.find_class is not pickle._Unpickler.find_class
    with pytest.raises(torch_reader.TorchReadError, match="buffers.pth: .*not allowed"):
        torch_pickle.unpickle(io.BytesIO(b"\x80\x05\x97."), "buffers.pth")


# ---------------------------------------------------------------------------
# Wrong files and configs: errors naming the file.


def _save_numpy(path, state, wrap=True):
    tensors = collections.OrderedDict((k, torch.from_numpy(np.asarray(v)))
                                      for k, v in state.items())
    torch.save({"meta": {"cfg": "x"}, "state_dict": tensors} if wrap else tensors, str(path))
    return str(path)


def test_files_that_are_not_mmpose_simplebaselines(tmp_path):
    imagenet = _save_numpy(tmp_path / "resnet18-f37072fd.pth",
                           official_state_dict(18, head=False, classifier=True), wrap=False)
    with pytest.raises(ConversionError, match=r"resnet18-f37072fd\.pth: not an mmpose "
                                              r"SimpleBaseline.*unexpected keys: conv1\.weight"):
        mmpose.read_mmpose_state_dict(imagenet)
    assert not mmpose.is_mmpose_checkpoint(imagenet)

    hrnet = {"backbone.conv1.weight": np.zeros((64, 3, 3, 3), np.float32),
             "backbone.conv2.weight": np.zeros((64, 64, 3, 3), np.float32),
             "backbone.layer1.0.conv1.weight": np.zeros((64, 64, 1, 1), np.float32),
             "backbone.transition1.0.0.weight": np.zeros((32, 256, 3, 3), np.float32),
             "backbone.stage2.0.branches.0.0.conv1.weight": np.zeros((32, 32, 3, 3),
                                                                     np.float32),
             "head.final_layer.weight": np.zeros((17, 32, 1, 1), np.float32),
             "head.final_layer.bias": np.zeros(17, np.float32)}
    path = _save_numpy(tmp_path / "td-hm_hrnet-w32_coco-256x192.pth", hrnet)
    assert mmpose.is_mmpose_checkpoint(path)
    with pytest.raises(ConversionError, match=r"td-hm_hrnet-w32_coco-256x192\.pth: not an "
                                              r"mmpose SimpleBaseline.*3 unexpected keys: "
                                              r"backbone\.conv2\.weight, backbone\.transition1"):
        mmpose.convert_mmpose_checkpoint(path, str(tmp_path / "out"), coco_config())

    state = mmpose_state_dict(official_state_dict(18, 17), "1.x")
    extra = dict(state, **{"head.conv_layers.0.weight": np.zeros((256, 256, 3, 3), np.float32)})
    with pytest.raises(ConversionError, match=r"extra\.pth: .*1 unexpected keys: "
                                              r"head\.conv_layers\.0\.weight"):
        mmpose.read_mmpose_state_dict(_save_numpy(tmp_path / "extra.pth", extra))
    mixed = dict(state, **{"keypoint_head.final_layer.bias": np.zeros(17, np.float32)})
    with pytest.raises(ConversionError, match=r"mixed\.pth: mixes mmpose 1\.x"):
        mmpose.read_mmpose_state_dict(_save_numpy(tmp_path / "mixed.pth", mixed))
    backbone = {k: v for k, v in state.items() if k.startswith("backbone.")}
    with pytest.raises(ConversionError, match=r"backbone\.pth: no pose head"):
        mmpose.read_mmpose_state_dict(_save_numpy(tmp_path / "backbone.pth", backbone))
    preprocessor = dict(state, **{"data_preprocessor.mean": np.zeros((3, 1, 1), np.float32)})
    official = mmpose.read_mmpose_state_dict(_save_numpy(tmp_path / "pre.pth", preprocessor))
    assert "conv1.weight" in official and not any("mean" == k for k in official)
    assert not os.path.exists(tmp_path / "out")


def test_tensors_that_contradict_the_config(tmp_path):
    path = _save_numpy(tmp_path / "td-hm_res18_coco.pth",
                       mmpose_state_dict(official_state_dict(18, 17), "0.x"))
    out = str(tmp_path / "out")
    for overrides, message in (
            (["model.num_keypoints=16"], r"model\.num_keypoints=17 but the config has 16"),
            (["model.depth=50"], r"model\.depth=18 but the config has 50"),
            (["model.deconv_filters=128,128,128"],
             r"model\.deconv_filters=\(256, 256, 256\) but the config has \(128, 128, 128\)"),
            (["model.style=caffe"], r"model\.style is 'caffe'")):
        config = coco_config(overrides=overrides)
        with pytest.raises(ConversionError,
                           match=rf"td-hm_res18_coco\.pth does not match config mmpose_test: "
                                 rf".*{message}"):
            mmpose.convert_mmpose_checkpoint(path, out, config)
    with pytest.raises(ConfigError, match=r"model\.heatmap_size \[8, 8\] does not match"):
        coco_config(overrides=["model.heatmap_size=8,8"])  # no such config any more
    assert not os.path.exists(out)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("keep me")
    with pytest.raises(ConversionError, match="is not a model checkpoint directory"):
        mmpose.convert_mmpose_checkpoint(path, str(tmp_path / "notes"), coco_config())


@pytest.mark.slow
def test_script_recognises_and_converts_mmpose_files(tmp_path, resnet18):
    """The command line: auto-detected mmpose file + --experiment/--set; no
    --experiment is a usage error. (Fast coverage: is_mmpose_checkpoint and
    convert_mmpose_checkpoint above.)"""
    path = save_mmpose(tmp_path / "td-hm_res18.pth", resnet18.state_dict(), "0.x", "legacy")
    script = os.path.join(REPO, "scripts", "convert_pytorch_checkpoint.py")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])))
    base = [sys.executable, script, "--input", path, "--output", str(tmp_path / "out")]
    sizes = ["--set", "model.depth=18", "--set", "model.image_size=64,64",
             "--set", "model.heatmap_size=16,16", "--set", "model.codec=dark"]
    runs = [subprocess.run(base + extra, cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=600)
            for extra in ([], ["--experiment", "coco_resnet50_256x192"] + sizes)]
    outputs = [r.stdout + r.stderr for r in runs]
    assert runs[0].returncode != 0 and "needs --experiment" in outputs[0], outputs[0]
    assert runs[1].returncode == 0, outputs[1]
    assert "mmpose checkpoint" in outputs[1] and "coco_resnet50_256x192_mmpose" in outputs[1]
    model, config = load_model(str(tmp_path / "out"))
    assert config.model.codec == "dark" and config.model.depth == 18
    assert config.data.gt_box_rule == "mmpose_0x"  # The file's generation (0.x keys).
    assert "ground-truth box rule mmpose_0x" in outputs[1]
    x = np.random.default_rng(4).normal(size=(1, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(model(x, training=False)),
                               torch_heatmaps(resnet18, x), atol=1e-4, rtol=0)
