"""The torch-free reader gives exactly what torch.load gives, and nothing else.

torch (test extra) writes the files and is the oracle: every array must
equal torch.load's tensor bit for bit. The 2017 layouts torch no longer
writes (tar; legacy with ``_rebuild_tensor`` and storage views) are written
here by hand following torch/serialization.py, and torch.load still reads
them, so it stays the oracle for those too.
"""

import collections
import io
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch (test extra) writes the files")

from keras_pose.convert import torch_reader  # noqa: E402
from keras_pose.convert.state_dict import ConversionError, read_state_dict  # noqa: E402
from tests.convert.torch_resnet import random_model  # noqa: E402


@pytest.fixture(scope="module")
def resnet18_state():
    """torchvision's ResNet-18 names and shapes (fc included), random values."""
    return random_model(18, head=False, seed=4).state_dict()


def _views():
    """Tensors that share one storage: offsets, strides, a transpose, a
    scalar, an empty tensor, and other dtypes."""
    base = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    return collections.OrderedDict([
        ("base", base), ("offset_strided", base[2:, 1::3]), ("row", base[3]),
        ("transposed", base.t()), ("scalar", base[1, 2]), ("empty", base[:0]),
        ("half", torch.randn(5).half()), ("double", torch.randn(2, 3, dtype=torch.float64)),
        ("long", torch.arange(7) - 3), ("bool", torch.tensor([True, False])),
        ("bfloat16", torch.randn(4).to(torch.bfloat16)),
        ("int8", torch.arange(-4, 4).to(torch.int8)),
    ])


def _numpy(tensor):
    """torch's tensor as a NumPy array of the same bits (bfloat16 as int16)."""
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy()
    return tensor.numpy()


