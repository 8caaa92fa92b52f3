"""Named experiments: one per experiment file of the official code, plus tiny.

The official files are ``experiments/{coco,mpii}/resnet{50,101,152}/
{size}_d256x3_adam_lr1e-3[_caffe].yaml``. Their shared values: three 256-filter
kernel-4 deconvolutions, 1x1 final conv, Adam lr 1e-3 decayed x0.1 at epochs
90 and 120, 140 epochs, 32 images per GPU (24 in the MPII ResNet-152 384x384
file) on the 4 GPUs of the official runs, sigma 2 for 256-class and 3 for
384-class inputs, random flip, scale factor 0.3 / rotation 40 on COCO and
0.25 / 30 on MPII, validation during training on ground-truth boxes without
flip test. ``tests/configs/test_recipe_audit.py`` checks every value of every
file against these experiments.

Deliberate differences from the official files:

- ``test.flip_test`` is True: evaluate.py flips by default because the
  published tables are flip-test numbers (the official README evaluates with
  ``valid.py --flip-test``). Validation during training follows the files'
  ``TEST.FLIP_TEST: false`` through ``train.val_flip_test``.
- COCO ``test.use_gt_boxes`` is None: evaluate.py uses the official person
  detections when the file exists (the published detected-box numbers), else
  ground-truth boxes. Validation during training follows the files'
  ``TEST.USE_GT_BBOX: true`` through ``train.val_use_gt_boxes``. MPII is
  always evaluated on its annotated people, as the official MPII reader.
- Pytorch-style experiments feed RGB images to torchvision's RGB ImageNet
  weights; the official code feeds OpenCV's BGR images (a quirk that only
  converted official checkpoints keep, through their ``color_order``).
- Caffe-style experiments start from ``keras.applications``' ImageNet
  ResNets (with their own input convention, below) instead of the official
  ``models/pytorch/imagenet/resnet{50,101,152}-caffe.pth.tar`` files.
"""

from __future__ import annotations

import types
from typing import Callable, Mapping

from keras_pose.configs import keypoints as kp
from keras_pose.configs.base import (ConfigError, DataConfig, ExperimentConfig, ModelConfig,
                                     TestConfig, TrainConfig)
from keras_pose.configs.dataset_info import DATASETS

COCO_UPPER_BODY = DATASETS["coco"].upper_body_ids
# keras.applications.resnet.preprocess_input ("caffe" mode: RGB -> BGR, then
# the BGR ImageNet mean subtracted in 0-255 units) as (x/255 - mean) / std:
# the input convention of Keras' ImageNet ResNets, which the caffe-style
# experiments start from. Read-only: it is shared by every caffe experiment.
KERAS_CAFFE_PREPROCESSING: Mapping[str, object] = types.MappingProxyType({
    "color_order": "BGR",
    "mean": (103.939 / 255.0, 116.779 / 255.0, 123.68 / 255.0),
    "std": (1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0),
})
MPII_UPPER_BODY = DATASETS["mpii"].upper_body_ids
# TRAIN.BATCH_SIZE (images per GPU) of the official files that do not use 32:
# experiments/mpii/resnet152/384x384_d256x3_adam_lr1e-3.yaml sets 24.
OFFICIAL_BATCH_PER_GPU: Mapping[str, int] = types.MappingProxyType({
    "mpii_resnet152_384x384": 24,
})
OFFICIAL_GPUS = 4  # The official runs' GPUs (its README: 4 P100 cards).


def _official_train(name: str) -> TrainConfig:
    """The official TRAIN section: the file's images per GPU, and as the
    reference of the linear scaling rule that batch on the official GPUs."""
    batch = OFFICIAL_BATCH_PER_GPU.get(name, 32)
    return TrainConfig(batch_size_per_replica=batch,
                       reference_global_batch=batch * OFFICIAL_GPUS)


