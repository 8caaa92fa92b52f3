"""convert_mmpose_checkpoint's ``config``: the experiment the checkpoint
belongs to, as a config or by name (its docstring); a name was an
AttributeError ('str' object has no attribute 'model') after the file was
read. The file is stood in for by its state_dict (no torch needed)."""

import pytest

from keras_pose.convert import mmpose
from keras_pose.convert.state_dict import ConversionError
from tests.convert.state_dicts import official_state_dict


def _mmpose_names(state):
    """Official names -> mmpose 1.x's (backbone.*, head.*)."""
    head = ("deconv_layers.", "final_layer.")
    return {("head." if name.startswith(head) else "backbone.") + name: value
            for name, value in state.items()}


@pytest.fixture
def resnet18_file(monkeypatch, tmp_path):
    """A path whose "reading" gives an mmpose ResNet-18 SimpleBaseline (K=17)."""
    state = _mmpose_names(official_state_dict(18))
    monkeypatch.setattr(mmpose, "read_state_dict", lambda path: state)
    return str(tmp_path / "td-hm_res18.pth")


def test_an_experiment_name_is_its_config(resnet18_file, tmp_path):
    """The file is a ResNet-18, the named experiment a ResNet-50: the
    tensors are checked against that experiment, as for its config."""
    with pytest.raises(ConversionError) as raised:
        mmpose.convert_mmpose_checkpoint(resnet18_file, str(tmp_path / "out"),
                                         "coco_resnet50_256x192")
    assert str(raised.value) == (f"{resnet18_file} does not match config "
                                 "coco_resnet50_256x192: the checkpoint has model.depth=18 but "
                                 "the config has 50")
    assert not (tmp_path / "out").exists()


def test_another_kind_of_config_is_a_type_error(resnet18_file, tmp_path):
    with pytest.raises(TypeError, match="config: expected an ExperimentConfig or an "
                                        "experiment's name, got dict"):
        mmpose.convert_mmpose_checkpoint(resnet18_file, str(tmp_path / "out"), {"depth": 18})


def test_a_named_experiment_converts(monkeypatch, tmp_path):
    state = _mmpose_names(official_state_dict(50))
    monkeypatch.setattr(mmpose, "read_state_dict", lambda path: state)
    out = tmp_path / "out"
    config = mmpose.convert_mmpose_checkpoint(str(tmp_path / "r50.pth"), str(out),
                                              "coco_resnet50_256x192")
    assert config.name == "coco_resnet50_256x192" and config.model.pretrained == ""
    assert sorted(p.name for p in out.iterdir()) == ["COMPLETE", "config.json",
                                                     "model.weights.h5"]
