"""The pretrained presets: one entry per published Simple Baselines model.

A preset is a name for published weights plus everything needed to use
them as they were measured: the file (URL and the SHA-256 prefix its name
carries), the architecture (ResNet depth, input and heatmap size, K), the
target sigma, the keypoint metadata (:mod:`keras_pose.configs.dataset_info`),
the input normalisation, the decoding (codec, DARK's blur kernel, the flip
test's heatmap shift), the box padding and ground-truth box rule, the
evaluation data and the published numbers. :func:`keras_pose.presets.preset_config`
turns an entry into the experiment config that the converted checkpoint
carries (its ``config.json``), so every path (predict, evaluate, export,
fine-tuning) follows it.

Sources: mmpose's model zoo (model-index yml files, configs and READMEs of
open-mmlab/mmpose main @ 759b39c13 for 1.x and the 0.x branch @ 3b8173463),
and the official microsoft/human-pose-estimation.pytorch README.

Included (84 presets):

- every mmpose SimpleBaseline (ResNet-50/101/152 + three deconvolutions,
  heatmap codec) for COCO (1.x plain, DARK and fp16 files; the older 0.x
  files under the same names with ``_0x``), MPII, CrowdPose, AI Challenger,
  PoseTrack18, AP-10K, Animal-Pose, MacaquePose, ATRW, Horse-10 (3 splits),
  Desert Locust, Grevy's Zebra, Vinegar Fly, OneHand10K, FreiHand, RHD,
  COCO-WholeBody-Hand, InterHand2.6M (2D, 3 annotation subsets), CMU
  Panoptic hands and COCO-WholeBody-Face: 72 files;
- the 12 official checkpoints of microsoft/human-pose-estimation.pytorch,
  named as their files (``pose_resnet_50_256x192``): files behind OneDrive /
  Google Drive links, which the user downloads and places (no direct URL).

Left out:

- mmpose 1.x ``td-hm_res101_8xb32-210e_coco-384x288``: its model index links
  the 256x192 model's file (see the comment in the table).
- JHMDB (6 files): the 2-deconvolution variants have another head (heatmap
  stride 8), and all six are fine-tuned per JHMDB sub-split and measured
  with PCK on that split only; out of this table's scope.
- COCO-WholeBody (133 keypoints, 6 files), DeepFashion (3) and DeepFashion2
  (13, 294 channels of which each category uses a subset, and an asymmetric
  flip table), MHP (1), MPII-TRB (3, centre and scale from the annotation,
  no box): their evaluation and data conventions are not this project's
  COCO-style reader; not included for now.
- OCHuman: its mmpose entries are the 0.x COCO files evaluated on OCHuman;
  those numbers are listed as extra results of the ``_0x`` COCO presets.
- mmpose's other ResNet-based models (ResNetV1d, ResNeXt, SE-ResNet, ResNeSt,
  SCNet, ViPNAS, SimCC, regression/RLE heads): other architectures.

Names: ``simplebaseline_resnet<depth>_<data set>_<height>x<width>`` with
``_dark`` (DARK codec), ``_fp16`` (trained in fp16) and ``_0x`` (an older
mmpose 0.x file of a setting that also has a 1.x file) suffixes; the official
checkpoints keep their file names. Names are lowercase, unique and stable.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

# Metric kinds: which ones evaluate.py computes as the benchmark does.
EVALUATE_PY_METRICS = ("coco_ap", "mpii_pckh")


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Where a preset's published numbers were measured.

    Attributes:
      benchmark: the data, split and boxes in words.
      root: the data set folder in this project's layout (``data.root``).
      split: ``data.test_set``: ``<root>/annotations/person_keypoints_<split>.json``
        and ``<root>/images/<split>/``. A split named after a test set is
        called ``eval`` here, because to the COCO reader (as to the
        reference) a split whose name contains "test" has no ground truth.
      annotation: the benchmark's annotation file, as mmpose names it (link
        or copy it to the path above).
      detections: person boxes, relative to ``root``; "": ground-truth boxes.
      metric: "coco_ap" and "mpii_pckh" (evaluate.py computes them as the
        benchmark), "coco_ap_no_area" (AIC: mmpose's COCOeval without the
        area), "crowdpose_ap" (crowdposetools' AP and crowd-index AP),
        "posetrack_map" (poseval), "pck" (PCK / AUC / EPE or NME of
        Horse-10), "nme" (face landmarks).
    """

    benchmark: str
    root: str
    split: str
    annotation: str
    detections: str = ""
    metric: str = "coco_ap"

    @property
    def evaluate_py(self) -> bool:
        """Whether evaluate.py computes the published metric."""
        return self.metric in EVALUATE_PY_METRICS


@dataclasses.dataclass(frozen=True)
class Result:
    """Published numbers of a preset.

    Attributes:
      values: (metric, value) pairs, the headline metric first, as published
        (fractions; PoseTrack's in percent, EPE in pixels).
      on: another benchmark or split than the preset's evaluation ("": the
        preset's).
    """

    values: tuple[tuple[str, float], ...]
    on: str = ""


