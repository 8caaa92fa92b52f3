"""The one config builder of the command lines, and what a checkpoint owns."""

import dataclasses
import os
import re

import pytest

from keras_pose.configs import ConfigError, get_experiment
from keras_pose.configs.cli import build_config, checkpoint_config


def test_named_recipe_on_another_data_set():
    config = build_config(dataset="mpii", experiment="tiny", overrides=["train.epochs=3"])
    assert config.model.depth == 18 and config.model.num_keypoints == 16
    assert config.data.dataset == "mpii" and config.train.epochs == 3
    assert build_config().name == "tiny"  # no flags: the demo
    assert build_config(dataset="coco").name == "coco_resnet50_256x192"
    custom = build_config(dataset="horses", data_dir="/data/h")
    assert custom.data.dataset == "custom" and custom.data.root == "/data/h"


def test_sigma_presets_become_numbers():
    from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS
    config = build_config(dataset="coco", overrides=["data.oks_sigmas=coco"])
    assert config.data.oks_sigmas == COCO_OKS_SIGMAS
    with pytest.raises(ConfigError, match="14 keypoints, the data set has 17"):
        build_config(dataset="coco", overrides=["data.oks_sigmas=crowdpose"])
    with pytest.raises(ConfigError, match="nosuchpreset"):
        build_config(dataset="coco", overrides=["data.oks_sigmas=nosuchpreset"])


def _trained_on_a_custom_set():
    base = build_config(dataset="lizards", data_dir="/data/lizards")
    data = dataclasses.replace(
        base.data, keypoint_names=("snout", "eyeL", "eyeR", "tail"), flip_pairs=((1, 2),),
        skeleton=((0, 3),), oks_sigmas=(0.03, 0.02, 0.02, 0.09))
    model = dataclasses.replace(base.model, num_keypoints=4, depth=18)
    return base.replace(data=data, model=model)


def test_evaluation_keeps_what_the_checkpoint_owns():
    trained = _trained_on_a_custom_set()
    # --dataset custom --data_dir elsewhere: where the data is changes, the
    # keypoint metadata and the model do not (they were re-derived before).
    config = build_config(dataset="custom", data_dir="/other", start=trained,
                          overrides=["test.flip_test=false"])
    config = checkpoint_config(config, trained, ["test.flip_test=false"])
    assert config.data.root == "/other" and config.test.flip_test is False
    assert config.model == trained.model
    for field in ("keypoint_names", "flip_pairs", "skeleton", "oks_sigmas"):
        assert getattr(config.data, field) == getattr(trained.data, field), field


def test_explicit_metadata_overrides_win_and_model_overrides_are_refused():
    trained = _trained_on_a_custom_set()
    overrides = ["data.flip_pairs=[]"]
    config = checkpoint_config(build_config(start=trained, overrides=overrides), trained,
                               overrides)
    assert config.data.flip_pairs == ()
    with pytest.raises(ConfigError, match="model"):
        checkpoint_config(trained, trained, ["model.depth=50"])


def test_metadata_names_of_the_checkpoints_keypoints_in_another_order_are_refused():
    # They would rename the heatmap channels (AP 0, flip pairs and sigmas on
    # the wrong keypoints, in silence); a respelling in the same order stays.
    trained = _trained_on_a_custom_set()
    for names in ["Snout,L_Eye,R_Eye,Tail", "snout,eyes_l,eye_r,tail_tip"]:
        overrides = [f"data.keypoint_names={names}"]
        config = checkpoint_config(build_config(start=trained, overrides=overrides), trained,
                                   overrides)
        assert config.data.keypoint_names == tuple(names.split(","))
    overrides = ["data.keypoint_names=snout,eyeR,eyeL,tail"]
    with pytest.raises(ConfigError, match=r"'eyeR' is keypoint 1 in it, 2 in the checkpoint.*"
                                          r"'snout', 'eyeL', 'eyeR', 'tail'"):
        checkpoint_config(build_config(start=trained, overrides=overrides), trained, overrides)


