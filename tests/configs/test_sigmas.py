"""OKS sigmas: by name, by preset, as numbers, and the command-line hook."""

import logging

import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.configs.keypoints import COCO_KEYPOINT_NAMES
from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS, DEFAULT_OKS_SIGMA, SIGMA_PRESETS
from keras_pose.configs.sigmas import expand_sigma_override, resolve_sigmas


def test_coco_sigmas_by_name_in_any_order_and_style(caplog):
    order = [16, 3, 0, 9, 12, 5, 1, 14, 7, 2, 11, 4, 15, 6, 10, 8, 13]
    style = {"nose": "Nose", "left_eye": "LEye", "right_eye": "eyeR", "left_ear": "L_Ear",
             "right_ear": "Right Ear", "left_hip": "hip_l"}
    names = [style.get(COCO_KEYPOINT_NAMES[i], COCO_KEYPOINT_NAMES[i]) for i in order]
    sigmas = resolve_sigmas((), names)
    assert sigmas == tuple(COCO_OKS_SIGMAS[i] for i in order)
    assert sigmas[names.index("Nose")] == 0.026 and sigmas[names.index("hip_l")] == 0.107
    assert sigmas[0] == 0.089  # right_ankle
    assert "not COCO keypoints" not in caplog.text


def test_the_default_sigma_is_the_mean_of_cocos():
    """By hand: COCO's 17 sigmas x 10 sum to .26 + 2 (.25 + .35 + .79 + .72
    + .62 + 1.07 + .87 + .89) = 11.38; / 17 / 10 = 0.06694 (was 0.0626)."""
    assert DEFAULT_OKS_SIGMA == 0.0669


def test_other_names_get_the_default_with_a_warning(caplog):
    caplog.set_level(logging.INFO)
    names = [f"part{i}" for i in range(15)] + ["nose", "withers"]
    sigmas = resolve_sigmas(None, names)
    assert sigmas[15] == 0.026
    assert sigmas[:15] + sigmas[16:] == (DEFAULT_OKS_SIGMA,) * 16
    assert "16 of 17 keypoints are not COCO keypoints" in caplog.text
    assert "'withers'" in caplog.text and "--set data.oks_sigmas=" in caplog.text
    assert "part0=0.0669" in caplog.text  # the sigmas used are logged


def test_the_warning_names_a_matching_preset(caplog):
    names = SIGMA_PRESETS["crowdpose"].names
    sigmas = resolve_sigmas((), names)
    assert sigmas[:12] == SIGMA_PRESETS["crowdpose"].sigmas[:12]  # COCO's limbs
    assert "'head', 'neck'" in caplog.text and "data.oks_sigmas=crowdpose" in caplog.text


@pytest.mark.parametrize("preset,k,spot", [
    ("coco", 17, {0: 0.026, 11: 0.107}), ("crowdpose", 14, {12: 0.079, 13: 0.079}),
    ("aic", 14, {0: 0.01388152, 13: 0.01236173}), ("mpii", 16, {6: 0.026, 12: 0.179}),
    ("ochuman", 17, {16: 0.089}), ("posetrack18", 17, {1: 0.025}),
    ("ap10k", 17, {2: 0.026, 4: 0.035}), ("macaque", 17, {5: 0.079}),
    ("horse10", 22, {0: 0.0669}), ("coco_wholebody_body", 17, {15: 0.089}),
])
def test_presets_as_published(preset, k, spot):
    chosen = SIGMA_PRESETS[preset]
    assert len(chosen.sigmas) == len(chosen.names) == k
    for index, value in spot.items():
        assert chosen.sigmas[index] == value
    assert resolve_sigmas(preset, chosen.names) == chosen.sigmas


def test_preset_names_aliases_order_and_errors(caplog):
    ap10k = SIGMA_PRESETS["ap10k"]
    assert resolve_sigmas("AP-10K", ()) == ap10k.sigmas
    assert resolve_sigmas("MacaquePose", ()) == COCO_OKS_SIGMAS
    # The data set lists AP-10K's keypoints in another order: matched by name.
    shuffled = list(reversed(ap10k.names))
    assert resolve_sigmas("ap10k", shuffled) == tuple(reversed(ap10k.sigmas))
    with pytest.raises(ValueError, match="unknown OKS sigma preset 'cocco'.*crowdpose"):
        resolve_sigmas("cocco", COCO_KEYPOINT_NAMES)
    with pytest.raises(ValueError, match="preset 'crowdpose' has 14 keypoints.*17"):
        resolve_sigmas("crowdpose", COCO_KEYPOINT_NAMES)


def test_explicit_sigmas_are_checked():
    assert resolve_sigmas("0.1, 0.2", ["a", "b"]) == (0.1, 0.2)
    assert resolve_sigmas([0.1, 0.2], ["a", "b"]) == (0.1, 0.2)
    with pytest.raises(ValueError, match=r"2 values for 3 keypoints: give 3 numbers \(--set "
                       r"data.oks_sigmas=\[0.0669,0.0669,0.0669\]\), or \[\] for COCO's"):
        resolve_sigmas([0.1, 0.2], ["a", "b", "c"])
    # COCO's numbers (--set data.oks_sigmas=coco) on CrowdPose's keypoints: the way out
    # was not said, and then presets were offered by count, not by keypoint names.
    crowd = list(SIGMA_PRESETS["crowdpose"].names)
    with pytest.raises(ValueError, match=r"preset .coco. \(17 keypoints\) for 14 keypoints: "
                       r".*, a preset of these keypoints \(--set data.oks_sigmas=crowdpose\), "
                       r"or \[\]"):
        resolve_sigmas(COCO_OKS_SIGMAS, crowd[::-1])
    with pytest.raises(ValueError, match=r"preset 'coco' has 17 keypoints, the data set has "
                       r"14: give 14 numbers .* or \[\]") as raised:
        resolve_sigmas("coco", [f"k{i}" for i in range(14)])
    assert "a preset of these" not in str(raised.value)  # None has k0..k13.
    with pytest.raises(ValueError, match="finite numbers > 0"):
        resolve_sigmas([0.1, float("nan")], ["a", "b"])
    with pytest.raises(ValueError, match="finite numbers > 0"):
        resolve_sigmas([0.1, 0.0], ["a", "b"])


