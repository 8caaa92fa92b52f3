"""Damaged or unsuitable weight files are refused with an error naming the
file, the entry and the fix (not "broken pickle", not silently wrong)."""

import struct
import zipfile

import pytest

torch = pytest.importorskip("torch", reason="torch (test extra) writes the files")

from keras_pose.convert import torch_reader  # noqa: E402
from keras_pose.convert.state_dict import ConversionError, read_state_dict  # noqa: E402


def _small_state():
    """A conv + batch norm state_dict (num_batches_tracked is int64)."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    prefixes = {"0": "conv1", "1": "bn1"}
    return {f"{prefixes[name[0]]}{name[1:]}": value
            for name, value in model.state_dict().items()}


def test_truncated_zip_is_an_incomplete_download(tmp_path):
    path = tmp_path / "sd.pth"
    torch.save(_small_state(), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # The download stopped half way.
    assert data.startswith(b"PK\x03\x04") and not zipfile.is_zipfile(path)
    with pytest.raises(torch_reader.TorchReadError,
                       match=r"sd\.pth: a truncated or damaged zip archive \(an incomplete "
                             r"download\?\): download it again"):
        torch_reader.load_torch_file(str(path))
    with pytest.raises(ConversionError, match="truncated or damaged zip"):
        read_state_dict(str(path))


def test_corrupt_zip_member_is_a_damaged_archive(tmp_path):
    """The end record intact, a member's bytes flipped: zipfile's CRC error."""
    path = tmp_path / "sd.pth"
    torch.save(_small_state(), path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data/0"))
    # The local header's name and extra lengths (torch pads the extra field).
    offset = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[offset + 26:offset + 30])
    start = offset + 30 + name_len + extra_len
    data[start:start + 8] = bytes(255 - b for b in data[start:start + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(torch_reader.TorchReadError, match=r"sd\.pth: a truncated or damaged zip"):
        torch_reader.load_torch_file(str(path))


def test_legacy_whole_model_gets_the_pickled_model_advice(tmp_path):
    from tests.convert.torch_resnet import TorchPoseResNet
    path = tmp_path / "pose_resnet_18.pth"
    torch.save(TorchPoseResNet(18, 17), path, _use_new_zipfile_serialization=False)
    with pytest.raises(torch_reader.TorchReadError) as caught:
        torch_reader.load_torch_file(str(path))
    message = str(caught.value)
    assert "pose_resnet_18.pth: " in message
    assert "TorchPoseResNet" in message
    assert ("a pickled model rather than a state_dict: load it in PyTorch and save "
            "model.state_dict() instead") in message
    assert "class TorchPoseResNet(" not in message  # Not the class's source code.
    assert len(message) < 400


def test_unexpected_persistent_id_is_shortened():
    pid = ("other", "x" * 5000)
    storages = {}
    with pytest.raises(torch_reader.TorchReadError, match="unexpected persistent id") as caught:
        torch_reader._storage_ref(pid, storages, "f.pth")
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("dtype", [torch.int8, torch.int32, torch.bool])
def test_integer_weight_is_refused(tmp_path, dtype):
    state = _small_state()
    state["conv1.weight"] = (state["conv1.weight"] * 100).to(dtype)
    path = tmp_path / "quantized.pth"
    torch.save(state, path)
    with pytest.raises(ConversionError,
                       match=rf"quantized\.pth: entry 'conv1\.weight' is a "
                             rf"{str(dtype).split('.')[1]} tensor, not floating point"):
        read_state_dict(str(path))


def test_num_batches_tracked_stays_accepted(tmp_path):
    path = tmp_path / "sd.pth"
    torch.save(_small_state(), path)
    state = read_state_dict(str(path))
    assert state["bn1.num_batches_tracked"].dtype.name == "int64"
    assert state["conv1.weight"].shape == (4, 3, 3, 3)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weight_is_refused(tmp_path, bad):
    state = _small_state()
    state["bn1.running_var"][2] = bad
    path = tmp_path / "diverged.pth"
    torch.save(state, path)
    with pytest.raises(ConversionError,
                       match=r"diverged\.pth: entry 'bn1\.running_var' holds NaN or infinite"):
        read_state_dict(str(path))
