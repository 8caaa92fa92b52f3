"""Keypoint names: sides and flip pairs in every naming style, index bases,
OKS sigmas by name and by preset."""

import logging

import pytest

from keras_pose.configs import apply_overrides, get_experiment
from keras_pose.configs import keypoints as kp

# (style, names, expected flip pairs as name pairs). Names written from the
# public data sets' annotation files / mmpose meta files.
NAMING_TABLE = [
    ("COCO / OCHuman / MacaquePose", kp.COCO_KEYPOINT_NAMES, [
        ("left_eye", "right_eye"), ("left_ear", "right_ear"),
        ("left_shoulder", "right_shoulder"), ("left_elbow", "right_elbow"),
        ("left_wrist", "right_wrist"), ("left_hip", "right_hip"),
        ("left_knee", "right_knee"), ("left_ankle", "right_ankle")]),
    ("CrowdPose", ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                   "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                   "right_knee", "left_ankle", "right_ankle", "head", "neck"), [
        ("left_shoulder", "right_shoulder"), ("left_elbow", "right_elbow"),
        ("left_wrist", "right_wrist"), ("left_hip", "right_hip"),
        ("left_knee", "right_knee"), ("left_ankle", "right_ankle")]),
    ("AIC", ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
             "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
             "left_hip", "left_knee", "left_ankle", "head_top", "neck"), [
        ("left_shoulder", "right_shoulder"), ("left_elbow", "right_elbow"),
        ("left_wrist", "right_wrist"), ("left_hip", "right_hip"),
        ("left_knee", "right_knee"), ("left_ankle", "right_ankle")]),
    ("MPII in COCO format (MATLAB names)", (
        "r ankle", "r knee", "r hip", "l hip", "l knee", "l ankle", "pelvis", "thorax",
        "upper neck", "head top", "r wrist", "r elbow", "r shoulder", "l shoulder",
        "l elbow", "l wrist"), [
        ("l ankle", "r ankle"), ("l knee", "r knee"), ("l hip", "r hip"),
        ("l wrist", "r wrist"), ("l elbow", "r elbow"), ("l shoulder", "r shoulder")]),
    ("PoseTrack18", ("nose", "head_bottom", "head_top") + kp.COCO_KEYPOINT_NAMES[3:], [
        ("left_ear", "right_ear"), ("left_shoulder", "right_shoulder"),
        ("left_elbow", "right_elbow"), ("left_wrist", "right_wrist"),
        ("left_hip", "right_hip"), ("left_knee", "right_knee"),
        ("left_ankle", "right_ankle")]),
    ("AP-10K (mmpose meta)", (
        "L_Eye", "R_Eye", "Nose", "Neck", "Root of tail", "L_Shoulder", "L_Elbow",
        "L_F_Paw", "R_Shoulder", "R_Elbow", "R_F_Paw", "L_Hip", "L_Knee", "L_B_Paw",
        "R_Hip", "R_Knee", "R_B_Paw"), [
        ("L_Eye", "R_Eye"), ("L_Shoulder", "R_Shoulder"), ("L_Elbow", "R_Elbow"),
        ("L_F_Paw", "R_F_Paw"), ("L_Hip", "R_Hip"), ("L_Knee", "R_Knee"),
        ("L_B_Paw", "R_B_Paw")]),
    ("Horse-10 (near/off are not mirrored, as mmpose)", (
        "Nose", "Eye", "Nearknee", "Nearfrontfetlock", "Nearfrontfoot", "Offknee",
        "Offfrontfetlock", "Offfrontfoot", "Shoulder", "Midshoulder", "Elbow", "Girth",
        "Wither", "Nearhindhock", "Nearhindfetlock", "Nearhindfoot", "Hip", "Stifle",
        "Offhindhock", "Offhindfetlock", "Offhindfoot", "Ischium"), []),
    ("OpenPose BODY_25", (
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
        "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"), [
        ("LShoulder", "RShoulder"), ("LElbow", "RElbow"), ("LWrist", "RWrist"),
        ("LHip", "RHip"), ("LKnee", "RKnee"), ("LAnkle", "RAnkle"), ("LEye", "REye"),
        ("LEar", "REar"), ("LBigToe", "RBigToe"), ("LSmallToe", "RSmallToe"),
        ("LHeel", "RHeel")]),
    ("Fly (side letter before a digit)", (
        "head", "eyeL", "eyeR", "neck", "thorax", "abdomen", "forelegR1", "forelegR2",
        "midlegR1", "hindlegR1", "forelegL1", "forelegL2", "midlegL1", "hindlegL1",
        "wingL", "wingR"), [
        ("eyeL", "eyeR"), ("forelegL1", "forelegR1"), ("forelegL2", "forelegR2"),
        ("midlegL1", "midlegR1"), ("hindlegL1", "hindlegR1"), ("wingL", "wingR")]),
    ("Locust", ("head", "neck", "thorax", "abdomen1", "anttipL", "antbaseL", "eyeL",
                "anttipR", "antbaseR", "eyeR"), [
        ("anttipL", "anttipR"), ("antbaseL", "antbaseR"), ("eyeL", "eyeR")]),
    ("one hand (OneHand10K / FreiHand)", ("wrist", "thumb1", "thumb2", "forefinger1",
                                          "middle_finger1", "ring_finger1",
                                          "pinky_finger1"), []),
    ("two hands (InterHand2.6M)", ("right_thumb4", "right_thumb3", "right_wrist",
                                   "left_thumb4", "left_thumb3", "left_wrist"), [
        ("left_thumb4", "right_thumb4"), ("left_thumb3", "right_thumb3"),
        ("left_wrist", "right_wrist")]),
    ("Kinect v2 (side suffix word)", ("SpineBase", "Head", "ShoulderLeft", "HandTipLeft",
                                      "ShoulderRight", "HandTipRight"), [
        ("ShoulderLeft", "ShoulderRight"), ("HandTipLeft", "HandTipRight")]),
    ("camelCase prefix", ("leftEye", "rightEye", "nose"), [("leftEye", "rightEye")]),
    ("capitalised words", ("Left Hip", "Right Hip", "Left Eye", "Right Eye"), [
        ("Left Eye", "Right Eye"), ("Left Hip", "Right Hip")]),
    ("hyphens / dots", ("left-eye", "right-eye", "L.Ear", "R.Ear"), [
        ("L.Ear", "R.Ear"), ("left-eye", "right-eye")]),
    ("suffix _l/_r, upper case", ("HIP_L", "HIP_R", "knee_l", "knee_r"), [
        ("HIP_L", "HIP_R"), ("knee_l", "knee_r")]),
    ("face: lips", ("nose", "upper_lip", "lower_lip", "lip_l", "lip_r", "chin"), [
        ("lip_l", "lip_r")]),
    ("side word inside (ATRW tiger)", (
        "left_ear", "right_ear", "nose", "right_front_paw", "left_front_paw", "tail",
        "center"), [("left_ear", "right_ear"), ("left_front_paw", "right_front_paw")]),
    ("glued, DeepLabCut", ("snout", "leftear", "rightear", "tailbase"), [
        ("leftear", "rightear")]),
    ("glued one letter, LSP", ("rank", "rkne", "rhip", "lhip", "lkne", "lank", "neck",
                               "head"), [
        ("lank", "rank"), ("lkne", "rkne"), ("lhip", "rhip")]),
]


