"""Shared parts of the preset tables: the benchmarks where the published
numbers were measured (per data set), the download servers, and the two
entry builders (an mmpose file, an official file)."""

from __future__ import annotations

import dataclasses
import os

from keras_pose.presets.preset import Evaluation, Preset, Result

# Where the numbers were measured, per data set (mmpose's evaluation files).

AP_H_56 = "person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
EVALUATIONS: dict[str, Evaluation] = {
    "coco": Evaluation(
        "COCO val2017, person detections AP_H_56 (human AP 56.4), flip test",
        "data/coco", "val2017", "person_keypoints_val2017.json", AP_H_56),
    "mpii": Evaluation(
        "MPII val (2958 people), PCKh, flip test", "data/mpii", "valid",
        "annot/valid.json + annot/gt_valid.mat (mmpose: mpii_val.json, mpii_gt_val.mat)",
        metric="mpii_pckh"),
    "crowdpose": Evaluation(
        "CrowdPose test, YOLOv3 person detections, crowdposetools AP", "data/crowdpose",
        "eval", "mmpose_crowdpose_test.json", "annotations/det_for_crowd_test_0.1_0.5.json",
        metric="crowdpose_ap"),
    "aic": Evaluation(
        "AI Challenger val, ground-truth boxes, COCOeval without areas", "data/aic", "val",
        "aic_val.json", metric="coco_ap_no_area"),
    "posetrack18": Evaluation(
        "PoseTrack18 val, ground-truth boxes, poseval mAP", "data/posetrack18", "val",
        "posetrack18_val.json", metric="posetrack_map"),
    "ap10k": Evaluation("AP-10K val split 1, ground-truth boxes", "data/ap10k", "val",
                        "ap10k-val-split1.json"),
    "animalpose": Evaluation("Animal-Pose val (1117 animals), ground-truth boxes",
                             "data/animalpose", "val", "animalpose_val.json"),
    "macaque": Evaluation("MacaquePose test, ground-truth boxes", "data/macaque", "eval",
                          "macaque_test.json"),
    "atrw": Evaluation("ATRW val, ground-truth boxes", "data/atrw", "val", "keypoint_val.json"),
    "horse10": Evaluation("Horse-10 test split N, ground-truth boxes, PCK@0.3 / NME",
                          "data/horse10", "eval", "horse10-test-splitN.json", metric="pck"),
    "locust": Evaluation("Desert Locust test, ground-truth boxes, PCK@0.2 / AUC / EPE",
                         "data/locust", "eval", "locust_test.json", metric="pck"),
    "zebra": Evaluation("Grevy's Zebra test, ground-truth boxes, PCK@0.2 / AUC / EPE",
                        "data/zebra", "eval", "zebra_test.json", metric="pck"),
    "fly": Evaluation("Vinegar Fly test, ground-truth boxes, PCK@0.2 / AUC / EPE",
                      "data/fly", "eval", "fly_test.json", metric="pck"),
    "onehand10k": Evaluation("OneHand10K test, ground-truth boxes, PCK@0.2 / AUC / EPE",
                             "data/onehand10k", "eval", "onehand10k_test.json", metric="pck"),
    "freihand2d": Evaluation(
        "FreiHand test (mmpose's README; its 1.x config validates on freihand_val.json), "
        "ground-truth boxes, PCK@0.2 / AUC / EPE", "data/freihand", "eval",
        "freihand_test.json", metric="pck"),
    "rhd2d": Evaluation("RHD test, ground-truth boxes, PCK@0.2 / AUC / EPE", "data/rhd",
                        "eval", "rhd_test.json", metric="pck"),
    "coco_wholebody_hand": Evaluation(
        "COCO-WholeBody-Hand val (hand boxes of coco_wholebody_val_v1.0.json), "
        "PCK@0.2 / AUC / EPE", "data/coco", "val2017", "coco_wholebody_val_v1.0.json",
        metric="pck"),
    "interhand2d": Evaluation(
        "InterHand2.6M (2D, one hand), ground-truth boxes, PCK@0.2 / AUC / EPE on val "
        "(machine annotations) and test (human, machine, both)", "data/interhand2.6m",
        "eval", "InterHand2.6M_test_data.json", metric="pck"),
    "panoptic_hand2d": Evaluation(
        "CMU Panoptic HandDB test, ground-truth boxes, PCKh@0.7 / AUC / EPE", "data/panoptic",
        "eval", "panoptic_test.json", metric="pck"),
    "coco_wholebody_face": Evaluation(
        "COCO-WholeBody-Face val (face boxes of coco_wholebody_val_v1.0.json), NME",
        "data/coco", "val2017", "coco_wholebody_val_v1.0.json", metric="nme"),
}
OCHUMAN = "OCHuman test, ground-truth boxes"

V1_COCO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
TOP_DOWN = "https://download.openmmlab.com/mmpose/top_down/resnet/"
ANIMAL = "https://download.openmmlab.com/mmpose/animal/resnet/"
HAND = "https://download.openmmlab.com/mmpose/hand/resnet/"
FACE = "https://download.openmmlab.com/mmpose/face/resnet/"

# Where the official README sends users for its checkpoints (section "Quick
# start", step 4), and where it puts them.
OFFICIAL_LINKS = ("OneDrive https://1drv.ms/f/s!AhIXJn_J-blW0D5ZE4ArK9wk_fvw or Google Drive "
                  "https://drive.google.com/drive/folders/13_wJ6nC7my1KKouMkQMqyr9r1ZnLnukP")
OFFICIAL_DIRS = {"coco": os.path.join("models", "pytorch", "pose_coco"),
                 "mpii": os.path.join("models", "pytorch", "pose_mpii")}


def result(*values: tuple[str, float], on: str = "") -> Result:
    """Published numbers: (metric, value) pairs, headline first."""
    return Result(tuple(values), on)


def mmpose(name: str, dataset: str, depth: int, input_size: tuple[int, int], *,
           sigma: float, blur: int, release: str, url: str, results: tuple[Result, ...],
           codec: str = "msra", padding: float = 1.25, notes: str = "") -> Preset:
    """An mmpose file: its evaluation is its data set's (Horse-10: its split's)."""
    evaluation = EVALUATIONS[dataset]
    if dataset == "horse10":  # One file per split, each tested on its split.
        split = name.split("_split")[1][0]
        evaluation = dataclasses.replace(
            evaluation, benchmark=evaluation.benchmark.replace("split N", f"split {split}"),
            annotation=f"horse10-test-split{split}.json")
    width, height = input_size
    return Preset(name=name, dataset=dataset, depth=depth, input_size=input_size,
                  heatmap_size=(width // 4, height // 4), sigma=float(sigma),
                  release=f"mmpose {release}", url=url, file_name=url.rsplit("/", 1)[1],
                  codec=codec, blur_kernel=blur, shift_heatmap=True, box_padding=padding,
                  evaluation=evaluation, results=results, notes=notes)


def official(depth: int, dataset: str, height: int, width: int,
             published: Result) -> Preset:
    """An official checkpoint, named as its file (which the user places)."""
    return Preset(name=f"pose_resnet_{depth}_{height}x{width}", dataset=dataset, depth=depth,
                  input_size=(width, height), heatmap_size=(width // 4, height // 4),
                  sigma=2.0 if height <= 256 else 3.0, release="official", url="",
                  file_name=f"pose_resnet_{depth}_{height}x{width}.pth.tar", codec="msra",
                  blur_kernel=0, shift_heatmap=True, box_padding=1.25,
                  evaluation=EVALUATIONS[dataset], results=(published,),
                  notes="BGR input (the official quirk); a file you download and place")
