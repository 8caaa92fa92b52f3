"""Keypoint names: sides and flip pairs in every naming style, index bases."""

import logging

import pytest

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
    # Given pairs that leave out pairs the names suggest are said to (a
    # file's partial flip_pairs left the paws unflipped in silence).
    assert "Flip pairs (a.json) leave out pairs the keypoint names suggest, not flipped: " \
        "l_paw<->r_paw" in caplog.text
    caplog.clear()
    kp.resolve_flip_pairs(names, from_file=((1, 2), (3, 4)), source="b.json")
    kp.resolve_flip_pairs(names, from_file=((1, 4), (2, 3)), source="c.json")  # another choice
    assert "leave out" not in caplog.text


def test_given_pairs_joining_two_keypoints_of_one_side_are_said(caplog):
    """A file's pairs off by one keypoint (LShoulder<->hip_l, RShoulder<->
    hip_r) were used in silence: every flip swapped a shoulder's and a hip's
    labels."""
    names = ["Head", "LShoulder", "RShoulder", "hip_l", "hip_r", "tail"]
    kp.resolve_flip_pairs(names, from_file=((1, 3), (2, 4)), source="d.json")
    assert ("Flip pairs (d.json) join keypoints of the same side: LShoulder<->hip_l, "
            "RShoulder<->hip_r; a flip swaps left and right") in caplog.text
    caplog.clear()
    kp.resolve_flip_pairs(names, [[1, 2], [3, 4]])
    kp.resolve_flip_pairs(names, [[1, 4], [2, 3], [0, 5]])  # Unusual, but across sides.
    assert "same side" not in caplog.text


def test_moved_keypoints_in_any_naming_style():
    coco = ["nose", "left_eye", "right_eye"]
    assert kp.moved_keypoints(coco, ["Nose", "LEye", "REye"]) == []
    assert kp.moved_keypoints(coco, ["nose", "REye", "LEye"]) == [("REye", 1, 2), ("LEye", 2, 1)]
    assert kp.moved_keypoints(coco, ["tail", "fin", "nose"]) == [("nose", 2, 0)]


def test_two_spellings_of_one_key_in_a_list_are_not_a_move():
    """Was: 'nose' and 'Nose' in one list counted as one position, so the
    list against itself "moved" 'Nose' (train.py refused the data set)."""
    names = ["nose", "Nose", "left_eye", "right_eye", "tail"]
    assert kp.moved_keypoints(names, names) == []
    assert kp.moved_keypoints(names, ["Nose", "nose", "left_eye", "right_eye", "tail"]) == []
    assert kp.moved_keypoints(names, ["tail", "Nose", "left_eye", "right_eye", "nose"]) == [
        ("tail", 0, 4), ("nose", 4, 0)]