@dataclasses.dataclass(frozen=True)
class Preset:
    """One published model.

    Attributes:
      name: the preset name (lowercase, unique).
      dataset: its keypoint metadata (a key of ``dataset_info.DATASETS``).
      depth: ResNet depth.
      input_size: network input (width, height).
      heatmap_size: heatmap (width, height), input / 4.
      sigma: the training targets' Gaussian sigma (heatmap pixels).
      release: "mmpose 1.x", "mmpose 0.x" (the file's format and where its
        numbers come from) or "official".
      url: the download URL (mmpose); "" for a file the user places
        (official).
      file_name: the weights file's name (its hash prefix is checked).
      codec: "msra" or "dark": targets and decoding.
      blur_kernel: DARK's modulation kernel (test.blur_kernel), as the
        release's config gives it (also kept for msra models, used only if
        their decoding is switched to DARK).
      shift_heatmap: the flip test's one-pixel shift (True in every release).
      box_padding: box enlargement (data.box_padding).
      evaluation: where the published numbers were measured.
      results: the published numbers.
      notes: anything a user should know.
    """

    name: str
    dataset: str
    depth: int
    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    sigma: float
    release: str
    url: str
    file_name: str
    codec: str
    blur_kernel: int
    shift_heatmap: bool
    box_padding: float
    evaluation: Evaluation
    results: tuple[Result, ...]
    notes: str = ""

    @property
    def sha256_prefix(self) -> Optional[str]:
        """The SHA-256 prefix the file name carries (mmpose files), or None."""
        from keras_pose.convert.download import hash_prefix  # TensorFlow: when asked.
        return hash_prefix(self.file_name)

    @property
    def is_official(self) -> bool:
        return self.release == "official"

    @property
    def gt_box_rule(self) -> str:
        """data.gt_box_rule of the release the numbers were measured with."""
        return {"mmpose 1.x": "mmpose", "mmpose 0.x": "mmpose_0x"}.get(self.release,
                                                                       "official")

    @property
    def headline(self) -> str:
        """The first published number, e.g. ``AP 0.718``."""
        if not self.results:
            return ""
        metric, value = self.results[0].values[0]
        return f"{metric} {value:g}"


# ---------------------------------------------------------------------------
# Where the numbers were measured, per data set (mmpose's evaluation files).

