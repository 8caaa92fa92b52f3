"""A --model_dir holding a config.json that is not a keras-pose run's: the
user's own file was overwritten by the run's config, in silence."""

import json
import re

import pytest

from keras_pose.configs import save_config
from keras_pose.training.callbacks import TrainingError
from keras_pose.training.init_checkpoint import check_restarted_source


@pytest.mark.parametrize("content, reason", [
    ('{"project": "x"}', "unknown config section 'project'; known: name, data, model, test, "
                         "track, train"),
    ("[1, 2]", "it holds a list, not a JSON object of config sections (model, data, train, "
               "test, track)"),
    ("null", "it holds null, not a JSON object of config sections (model, data, train, test, "
             "track)"),
    ("project = x\n", "not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ('{"model": {"depth": 18}}', "no model.num_keypoints, which every keras-pose version writes"),
])
def test_a_config_json_of_no_run_is_refused_not_overwritten(fast_config, tmp_path, content,
                                                            reason):
    """mkdir proj; cd proj; echo '{"project":"x"}' > config.json; train.py
    --model_dir . replaced the file; a list in it crashed (AttributeError)."""
    from keras_pose.training import train
    model_dir = tmp_path / "proj"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(content)
    message = (f"{model_dir / 'config.json'} is not a config this keras-pose reads ({reason}"
               "): the run would replace it with its own; give another --model_dir, or move "
               "that file away")
    with pytest.raises(TrainingError, match=f"^{re.escape(message)}"):
        check_restarted_source(fast_config, str(model_dir))
    with pytest.raises(TrainingError, match=f"^{re.escape(message)}"):
        train(fast_config, str(model_dir), export=False, progress=False)
    assert (model_dir / "config.json").read_text() == content
    assert sorted(p.name for p in model_dir.iterdir() if p.name != ".lock") == ["config.json"]


def test_a_runs_own_config_without_checkpoints_is_taken(fast_config, tmp_path):
    """A run stopped before its first checkpoint starts again in its folder."""
    save_config(fast_config, str(tmp_path / "config.json"))
    check_restarted_source(fast_config, str(tmp_path))
    assert json.loads((tmp_path / "config.json").read_text())["name"] == fast_config.name
