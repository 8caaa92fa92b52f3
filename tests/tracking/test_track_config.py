"""The ``track`` config section: paper values, overrides, JSON round trip."""

import dataclasses
import inspect

import pytest

from keras_pose.configs import (ConfigError, apply_overrides, config_from_dict,
                                config_to_dict, get_experiment)
from keras_pose.configs.base import TrackConfig
from keras_pose.tracking.flow import DIS_PRESETS, FLOW_METHODS


def test_paper_values():
    config = TrackConfig()
    assert config.box_extension == 0.15        # Section 3.1: boxes grown by 15%
    assert config.detection_threshold == 0.5   # Section 4.2: detections < 0.5 dropped
    assert config.keypoint_threshold == 0.4    # Section 4.2: joints < 0.4 dropped
    assert config.use_propagation


def test_fields_are_plain_and_documented():
    # cleandoc: Python 3.13 strips a docstring's indentation itself.
    lines = inspect.cleandoc(TrackConfig.__doc__).splitlines()
    for field in dataclasses.fields(TrackConfig):
        assert field.type in ("str", "int", "float", "bool"), field
        assert any(line.startswith(f"  {field.name}: ") for line in lines), (
            f"{field.name} is not documented")


def test_overrides_and_json_round_trip():
    config = apply_overrides(get_experiment("tiny"), [
        "track.max_missed_frames=5", "track.flow_method=farneback",
        "track.similarity_threshold=0.25", "track.use_propagation=false"])
    assert config.track == dataclasses.replace(
        TrackConfig(), max_missed_frames=5, flow_method="farneback",
        similarity_threshold=0.25, use_propagation=False)
    assert config_from_dict(config_to_dict(config)) == config
    with pytest.raises(ConfigError, match="track.num_previous_frames"):
        apply_overrides(config, ["track.num_previous_frames=many"])
    with pytest.raises(ConfigError, match="track.window"):
        apply_overrides(config, ["track.window=3"])


@pytest.mark.parametrize("override", [
    "track.flow_method=flownet", "track.dis_preset=slow", "track.flow_scale=0",
    "track.flow_scale=1.5", "track.num_previous_frames=0", "track.max_missed_frames=-1",
    "track.min_keypoints=1", "track.box_extension=-0.1"])
def test_bad_values_are_refused_naming_the_key(override):
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        apply_overrides(get_experiment("tiny"), [override])


def test_the_flow_module_names_are_accepted():
    # The config's lists of names are the flow module's.
    for method in FLOW_METHODS:
        TrackConfig(flow_method=method)
    for preset in DIS_PRESETS:
        TrackConfig(dis_preset=preset)
    with pytest.raises(ConfigError):
        TrackConfig(flow_method="flownet2")
