"""convert_backbone's output: an earlier backbone .npz is replaced, any other
file is refused and kept (it was overwritten in silence)."""

import numpy as np
import pytest

from keras_pose.convert import official
from keras_pose.convert import state_dict as sd
from tests.convert.state_dicts import official_state_dict


@pytest.fixture
def torchvision_18(monkeypatch):
    """convert_backbone reads a torchvision ResNet-18 (with fc) from any path."""
    state = official_state_dict(18, head=False, classifier=True, seed=0)
    monkeypatch.setattr(official, "read_state_dict", lambda path: dict(state))
    return state


def test_a_users_npz_is_refused_and_kept(tmp_path, torchvision_18):
    data = tmp_path / "mydata.npz"
    np.savez(data, measurements=np.arange(5.0))
    before = data.read_bytes()
    with pytest.raises(sd.ConversionError, match=r"output .*mydata.npz exists and is not "
                                                 r"backbone weights of an earlier conversion"):
        official.convert_backbone("resnet18.pth", str(data))
    assert data.read_bytes() == before


@pytest.mark.parametrize("content", [b"not a zip at all", b""])
def test_a_file_that_is_no_npz_is_refused(tmp_path, torchvision_18, content):
    (tmp_path / "photo.npz").write_bytes(content)
    with pytest.raises(sd.ConversionError, match="photo.npz exists and is not backbone"):
        official.convert_backbone("resnet18.pth", str(tmp_path / "photo.npz"))
    assert (tmp_path / "photo.npz").read_bytes() == content


def test_an_earlier_backbone_npz_is_replaced(tmp_path, torchvision_18):
    out = str(tmp_path / "resnet18.npz")
    official.convert_backbone("resnet18.pth", out)
    names = sorted(np.load(out).files)
    assert "stem_conv/kernel" in names and not any("fc" in n for n in names)
    torchvision_18["conv1.weight"] = torchvision_18["conv1.weight"] + 1  # another file
    official.convert_backbone("resnet18.pth", out)
    # torch (out, in, kh, kw) -> Keras (kh, kw, in, out): the new values are in.
    np.testing.assert_array_equal(np.load(out)["stem_conv/kernel"],
                                  torchvision_18["conv1.weight"].transpose(2, 3, 1, 0))
