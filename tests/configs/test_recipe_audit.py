"""Recipe audit: every official experiment file against our named experiment.

The official code (microsoft/human-pose-estimation.pytorch) has 15 experiment
files, ``experiments/{coco,mpii}/resnet{50,101,152}/*.yaml``. ``ROWS`` holds,
one row per file, the values the file sets, copied by hand from the file
(``COCO_FILES`` / ``MPII_FILES`` hold the keys every file of a data set sets
alike), plus the defaults of the official ``lib/core/config.py`` that the
training and evaluation code reads and the file leaves unset (marked as such).

``CHECKS`` maps each yaml key to our field (or the code that stands for it);
``NO_COUNTERPART`` names the keys we have no field for, with the reason. A key
in neither fails the test, so no value of the table goes unchecked. Values
hard-coded in the official code (flip pairs, augmentation probabilities) and
our deliberate, documented differences (``keras_pose/configs/experiments.py``)
are checked too. Nothing is downloaded: weights are only resolved by name.
"""

import math
import os
import urllib.parse

import pytest

from keras_pose.configs import get_experiment
from keras_pose.configs.cli import build_config
from keras_pose.convert.pretrained import pretrained_source
from keras_pose.training.schedule import learning_rate_for_epoch
from keras_pose.training.trainer import make_optimizer

# Keys set alike by the 9 COCO files, experiments/coco/resnet{50,101,152}/
# {256x192,384x288}_d256x3_adam_lr1e-3[_caffe].yaml.
COCO_FILES = {
    "GPUS": "0", "DATA_DIR": "", "OUTPUT_DIR": "output", "LOG_DIR": "log",
    "WORKERS": 4, "PRINT_FREQ": 100,
    "DATASET.DATASET": "coco", "DATASET.ROOT": "data/coco/",
    "DATASET.TEST_SET": "val2017", "DATASET.TRAIN_SET": "train2017",
    "DATASET.FLIP": True, "DATASET.ROT_FACTOR": 40, "DATASET.SCALE_FACTOR": 0.3,
    "MODEL.NAME": "pose_resnet", "MODEL.NUM_JOINTS": 17,
    "MODEL.EXTRA.TARGET_TYPE": "gaussian", "MODEL.EXTRA.FINAL_CONV_KERNEL": 1,
    "MODEL.EXTRA.DECONV_WITH_BIAS": False, "MODEL.EXTRA.NUM_DECONV_LAYERS": 3,
    "MODEL.EXTRA.NUM_DECONV_FILTERS": [256, 256, 256],
    "MODEL.EXTRA.NUM_DECONV_KERNELS": [4, 4, 4],
    "LOSS.USE_TARGET_WEIGHT": True,
    "TRAIN.SHUFFLE": True, "TRAIN.BEGIN_EPOCH": 0, "TRAIN.END_EPOCH": 140,
    "TRAIN.RESUME": False, "TRAIN.OPTIMIZER": "adam", "TRAIN.LR": 0.001,
    "TRAIN.LR_FACTOR": 0.1, "TRAIN.LR_STEP": [90, 120], "TRAIN.WD": 0.0001,
    "TRAIN.GAMMA1": 0.99, "TRAIN.GAMMA2": 0.0, "TRAIN.MOMENTUM": 0.9,
    "TRAIN.NESTEROV": False,
    "TEST.BATCH_SIZE": 32,
    "TEST.COCO_BBOX_FILE":
        "data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json",
    "TEST.BBOX_THRE": 1.0, "TEST.FLIP_TEST": False, "TEST.IMAGE_THRE": 0.0,
    "TEST.IN_VIS_THRE": 0.2, "TEST.MODEL_FILE": "", "TEST.NMS_THRE": 1.0,
    "TEST.OKS_THRE": 0.9, "TEST.USE_GT_BBOX": True,
    "DEBUG.DEBUG": True, "DEBUG.SAVE_BATCH_IMAGES_GT": True,
    "DEBUG.SAVE_BATCH_IMAGES_PRED": True, "DEBUG.SAVE_HEATMAPS_GT": True,
    "DEBUG.SAVE_HEATMAPS_PRED": True,
    # Not in the COCO files: lib/core/config.py defaults.
    "CUDNN.BENCHMARK": True, "CUDNN.DETERMINISTIC": False, "CUDNN.ENABLED": True,
    "MODEL.INIT_WEIGHTS": True, "DATASET.DATA_FORMAT": "jpg", "DATASET.SELECT_DATA": False,
    "TEST.POST_PROCESS": True, "TEST.SHIFT_HEATMAP": True,
}

