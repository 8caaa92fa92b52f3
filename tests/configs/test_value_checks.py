"""Config values refused before any work, each naming its key, the value and
the range; override values in Python's number forms; the experiment's name.

Each refused value below was taken in silence (or failed later, with an
error naming no key) in a user trial.
"""

import math

import pytest

from keras_pose.configs import ConfigError, apply_overrides, get_experiment
from keras_pose.configs.base import DataConfig
from keras_pose.configs.cli import default_model_dir


@pytest.mark.parametrize("override,message", [
    # The synthetic data set on disk was deleted and made again with 0 images.
    ("data.synthetic_train_images=0", r"data.synthetic_train_images must be >= 1 .*got 0$"),
    ("data.synthetic_train_images=-1", r"data.synthetic_train_images must be >= 1 .*got -1$"),
    ("data.synthetic_val_images=0", r"data.synthetic_val_images must be >= 1 .*got 0$"),
    # Infinity: training on nothing, AP 0, -Infinity/NaN in predictions.json.
    ("data.box_padding=Infinity", r"data.box_padding must be a finite number > 0 .*got inf$"),
    ("data.box_padding=1e400", r"data.box_padding must be a finite number > 0 .*got inf$"),
    # Negative: gradient ascent; 0: NaN weights on a zero gradient (Keras and
    # the fused Adam alike).
    ("train.adam_epsilon=-1e-8", r"train.adam_epsilon must be a finite number > 0 .*1e-8.*"
                                 r"got -1e-08$"),
    ("train.adam_epsilon=NaN", r"train.adam_epsilon must be a finite number > 0 .*got nan$"),
    ("train.adam_epsilon=0", r"train.adam_epsilon must be a finite number > 0 .*got 0.0$"),
    ("train.learning_rate=Infinity", r"train.learning_rate must be a finite number > 0, "
                                     r"got inf$"),
    # NaN kept every detection and wrote NaN into config.json.
    ("data.image_threshold=NaN", r"data.image_threshold must be a finite number in \[0, 1\] "
                                 r".*got nan$"),
    ("data.image_threshold=1.5", r"data.image_threshold must be a finite number in \[0, 1\]"),
    ("model.mean=NaN,0.4,0.4", r"model.mean must be finite numbers .*got \[nan, 0.4, 0.4\]$"),
    ("data.num_joints_half_body=-1", r"data.num_joints_half_body must be >= 0 .*got -1$"),
    # 1e19: a TF traceback mid-training; 2**31 aborted TF (std::bad_alloc).
    ("data.num_parallel_calls=1e19", r"data.num_parallel_calls must be at most 1024 .*-1 "
                                     r"autotunes\), got 10000000000000000000$"),
    ("data.num_parallel_calls=1025", r"data.num_parallel_calls must be at most 1024"),
    # An OverflowError traceback.
    ("train.steps_per_epoch=1e19", r"train.steps_per_epoch must be below 2\*\*31, "
                                   r"got 10000000000000000000$"),
    ("train.epochs=2147483648", r"train.epochs must be below 2\*\*31, got 2147483648$"),
    ("test.batch_size=2147483648", r"test.batch_size must be below 2\*\*31"),
    ("track.max_missed_frames=1e19", r"track.max_missed_frames must be below 2\*\*31"),
    ("track.box_extension=Infinity", r"track.box_extension must be a finite number >= 0 .*"
                                     r"got inf$"),
    ("model.num_keypoints=0", r"model.num_keypoints must be >= 1 .*got 0$"),
    ("model.deconv_filters=2147483648,64,64", r"model.deconv_filters must each be >= 1 and "
                                              r"below 2\*\*31, got \[2147483648, 64, 64\]$"),
    # A drop at epoch index 0 or before applies from the start (a negative
    # one PyTorch's MultiStepLR never reaches: the schedule changed unsaid).
    ("train.lr_steps=-5", r"train.lr_steps must each be >= 1 .*got \[-5\]$"),
    ("train.lr_steps=90,0", r"train.lr_steps must each be >= 1 .*got \[90, 0\]$"),
    # The least scale 1 - sf: 0 (16% of crops at sf 1) is a blank crop.
    ("data.scale_factor=1", r"data.scale_factor must be below 1 .*got 1.0$"),
    ("data.oks_sigmas=NaN", r"data.oks_sigmas must be finite numbers > 0, got \[nan\]$"),
])
def test_values_out_of_range_are_refused_naming_key_range_and_value(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(get_experiment("tiny"), [override])


def test_the_limits_themselves_are_taken():
    c = apply_overrides(get_experiment("tiny"), [
        "data.synthetic_train_images=1", "data.synthetic_val_images=1",
        "data.num_parallel_calls=1024", "data.image_threshold=1", "data.num_joints_half_body=0",
        "train.steps_per_epoch=2147483647", "train.lr_steps=1", "train.adam_epsilon=1e-8",
        "data.scale_factor=0.99", "model.mean=-1,0,2"])
    assert (c.data.synthetic_train_images, c.data.num_parallel_calls) == (1, 1024)
    assert c.train.steps_per_epoch == 2 ** 31 - 1 and c.train.lr_steps == (1,)
    assert apply_overrides(c, ["data.num_parallel_calls=-1"]).data.num_parallel_calls == -1


def test_a_direct_construction_is_checked_too():
    with pytest.raises(ConfigError, match=r"data.box_padding must be a finite number > 0"):
        DataConfig(box_padding=math.inf)


@pytest.mark.parametrize("override,expected", [
    ("train.learning_rate=.5", 0.5), ("train.learning_rate=5.", 5.0),
    ("train.learning_rate=1e-3", 0.001), ("train.learning_rate=+1.e-3", 0.001),
    ("train.lr_factor=.25", 0.25)])
def test_python_float_literals_are_numbers(override, expected):
    # ".5" was "expected a number, got '.5'" (JSON has no such form).
    key, _ = override.split("=")
    section, field = key.split(".")
    config = apply_overrides(get_experiment("tiny"), [override])
    assert getattr(getattr(config, section), field) == expected


def test_number_forms_stay_text_in_text_fields_and_whole_in_lists():
    c = apply_overrides(get_experiment("tiny"), ["data.root=.5", "train.lr_steps=.5e1,8."])
    assert c.data.root == ".5" and c.train.lr_steps == (5, 8)


@pytest.mark.parametrize("override,message", [
    ("data.keypoint_names=", r"config key 'data.keypoint_names': the value is empty; give "
                             r"\[\] for an empty list, as in data.keypoint_names=\[\]$"),
    ("data.flip_pairs= ", r"config key 'data.flip_pairs': the value is empty; give \[\]"),
    ("data.skeleton=", r"config key 'data.skeleton': the value is empty; give \[\] for an "
                       r"empty list \(or none: unset\)"),
    ("train.lr_steps=", r"config key 'train.lr_steps': the value is empty; give \[\]")])
def test_an_empty_value_of_a_list_says_to_give_an_empty_list(override, message):
    # data.keypoint_names= was ('',), and a later error blamed another key.
    with pytest.raises(ConfigError, match=message):
        apply_overrides(get_experiment("tiny"), [override])


def test_an_empty_list_is_given_as_brackets():
    c = apply_overrides(get_experiment("tiny"), ["data.keypoint_names=[]", "train.lr_steps=[]"])
    assert c.data.keypoint_names == () and c.train.lr_steps == ()


@pytest.mark.parametrize("name", ["", "   ", ".", "..", "../../escape", "runs/a", "a/../../b"])
def test_a_name_that_is_no_folder_under_output_is_refused(name):
    # "" trained into output/ itself; "../../escape" wrote outside output/.
    with pytest.raises(ConfigError, match=r"^name '.*' names the run's folder "
                                          r"output/<name>: give a name that is not empty"):
        apply_overrides(get_experiment("tiny"), [f"name={name}"])


def test_a_name_is_stripped():
    config = apply_overrides(get_experiment("tiny"), ["name=  my run  "])
    assert config.name == "my run"
    assert default_model_dir(config) == "output/my run"