def test_evaluation_config_of_a_checkpoint_trained_on_tiny():
    trained = get_experiment("tiny")
    config = build_config(dataset="mpii", start=trained)
    config = checkpoint_config(config, trained)
    assert config.model == trained.model and config.data.dataset == "mpii"
    # The checkpoint's (COCO) metadata stays: evaluating it on MPII is then
    # refused by the data set check, naming both.
    assert config.data.keypoint_names == trained.data.keypoint_names


def test_a_folder_given_as_the_data_sets_name_is_refused_with_the_flags_that_say_it():
    """--dataset data/mine looked for data/data/mine/annotations/... (an
    absolute path for data//tmp/...)."""
    import pytest
    from keras_pose.configs import ConfigError
    from keras_pose.configs.cli import build_config
    with pytest.raises(ConfigError, match=r"^--dataset data/mine/: a data set's name, not a "
                                          r"folder: give --dataset mine --data_dir data/mine$"):
        build_config(dataset="data/mine/")
    with pytest.raises(ConfigError, match="give --dataset mine --data_dir /x/mine$"):
        build_config(dataset="/tmp/mine", data_dir="/x/mine")
    assert build_config(dataset="mine", data_dir="data/mine").data.root == "data/mine"


@pytest.mark.parametrize("source, expected", [
    (None, "tiny"), ("", "tiny"),
    ("simplebaseline_resnet50_coco_256x192", "tiny_from_simplebaseline_resnet50_coco_256x192"),
    ("{run}", "tiny_from_r50"), ("{run}/best", "tiny_from_r50_best"),
    ("{run}/checkpoints/epoch_0003", "tiny_from_r50_epoch_0003"),
    ("{run}/saved_model/", "tiny_from_r50_saved_model"), ("/", "tiny_from_checkpoint"),
])
def test_a_fine_tunes_default_model_dir_names_its_source(source, expected, tmp_path):
    from keras_pose.configs.cli import default_model_dir
    for part in ("best", "saved_model", "checkpoints/epoch_0003"):
        (tmp_path / "runs" / "r50" / part).mkdir(parents=True, exist_ok=True)
    if source:
        source = source.format(run=tmp_path / "runs" / "r50")
    config = get_experiment("tiny")
    config = config.replace(train=dataclasses.replace(config.train, init_checkpoint=source))
    assert default_model_dir(config) == os.path.join("output", expected)


def test_a_fine_tune_of_a_source_with_a_long_name_gets_a_folder_name_that_fits(tmp_path):
    """A 250-character run folder as --init_checkpoint: the default
    --model_dir's name was over NAME_MAX (255 bytes: "File name too long");
    it is cut, and two long names that differ at the end stay apart."""
    from keras_pose.configs.cli import default_model_dir
    config = get_experiment("tiny")
    names = []
    for end in ("a", "b"):
        source = tmp_path / ("m" * 249 + end)
        source.mkdir()
        run = config.replace(train=dataclasses.replace(config.train,
                                                       init_checkpoint=str(source)))
        name = os.path.basename(default_model_dir(run))
        assert name.startswith("tiny_from_mmmm") and len(name.encode()) <= 100
        assert default_model_dir(run) == default_model_dir(run)  # A resume lands there again.
        names.append(name)
    assert names[0] != names[1]
    os.makedirs(tmp_path / "output" / names[0])  # Creatable.


def test_data_dir_and_another_data_root_in_set_are_refused():
    """--data_dir A --set data.root=B trained (and evaluated) on B in silence."""
    with pytest.raises(ConfigError, match=r"^--data_dir data/a and --set data.root=data/b name "
                                          r"two data sets: give one of them$"):
        build_config(dataset="coco", data_dir="data/a", overrides=["data.root=data/b"])
    same = build_config(dataset="coco", data_dir="data/a", overrides=["data.root=./data/a"])
    assert same.data.root == "./data/a"
    assert build_config(dataset="coco", overrides=["data.root=data/b"]).data.root == "data/b"


def test_data_dir_through_a_link_or_with_a_tilde_is_the_same_data_set(tmp_path):
    """A symbolic link to data.root was refused as "two data sets"; --data_dir=~/x
    (no shell expands it) made a folder named "~" and trained on it."""
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "data", tmp_path / "link")
    config = build_config(dataset="coco", data_dir=str(tmp_path / "link"),
                          overrides=[f"data.root={tmp_path / 'data'}"])
    assert config.data.root == str(tmp_path / "data")
    home = build_config(dataset="coco", data_dir="~/coco")
    assert home.data.root == os.path.join(os.path.expanduser("~"), "coco")


