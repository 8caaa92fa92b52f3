"""Named experiments: one per experiment file of the official code, plus tiny.

The official files are ``experiments/{coco,mpii}/resnet{50,101,152}/
{size}_d256x3_adam_lr1e-3[_caffe].yaml``. Their shared values: three 256-filter
kernel-4 deconvolutions, 1x1 final conv, Adam lr 1e-3 decayed x0.1 at epochs
90 and 120, 140 epochs, 32 images per GPU on 4 GPUs, sigma 2 for 256-class
and 3 for 384-class inputs, random flip, scale factor 0.3 / rotation 40 on
COCO and 0.25 / 30 on MPII.
"""

from __future__ import annotations

from typing import Callable

from keras_pose.configs import keypoints as kp
from keras_pose.configs.base import (DataConfig, ExperimentConfig, ModelConfig,
                                     TestConfig, TrainConfig)

COCO_UPPER_BODY = tuple(range(11))
# keras.applications.resnet.preprocess_input as (x/255 - mean) / std, BGR.
_KERAS_CAFFE = {
    "color_order": "BGR",
    "mean": (103.939 / 255.0, 116.779 / 255.0, 123.68 / 255.0),
    "std": (1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0),
}
MPII_UPPER_BODY = (7, 8, 9, 10, 11, 12, 13, 14, 15)


def _coco(depth: int, width: int, height: int, style: str = "pytorch") -> ExperimentConfig:
    suffix = "_caffe" if style == "caffe" else ""
    # Keras' ImageNet weights expect their own "caffe" input convention.
    preprocessing = _KERAS_CAFFE if style == "caffe" else {}
    return ExperimentConfig(
        name=f"coco_resnet{depth}_{height}x{width}{suffix}",
        model=ModelConfig(
            depth=depth, num_keypoints=17, style=style,
            image_size=(width, height), heatmap_size=(width // 4, height // 4),
            sigma=2.0 if height <= 256 else 3.0,
            pretrained="imagenet" if style == "caffe" else "", **preprocessing),
        data=DataConfig(
            dataset="coco", root="data/coco", train_set="train2017",
            test_set="val2017", scale_factor=0.3, rotation_factor=40.0,
            upper_body_ids=COCO_UPPER_BODY),
        train=TrainConfig(),
        test=TestConfig(),
    )


def _mpii(depth: int, size: int) -> ExperimentConfig:
    return ExperimentConfig(
        name=f"mpii_resnet{depth}_{size}x{size}",
        model=ModelConfig(
            depth=depth, num_keypoints=16, image_size=(size, size),
            heatmap_size=(size // 4, size // 4),
            sigma=2.0 if size <= 256 else 3.0),
        data=DataConfig(
            dataset="mpii", root="data/mpii", train_set="train",
            test_set="valid", keypoint_names=kp.MPII_KEYPOINT_NAMES,
            flip_pairs=kp.MPII_FLIP_PAIRS, skeleton=kp.MPII_SKELETON,
            oks_sigmas=(), scale_factor=0.25, rotation_factor=30.0,
            upper_body_ids=MPII_UPPER_BODY),
        train=TrainConfig(),
        test=TestConfig(use_gt_boxes=True),
    )


def tiny() -> ExperimentConfig:
    """ResNet-18 with a small input on the synthetic data set: the demo run
    that trains on 2 CPU cores in minutes."""
    return ExperimentConfig(
        name="tiny",
        model=ModelConfig(
            depth=18, num_keypoints=17, image_size=(96, 128),
            heatmap_size=(24, 32), sigma=1.5,
            deconv_filters=(128, 128, 128)),
        data=DataConfig(
            dataset="synthetic", root="data/synthetic", train_set="train",
            test_set="val", scale_factor=0.25, rotation_factor=30.0,
            upper_body_ids=COCO_UPPER_BODY),
        train=TrainConfig(
            batch_size_per_replica=16, epochs=8, lr_steps=(6,),
            validate_every=4, image_summary_every=200),
        test=TestConfig(batch_size=32, use_gt_boxes=True),
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
        raise ValueError(f"unknown experiment {name!r}; known experiments: "
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
            keypoint_names=(), flip_pairs=(), skeleton=(), oks_sigmas=(),
            upper_body_ids=()),
        test=dataclasses.replace(base.test, use_gt_boxes=True))