@pytest.mark.parametrize("style,names,expected", NAMING_TABLE,
                         ids=[row[0] for row in NAMING_TABLE])
def test_flip_pairs_from_every_naming_style(style, names, expected, caplog):
    names = list(names)
    want = tuple(sorted(tuple(sorted((names.index(a), names.index(b)))) for a, b in expected))
    assert kp.flip_pairs_from_names(names) == want, style
    assert "no partner" not in caplog.text


FALSE_SIDES = ["nose", "tail", "lower_lip", "upper_lip", "elbow", "leg", "Lip", "Rump",
               "rear", "lid", "Root of tail", "Nearknee", "Offknee"]


def test_words_that_only_start_with_l_or_r_are_not_sides():
    keys = kp.keypoint_keys(FALSE_SIDES + ["left_eye", "right_eye", "left_ear"])
    assert [side for side, _ in keys[:len(FALSE_SIDES)]] == [""] * len(FALSE_SIDES)
    assert kp.flip_pairs_from_names(FALSE_SIDES) == ()


def test_lip_sides_and_side_words_anywhere():
    keys = kp.keypoint_keys(["lip_l", "lip_r", "front_left_paw", "forelegL1", "LShoulder",
                             "eyeR", "L_Eye", "left-eye"])
    assert keys == [("L", "lip"), ("R", "lip"), ("L", "front_paw"), ("L", "foreleg_1"),
                    ("L", "shoulder"), ("R", "eye"), ("L", "eye"), ("L", "eye")]


def test_unpaired_sided_names_are_warned_not_fatal(caplog):
    pairs = kp.flip_pairs_from_names(["head", "right_paw", "left_ear", "right_ear", "L1"])
    assert pairs == ((2, 3),)
    assert "'right_paw'" in caplog.text and "'L1'" in caplog.text
    assert "'left_ear'" not in caplog.text