# Keys set alike by the 6 MPII files, experiments/mpii/resnet{50,101,152}/
# {256x256,384x384}_d256x3_adam_lr1e-3.yaml.
MPII_FILES = {
    "GPUS": "0", "DATA_DIR": "", "OUTPUT_DIR": "output", "LOG_DIR": "log",
    "WORKERS": 4, "PRINT_FREQ": 100,
    # In every MPII file but resnet101/384x384, which has the same values
    # from the lib/core/config.py defaults.
    "CUDNN.BENCHMARK": True, "CUDNN.DETERMINISTIC": False, "CUDNN.ENABLED": True,
    "DATASET.DATASET": "mpii", "DATASET.ROOT": "data/mpii/",
    "DATASET.TEST_SET": "valid", "DATASET.TRAIN_SET": "train",
    "DATASET.FLIP": True, "DATASET.ROT_FACTOR": 30, "DATASET.SCALE_FACTOR": 0.25,
    "MODEL.NAME": "pose_resnet", "MODEL.NUM_JOINTS": 16,
    "MODEL.EXTRA.TARGET_TYPE": "gaussian", "MODEL.EXTRA.FINAL_CONV_KERNEL": 1,
    "MODEL.EXTRA.DECONV_WITH_BIAS": False, "MODEL.EXTRA.NUM_DECONV_LAYERS": 3,
    "MODEL.EXTRA.NUM_DECONV_FILTERS": [256, 256, 256],
    "MODEL.EXTRA.NUM_DECONV_KERNELS": [4, 4, 4],
    "LOSS.USE_TARGET_WEIGHT": True,
    "TRAIN.SHUFFLE": True, "TRAIN.BEGIN_EPOCH": 0, "TRAIN.END_EPOCH": 140,
    "TRAIN.RESUME": False, "TRAIN.OPTIMIZER": "adam", "TRAIN.LR": 0.001,
    "TRAIN.LR_FACTOR": 0.1, "TRAIN.LR_STEP": [90, 120], "TRAIN.WD": 0.0001,
    "TRAIN.GAMMA1": 0.99, "TRAIN.GAMMA2": 0.0, "TRAIN.MOMENTUM": 0.9,
    "TRAIN.NESTEROV": False,
    "TEST.BATCH_SIZE": 32, "TEST.FLIP_TEST": False, "TEST.MODEL_FILE": "",
    "DEBUG.DEBUG": False, "DEBUG.SAVE_BATCH_IMAGES_GT": True,
    "DEBUG.SAVE_BATCH_IMAGES_PRED": True, "DEBUG.SAVE_HEATMAPS_GT": True,
    "DEBUG.SAVE_HEATMAPS_PRED": True,
    # Not in the MPII files: lib/core/config.py defaults that MPII reads.
    "MODEL.STYLE": "pytorch", "MODEL.INIT_WEIGHTS": True, "DATASET.DATA_FORMAT": "jpg",
    "DATASET.SELECT_DATA": False, "TEST.POST_PROCESS": True, "TEST.SHIFT_HEATMAP": True,
    # The other TEST defaults (USE_GT_BBOX false, OKS_THRE 0.5, IN_VIS_THRE 0.0,
    # IMAGE_THRE 0.0, COCO_BBOX_FILE '') are read only by lib/dataset/coco.py:
    # lib/dataset/mpii.py always takes the annotated people and scores PCKh.
}