def assert_same(got, expected, where="object"):
    """Same structure, same keys in the same order, bitwise-equal arrays."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(got, np.ndarray), where
        want = _numpy(expected)
        if want.dtype == np.int16 and got.dtype.name == "bfloat16":
            got = got.view(np.int16)
        assert got.dtype == want.dtype and got.shape == want.shape, (where, got.dtype, got.shape)
        assert got.tobytes() == np.ascontiguousarray(want).tobytes(), where
        assert got.flags.writeable and got.flags.c_contiguous, where
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}[{i}]")
    else:
        assert got == expected and type(got) is type(expected), where


def _variant(state, variant):
    if variant == "bare":
        return state
    prefixed = collections.OrderedDict((f"module.{k}", v) for k, v in state.items())
    if variant == "module":
        return prefixed
    # The official training checkpoints: epoch, perf, optimizer state.
    params = [torch.nn.Parameter(torch.ones(3))]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    params[0].grad = torch.ones(3)
    optimizer.step()
    return {"epoch": 140, "model": "pose_resnet", "perf": 0.7, "state_dict": prefixed,
            "optimizer": optimizer.state_dict()}


@pytest.mark.slow  # torch.load on every layout
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("variant", ["bare", "module", "wrapped"])
def test_reader_equals_torch_load(tmp_path, resnet18_state, zip_format, variant):
    state = collections.OrderedDict(resnet18_state)
    state.update(_views())
    path = str(tmp_path / "weights.pth")
    torch.save(_variant(state, variant), path, _use_new_zipfile_serialization=zip_format)
    assert zipfile.is_zipfile(path) == zip_format
    expected = torch.load(path, map_location="cpu", weights_only=True)
    assert_same(torch_reader.load_torch_file(path), expected)
    # The unwrapped state_dict has torchvision's names whatever the wrapper.
    unwrapped = read_state_dict(path)
    assert list(unwrapped) == list(state)
    for name, tensor in state.items():
        assert_same(unwrapped[name], tensor, name)


def test_safetensors_and_pth_give_identical_tensors(tmp_path, resnet18_state):
    from safetensors.torch import save_file
    pth, st = str(tmp_path / "resnet18.pth"), str(tmp_path / "resnet18.safetensors")
    torch.save(resnet18_state, pth)
    save_file(dict(resnet18_state), st)
    from_pth = torch_reader.load_torch_file(pth)
    from_st = torch_reader.load_weights_file(st)
    assert sorted(from_st) == sorted(from_pth) == sorted(resnet18_state)
    for name in resnet18_state:
        assert from_st[name].dtype == from_pth[name].dtype, name
        assert from_st[name].shape == from_pth[name].shape, name
        assert from_st[name].tobytes() == from_pth[name].tobytes(), name
    assert read_state_dict(st).keys() == read_state_dict(pth).keys()
    # Each renamed as the other (a download saved under another name): told
    # apart by their bytes ("a broken pickle", "header too large" before).
    import shutil
    for source, renamed in ((st, "renamed.pth.tar"), (pth, "renamed.safetensors")):
        shutil.copy(source, tmp_path / renamed)
        again = torch_reader.load_weights_file(str(tmp_path / renamed))
        assert sorted(again) == sorted(resnet18_state), renamed


# ---------------------------------------------------------------------------
# The 2017 layouts, written by hand as torch 0.1-0.3 wrote them.


class _OldStorage:
    """A float32 storage, or a view of one (torch < 0.4 had storage views)."""

    def __init__(self, key, array, root=None, offset=0):
        self.key, self.array, self.root, self.offset = key, array, root, offset


class _OldTensor:
    """Pickles as torch 0.2/0.3 did: _rebuild_tensor(storage, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        return torch._utils._rebuild_tensor, self.args


def _old_objects():
    root = _OldStorage("140001", np.random.default_rng(2).normal(size=40).astype(np.float32))
    view = _OldStorage("140002", None, root=root, offset=10)  # elements 10..29
    state = collections.OrderedDict([
        ("conv1.weight", _OldTensor(root, 0, (5, 8), (8, 1))),
        ("view.strided", _OldTensor(view, 2, (3, 4), (1, 3))),
        ("view.transposed", _OldTensor(root, 4, (4, 3), (1, 4))),
        ("bn1.running_mean", _OldTensor(root, 33, (), ())),
    ])
    return root, view, state


def _save_legacy_2017(path):
    root, view, state = _old_objects()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if not isinstance(obj, _OldStorage):
                return None
            base = obj.root or obj
            metadata = (obj.key, obj.offset, 20) if obj.root else None
            return ("storage", torch.FloatStorage, base.key, "cuda:0", base.array.size,
                    metadata)

    with open(path, "wb") as f:
        for header in (torch_reader.MAGIC_NUMBER, torch_reader.PROTOCOL_VERSION,
                       {"protocol_version": 1001, "little_endian": True,
                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, f, protocol=2)
        Pickler(f, protocol=2).dump(state)
        pickle.dump([root.key], f, protocol=2)
        f.write(struct.pack("<q", root.array.size) + root.array.tobytes())


def _tar_member(archive, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _save_tar_2017(path):
    """torch < 0.1.10: storages, tensors and pickle members of a tar file."""
    root, _, _ = _old_objects()
    storages = io.BytesIO()
    pickle.dump(1, storages, protocol=2)
    pickle.dump((1, "cpu", torch.FloatStorage), storages, protocol=2)
    storages.write(struct.pack("<q", root.array.size) + root.array.tobytes())
    pickle.dump([(2, 1, 10, 20)], storages, protocol=2)  # storage 2 = 1[10:30]
    tensors = io.BytesIO()
    layout = {3: (1, 0, (5, 8), (8, 1)), 4: (2, 2, (3, 4), (1, 3)), 5: (1, 33, (), ())}
    pickle.dump(len(layout), tensors, protocol=2)
    for key, (storage, offset, size, stride) in layout.items():
        pickle.dump((key, storage, torch.FloatTensor), tensors, protocol=2)
        tensors.write(struct.pack(f"<ii{len(size)}q{len(stride)}qq", len(size), 0,
                                  *size, *stride, offset))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return str(obj) if isinstance(obj, int) and obj >= 3 else None

    main = io.BytesIO()
    Pickler(main, protocol=2).dump(collections.OrderedDict(
        [("conv1.weight", 3), ("view.strided", 4), ("bn1.running_mean", 5)]))
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        _tar_member(archive, "sys_info", pickle.dumps({"little_endian": True}, protocol=2))
        for name, buffer in (("storages", storages), ("tensors", tensors), ("pickle", main)):
            _tar_member(archive, name, buffer.getvalue())


@pytest.mark.parametrize("writer", [_save_legacy_2017, _save_tar_2017],
                         ids=["legacy_rebuild_tensor_v1", "tar"])
def test_2017_layouts_equal_torch_load(tmp_path, writer):
    path = str(tmp_path / "resnet-2017.pth")
    writer(path)
    expected = torch.load(path, map_location="cpu", weights_only=False)
    assert isinstance(expected["view.strided"], torch.Tensor)
    assert not expected["view.strided"].is_contiguous()
    assert_same(torch_reader.load_torch_file(path), expected)


# ---------------------------------------------------------------------------
# Refusals.


MARKER = "pwned"
# Protocol 0 by hand, so that the global is exactly the one named.
_PAYLOADS = {
    "os.system": b"cos\nsystem\n(S'touch " + MARKER.encode() + b"'\ntR.",
    "builtins.eval": (b"cbuiltins\neval\n(S'open(\"" + MARKER.encode()
                      + b"\", \"w\").close()'\ntR."),
}


def _write_zip(path, payload):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3")


def _write_legacy(path, payload, in_header=False):
    with open(path, "wb") as f:
        pickle.dump(torch_reader.MAGIC_NUMBER, f, protocol=2)
        pickle.dump(torch_reader.PROTOCOL_VERSION, f, protocol=2)
        if in_header:  # The sys_info pickle goes through the same checks.
            f.write(payload)
            return
        pickle.dump({"little_endian": True}, f, protocol=2)
        f.write(payload)
        pickle.dump([], f, protocol=2)


@pytest.mark.parametrize("global_name", sorted(_PAYLOADS))
@pytest.mark.parametrize("layout", ["zip", "legacy", "legacy_header"])
def test_payload_globals_are_never_called(tmp_path, monkeypatch, global_name, layout):
    """The saved object may name any global: it becomes an inert record (the
    name and the arguments), and a state_dict reader refuses it naming the
    file and the global. In the legacy header (plain data only) a global is
    refused outright, as before placeholders existed."""
    monkeypatch.chdir(tmp_path)
    payload = _PAYLOADS[global_name]
    path = str(tmp_path / "evil.pth")
    if layout == "zip":
        _write_zip(path, payload)
    else:
        _write_legacy(path, payload, in_header=layout == "legacy_header")
    if layout == "legacy_header":
        with pytest.raises(torch_reader.ForbiddenGlobalError, match=global_name) as info:
            torch_reader.load_torch_file(path)
        assert info.value.global_name == global_name
    else:
        record = torch_reader.load_torch_file(path)
        assert isinstance(record, torch_reader.Inert) and record.opcode == "REDUCE"
        assert torch_reader.placeholder_global(record) == global_name
        assert len(record.args) == 1 and MARKER in record.args[0]
    assert not os.path.exists(MARKER)
    with pytest.raises(ConversionError, match=f"evil.pth.*{global_name}"):
        read_state_dict(path)
    assert not os.path.exists(MARKER)
    # The payload is live: an ordinary unpickler runs it.
    pickle.loads(payload)
    assert os.path.exists(MARKER)


def test_whole_pickled_model_is_refused_with_a_hint(tmp_path):
    """A pickled nn.Module reads as an inert record of its class (nothing of
    torch.nn is imported); the state_dict reader refuses it with advice."""
    path = tmp_path / "whole_model.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1)), path)
    record = torch_reader.load_torch_file(str(path))
    assert torch_reader.placeholder_global(record) == "torch.nn.modules.container.Sequential"
    with pytest.raises(ConversionError,
                       match=r"torch\.nn\.modules\.container\.Sequential.*state_dict"):
        read_state_dict(str(path))
    # A model class of the user's own package (the official code's
    # models.pose_resnet.PoseResNet): the advice was missing.
    from tests.convert.torch_resnet import TorchPoseResNet
    torch.save(TorchPoseResNet(18, 17), path)
    with pytest.raises(ConversionError, match=r"TorchPoseResNet .*a pickled model rather than a "
                                              r"state_dict: load it in PyTorch and save "
                                              r"model.state_dict\(\) instead"):
        read_state_dict(str(path))


def test_unreadable_files_are_named(tmp_path, resnet18_state):
    garbage = tmp_path / "pose_resnet_50_256x192.pth.tar"
    garbage.write_bytes(b"\x00not a pickle" * 10)
    with pytest.raises(ConversionError,
                       match="pose_resnet_50_256x192.pth.tar: not a readable PyTorch"):
        read_state_dict(str(garbage))
    legacy = tmp_path / "truncated.pth"
    torch.save(resnet18_state, legacy, _use_new_zipfile_serialization=False)
    legacy.write_bytes(legacy.read_bytes()[:-1000])
    with pytest.raises(torch_reader.TorchReadError, match="truncated.pth: .*truncated"):
        torch_reader.load_torch_file(str(legacy))
    with pytest.raises(FileNotFoundError, match="missing.pth does not exist"):
        torch_reader.load_torch_file(str(tmp_path / "missing.pth"))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00not a pickle" * 10)
    with pytest.raises(ConversionError, match="bad.safetensors: .*not a readable safetensors"):
        read_state_dict(str(bad))