def test_ambiguous_partner_is_an_error():
    with pytest.raises(ValueError, match="ambiguous.*left_eye.*LEye.*right_eye"):
        kp.flip_pairs_from_names(["left_eye", "LEye", "right_eye"])
    # Two of a side without any partner: only a warning.
    assert kp.flip_pairs_from_names(["left_x", "LX"]) == ()


def test_skeleton_index_base_detection(caplog):
    one_based = [[a + 1, b + 1] for a, b in kp.COCO_SKELETON]
    assert kp.zero_based_pairs(one_based, 17, "s") == kp.COCO_SKELETON  # has 17 = K
    zero_based = [list(limb) for limb in kp.COCO_SKELETON]
    assert kp.zero_based_pairs(zero_based, 17, "s") == kp.COCO_SKELETON  # has 0
    assert "fit both" not in caplog.text
    # 1..K-1 only: ambiguous, the choice is taken and logged.
    assert kp.zero_based_pairs([[1, 2], [2, 16]], 17, "file.json skeleton", 1,
                               "COCO's convention") == ((0, 1), (1, 15))
    assert "file.json skeleton: indices 1..16 fit both" in caplog.text
    assert "read as 1-based (COCO's convention)" in caplog.text


@pytest.mark.parametrize("pairs,match", [
    ([[1, 2], [15, 18]], r"pair #1 \[15, 18\] is out of range for 17"),
    ([[0, 1], [-1, 3]], r"pair #1 \[-1, 3\]"),
    ([[0, 1], [16, 17]], r"pair #1 \[16, 17\]"),  # 0 and K together
    ([[0, 1.5]], "not a pair of integer"),
    ([[0, 1, 2]], "not a pair of integer"),
])
def test_out_of_range_limbs_are_refused(pairs, match):
    with pytest.raises(ValueError, match=match):
        kp.zero_based_pairs(pairs, 17, "s")


def test_flip_pairs_from_an_annotation_file_entry():
    names = kp.COCO_KEYPOINT_NAMES
    # 0-based COCO pairs are 1..16: ambiguous, the names say 0-based.
    assert kp.flip_pairs_from_entry([list(p) for p in kp.COCO_FLIP_PAIRS], names,
                                    "f") == kp.COCO_FLIP_PAIRS
    assert kp.flip_pairs_from_entry([[a + 1, b + 1] for a, b in kp.COCO_FLIP_PAIRS],
                                    names, "f") == kp.COCO_FLIP_PAIRS
    assert kp.flip_pairs_from_entry([["right_eye", "left_eye"]], names, "f") == ((1, 2),)
    swap = ["", "right_eye", "left_eye"] + [""] * 14
    assert kp.flip_pairs_from_entry(swap, names, "f") == ((1, 2),)
    # Three keypoints named without sides, 1-based pairs (max = K).
    assert kp.flip_pairs_from_entry([[1, 3]], ["a", "b", "c"], "f") == ((0, 2),)
    with pytest.raises(ValueError, match="more than one flip pair"):
        kp.flip_pairs_from_entry([[0, 1], [1, 2]], ["a", "b", "c"], "f")
    with pytest.raises(ValueError, match="unknown keypoint names"):
        kp.flip_pairs_from_entry([["left_eye", "right_toe"]], names, "f")


def test_resolve_flip_pairs_precedence(caplog):
    caplog.set_level(logging.INFO)
    names = ["nose", "l_eye", "r_eye", "l_paw", "r_paw"]
    assert kp.resolve_flip_pairs(names) == ((1, 2), (3, 4))
    assert "l_eye<->r_eye, l_paw<->r_paw" in caplog.text
    assert kp.resolve_flip_pairs(names, from_file=((1, 2),), source="a.json") == ((1, 2),)
    assert kp.resolve_flip_pairs(names, [[3, 4]], ((1, 2),)) == ((3, 4),)  # config wins
    with pytest.raises(ValueError, match="out of range"):
        kp.resolve_flip_pairs(names, [[3, 5]])


# --- OKS sigmas ---------------------------------------------------------------

def test_coco_sigmas_by_name_in_any_order_and_style(caplog):
    order = [16, 3, 0, 9, 12, 5, 1, 14, 7, 2, 11, 4, 15, 6, 10, 8, 13]
    style = {"nose": "Nose", "left_eye": "LEye", "right_eye": "eyeR", "left_ear": "L_Ear",
             "right_ear": "Right Ear", "left_hip": "hip_l"}
    names = [style.get(kp.COCO_KEYPOINT_NAMES[i], kp.COCO_KEYPOINT_NAMES[i]) for i in order]
    sigmas = kp.resolve_sigmas((), names)
    assert sigmas == tuple(kp.COCO_OKS_SIGMAS[i] for i in order)
    assert sigmas[names.index("Nose")] == 0.026 and sigmas[names.index("hip_l")] == 0.107
    assert sigmas[0] == 0.089  # right_ankle
    assert "not COCO keypoints" not in caplog.text