def test_a_data_root_with_a_trailing_slash_is_still_the_data_set_named():
    """A checkpoint of data/lizards/ evaluated with --dataset lizards keeps its
    keypoint names, flip pairs and sigmas (not the default's)."""
    from keras_pose.configs.cli import same_dataset
    trained = _trained_on_a_custom_set()
    trained = trained.replace(data=dataclasses.replace(trained.data, root="data/lizards/"))
    assert same_dataset(trained, "lizards")
    config = build_config(dataset="lizards", start=trained)
    assert config.data.root == "data/lizards/"
    assert config.data.keypoint_names == ("snout", "eyeL", "eyeR", "tail")


def test_dataset_custom_takes_the_custom_defaults_even_from_a_run_in_data_custom():
    """--dataset custom on a checkpoint whose data was data/custom takes a custom
    set's default data and test sections (not that run's)."""
    trained = _trained_on_a_custom_set()
    trained = trained.replace(
        data=dataclasses.replace(trained.data, root="data/custom"),
        test=dataclasses.replace(trained.test, use_gt_boxes=False))
    config = build_config(dataset="custom", start=trained)
    # A custom set's defaults (default_experiment's docstring): COCO format at
    # data/custom, its keypoints from its annotation file, ground-truth boxes.
    assert config.data.dataset == "custom" and config.data.root == "data/custom"
    # Flip pairs unset (None: the file's, else by the names; () would be none).
    assert config.data.keypoint_names == () and config.data.flip_pairs is None
    assert config.test.use_gt_boxes is True


def test_on_its_own_data_set_a_checkpoint_keeps_the_categories_it_was_trained_on(tmp_path):
    """Trained with --set data.category_ids=2 on a file of two categories
    with the same keypoints: evaluate.py --dataset custom --data_dir (the
    same folder) scored both categories' people (another AP, unsaid). On
    another data set the file's own rule stays (its ids are its own)."""
    root = tmp_path / "lizards"
    root.mkdir()
    os.symlink(root, tmp_path / "link")
    trained = _trained_on_a_custom_set()
    trained = trained.replace(data=dataclasses.replace(trained.data, root=str(root),
                                                       category_ids=(2,)))
    for data_dir in (str(root), str(tmp_path / "link"), str(root) + "/"):
        config = build_config(dataset="custom", data_dir=data_dir, start=trained)
        assert checkpoint_config(config, trained).data.category_ids == (2,), data_dir
    other = build_config(dataset="custom", data_dir=str(tmp_path / "other"), start=trained)
    assert checkpoint_config(other, trained).data.category_ids == ()
    overrides = ["data.category_ids=1"]
    chosen = build_config(dataset="custom", data_dir=str(root), start=trained,
                          overrides=overrides)
    assert checkpoint_config(chosen, trained, overrides).data.category_ids == (1,)


def test_training_settings_given_to_an_evaluation_or_inference_are_said(caplog):
    """--set train.learning_rate=... or an augmentation setting given to
    evaluate.py or predict.py was taken and did nothing, unsaid; the
    evaluation's own settings are not mentioned."""
    from keras_pose.inference.loading import with_overrides
    trained = _trained_on_a_custom_set()
    given = ["train.learning_rate=0.1", "data.rotation_factor=0", "test.flip_test=false"]
    checkpoint_config(build_config(start=trained, overrides=given), trained, given)
    assert ("--set train.learning_rate, data.rotation_factor: training settings, with no "
            "effect on an evaluation") in caplog.text
    caplog.clear()
    with_overrides(trained, given)
    assert "train.learning_rate, data.rotation_factor: training settings" in caplog.text
    caplog.clear()
    with_overrides(trained, ["test.flip_test=false", "data.box_padding=1.5"])
    checkpoint_config(trained, trained, ["test.flip_test=false", "data.image_threshold=0.1"])
    assert "training settings" not in caplog.text