def _coco(depth: int, width: int, height: int, style: str = "pytorch") -> ExperimentConfig:
    suffix = "_caffe" if style == "caffe" else ""
    name = f"coco_resnet{depth}_{height}x{width}{suffix}"
    # Keras' ImageNet weights expect their own "caffe" input convention;
    # torchvision's (the pytorch style's) were trained on RGB with the
    # ModelConfig defaults.
    preprocessing = KERAS_CAFFE_PREPROCESSING if style == "caffe" else {}
    return ExperimentConfig(
        name=name,
        model=ModelConfig(
            depth=depth, num_keypoints=17, style=style,
            image_size=(width, height), heatmap_size=(width // 4, height // 4),
            sigma=2.0 if height <= 256 else 3.0,
            # The official MODEL.PRETRAINED: torchvision's ImageNet ResNet
            # (pytorch style); Keras' own ImageNet ResNet for the caffe style.
            pretrained="imagenet", **preprocessing),
        data=DataConfig(
            dataset="coco", root="data/coco", train_set="train2017",
            test_set="val2017", scale_factor=0.3, rotation_factor=40.0,
            upper_body_ids=COCO_UPPER_BODY),
        train=_official_train(name),
        test=TestConfig(),
    )


def _mpii(depth: int, size: int) -> ExperimentConfig:
    name = f"mpii_resnet{depth}_{size}x{size}"
    return ExperimentConfig(
        name=name,
        model=ModelConfig(
            depth=depth, num_keypoints=16, image_size=(size, size),
            heatmap_size=(size // 4, size // 4),
            sigma=2.0 if size <= 256 else 3.0, pretrained="imagenet"),
        data=DataConfig(
            dataset="mpii", root="data/mpii", train_set="train",
            test_set="valid", keypoint_names=kp.MPII_KEYPOINT_NAMES,
            flip_pairs=kp.MPII_FLIP_PAIRS, skeleton=kp.MPII_SKELETON,
            oks_sigmas=(), scale_factor=0.25, rotation_factor=30.0,
            upper_body_ids=MPII_UPPER_BODY),
        train=_official_train(name),
        test=TestConfig(use_gt_boxes=True),
    )


def tiny() -> ExperimentConfig:
    """A slim ResNet-18 with a small input on the synthetic data set: the
    demo run that trains on 2 CPU cores in under 5 minutes.

    One residual block per stage and 64-filter deconvolutions halve the step
    time of the full ResNet-18 head; the flip test at validation adds about
    0.03 AP on the synthetic split. Validation runs once, after the last
    epoch (the README has the five-seed figures). Two fixed pipeline
    workers feed its 32 samples/s with room to spare and, unlike the
    autotuner, cannot delay the end of the run.
    """
    return ExperimentConfig(
        name="tiny",
        model=ModelConfig(
            depth=18, num_keypoints=17, image_size=(96, 128),
            heatmap_size=(24, 32), sigma=1.5,
            deconv_filters=(64, 64, 64), blocks_per_stage=(1, 1, 1, 1)),
        data=DataConfig(
            dataset="synthetic", root="data/synthetic", train_set="train",
            test_set="val", scale_factor=0.25, rotation_factor=30.0,
            upper_body_ids=COCO_UPPER_BODY, num_parallel_calls=2),
        train=TrainConfig(
            batch_size_per_replica=16, epochs=8, lr_steps=(6,),
            validate_every=8, val_flip_test=True, image_summary_every=200),
        # Its own detections (evaluate.py --nouse_gt_boxes looked for COCO's).
        test=TestConfig(batch_size=32, use_gt_boxes=True,
                        detection_file="person_detection_results/synthetic_val_detections.json"),
    )


EXPERIMENTS: dict[str, Callable[[], ExperimentConfig]] = {"tiny": tiny}
for _depth in (50, 101, 152):
    for _w, _h in ((192, 256), (288, 384)):
        EXPERIMENTS[f"coco_resnet{_depth}_{_h}x{_w}"] = (
            lambda d=_depth, w=_w, h=_h: _coco(d, w, h))
    EXPERIMENTS[f"coco_resnet{_depth}_256x192_caffe"] = (
        lambda d=_depth: _coco(d, 192, 256, style="caffe"))
    for _size in (256, 384):
        EXPERIMENTS[f"mpii_resnet{_depth}_{_size}x{_size}"] = (
            lambda d=_depth, s=_size: _mpii(d, s))

DEFAULT_EXPERIMENT_FOR_DATASET = {
    "coco": "coco_resnet50_256x192",
    "mpii": "mpii_resnet50_256x256",
    "synthetic": "tiny",
}


def list_experiments() -> list[str]:
    """Names of all named experiments, sorted."""
    return sorted(EXPERIMENTS)


def get_experiment(name: str) -> ExperimentConfig:
    """Returns the named experiment.

    Raises:
      ValueError: naming the unknown experiment and the known ones.
    """
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; known experiments: "
                          f"{', '.join(list_experiments())}")
    return EXPERIMENTS[name]()


def default_experiment(dataset: str) -> ExperimentConfig:
    """The experiment used when only ``--dataset`` is given.

    ``coco``, ``mpii`` and ``synthetic`` have their own; any other value is
    a custom COCO-format data set at ``data/<dataset>`` trained with the COCO
    ResNet-50 256x192 recipe (K, names and flip pairs come from its
    annotation file).
    """
    if dataset in DEFAULT_EXPERIMENT_FOR_DATASET:
        return get_experiment(DEFAULT_EXPERIMENT_FOR_DATASET[dataset])
    import dataclasses
    base = get_experiment("coco_resnet50_256x192")
    return base.replace(
        name=f"{dataset}_resnet50_256x192",
        data=dataclasses.replace(
            base.data, dataset="custom", root=f"data/{dataset}",
            keypoint_names=(), flip_pairs=None, skeleton=None, oks_sigmas=(),
            upper_body_ids=()),
        test=dataclasses.replace(base.test, use_gt_boxes=True))