def test_command_line_hook_for_presets():
    config = get_experiment("coco_resnet50_256x192")
    override = expand_sigma_override("data.oks_sigmas=CrowdPose")
    changed = apply_overrides(config, [override])
    assert changed.data.oks_sigmas == SIGMA_PRESETS["crowdpose"].sigmas
    assert expand_sigma_override("train.epochs=3") == "train.epochs=3"
    assert expand_sigma_override("data.oks_sigmas=0.1,0.2") == "data.oks_sigmas=0.1,0.2"
    with pytest.raises(ValueError, match="unknown OKS sigma preset"):
        expand_sigma_override("data.oks_sigmas=nonsense")


def test_a_presets_numbers_in_its_order_are_matched_to_the_keypoints_by_name(caplog):
    """--set data.oks_sigmas=crowdpose on a custom set becomes CrowdPose's
    numbers before the set's keypoint names are read: a set with CrowdPose's
    keypoints in another order got them in CrowdPose's order, in silence."""
    preset = SIGMA_PRESETS["crowdpose"]
    names = list(preset.names[::-1])
    by_name = dict(zip(preset.names, preset.sigmas))
    expected = tuple(by_name[n] for n in names)
    assert resolve_sigmas(preset.sigmas, names) == expected != preset.sigmas
    assert resolve_sigmas(expand_sigma_override("data.oks_sigmas=crowdpose").split("=")[1]
                          .strip("[]"), names) == expected
    # Other names, same count: used in the preset's order, and said.
    caplog.set_level(logging.WARNING, logger="absl")
    others = [f"k{i}" for i in range(14)]
    assert resolve_sigmas(preset.sigmas, others) == preset.sigmas
    assert "keypoint names differ from the preset's" in caplog.text
    # Numbers of no preset, or K times one sigma, stay as given, in silence.
    caplog.clear()
    assert resolve_sigmas([0.05] * 14, others) == (0.05,) * 14
    assert resolve_sigmas([DEFAULT_OKS_SIGMA] * 22, [f"k{i}" for i in range(22)]) == \
        (DEFAULT_OKS_SIGMA,) * 22
    assert caplog.text == ""
    # Presets that share numbers (COCO's 17 are PoseTrack18's too): the one of these names.
    posetrack = SIGMA_PRESETS["posetrack18"]
    assert posetrack.sigmas == SIGMA_PRESETS["coco"].sigmas
    shuffled = list(posetrack.names[1:]) + [posetrack.names[0]]
    by_name = dict(zip(posetrack.names, posetrack.sigmas))
    assert resolve_sigmas(posetrack.sigmas, shuffled) == tuple(by_name[n] for n in shuffled)
    assert caplog.text == ""


def test_messages_name_the_preset_given_and_offer_presets_that_fit(caplog):
    """A typed preset of the wrong count was "17 values"; of presets sharing
    numbers, the warning named COCO for PoseTrack18's names but one; the
    warning of [] offered presets of any count."""
    posetrack = list(SIGMA_PRESETS["posetrack18"].names)
    with pytest.raises(ValueError, match=r"data.oks_sigmas is preset 'coco' \(17 keypoints\) "
                       r"for 14 keypoints"):
        resolve_sigmas(list(COCO_OKS_SIGMAS), [f"k{i}" for i in range(14)])
    caplog.set_level(logging.WARNING, logger="absl")
    almost = ["neck" if n == "head_bottom" else n for n in posetrack[::-1]]
    resolve_sigmas(list(COCO_OKS_SIGMAS), almost)
    assert "preset 'posetrack18': the data set's keypoint names differ" in caplog.text
    caplog.clear()
    resolve_sigmas([], [f"k{i}" for i in range(13)])
    assert "To set them: --set data.oks_sigmas=s1,...,s13" in caplog.text
    assert "crowdpose" not in caplog.text
    caplog.clear()
    resolve_sigmas([], [f"k{i}" for i in range(14)])
    assert "one of " in caplog.text and "crowdpose" in caplog.text and "mpii" not in caplog.text


@pytest.mark.parametrize("alias,preset", [
    ("MacaquePose", "macaque"), ("PoseTrack", "posetrack18"), ("PoseTrack-2018", "posetrack18"),
    ("WholeBody", "coco_wholebody_body"), ("COCO-WholeBody", "coco_wholebody_body"),
    ("coco_wholebody", "coco_wholebody_body"), ("AI Challenger", "aic"),
    ("ai_challenger", "aic"),
])
def test_each_alias_names_the_preset_of_its_data_set(alias, preset):
    """A data set's usual name chooses that set's sigmas (another's would be OKS
    with wrong sigmas)."""
    # Expected by the names: COCO-WholeBody's 17-keypoint sigmas are its body
    # table's, AI Challenger is aic, PoseTrack (2018) is posetrack18.
    from keras_pose.configs.sigma_presets import sigma_preset
    assert sigma_preset(alias) is SIGMA_PRESETS[preset]