@pytest.mark.parametrize("flag", ["dataset", "experiment"])
def test_an_empty_dataset_or_experiment_is_refused(flag):
    """--experiment "$EXP" with EXP unset read as no flag: the default
    experiment was trained or evaluated in silence."""
    with pytest.raises(ConfigError, match=f"--{flag} is empty"):
        build_config(**{flag: ""})
    with pytest.raises(ConfigError, match=f"--{flag} is empty"):
        build_config(**{flag: " "})


@pytest.mark.parametrize("item, message", [
    ("data.skeleton=[[0,20]]", "data.skeleton: limb [0, 20] is out of range for the model's 17 "
                               "keypoints (0-based: 0..16); give data.skeleton=[] for none"),
    ("data.skeleton=[[0,-1]]", "data.skeleton: limb [0, -1] is out of range"),
    ("data.flip_pairs=[[1,17]]", "data.flip_pairs: flip pair [1, 17] is out of range"),
    ("data.upper_body_ids=[0,99]", "data.upper_body_ids: id 99 is out of range"),
])
def test_keypoint_indices_given_at_evaluation_or_inference_must_be_the_models(item, message):
    """A limb past K stopped a tracked video at its first person; [0, -1]
    drew the nose to the last keypoint; nothing said which entry."""
    from keras_pose.inference.loading import with_overrides
    trained = get_experiment("tiny")
    with pytest.raises(ConfigError, match=re.escape(message)):
        with_overrides(trained, [item])
    with pytest.raises(ConfigError, match=re.escape(message)):
        checkpoint_config(build_config(start=trained, overrides=[item]), trained, [item])
    with_overrides(trained, ["data.skeleton=[[0,16]]", "data.flip_pairs=[]"])  # In range.


def _fine_tune(init_checkpoint: str):
    """A run's config with --init_checkpoint ``init_checkpoint`` given, and
    the config of the checkpoint there: a run of experiment tiny, depth 34."""
    run = get_experiment("coco_resnet50_256x192")
    run = run.replace(train=dataclasses.replace(run.train, init_checkpoint=init_checkpoint))
    tiny = get_experiment("tiny")
    return run, tiny.replace(model=dataclasses.replace(tiny.model, depth=34))


def test_the_fine_tune_log_names_the_init_checkpoint_as_given(caplog):
    """The log said "--init_checkpoint tiny: model.image_size=... taken from
    it" of --init_checkpoint runs/ftsize/checkpoints/epoch_0002: the name
    in the checkpoint's config, not the path given."""
    import logging

    from keras_pose.configs.cli import init_checkpoint_config
    caplog.set_level(logging.INFO, logger="absl")
    given = "runs/ftsize/checkpoints/epoch_0002"
    run, source = _fine_tune(given)
    init_checkpoint_config(run, source, ["model.sigma=3"])
    assert f"--init_checkpoint {given}: model.depth=34, model.blocks_per_stage=" in caplog.text
    assert f"--init_checkpoint {given}: model.sigma=3.0 as --set gives (the checkpoint has " \
           "1.5)" in caplog.text
    assert "--init_checkpoint tiny" not in caplog.text


@pytest.mark.parametrize("value", ["imagenet", "torchvision", "weights/r18.h5"])
def test_pretrained_weights_with_an_init_checkpoint_are_refused(value):
    """--set model.pretrained=imagenet (or an invalid torchvision) beside
    --init_checkpoint was dropped unsaid (the checkpoint's weights replace
    the backbone's) and recorded in config.json as the run's weights."""
    from keras_pose.configs.cli import init_checkpoint_config
    run, source = _fine_tune("runs/a/best")
    with pytest.raises(ConfigError, match=re.escape(
            f"--set model.pretrained={value} with --init_checkpoint runs/a/best: the init "
            "checkpoint's weights replace the backbone's, these would never be loaded; drop "
            "the --set")):
        init_checkpoint_config(run, source, ["train.epochs=2", f"model.pretrained={value}"])
    for none in ("none", ""):  # No weights: what the run does.
        config = init_checkpoint_config(run, source, [f"model.pretrained={none}"])
        assert config.model.pretrained in ("", "none")
    assert init_checkpoint_config(run, source, []).model.pretrained == ""
