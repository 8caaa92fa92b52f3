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


def test_other_names_get_the_default_with_a_warning(caplog):
    caplog.set_level(logging.INFO)
    names = [f"part{i}" for i in range(15)] + ["nose", "withers"]
    sigmas = resolve_sigmas(None, names)
    assert sigmas[15] == 0.026
    assert sigmas[:15] + sigmas[16:] == (DEFAULT_OKS_SIGMA,) * 16
    assert "16 of 17 keypoints are not COCO keypoints" in caplog.text
    assert "'withers'" in caplog.text and "--set data.oks_sigmas=" in caplog.text
    assert "part0=0.0626" in caplog.text  # the sigmas used are logged


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
    ("horse10", 22, {0: 0.0626}), ("coco_wholebody_body", 17, {15: 0.089}),
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
    with pytest.raises(ValueError, match=r"2 values for 3 keypoints .*: give 3 numbers, e\.g\. "
                       r"--set data.oks_sigmas=\[[0-9.]+,[0-9.]+,[0-9.]+\], or none"):
        resolve_sigmas([0.1, 0.2], ["a", "b", "c"])
    # COCO's numbers (--set data.oks_sigmas=coco) for 14 keypoints: the way out was not said.
    with pytest.raises(ValueError, match=r"17 values for 14 keypoints .*, a preset of 14 "
                       r"keypoints \(.*crowdpose.*\), or none"):
        resolve_sigmas(COCO_OKS_SIGMAS, [f"k{i}" for i in range(14)])
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