def test_other_names_get_the_default_with_a_warning(caplog):
    caplog.set_level(logging.INFO)
    names = [f"part{i}" for i in range(15)] + ["nose", "withers"]
    sigmas = kp.resolve_sigmas(None, names)
    assert sigmas[15] == 0.026
    assert sigmas[:15] + sigmas[16:] == (kp.DEFAULT_OKS_SIGMA,) * 16
    assert "16 of 17 keypoints are not COCO keypoints" in caplog.text
    assert "'withers'" in caplog.text and "--set data.oks_sigmas=" in caplog.text
    assert "part0=0.0626" in caplog.text  # the sigmas used are logged


def test_the_warning_names_a_matching_preset(caplog):
    names = kp.SIGMA_PRESETS["crowdpose"].names
    sigmas = kp.resolve_sigmas((), names)
    assert sigmas[:12] == kp.SIGMA_PRESETS["crowdpose"].sigmas[:12]  # COCO's limbs
    assert "'head', 'neck'" in caplog.text and "data.oks_sigmas=crowdpose" in caplog.text


@pytest.mark.parametrize("preset,k,spot", [
    ("coco", 17, {0: 0.026, 11: 0.107}), ("crowdpose", 14, {12: 0.079, 13: 0.079}),
    ("aic", 14, {0: 0.01388152, 13: 0.01236173}), ("mpii", 16, {6: 0.026, 12: 0.179}),
    ("ochuman", 17, {16: 0.089}), ("posetrack18", 17, {1: 0.025}),
    ("ap10k", 17, {2: 0.026, 4: 0.035}), ("macaque", 17, {5: 0.079}),
    ("horse10", 22, {0: 0.0626}), ("coco_wholebody_body", 17, {15: 0.089}),
])
def test_presets_as_published(preset, k, spot):
    chosen = kp.SIGMA_PRESETS[preset]
    assert len(chosen.sigmas) == len(chosen.names) == k
    for index, value in spot.items():
        assert chosen.sigmas[index] == value
    assert kp.resolve_sigmas(preset, chosen.names) == chosen.sigmas


def test_preset_names_aliases_order_and_errors(caplog):
    ap10k = kp.SIGMA_PRESETS["ap10k"]
    assert kp.resolve_sigmas("AP-10K", ()) == ap10k.sigmas
    assert kp.resolve_sigmas("MacaquePose", ()) == kp.COCO_OKS_SIGMAS
    # The data set lists AP-10K's keypoints in another order: matched by name.
    shuffled = list(reversed(ap10k.names))
    assert kp.resolve_sigmas("ap10k", shuffled) == tuple(reversed(ap10k.sigmas))
    with pytest.raises(ValueError, match="unknown OKS sigma preset 'cocco'.*crowdpose"):
        kp.resolve_sigmas("cocco", kp.COCO_KEYPOINT_NAMES)
    with pytest.raises(ValueError, match="preset 'crowdpose' has 14 keypoints.*17"):
        kp.resolve_sigmas("crowdpose", kp.COCO_KEYPOINT_NAMES)


def test_explicit_sigmas_are_checked():
    assert kp.resolve_sigmas("0.1, 0.2", ["a", "b"]) == (0.1, 0.2)
    assert kp.resolve_sigmas([0.1, 0.2], ["a", "b"]) == (0.1, 0.2)
    with pytest.raises(ValueError, match="2 values for 3 keypoints"):
        kp.resolve_sigmas([0.1, 0.2], ["a", "b", "c"])
    with pytest.raises(ValueError, match="finite numbers > 0"):
        kp.resolve_sigmas([0.1, float("nan")], ["a", "b"])
    with pytest.raises(ValueError, match="finite numbers > 0"):
        kp.resolve_sigmas([0.1, 0.0], ["a", "b"])


def test_command_line_hook_for_presets():
    config = get_experiment("coco_resnet50_256x192")
    override = kp.expand_sigma_override("data.oks_sigmas=CrowdPose")
    changed = apply_overrides(config, [override])
    assert changed.data.oks_sigmas == kp.SIGMA_PRESETS["crowdpose"].sigmas
    assert kp.expand_sigma_override("train.epochs=3") == "train.epochs=3"
    assert kp.expand_sigma_override("data.oks_sigmas=0.1,0.2") == "data.oks_sigmas=0.1,0.2"
    with pytest.raises(ValueError, match="unknown OKS sigma preset"):
        kp.expand_sigma_override("data.oks_sigmas=nonsense")