_AP_H_56 = "person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
EVALUATIONS: dict[str, Evaluation] = {
    "coco": Evaluation(
        "COCO val2017, person detections AP_H_56 (human AP 56.4), flip test",
        "data/coco", "val2017", "person_keypoints_val2017.json", _AP_H_56),
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
_OCHUMAN = "OCHuman test, ground-truth boxes"

_V1_COCO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
_TOP_DOWN = "https://download.openmmlab.com/mmpose/top_down/resnet/"
_ANIMAL = "https://download.openmmlab.com/mmpose/animal/resnet/"
_HAND = "https://download.openmmlab.com/mmpose/hand/resnet/"
_FACE = "https://download.openmmlab.com/mmpose/face/resnet/"

# Where the official README sends users for its checkpoints (section "Quick
# start", step 4), and where it puts them.
OFFICIAL_LINKS = ("OneDrive https://1drv.ms/f/s!AhIXJn_J-blW0D5ZE4ArK9wk_fvw or Google Drive "
                  "https://drive.google.com/drive/folders/13_wJ6nC7my1KKouMkQMqyr9r1ZnLnukP")
OFFICIAL_DIRS = {"coco": os.path.join("models", "pytorch", "pose_coco"),
                 "mpii": os.path.join("models", "pytorch", "pose_mpii")}


def _result(*values: tuple[str, float], on: str = "") -> Result:
    return Result(tuple(values), on)


def _mmpose(name: str, dataset: str, depth: int, input_size: tuple[int, int], *,
            sigma: float, blur: int, release: str, url: str, results: tuple[Result, ...],
            codec: str = "msra", padding: float = 1.25, notes: str = "") -> Preset:
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


def _official(depth: int, dataset: str, height: int, width: int,
              result: Result) -> Preset:
    return Preset(name=f"pose_resnet_{depth}_{height}x{width}", dataset=dataset, depth=depth,
                  input_size=(width, height), heatmap_size=(width // 4, height // 4),
                  sigma=2.0 if height <= 256 else 3.0, release="official", url="",
                  file_name=f"pose_resnet_{depth}_{height}x{width}.pth.tar", codec="msra",
                  blur_kernel=0, shift_heatmap=True, box_padding=1.25,
                  evaluation=EVALUATIONS[dataset], results=(result,),
                  notes="BGR input (the official quirk); a file you download and place")


_PRESETS: tuple[Preset, ...] = (
    _mmpose("simplebaseline_resnet50_coco_256x192", "coco", 50, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth",
            results=(_result(("AP", 0.718), ("AP@0.5", 0.898), ("AP@0.75", 0.796),
                             ("AR", 0.774), ("AR@0.5", 0.934)),)),
    _mmpose("simplebaseline_resnet50_coco_384x288", "coco", 50, (288, 384),
            sigma=3, blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res50_8xb64-210e_coco-384x288-7b8db90e_20220923.pth",
            results=(_result(("AP", 0.731), ("AP@0.5", 0.9), ("AP@0.75", 0.799), ("AR", 0.782),
                             ("AR@0.5", 0.937)),)),
    _mmpose("simplebaseline_resnet101_coco_256x192", "coco", 101, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth",
            results=(_result(("AP", 0.728), ("AP@0.5", 0.904), ("AP@0.75", 0.809),
                             ("AR", 0.783), ("AR@0.5", 0.942)),)),
    # Left out: mmpose 1.x td-hm_res101_8xb32-210e_coco-384x288. Its model index
    # and README link td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth,
    # the 256x192 model's file (the entry above), not a 384x288 model: a
    # 384x288 preset would load 256x192 weights under 384x288 settings.
    _mmpose("simplebaseline_resnet152_coco_256x192", "coco", 152, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res152_8xb32-210e_coco-256x192-0345f330_20220928.pth",
            results=(_result(("AP", 0.736), ("AP@0.5", 0.904), ("AP@0.75", 0.818),
                             ("AR", 0.791), ("AR@0.5", 0.942)),)),
    _mmpose("simplebaseline_resnet152_coco_384x288", "coco", 152, (288, 384),
            sigma=3, blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res152_8xb32-210e_coco-384x288-7fbb906f_20220927.pth",
            results=(_result(("AP", 0.75), ("AP@0.5", 0.908), ("AP@0.75", 0.821), ("AR", 0.8),
                             ("AR@0.5", 0.942)),)),
    _mmpose("simplebaseline_resnet50_coco_256x192_fp16", "coco", 50, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res50_fp16-8xb64-210e_coco-256x192-463da051_20220927.pth",
            results=(_result(("AP", 0.716), ("AP@0.5", 0.898), ("AP@0.75", 0.798),
                             ("AR", 0.772), ("AR@0.5", 0.937)),)),
    _mmpose("simplebaseline_resnet50_coco_256x192_dark", "coco", 50, (192, 256),
            sigma=2, codec="dark", blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res50_dark-8xb64-210e_coco-256x192-c129dcb6_20220926.pth",
            results=(_result(("AP", 0.724), ("AP@0.5", 0.897), ("AP@0.75", 0.797),
                             ("AR", 0.777), ("AR@0.5", 0.934)),)),
    _mmpose("simplebaseline_resnet50_coco_384x288_dark", "coco", 50, (288, 384),
            sigma=3, codec="dark", blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res50_dark-8xb64-210e_coco-384x288-8b90b538_20220926.pth",
            results=(_result(("AP", 0.735), ("AP@0.5", 0.902), ("AP@0.75", 0.801),
                             ("AR", 0.786), ("AR@0.5", 0.938)),)),
    _mmpose("simplebaseline_resnet101_coco_256x192_dark", "coco", 101, (192, 256),
            sigma=2, codec="dark", blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res101_dark-8xb64-210e_coco-256x192-528ec248_20220926.pth",
            results=(_result(("AP", 0.733), ("AP@0.5", 0.9), ("AP@0.75", 0.81), ("AR", 0.786),
                             ("AR@0.5", 0.938)),)),
    _mmpose("simplebaseline_resnet101_coco_384x288_dark", "coco", 101, (288, 384),
            sigma=3, codec="dark", blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res101_dark-8xb64-210e_coco-384x288-487d40a4_20220926.pth",
            results=(_result(("AP", 0.749), ("AP@0.5", 0.905), ("AP@0.75", 0.818),
                             ("AR", 0.799), ("AR@0.5", 0.94)),)),
    _mmpose("simplebaseline_resnet152_coco_256x192_dark", "coco", 152, (192, 256),
            sigma=2, codec="dark", blur=11, release="1.x",
            url=_V1_COCO + "td-hm_res152_dark-8xb32-210e_coco-256x192-f754df5f_20221031.pth",
            results=(_result(("AP", 0.743), ("AP@0.5", 0.906), ("AP@0.75", 0.819),
                             ("AR", 0.796), ("AR@0.5", 0.943)),)),
    _mmpose("simplebaseline_resnet152_coco_384x288_dark", "coco", 152, (288, 384),
            sigma=3, codec="dark", blur=17, release="1.x",
            url=_V1_COCO + "td-hm_res152_dark-8xb32-210e_coco-384x288-329f8454_20221031.pth",
            results=(_result(("AP", 0.757), ("AP@0.5", 0.907), ("AP@0.75", 0.825),
                             ("AR", 0.805), ("AR@0.5", 0.943)),)),
    _mmpose("simplebaseline_resnet50_coco_256x192_0x", "coco", 50, (192, 256),
            sigma=2, blur=11, release="0.x",
            url=_TOP_DOWN + "res50_coco_256x192-ec54d7f3_20200709.pth",
            results=(_result(("AP", 0.718), ("AP@0.5", 0.898), ("AP@0.75", 0.795),
                             ("AR", 0.773), ("AR@0.5", 0.937)),
                     _result(("AP", 0.546), ("AP@0.5", 0.726), ("AP@0.75", 0.593),
                             ("AR", 0.592), ("AR@0.5", 0.755), on=_OCHUMAN),)),
    _mmpose("simplebaseline_resnet50_coco_384x288_0x", "coco", 50, (288, 384),
            sigma=3, blur=11, release="0.x",
            url=_TOP_DOWN + "res50_coco_384x288-e6f795e9_20200709.pth",
            results=(_result(("AP", 0.731), ("AP@0.5", 0.9), ("AP@0.75", 0.799), ("AR", 0.783),
                             ("AR@0.5", 0.931)),
                     _result(("AP", 0.539), ("AP@0.5", 0.723), ("AP@0.75", 0.574),
                             ("AR", 0.588), ("AR@0.5", 0.756), on=_OCHUMAN),)),
    _mmpose("simplebaseline_resnet101_coco_256x192_0x", "coco", 101, (192, 256),
            sigma=2, blur=11, release="0.x",
            url=_TOP_DOWN + "res101_coco_256x192-6e6babf0_20200708.pth",
            results=(_result(("AP", 0.726), ("AP@0.5", 0.899), ("AP@0.75", 0.806),
                             ("AR", 0.781), ("AR@0.5", 0.939)),
                     _result(("AP", 0.559), ("AP@0.5", 0.724), ("AP@0.75", 0.606),
                             ("AR", 0.605), ("AR@0.5", 0.751), on=_OCHUMAN),)),
    _mmpose("simplebaseline_resnet101_coco_384x288_0x", "coco", 101, (288, 384),
            sigma=3, blur=11, release="0.x",
            url=_TOP_DOWN + "res101_coco_384x288-8c71bdc9_20200709.pth",
            results=(_result(("AP", 0.748), ("AP@0.5", 0.905), ("AP@0.75", 0.817),
                             ("AR", 0.798), ("AR@0.5", 0.94)),
                     _result(("AP", 0.571), ("AP@0.5", 0.715), ("AP@0.75", 0.615),
                             ("AR", 0.615), ("AR@0.5", 0.748), on=_OCHUMAN),)),
    _mmpose("simplebaseline_resnet152_coco_256x192_0x", "coco", 152, (192, 256),
            sigma=2, blur=11, release="0.x",
            url=_TOP_DOWN + "res152_coco_256x192-f6e307c2_20200709.pth",
            results=(_result(("AP", 0.735), ("AP@0.5", 0.905), ("AP@0.75", 0.812), ("AR", 0.79),
                             ("AR@0.5", 0.943)),
                     _result(("AP", 0.57), ("AP@0.5", 0.725), ("AP@0.75", 0.617), ("AR", 0.616),
                             ("AR@0.5", 0.754), on=_OCHUMAN),)),
    _mmpose("simplebaseline_resnet152_coco_384x288_0x", "coco", 152, (288, 384),
            sigma=3, blur=11, release="0.x",
            url=_TOP_DOWN + "res152_coco_384x288-3860d4c9_20200709.pth",
            results=(_result(("AP", 0.75), ("AP@0.5", 0.908), ("AP@0.75", 0.821), ("AR", 0.8),
                             ("AR@0.5", 0.942)),
                     _result(("AP", 0.582), ("AP@0.5", 0.723), ("AP@0.75", 0.627),
                             ("AR", 0.627), ("AR@0.5", 0.752), on=_OCHUMAN),)),
    _mmpose("simplebaseline_resnet50_coco_256x192_fp16_0x", "coco", 50, (192, 256),
            sigma=2, blur=11, release="0.x",
            url=_TOP_DOWN + "res50_coco_256x192_fp16_dynamic-6edb79f3_20210430.pth",
            results=(_result(("AP", 0.717), ("AP@0.5", 0.898), ("AP@0.75", 0.793),
                             ("AR", 0.772), ("AR@0.5", 0.936)),)),
    _mmpose("simplebaseline_resnet50_coco_256x192_dark_0x", "coco", 50, (192, 256),
            sigma=2, codec="dark", blur=11, release="0.x",
            url=_TOP_DOWN + "res50_coco_256x192_dark-43379d20_20200709.pth",
            results=(_result(("AP", 0.724), ("AP@0.5", 0.898), ("AP@0.75", 0.8), ("AR", 0.777),
                             ("AR@0.5", 0.936)),)),
    _mmpose("simplebaseline_resnet50_coco_384x288_dark_0x", "coco", 50, (288, 384),
            sigma=3, codec="dark", blur=17, release="0.x",
            url=_TOP_DOWN + "res50_coco_384x288_dark-33d3e5e5_20210203.pth",
            results=(_result(("AP", 0.735), ("AP@0.5", 0.9), ("AP@0.75", 0.801), ("AR", 0.785),
                             ("AR@0.5", 0.937)),)),
    _mmpose("simplebaseline_resnet101_coco_256x192_dark_0x", "coco", 101, (192, 256),
            sigma=2, codec="dark", blur=11, release="0.x",
            url=_TOP_DOWN + "res101_coco_256x192_dark-64d433e6_20200812.pth",
            results=(_result(("AP", 0.732), ("AP@0.5", 0.899), ("AP@0.75", 0.808),
                             ("AR", 0.786), ("AR@0.5", 0.938)),)),
    _mmpose("simplebaseline_resnet101_coco_384x288_dark_0x", "coco", 101, (288, 384),
            sigma=3, codec="dark", blur=17, release="0.x",
            url=_TOP_DOWN + "res101_coco_384x288_dark-cb45c88d_20210203.pth",
            results=(_result(("AP", 0.749), ("AP@0.5", 0.902), ("AP@0.75", 0.816),
                             ("AR", 0.799), ("AR@0.5", 0.939)),)),
    _mmpose("simplebaseline_resnet152_coco_256x192_dark_0x", "coco", 152, (192, 256),
            sigma=2, codec="dark", blur=11, release="0.x",
            url=_TOP_DOWN + "res152_coco_256x192_dark-ab4840d5_20200812.pth",
            results=(_result(("AP", 0.745), ("AP@0.5", 0.905), ("AP@0.75", 0.821),
                             ("AR", 0.797), ("AR@0.5", 0.942)),)),
    _mmpose("simplebaseline_resnet152_coco_384x288_dark_0x", "coco", 152, (288, 384),
            sigma=3, codec="dark", blur=17, release="0.x",
            url=_TOP_DOWN + "res152_coco_384x288_dark-d3b8ebd7_20210203.pth",
            results=(_result(("AP", 0.757), ("AP@0.5", 0.909), ("AP@0.75", 0.826),
                             ("AR", 0.806), ("AR@0.5", 0.943)),)),
    _mmpose("simplebaseline_resnet50_mpii_256x256", "mpii", 50, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res50_mpii_256x256-418ffc88_20200812.pth",
            results=(_result(("Mean", 0.882), ("Mean@0.1", 0.286)),)),
    _mmpose("simplebaseline_resnet101_mpii_256x256", "mpii", 101, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res101_mpii_256x256-416f5d71_20200812.pth",
            results=(_result(("Mean", 0.888), ("Mean@0.1", 0.29)),)),
    _mmpose("simplebaseline_resnet152_mpii_256x256", "mpii", 152, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res152_mpii_256x256-3ecba29d_20200812.pth",
            results=(_result(("Mean", 0.889), ("Mean@0.1", 0.303)),)),
    _mmpose("simplebaseline_resnet50_crowdpose_256x192", "crowdpose", 50, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res50_crowdpose_256x192-c6a526b6_20201227.pth",
            results=(_result(("AP", 0.637), ("AP (E)", 0.738), ("AP (H)", 0.506),
                             ("AP (M)", 0.65), ("AP@0.5", 0.808), ("AP@0.75", 0.692)),)),
    _mmpose("simplebaseline_resnet101_crowdpose_256x192", "crowdpose", 101, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res101_crowdpose_256x192-8f5870f4_20201227.pth",
            results=(_result(("AP", 0.647), ("AP (E)", 0.745), ("AP (H)", 0.521),
                             ("AP (M)", 0.658), ("AP@0.5", 0.81), ("AP@0.75", 0.703)),)),
    _mmpose("simplebaseline_resnet101_crowdpose_320x256", "crowdpose", 101, (256, 320),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res101_crowdpose_320x256-c88c512a_20201227.pth",
            results=(_result(("AP", 0.661), ("AP (E)", 0.759), ("AP (H)", 0.534),
                             ("AP (M)", 0.672), ("AP@0.5", 0.821), ("AP@0.75", 0.714)),)),
    _mmpose("simplebaseline_resnet152_crowdpose_256x192", "crowdpose", 152, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res152_crowdpose_256x192-dbd49aba_20201227.pth",
            results=(_result(("AP", 0.656), ("AP (E)", 0.754), ("AP (H)", 0.533),
                             ("AP (M)", 0.666), ("AP@0.5", 0.818), ("AP@0.75", 0.712)),)),
    _mmpose("simplebaseline_resnet101_aic_256x192", "aic", 101, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res101_aic_256x192-79b35445_20200826.pth",
            results=(_result(("AP", 0.294), ("AP@0.5", 0.736), ("AP@0.75", 0.172),
                             ("AR", 0.337), ("AR@0.5", 0.762)),)),
    _mmpose("simplebaseline_resnet50_posetrack18_256x192", "posetrack18", 50, (192, 256),
            sigma=2, blur=11, release="1.x",
            url=_TOP_DOWN + "res50_posetrack18_256x192-a62807c7_20201028.pth",
            results=(_result(("Total", 81.2), ("Ankl", 74.2), ("Elb", 82.5), ("Head", 86.5),
                             ("Hip", 80.1), ("Knee", 78.8), ("Shou", 87.7), ("Wri", 75.8)),)),
    _mmpose("simplebaseline_resnet50_ap10k_256x256", "ap10k", 50, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_ANIMAL + "res50_ap10k_256x256-35760eb8_20211029.pth",
            results=(_result(("AP", 0.68), ("AP@0.5", 0.926), ("AP@0.75", 0.738),
                             ("AP (L)", 0.687), ("AP (M)", 0.552)),)),
    _mmpose("simplebaseline_resnet101_ap10k_256x256", "ap10k", 101, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_ANIMAL + "res101_ap10k_256x256-9edfafb9_20211029.pth",
            results=(_result(("AP", 0.681), ("AP@0.5", 0.921), ("AP@0.75", 0.751),
                             ("AP (L)", 0.69), ("AP (M)", 0.545)),)),
    _mmpose("simplebaseline_resnet50_animalpose_256x256", "animalpose", 50, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_ANIMAL + "res50_animalpose_256x256-e1f30bff_20210426.pth",
            results=(_result(("AP", 0.691), ("AP@0.5", 0.947), ("AP@0.75", 0.77), ("AR", 0.736),
                             ("AR@0.5", 0.955)),)),
    _mmpose("simplebaseline_resnet101_animalpose_256x256", "animalpose", 101, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_ANIMAL + "res101_animalpose_256x256-85563f4a_20210426.pth",
            results=(_result(("AP", 0.696), ("AP@0.5", 0.948), ("AP@0.75", 0.774),
                             ("AR", 0.736), ("AR@0.5", 0.951)),)),
    _mmpose("simplebaseline_resnet152_animalpose_256x256", "animalpose", 152, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_ANIMAL + "res152_animalpose_256x256-a0a7506c_20210426.pth",
            results=(_result(("AP", 0.704), ("AP@0.5", 0.938), ("AP@0.75", 0.786),
                             ("AR", 0.748), ("AR@0.5", 0.946)),)),
    _mmpose("simplebaseline_resnet50_locust_160x160", "locust", 50, (160, 160),
            sigma=2, blur=11, padding=0.8, release="1.x",
            url=_ANIMAL + "res50_locust_160x160-9efca22b_20210407.pth",
            results=(_result(("PCK@0.2", 1), ("AUC", 0.9), ("EPE", 2.27)),)),
    _mmpose("simplebaseline_resnet101_locust_160x160", "locust", 101, (160, 160),
            sigma=2, blur=11, padding=0.8, release="1.x",
            url=_ANIMAL + "res101_locust_160x160-d77986b3_20210407.pth",
            results=(_result(("PCK@0.2", 1), ("AUC", 0.907), ("EPE", 2.03)),)),
    _mmpose("simplebaseline_resnet152_locust_160x160", "locust", 152, (160, 160),
            sigma=2, blur=11, padding=0.8, release="1.x",
            url=_ANIMAL + "res152_locust_160x160-4ea9b372_20210407.pth",
            results=(_result(("PCK@0.2", 1.0), ("AUC", 0.925), ("EPE", 1.49)),)),
    _mmpose("simplebaseline_resnet50_zebra_160x160", "zebra", 50, (160, 160),
            sigma=2, blur=11, padding=0.8, release="1.x",
            url=_ANIMAL + "res50_zebra_160x160-5a104833_20210407.pth",
            results=(_result(("PCK@0.2", 1.0), ("AUC", 0.914), ("EPE", 1.87)),)),
    _mmpose("simplebaseline_resnet101_zebra_160x160", "zebra", 101, (160, 160),
            sigma=2, blur=11, padding=0.8, release="1.x",
            url=_ANIMAL + "res101_zebra_160x160-e8cb2010_20210407.pth",
            results=(_result(("PCK@0.2", 1.0), ("AUC", 0.915), ("EPE", 1.83)),)),
    _mmpose("simplebaseline_resnet152_zebra_160x160", "zebra", 152, (160, 160),
            sigma=2, blur=11, padding=0.8, release="1.x",
            url=_ANIMAL + "res152_zebra_160x160-05de71dd_20210407.pth",
            results=(_result(("PCK@0.2", 1.0), ("AUC", 0.921), ("EPE", 1.67)),)),
    _mmpose("simplebaseline_resnet50_horse10_split1_256x256", "horse10", 50, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res50_horse10_256x256_split1-3a3dc37e_20210405.pth",
            results=(_result(("PCK@0.3", 0.956), ("NME", 0.113)),)),
    _mmpose("simplebaseline_resnet101_horse10_split1_256x256", "horse10", 101, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res101_horse10_256x256_split1-1b7c259c_20210405.pth",
            results=(_result(("PCK@0.3", 0.958), ("NME", 0.115)),)),
    _mmpose("simplebaseline_resnet152_horse10_split1_256x256", "horse10", 152, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res152_horse10_256x256_split1-7e81fe2d_20210405.pth",
            results=(_result(("PCK@0.3", 0.969), ("NME", 0.105)),)),
    _mmpose("simplebaseline_resnet50_horse10_split2_256x256", "horse10", 50, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res50_horse10_256x256_split2-65e2a508_20210405.pth",
            results=(_result(("PCK@0.3", 0.954), ("NME", 0.111)),)),
    _mmpose("simplebaseline_resnet101_horse10_split2_256x256", "horse10", 101, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res101_horse10_256x256_split2-30e2fa87_20210405.pth",
            results=(_result(("PCK@0.3", 0.955), ("NME", 0.115)),)),
    _mmpose("simplebaseline_resnet152_horse10_split2_256x256", "horse10", 152, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res152_horse10_256x256_split2-3b3404a3_20210405.pth",
            results=(_result(("PCK@0.3", 0.97), ("NME", 0.103)),)),
    _mmpose("simplebaseline_resnet50_horse10_split3_256x256", "horse10", 50, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res50_horse10_256x256_split3-9637d4eb_20210405.pth",
            results=(_result(("PCK@0.3", 0.946), ("NME", 0.129)),)),
    _mmpose("simplebaseline_resnet101_horse10_split3_256x256", "horse10", 101, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res101_horse10_256x256_split3-2eea5bb1_20210405.pth",
            results=(_result(("PCK@0.3", 0.946), ("NME", 0.126)),)),
    _mmpose("simplebaseline_resnet152_horse10_split3_256x256", "horse10", 152, (256, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res152_horse10_256x256_split3-c957dac5_20210405.pth",
            results=(_result(("PCK@0.3", 0.957), ("NME", 0.131)),)),
    _mmpose("simplebaseline_resnet50_macaque_256x192", "macaque", 50, (192, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res50_macaque_256x192-98f1dd3a_20210407.pth",
            results=(_result(("AP", 0.799), ("AP@0.5", 0.952), ("AP@0.75", 0.919),
                             ("AR", 0.837), ("AR@0.5", 0.964)),)),
    _mmpose("simplebaseline_resnet101_macaque_256x192", "macaque", 101, (192, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res101_macaque_256x192-e3b9c6bb_20210407.pth",
            results=(_result(("AP", 0.79), ("AP@0.5", 0.953), ("AP@0.75", 0.908), ("AR", 0.828),
                             ("AR@0.5", 0.967)),)),
    _mmpose("simplebaseline_resnet152_macaque_256x192", "macaque", 152, (192, 256),
            sigma=2, blur=11, release="0.x",
            url=_ANIMAL + "res152_macaque_256x192-c42abc02_20210407.pth",
            results=(_result(("AP", 0.794), ("AP@0.5", 0.951), ("AP@0.75", 0.915),
                             ("AR", 0.834), ("AR@0.5", 0.968)),)),
    _mmpose("simplebaseline_resnet50_fly_192x192", "fly", 50, (192, 192),
            sigma=2, blur=11, padding=0.8, release="0.x",
            url=_ANIMAL + "res50_fly_192x192-5d0ee2d9_20210407.pth",
            results=(_result(("PCK@0.2", 0.996), ("AUC", 0.91), ("EPE", 2.0)),)),
    _mmpose("simplebaseline_resnet101_fly_192x192", "fly", 101, (192, 192),
            sigma=2, blur=11, padding=0.8, release="0.x",
            url=_ANIMAL + "res101_fly_192x192-41a7a6cc_20210407.pth",
            results=(_result(("PCK@0.2", 0.996), ("AUC", 0.912), ("EPE", 1.95)),)),
    _mmpose("simplebaseline_resnet152_fly_192x192", "fly", 152, (192, 192),
            sigma=2, blur=11, padding=0.8, release="0.x",
            url=_ANIMAL + "res152_fly_192x192-fcafbd5a_20210407.pth",
            results=(_result(("PCK@0.2", 0.997), ("AUC", 0.917), ("EPE", 1.78)),)),
    _mmpose("simplebaseline_resnet50_atrw_256x256", "atrw", 50, (256, 256),
            sigma=2, blur=11, padding=1.0, release="0.x",
            url=_ANIMAL + "res50_atrw_256x256-546c4594_20210414.pth",
            results=(_result(("AP", 0.9), ("AP@0.5", 0.973), ("AP@0.75", 0.932), ("AR", 0.929),
                             ("AR@0.5", 0.985)),)),
    _mmpose("simplebaseline_resnet101_atrw_256x256", "atrw", 101, (256, 256),
            sigma=2, blur=11, padding=1.0, release="0.x",
            url=_ANIMAL + "res101_atrw_256x256-da93f371_20210414.pth",
            results=(_result(("AP", 0.898), ("AP@0.5", 0.973), ("AP@0.75", 0.936),
                             ("AR", 0.927), ("AR@0.5", 0.985)),)),
    _mmpose("simplebaseline_resnet152_atrw_256x256", "atrw", 152, (256, 256),
            sigma=2, blur=11, padding=1.0, release="0.x",
            url=_ANIMAL + "res152_atrw_256x256-2bb8e162_20210414.pth",
            results=(_result(("AP", 0.896), ("AP@0.5", 0.973), ("AP@0.75", 0.931),
                             ("AR", 0.927), ("AR@0.5", 0.985)),)),
    _mmpose("simplebaseline_resnet50_onehand10k_256x256", "onehand10k", 50, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_HAND + "res50_onehand10k_256x256-739c8639_20210330.pth",
            results=(_result(("PCK@0.2", 0.989), ("AUC", 0.555), ("EPE", 25.16)),)),
    _mmpose("simplebaseline_resnet50_freihand_224x224", "freihand2d", 50, (224, 224),
            sigma=2, blur=11, padding=0.8, release="1.x",
            url=_HAND + "res50_freihand_224x224-ff0799bc_20200914.pth",
            results=(_result(("PCK@0.2", 0.999), ("AUC", 0.868), ("EPE", 3.27)),)),
    _mmpose("simplebaseline_resnet50_rhd_256x256", "rhd2d", 50, (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_HAND + "res50_rhd2d_256x256-5dc7e4cc_20210330.pth",
            results=(_result(("PCK@0.2", 0.991), ("AUC", 0.898), ("EPE", 2.32)),)),
    _mmpose("simplebaseline_resnet50_coco_wholebody_hand_256x256", "coco_wholebody_hand", 50,
            (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_HAND + "res50_coco_wholebody_hand_256x256-8dbc750c_20210908.pth",
            results=(_result(("PCK@0.2", 0.8), ("AUC", 0.833), ("EPE", 4.64)),)),
    _mmpose("simplebaseline_resnet50_interhand2d_human_256x256", "interhand2d", 50, (256, 256),
            sigma=2, blur=11, padding=1.5, release="0.x",
            url=_HAND + "res50_interhand2d_256x256_human-77b27d1a_20201029.pth",
            results=(_result(("PCK@0.2", 0.973), ("AUC", 0.828), ("EPE", 5.15), on="val(M)"),
                     _result(("PCK@0.2", 0.973), ("AUC", 0.826), ("EPE", 5.27), on="test(H)"),
                     _result(("PCK@0.2", 0.975), ("AUC", 0.841), ("EPE", 4.9), on="test(M)"),
                     _result(("PCK@0.2", 0.975), ("AUC", 0.839), ("EPE", 4.97),
                             on="test(H+M)"),)),
    _mmpose("simplebaseline_resnet50_interhand2d_machine_256x256", "interhand2d", 50, (256, 256),
            sigma=2, blur=11, padding=1.5, release="0.x",
            url=_HAND + "res50_interhand2d_256x256_machine-8f3efe9a_20201102.pth",
            results=(_result(("PCK@0.2", 0.97), ("AUC", 0.824), ("EPE", 5.39), on="val(M)"),
                     _result(("PCK@0.2", 0.969), ("AUC", 0.821), ("EPE", 5.52), on="test(H)"),
                     _result(("PCK@0.2", 0.972), ("AUC", 0.838), ("EPE", 5.03), on="test(M)"),
                     _result(("PCK@0.2", 0.972), ("AUC", 0.837), ("EPE", 5.11),
                             on="test(H+M)"),)),
    _mmpose("simplebaseline_resnet50_interhand2d_all_256x256", "interhand2d", 50, (256, 256),
            sigma=2, blur=11, padding=1.5, release="0.x",
            url=_HAND + "res50_interhand2d_256x256_all-78cc95d4_20201102.pth",
            results=(_result(("PCK@0.2", 0.977), ("AUC", 0.84), ("EPE", 4.66), on="val(M)"),
                     _result(("PCK@0.2", 0.979), ("AUC", 0.839), ("EPE", 4.65), on="test(H)"),
                     _result(("PCK@0.2", 0.979), ("AUC", 0.838), ("EPE", 4.42), on="test(M)"),
                     _result(("PCK@0.2", 0.979), ("AUC", 0.851), ("EPE", 4.46),
                             on="test(H+M)"),)),
    _mmpose("simplebaseline_resnet50_panoptic_hand_256x256", "panoptic_hand2d", 50, (256, 256),
            sigma=2, blur=11, padding=1.76, release="0.x",
            url=_HAND + "res50_panoptic_256x256-4eafc561_20210330.pth",
            results=(_result(("PCKh@0.7", 0.999), ("AUC", 0.713), ("EPE", 9.0)),)),
    _mmpose("simplebaseline_resnet50_coco_wholebody_face_256x256", "coco_wholebody_face", 50,
            (256, 256),
            sigma=2, blur=11, release="1.x",
            url=_FACE + "res50_coco_wholebody_face_256x256-5128edf5_20210909.pth",
            results=(_result(("NME", 0.0582)),)),
    # The official checkpoints (README of microsoft/human-pose-estimation.pytorch:
    # COCO val2017 AP with the AP_H_56 detections and flip test; MPII val PCKh@0.5).
    _official(50, "coco", 256, 192, _result(("AP", 0.704))),
    _official(50, "coco", 384, 288, _result(("AP", 0.722))),
    _official(101, "coco", 256, 192, _result(("AP", 0.714))),
    _official(101, "coco", 384, 288, _result(("AP", 0.736))),
    _official(152, "coco", 256, 192, _result(("AP", 0.720))),
    _official(152, "coco", 384, 288, _result(("AP", 0.743))),
    _official(50, "mpii", 256, 256, _result(("Mean", 0.88532))),
    _official(50, "mpii", 384, 384, _result(("Mean", 0.89066))),
    _official(101, "mpii", 256, 256, _result(("Mean", 0.89131))),
    _official(101, "mpii", 384, 384, _result(("Mean", 0.90003))),
    _official(152, "mpii", 256, 256, _result(("Mean", 0.89620))),
    _official(152, "mpii", 384, 384, _result(("Mean", 0.90200))),
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}
if len(PRESETS) != len(_PRESETS):  # pragma: no cover - a table edit gone wrong
    raise AssertionError("duplicate preset names")