PRETRAINED = "models/pytorch/imagenet/"
# (experiment, the file's values). "MODEL.STYLE": the _caffe files set it;
# the others leave the lib/core/config.py default "pytorch".
ROWS = [
    # experiments/coco/resnet50/256x192_d256x3_adam_lr1e-3.yaml
    ("coco_resnet50_256x192", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 50, "MODEL.STYLE": "pytorch",
        "MODEL.PRETRAINED": PRETRAINED + "resnet50-19c8e357.pth",
        "MODEL.IMAGE_SIZE": [192, 256], "MODEL.EXTRA.HEATMAP_SIZE": [48, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet50/384x288_d256x3_adam_lr1e-3.yaml
    ("coco_resnet50_384x288", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 50, "MODEL.STYLE": "pytorch",
        "MODEL.PRETRAINED": PRETRAINED + "resnet50-19c8e357.pth",
        "MODEL.IMAGE_SIZE": [288, 384], "MODEL.EXTRA.HEATMAP_SIZE": [72, 96],
        "MODEL.EXTRA.SIGMA": 3, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet50/256x192_d256x3_adam_lr1e-3_caffe.yaml
    ("coco_resnet50_256x192_caffe", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 50, "MODEL.STYLE": "caffe",
        "MODEL.PRETRAINED": PRETRAINED + "resnet50-caffe.pth.tar",
        "MODEL.IMAGE_SIZE": [192, 256], "MODEL.EXTRA.HEATMAP_SIZE": [48, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet101/256x192_d256x3_adam_lr1e-3.yaml
    ("coco_resnet101_256x192", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 101, "MODEL.STYLE": "pytorch",
        "MODEL.PRETRAINED": PRETRAINED + "resnet101-5d3b4d8f.pth",
        "MODEL.IMAGE_SIZE": [192, 256], "MODEL.EXTRA.HEATMAP_SIZE": [48, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet101/384x288_d256x3_adam_lr1e-3.yaml
    ("coco_resnet101_384x288", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 101, "MODEL.STYLE": "pytorch",
        "MODEL.PRETRAINED": PRETRAINED + "resnet101-5d3b4d8f.pth",
        "MODEL.IMAGE_SIZE": [288, 384], "MODEL.EXTRA.HEATMAP_SIZE": [72, 96],
        "MODEL.EXTRA.SIGMA": 3, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet101/256x192_d256x3_adam_lr1e-3_caffe.yaml
    ("coco_resnet101_256x192_caffe", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 101, "MODEL.STYLE": "caffe",
        "MODEL.PRETRAINED": PRETRAINED + "resnet101-caffe.pth.tar",
        "MODEL.IMAGE_SIZE": [192, 256], "MODEL.EXTRA.HEATMAP_SIZE": [48, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet152/256x192_d256x3_adam_lr1e-3.yaml
    ("coco_resnet152_256x192", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 152, "MODEL.STYLE": "pytorch",
        "MODEL.PRETRAINED": PRETRAINED + "resnet152-b121ed2d.pth",
        "MODEL.IMAGE_SIZE": [192, 256], "MODEL.EXTRA.HEATMAP_SIZE": [48, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet152/384x288_d256x3_adam_lr1e-3.yaml
    ("coco_resnet152_384x288", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 152, "MODEL.STYLE": "pytorch",
        "MODEL.PRETRAINED": PRETRAINED + "resnet152-b121ed2d.pth",
        "MODEL.IMAGE_SIZE": [288, 384], "MODEL.EXTRA.HEATMAP_SIZE": [72, 96],
        "MODEL.EXTRA.SIGMA": 3, "TRAIN.BATCH_SIZE": 32}),
    # experiments/coco/resnet152/256x192_d256x3_adam_lr1e-3_caffe.yaml
    ("coco_resnet152_256x192_caffe", {
        **COCO_FILES, "MODEL.EXTRA.NUM_LAYERS": 152, "MODEL.STYLE": "caffe",
        "MODEL.PRETRAINED": PRETRAINED + "resnet152-caffe.pth.tar",
        "MODEL.IMAGE_SIZE": [192, 256], "MODEL.EXTRA.HEATMAP_SIZE": [48, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/mpii/resnet50/256x256_d256x3_adam_lr1e-3.yaml
    ("mpii_resnet50_256x256", {
        **MPII_FILES, "MODEL.EXTRA.NUM_LAYERS": 50,
        "MODEL.PRETRAINED": PRETRAINED + "resnet50-19c8e357.pth",
        "MODEL.IMAGE_SIZE": [256, 256], "MODEL.EXTRA.HEATMAP_SIZE": [64, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/mpii/resnet50/384x384_d256x3_adam_lr1e-3.yaml
    ("mpii_resnet50_384x384", {
        **MPII_FILES, "MODEL.EXTRA.NUM_LAYERS": 50,
        "MODEL.PRETRAINED": PRETRAINED + "resnet50-19c8e357.pth",
        "MODEL.IMAGE_SIZE": [384, 384], "MODEL.EXTRA.HEATMAP_SIZE": [96, 96],
        "MODEL.EXTRA.SIGMA": 3, "TRAIN.BATCH_SIZE": 32}),
    # experiments/mpii/resnet101/256x256_d256x3_adam_lr1e-3.yaml
    ("mpii_resnet101_256x256", {
        **MPII_FILES, "MODEL.EXTRA.NUM_LAYERS": 101,
        "MODEL.PRETRAINED": PRETRAINED + "resnet101-5d3b4d8f.pth",
        "MODEL.IMAGE_SIZE": [256, 256], "MODEL.EXTRA.HEATMAP_SIZE": [64, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/mpii/resnet101/384x384_d256x3_adam_lr1e-3.yaml
    ("mpii_resnet101_384x384", {
        **MPII_FILES, "MODEL.EXTRA.NUM_LAYERS": 101,
        "MODEL.PRETRAINED": PRETRAINED + "resnet101-5d3b4d8f.pth",
        "MODEL.IMAGE_SIZE": [384, 384], "MODEL.EXTRA.HEATMAP_SIZE": [96, 96],
        "MODEL.EXTRA.SIGMA": 3, "TRAIN.BATCH_SIZE": 32}),
    # experiments/mpii/resnet152/256x256_d256x3_adam_lr1e-3.yaml
    ("mpii_resnet152_256x256", {
        **MPII_FILES, "MODEL.EXTRA.NUM_LAYERS": 152,
        "MODEL.PRETRAINED": PRETRAINED + "resnet152-b121ed2d.pth",
        "MODEL.IMAGE_SIZE": [256, 256], "MODEL.EXTRA.HEATMAP_SIZE": [64, 64],
        "MODEL.EXTRA.SIGMA": 2, "TRAIN.BATCH_SIZE": 32}),
    # experiments/mpii/resnet152/384x384_d256x3_adam_lr1e-3.yaml (the one file
    # with another batch: 24 images per GPU)
    ("mpii_resnet152_384x384", {
        **MPII_FILES, "MODEL.EXTRA.NUM_LAYERS": 152,
        "MODEL.PRETRAINED": PRETRAINED + "resnet152-b121ed2d.pth",
        "MODEL.IMAGE_SIZE": [384, 384], "MODEL.EXTRA.HEATMAP_SIZE": [96, 96],
        "MODEL.EXTRA.SIGMA": 3, "TRAIN.BATCH_SIZE": 24}),
]

# What `python train.py --dataset <name>` trains: the ResNet-50 256-class file.
DATASET_DEFAULT = {"coco": "coco_resnet50_256x192", "mpii": "mpii_resnet50_256x256"}

# The official runs used 4 GPUs (its README: 4 P100 cards; the files' GPUS '0'
# is the command-line default). Our linear-scaling reference is that batch.
OFFICIAL_GPUS = 4

# Caffe files: the official .pth.tar files are a manual Google Drive download
# (its README); we start from keras.applications' caffe-style ImageNet
# ResNets, which Keras fetches itself (deliberate, documented in
# keras_pose/configs/experiments.py).
CAFFE_SOURCES = {
    "resnet50-caffe.pth.tar": "keras.applications.ResNet50",
    "resnet101-caffe.pth.tar": "keras.applications.ResNet101",
    "resnet152-caffe.pth.tar": "keras.applications.ResNet152",
}

# Yaml keys without a field of ours, and why.
NO_COUNTERPART = {
    "GPUS": "runtime: devices are what TensorFlow sees (MirroredStrategy)",
    "WORKERS": "runtime: tf.data parallelism is data.num_parallel_calls (autotuned)",
    "PRINT_FREQ": "runtime: logging (progress bar, train.log_every)",
    "DATA_DIR": "runtime: --data_dir",
    "OUTPUT_DIR": "runtime: --model_dir",
    "LOG_DIR": "runtime: TensorBoard logs go to <model_dir>/logs",
    "CUDNN.BENCHMARK": "runtime: cuDNN is TensorFlow's business",
    "CUDNN.DETERMINISTIC": "runtime: cuDNN is TensorFlow's business",
    "CUDNN.ENABLED": "runtime: cuDNN is TensorFlow's business",
    "MODEL.NAME": "pose_resnet is our only architecture (build_pose_resnet)",
    "MODEL.EXTRA.TARGET_TYPE": "gaussian is the only target the msra codec draws",
    "MODEL.EXTRA.DECONV_WITH_BIAS": ("the head's deconvolutions never have a bias "
                                     "(tests/models/test_pose_resnet.py pins the official "
                                     "parameter count)"),
    "DATASET.DATA_FORMAT": "images are read from files (jpg); the zip format is not supported",
    "DATASET.SELECT_DATA": "off in the official files; we have no such filter",
    "TRAIN.SHUFFLE": "the training pipeline always shuffles (each pass, seeded by epoch)",
    "TRAIN.BEGIN_EPOCH": "training starts at 0 or resumes from the latest checkpoint",
    "TRAIN.RESUME": "runtime: resuming is automatic",
    "TRAIN.MOMENTUM": "read only by get_optimizer's SGD branch; the files use adam",
    "TRAIN.NESTEROV": "read only by get_optimizer's SGD branch; the files use adam",
    "TRAIN.GAMMA1": "never read by the official code",
    "TRAIN.GAMMA2": "never read by the official code",
    "TEST.BBOX_THRE": "stored by lib/dataset/coco.py but never used",
    "TEST.NMS_THRE": "stored by lib/dataset/coco.py but never used",
    "TEST.MODEL_FILE": "runtime: evaluate.py --checkpoint",
    "DEBUG.DEBUG": "debug image files; ours: TensorBoard images (train.image_summary_every)",
    "DEBUG.SAVE_BATCH_IMAGES_GT": "see DEBUG.DEBUG",
    "DEBUG.SAVE_BATCH_IMAGES_PRED": "see DEBUG.DEBUG",
    "DEBUG.SAVE_HEATMAPS_GT": "see DEBUG.DEBUG",
    "DEBUG.SAVE_HEATMAPS_PRED": "see DEBUG.DEBUG",
}


def _get(config, path):
    for part in path.split("."):
        config = getattr(config, part)
    return config


def _field(path, convert=None):
    """Check: our field ``path`` holds the yaml value (through ``convert``)."""
    def check(config, value):
        return [(path, _get(config, path), convert(value) if convert else value)]
    return check


def _same_path(path):
    """Check: paths (relative to the working directory) equal up to a '/'."""
    def check(config, value):
        return [(path, os.path.normpath(_get(config, path)), os.path.normpath(value))]
    return check


def _pretrained(config, value):
    """MODEL.PRETRAINED -> model.pretrained "imagenet", resolved by name only
    (pretrained_source downloads nothing)."""
    m = config.model
    source = pretrained_source(m.pretrained, m.depth, m.style)
    file_name = os.path.basename(value)
    if file_name in CAFFE_SOURCES:
        resolved, expected = source, CAFFE_SOURCES[file_name]
    else:  # torchvision's ImageNet file of the same name.
        resolved = os.path.basename(urllib.parse.urlparse(source or "").path)
        expected = file_name
    return [("model.pretrained", m.pretrained, "imagenet"),
            ("pretrained_source(model.pretrained)", resolved, expected)]


def _init_weights(config, value):
    """MODEL.INIT_WEIGHTS: the backbone starts from MODEL.PRETRAINED."""
    m = config.model
    return [("model.pretrained is a weights source",
             pretrained_source(m.pretrained, m.depth, m.style) is not None, value)]


def _optimizer(config, value):
    """TRAIN.OPTIMIZER -> make_optimizer. The official get_optimizer builds
    torch.optim.Adam(params, lr=LR) for "adam": PyTorch's defaults hold for
    the rest, betas (0.9, 0.999), eps 1e-8 (train.adam_epsilon), no amsgrad."""
    opt = make_optimizer(config)
    keras_class = next(c for c in type(opt).__mro__ if c.__module__.startswith("keras."))
    return [("make_optimizer(config)'s Keras optimizer", keras_class.__name__.lower(), value),
            ("make_optimizer(config).beta_1", opt.beta_1, 0.9),
            ("make_optimizer(config).beta_2", opt.beta_2, 0.999),
            ("make_optimizer(config).epsilon", opt.epsilon, 1e-8),
            ("make_optimizer(config).amsgrad", opt.amsgrad, False)]


def _weight_decay(config, value):
    """TRAIN.WD is read only by get_optimizer's SGD branch: the official Adam
    has no weight decay, so ours has none either."""
    del value  # Ignored by the official code for "adam".
    return [("train.weight_decay", config.train.weight_decay, 0.0),
            ("make_optimizer(config).weight_decay", make_optimizer(config).weight_decay, None)]


def _learning_rate(config, value):
    """TRAIN.LR is used as given: no linear scaling with the batch."""
    return [("train.learning_rate", config.train.learning_rate, value),
            ("train.scale_lr_with_batch", config.train.scale_lr_with_batch, False)]


def _batch(config, value):
    """TRAIN.BATCH_SIZE is per GPU, ours per replica; the linear-scaling
    reference is that batch on the official runs' GPUs."""
    t = config.train
    return [("train.batch_size_per_replica", t.batch_size_per_replica, value),
            ("train.reference_global_batch", t.reference_global_batch, value * OFFICIAL_GPUS)]


def _num_joints(config, value):
    return [("model.num_keypoints", config.model.num_keypoints, value),
            ("len(data.keypoint_names)", len(config.data.keypoint_names), value)]


def _num_deconv_layers(config, value):
    return [("len(model.deconv_filters)", len(config.model.deconv_filters), value),
            ("len(model.deconv_kernels)", len(config.model.deconv_kernels), value)]


def _detection_file(config, value):
    """TEST.COCO_BBOX_FILE -> test.detection_file, relative to data.root."""
    path = os.path.join(config.data.root, config.test.detection_file)
    return [("data.root/test.detection_file", os.path.normpath(path), os.path.normpath(value))]


# Yaml key -> check(config, yaml value) -> [(our field, our value, expected)].
# Sizes: the yaml's [width, height] is also our order.
CHECKS = {
    "DATASET.DATASET": _field("data.dataset"),
    "DATASET.ROOT": _same_path("data.root"),
    "DATASET.TRAIN_SET": _field("data.train_set"),
    "DATASET.TEST_SET": _field("data.test_set"),
    "DATASET.FLIP": _field("data.flip"),
    "DATASET.ROT_FACTOR": _field("data.rotation_factor"),
    "DATASET.SCALE_FACTOR": _field("data.scale_factor"),
    "MODEL.PRETRAINED": _pretrained,
    "MODEL.INIT_WEIGHTS": _init_weights,
    "MODEL.STYLE": _field("model.style"),
    "MODEL.IMAGE_SIZE": _field("model.image_size", tuple),
    "MODEL.NUM_JOINTS": _num_joints,
    "MODEL.EXTRA.NUM_LAYERS": _field("model.depth"),
    "MODEL.EXTRA.HEATMAP_SIZE": _field("model.heatmap_size", tuple),
    "MODEL.EXTRA.SIGMA": _field("model.sigma"),
    "MODEL.EXTRA.FINAL_CONV_KERNEL": _field("model.final_kernel"),
    "MODEL.EXTRA.NUM_DECONV_LAYERS": _num_deconv_layers,
    "MODEL.EXTRA.NUM_DECONV_FILTERS": _field("model.deconv_filters", tuple),
    "MODEL.EXTRA.NUM_DECONV_KERNELS": _field("model.deconv_kernels", tuple),
    "LOSS.USE_TARGET_WEIGHT": _field("train.use_target_weight"),
    "TRAIN.BATCH_SIZE": _batch,
    "TRAIN.END_EPOCH": _field("train.epochs"),
    "TRAIN.OPTIMIZER": _optimizer,
    "TRAIN.LR": _learning_rate,
    "TRAIN.LR_FACTOR": _field("train.lr_factor"),
    "TRAIN.LR_STEP": _field("train.lr_steps", tuple),
    "TRAIN.WD": _weight_decay,
    "TEST.BATCH_SIZE": _field("test.batch_size"),
    # The files' TEST section is what train.py validates with after each
    # epoch: our train.val_* fields (evaluate.py's defaults: _deliberate).
    "TEST.USE_GT_BBOX": _field("train.val_use_gt_boxes"),
    "TEST.FLIP_TEST": _field("train.val_flip_test"),
    "TEST.POST_PROCESS": _field("test.refine"),  # The quarter-pixel offset.
    "TEST.SHIFT_HEATMAP": _field("test.shift_heatmap"),
    "TEST.OKS_THRE": _field("test.oks_threshold"),
    "TEST.IN_VIS_THRE": _field("test.in_vis_threshold"),
    "TEST.IMAGE_THRE": _field("data.image_threshold"),
    "TEST.COCO_BBOX_FILE": _detection_file,
}


def _rate_changes(rate_of_epoch, epochs):
    """[(epoch, rate)] at epoch 0 and wherever the rate changes."""
    rates = [rate_of_epoch(epoch) for epoch in range(epochs)]
    return [(e, r) for e, r in enumerate(rates) if e == 0 or not math.isclose(r, rates[e - 1])]


def _schedule(config, row):
    """The rate of every epoch. Official: PyTorch 0.4's MultiStepLR, stepped
    once before each epoch from last_epoch -1, so epoch e trains at
    LR x LR_FACTOR ^ (number of LR_STEP entries <= e)."""
    t = config.train
    ours = _rate_changes(
        lambda e: learning_rate_for_epoch(t.learning_rate, e, t.lr_steps, t.lr_factor), t.epochs)
    official = _rate_changes(
        lambda e: row["TRAIN.LR"] * row["TRAIN.LR_FACTOR"] ** sum(
            step <= e for step in row["TRAIN.LR_STEP"]), row["TRAIN.END_EPOCH"])
    return [("(epoch, rate) changes", ours, official)]


# Values hard-coded in the official code, not in the files.
OFFICIAL_FLIP_PAIRS = {  # lib/dataset/coco.py, lib/dataset/mpii.py (0-based)
    "coco": ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    "mpii": ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
}


def _official_code(config, row):
    """What lib/dataset/*.py and pose_estimation/train.py fix in code."""
    found = [
        ("data.flip_pairs", config.data.flip_pairs, OFFICIAL_FLIP_PAIRS[row["DATASET.DATASET"]]),
        # JointsDataset.__getitem__: flip when random() <= 0.5, rotate when
        # random() <= 0.6; no half-body augmentation (HRNet's code adds it).
        ("data.flip_prob", config.data.flip_prob, 0.5),
        ("data.rotation_prob", config.data.rotation_prob, 0.6),
        ("data.half_body_prob", config.data.half_body_prob, 0.0),
        # coco.py _xywh2cs and mpii.py _get_db enlarge boxes x1.25.
        ("data.box_padding", config.data.box_padding, 1.25),
        # train.py validates after every epoch.
        ("train.validate_every", config.train.validate_every, 1),
    ]
    if row["DATASET.DATASET"] == "mpii":  # mpii.py evaluate: ROOT/annot/gt_<TEST_SET>.mat
        official = os.path.join(row["DATASET.ROOT"], "annot", f"gt_{row['DATASET.TEST_SET']}.mat")
        ours = os.path.join(config.data.root, config.test.gt_mat)
        found.append(("data.root/test.gt_mat", os.path.normpath(ours), os.path.normpath(official)))
    return found


def _deliberate(config):
    """Our documented differences (keras_pose/configs/experiments.py)."""
    coco = config.data.dataset == "coco"
    return [
        # evaluate.py flips by default: the published tables are flip-test
        # numbers (the official README runs valid.py --flip-test).
        ("test.flip_test", config.test.flip_test, True),
        # evaluate.py: COCO with the official detections when the file exists,
        # else ground truth; MPII always on its annotated people.
        ("test.use_gt_boxes", config.test.use_gt_boxes, None if coco else True),
        # RGB into torchvision's RGB weights (the official code feeds BGR);
        # BGR for Keras' caffe-style weights.
        ("model.color_order", config.model.color_order,
         "BGR" if config.model.style == "caffe" else "RGB"),
    ]


def _equal(ours, expected):
    if isinstance(expected, (list, tuple)):
        return (isinstance(ours, (list, tuple)) and len(ours) == len(expected)
                and all(_equal(a, b) for a, b in zip(ours, expected)))
    if isinstance(expected, bool) or isinstance(ours, bool) or expected is None:
        return ours is expected
    if isinstance(expected, (int, float)) and isinstance(ours, (int, float)):
        return math.isclose(ours, expected, rel_tol=1e-9)
    return ours == expected


@pytest.mark.parametrize("name,row", ROWS, ids=[name for name, _ in ROWS])
def test_experiment_follows_its_official_file(name, row):
    unexplained = sorted(set(row) - set(CHECKS) - set(NO_COUNTERPART))
    assert not unexplained, f"yaml keys neither checked nor explained: {unexplained}"
    config = get_experiment(name)
    found = [(key, *item) for key, value in row.items() if key in CHECKS
             for item in CHECKS[key](config, value)]
    found += [("TRAIN.LR/LR_STEP/LR_FACTOR", *item) for item in _schedule(config, row)]
    found += [("official code", *item) for item in _official_code(config, row)]
    found += [("deliberate", *item) for item in _deliberate(config)]
    wrong = [f"{key}: {field} is {ours!r}, expected {expected!r}"
             for key, field, ours, expected in found if not _equal(ours, expected)]
    assert not wrong, f"{name} differs from its official file:\n  " + "\n  ".join(wrong)
    # What `python train.py --dataset <d> [--experiment <name>]` trains.
    dataset = row["DATASET.DATASET"]
    assert build_config(dataset=dataset, experiment=name) == config
    if DATASET_DEFAULT[dataset] == name:
        assert build_config(dataset=dataset) == config
