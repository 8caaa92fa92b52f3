"""Typed, frozen experiment configuration.

An experiment is four frozen dataclasses (model, data, train, test) inside an
:class:`ExperimentConfig`. Named experiments live in ``experiments.py``; the
command line changes single fields with ``--set section.field=value``; the
final config is written as JSON next to the checkpoints and read back. That
conversion (dicts, overrides, files) is :mod:`keras_pose.configs.conversion`'s.

Sizes are ``(width, height)`` as in the official code's ``IMAGE_SIZE``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from keras_pose.configs import keypoints as kp
from keras_pose.configs.errors import ConfigError
from keras_pose.configs.ranges import (PARALLEL_CALLS_LIMIT, check_count, check_counts,
                                       check_number, check_numbers, check_run_name)
from keras_pose.configs.sigma_presets import COCO_OKS_SIGMAS
from keras_pose.configs.track import TrackConfig

SEED_LIMIT = 2 ** 32  # numpy's global seed takes no more.
PIXEL_STD = 200.0  # The reference's unit of ``scale``: one unit is 200 px.

PRECISIONS = ("fp32", "mixed_bfloat16", "mixed_float16", "auto")
# Heatmap codecs (keras_pose.codec): the official code's, and DARK's.
CODECS = ("msra", "dark")
# How ground-truth COCO boxes are cleaned (keras_pose.data.coco.clean_box).
GT_BOX_RULES = ("official", "mmpose", "mmpose_0x")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# The ResNet depths the backbone builds (models.resnet.BLOCKS_PER_STAGE's).
RESNET_DEPTHS = (18, 34, 50, 101, 152)
# What the network builds (keras_pose.models): the backbone's styles, the
# head's deconvolution and final kernel sizes, and the input's channel orders.
STYLES = ("pytorch", "caffe")
DECONV_KERNELS = (2, 3, 4)
FINAL_KERNELS = (1, 3)
COLOR_ORDERS = ("RGB", "BGR")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The network and its heatmap geometry.

    Attributes:
      depth: ResNet depth, one of 18, 34, 50, 101, 152.
      blocks_per_stage: fewer blocks per stage than the depth's (4 counts;
        empty: the depth's own), for small test and demo models.
      num_keypoints: K, the number of output heatmaps.
      style: "pytorch" (stride on the 3x3 conv, torchvision) or "caffe"
        (stride on the first 1x1 conv, keras.applications).
      image_size: network input (width, height) in pixels.
      heatmap_size: output heatmap (width, height); image_size / 4.
      sigma: Gaussian sigma of the target heatmaps, in heatmap pixels.
      deconv_filters: filters of each stride-2 deconvolution of the head.
      deconv_kernels: kernel size of each deconvolution (2, 3 or 4).
      final_kernel: kernel of the last convolution (1 or 3).
      pretrained: "" or "none" (random init), "imagenet" (the style's
        ImageNet weights: torchvision's ResNet for pytorch, Keras' for
        caffe; downloaded on first use) or a weights file path or URL (see
        ``keras_pose.convert.pretrained``).
      color_order: channel order the network expects ("RGB" or "BGR").
      mean: per-channel mean, in ``color_order``, on pixels scaled to [0, 1].
      std: per-channel standard deviation, same convention.
      sync_bn: synchronized BatchNormalization across replicas; None
        (``null``, the default): synchronized when there is more than one
        replica. A config.json of an earlier version says ``false`` for a
        one-replica run and ``true`` for a multi-replica one (the value its
        run used, which that version forced to true with several replicas):
        read as written, it describes what that run did.
      codec: the heatmap codec the model is trained with (``keras_pose.codec``):
        "msra" (the official code's integer-centred targets, argmax +
        quarter offset) or "dark" (DARK's sub-pixel targets and
        distribution-aware decoding); also the default decoding.
    """

    depth: int = 50
    blocks_per_stage: tuple[int, ...] = ()
    num_keypoints: int = 17
    style: str = "pytorch"
    image_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] = (48, 64)
    sigma: float = 2.0
    deconv_filters: tuple[int, ...] = (256, 256, 256)
    deconv_kernels: tuple[int, ...] = (4, 4, 4)
    final_kernel: int = 1
    pretrained: str = ""
    color_order: str = "RGB"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    sync_bn: Optional[bool] = None
    codec: str = "msra"

    def __post_init__(self):
        if self.codec not in CODECS:
            raise ConfigError(f"model.codec must be one of {CODECS}, got {self.codec!r}")
        if not 0 < self.sigma < float("inf"):  # Was a traceback where the codec is built.
            raise ConfigError(f"model.sigma must be > 0 (heatmap pixels), got {self.sigma}")
        if self.depth not in RESNET_DEPTHS:  # Was a traceback where the network is built.
            raise ConfigError(f"model.depth must be one of {list(RESNET_DEPTHS)}, got "
                              f"{self.depth!r}")
        check_count("model.num_keypoints", self.num_keypoints, 1, note=" (heatmaps)")
        for name in ("image_size", "heatmap_size"):
            size = getattr(self, name)
            if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
                raise ConfigError(f"model.{name} must be two whole numbers > 0 (width, "
                                  f"height), got {list(size)}")
            check_counts(f"model.{name}", size, 1)
        if any(v % 32 for v in self.image_size):  # Was a traceback where the network is built.
            fit = [max(32, round(v / 32) * 32) for v in self.image_size]
            raise ConfigError(f"model.image_size {list(self.image_size)}: width and height must "
                              f"be multiples of 32 (the backbone's stride), e.g. "
                              f"model.image_size={fit[0]},{fit[1]}")
        self._check_architecture()
        # What the network computes: stride 32, then one x2 per deconvolution.
        # (Was a traceback where the network is built, after the run's
        # lock and folders were made.)
        scale = 2 ** len(self.deconv_filters)
        expected = (self.image_size[0] // 32 * scale, self.image_size[1] // 32 * scale)
        if tuple(self.heatmap_size) != expected:
            raise ConfigError(
                f"model.heatmap_size {list(self.heatmap_size)} does not match model.image_size "
                f"{list(self.image_size)} with {len(self.deconv_filters)} deconvolutions: "
                f"set model.heatmap_size={expected[0]},{expected[1]} too")

    def _check_architecture(self) -> None:
        """The backbone, head and input settings the network builds (each
        was a traceback where the network or the first batch was built,
        after the run's folders were made)."""
        for name, allowed in (("style", STYLES), ("color_order", COLOR_ORDERS),
                              ("final_kernel", FINAL_KERNELS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"model.{name} must be one of {list(allowed)}, got "
                                  f"{getattr(self, name)!r}")
        if self.blocks_per_stage and (len(self.blocks_per_stage) != 4
                                      or min(self.blocks_per_stage) < 1):
            raise ConfigError("model.blocks_per_stage must be empty (the depth's) or 4 counts "
                              f">= 1, got {list(self.blocks_per_stage)}")
        if len(self.deconv_kernels) != len(self.deconv_filters):
            raise ConfigError(f"model.deconv_kernels {list(self.deconv_kernels)} must give one "
                              f"kernel per deconvolution of model.deconv_filters "
                              f"{list(self.deconv_filters)}")
        if any(k not in DECONV_KERNELS for k in self.deconv_kernels):
            raise ConfigError(f"model.deconv_kernels must each be one of "
                              f"{list(DECONV_KERNELS)}, got {list(self.deconv_kernels)}")
        if any(f < 1 for f in self.deconv_filters):
            raise ConfigError(f"model.deconv_filters must each be >= 1, got "
                              f"{list(self.deconv_filters)}")
        check_counts("model.deconv_filters", self.deconv_filters, 1)
        check_counts("model.blocks_per_stage", self.blocks_per_stage, 1)
        if len(self.mean) != 3 or len(self.std) != 3 or not all(
                0 < v < float("inf") for v in self.std):
            raise ConfigError(f"model.mean and model.std must be 3 numbers each, std > 0 (the "
                              f"pixels are divided by it), got {list(self.mean)} and "
                              f"{list(self.std)}")
        # A NaN mean made every input NaN (and config.json hold NaN).
        check_numbers("model.mean", self.mean, " (per channel, on pixels in [0, 1])")

    @property
    def aspect_ratio(self) -> float:
        """Width over height of the network input."""
        return self.image_size[0] / self.image_size[1]


# The data.dataset values read from COCO-format annotation files (their
# keypoint names, and so K, from the file's category).
COCO_FORMAT_DATASETS = ("coco", "synthetic", "custom")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Data set and augmentation.

    Attributes:
      dataset: "coco", "mpii", "synthetic" or "custom" (any COCO-format
        keypoint data set).
      root: data set directory in the reference layout (``data/coco``...).
      train_set: training split ("train2017", "train").
      test_set: evaluation split ("val2017", "valid").
      keypoint_names: K names, in channel order. Empty: taken from the
        annotation file (custom data sets).
      flip_pairs: left/right pairs (0-based); ``()``: none, no keypoint is
        swapped by a flip. None (custom data sets): the annotation file's
        (``flip_pairs``/``swap``), else derived from the names. A
        checkpoint records the pairs its run used, ``()`` included.
      skeleton: limbs (0-based pairs) for drawing. None (custom data sets):
        the annotation file's; ``()``: none, whatever the file says.
      oks_sigmas: per-keypoint OKS sigmas (or, in a ``--set``, a preset's
        name: ``coco``, ``crowdpose``...); empty: by keypoint name, COCO's
        sigma for each COCO keypoint (any order, any naming style) and
        ``DEFAULT_OKS_SIGMA`` (0.0669, the mean of COCO's) for the others
        (``keras_pose.configs.sigmas.sigmas_by_name``).
      flip: random horizontal flip during training.
      flip_prob: probability of that flip.
      scale_factor: sf; scale *= clip(1 + N(0,1) sf, 1 - sf, 1 + sf).
      rotation_factor: rf in degrees; rotation = clip(N(0,1) rf, -2rf, 2rf).
      rotation_prob: probability of a non-zero rotation.
      half_body_prob: HRNet's half-body augmentation probability (0: off, as
        in all official ResNet configs).
      num_joints_half_body: half-body needs more visible joints than this.
      upper_body_ids: keypoints of the upper body for half-body; empty: the
        data set's default.
      category_ids: COCO-format sets: the keypoint categories whose people
        are used (empty: every category with the keypoint definition of the
        first keypoint category).
      box_padding: the reference's 1.25 enlargement of boxes.
      gt_box_rule: how COCO-format ground-truth boxes are cleaned
        (``keras_pose.data.coco.clean_box``): "official" (the reference:
        clipped, one pixel smaller, area > 0), "mmpose" (mmpose 1.x: corners
        clipped to the image, full size, no area test) or "mmpose_0x"
        (mmpose 0.x: full size, area > 0). Pretrained mmpose presets set the
        rule their published numbers were measured with.
      image_threshold: detection boxes with a lower score are dropped
        (``image_thre``).
      num_parallel_calls: images decoded (and people cropped) at once by
        the training and evaluation pipelines; -1: autotuned in training,
        the CPU count in evaluation (whose iterators do not autotune); a
        positive value (at most 1024): fixed, with no autotuner in training
        either.
      seed: seed of shuffling and augmentation; None: ``train.seed``'s value
        (a run is repeatable either way).
      synthetic_train_images: images in the synthetic train split.
      synthetic_val_images: images in the synthetic val split.
    """

    dataset: str = "coco"
    root: str = "data/coco"
    train_set: str = "train2017"
    test_set: str = "val2017"
    keypoint_names: tuple[str, ...] = kp.COCO_KEYPOINT_NAMES
    flip_pairs: Optional[tuple[tuple[int, int], ...]] = kp.COCO_FLIP_PAIRS
    skeleton: Optional[tuple[tuple[int, int], ...]] = kp.COCO_SKELETON
    oks_sigmas: tuple[float, ...] = COCO_OKS_SIGMAS
    flip: bool = True
    flip_prob: float = 0.5
    scale_factor: float = 0.3
    rotation_factor: float = 40.0
    rotation_prob: float = 0.6
    half_body_prob: float = 0.0
    num_joints_half_body: int = 8
    upper_body_ids: tuple[int, ...] = ()
    category_ids: tuple[int, ...] = ()
    box_padding: float = 1.25
    gt_box_rule: str = "official"
    image_threshold: float = 0.0
    num_parallel_calls: int = -1
    seed: Optional[int] = None
    synthetic_train_images: int = 400
    synthetic_val_images: int = 50

    def __post_init__(self):
        if self.gt_box_rule not in GT_BOX_RULES:
            raise ConfigError(f"data.gt_box_rule must be one of {GT_BOX_RULES}, "
                              f"got {self.gt_box_rule!r}")
        # Infinity trained on nothing and wrote -Infinity/NaN into predictions.
        check_number("data.box_padding", self.box_padding, 0, above=True,
                     note=" (the reference's 1.25 grows each box by 25%)")
        if self.seed is not None and not 0 <= self.seed < SEED_LIMIT:
            # Was a traceback from inside the input pipeline, after the run
            # directory was written.
            raise ConfigError(f"data.seed must be none or in [0, 2**32), got {self.seed}")
        # The ranges below were taken in silence (a flip_prob of 3 flipped always).
        for name in ("flip_prob", "rotation_prob", "half_body_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"data.{name} must be a probability in [0, 1], got "
                                  f"{getattr(self, name)}")
        for name in ("scale_factor", "rotation_factor"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ConfigError(f"data.{name} must be >= 0, got {getattr(self, name)}")
        if not self.scale_factor < 1:  # 1 - sf, the least scale: 0 made blank crops.
            raise ConfigError(f"data.scale_factor must be below 1 (scales are clipped to "
                              f"[1 - sf, 1 + sf] and must stay > 0), got {self.scale_factor}")
        if self.num_parallel_calls != -1 and self.num_parallel_calls < 1:
            raise ConfigError("data.num_parallel_calls must be -1 (autotuned) or >= 1, got "
                              f"{self.num_parallel_calls}")
        check_count("data.num_parallel_calls", self.num_parallel_calls, -1,
                    PARALLEL_CALLS_LIMIT + 1, " (images decoded at once; -1 autotunes)")
        self._check_counts_and_scores()

    def _check_counts_and_scores(self) -> None:
        """Fields that were taken in silence: 0 synthetic images deleted the
        data set on disk and made an empty one; an image_threshold of NaN
        kept every detection and wrote NaN into config.json."""
        for name in ("synthetic_train_images", "synthetic_val_images"):
            check_count(f"data.{name}", getattr(self, name), 1, note=" (images generated)")
        check_count("data.num_joints_half_body", self.num_joints_half_body, 0,
                    note=" (visible joints a person needs beyond it for half-body)")
        check_number("data.image_threshold", self.image_threshold, 0, 1,
                     note=" (a detection score)")
        if not all(0 < v < float("inf") for v in self.oks_sigmas):
            raise ConfigError(f"data.oks_sigmas must be finite numbers > 0, got "
                              f"{list(self.oks_sigmas)}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, schedule and checkpointing.

    Attributes:
      batch_size_per_replica: images per replica per step (32 as the
        official code per GPU).
      epochs: total epochs (``END_EPOCH``).
      learning_rate: base learning rate for ``reference_global_batch``.
      lr_steps: epochs (each >= 1, 0-based epoch indices) at which the
        learning rate is multiplied by ``lr_factor``.
      lr_factor: the step decay factor.
      adam_epsilon: Adam's epsilon (PyTorch default 1e-8).
      weight_decay: decoupled weight decay (0: the official Adam has none).
      scale_lr_with_batch: multiply the learning rate by
        global_batch / reference_global_batch (linear scaling rule).
      reference_global_batch: the global batch the base rate is for
        (32 x 4 GPUs in the official runs).
      use_target_weight: weight the loss by the target weights.
      validate_every: run validation every N epochs (0: never).
      val_use_gt_boxes: validation during training on ground-truth boxes
        (the official yaml files' ``TEST.USE_GT_BBOX: true``); False: the
        detections of ``test.detection_file``.
      val_flip_test: flip test during validation (the official yaml files'
        ``TEST.FLIP_TEST: false``).
      final_evaluation: after the last epoch, run the full evaluation of
        evaluate.py once (``test.*`` settings: detections when present, flip
        test) on the best model.
      keep_checkpoints: how many latest epoch checkpoints to keep.
      steps_per_epoch: steps per epoch (0: one pass over the data); more
        than a pass continues into the next passes.
      log_every: steps between TensorBoard scalar writes.
      image_summary_every: steps between image summaries (0: never).
      precision: "fp32", "mixed_bfloat16" (CPUs with bf16 units, TPUs),
        "mixed_float16" (GPUs; loss scaling) or "auto" (bf16 on CPUs with
        AMX / AVX-512 BF16, fp16 on GPUs, fp32 otherwise; logged).
      jit_compile: XLA-compile the train step.
      steps_per_execution: optimizer steps per call into the compiled
        training function (fewer host round trips); made a divisor of the
        steps per epoch.
      strict_validation: a failed validation stops training (the epoch's
        checkpoint is kept either way); False: logged, training goes on.
      seed: seed for weight initialisation, and for the data order and
        augmentation when ``data.seed`` is None.
      init_checkpoint: the weights the run started from (``train.py
        --init_checkpoint``: a preset name, or a checkpoint's absolute path);
        "" none (``model.pretrained``'s or random); None not recorded (a
        config of an earlier version). A resume with another one is refused:
        its weights would not be loaded.
    """

    batch_size_per_replica: int = 32
    epochs: int = 140
    learning_rate: float = 1e-3
    lr_steps: tuple[int, ...] = (90, 120)
    lr_factor: float = 0.1
    adam_epsilon: float = 1e-8
    weight_decay: float = 0.0
    scale_lr_with_batch: bool = False
    reference_global_batch: int = 128
    use_target_weight: bool = True
    validate_every: int = 1
    val_use_gt_boxes: bool = True
    val_flip_test: bool = False
    final_evaluation: bool = False
    keep_checkpoints: int = 3
    steps_per_epoch: int = 0
    log_every: int = 20
    image_summary_every: int = 500
    precision: str = "fp32"
    jit_compile: bool = False
    steps_per_execution: int = 1
    strict_validation: bool = False
    seed: int = 0
    init_checkpoint: Optional[str] = None

    def __post_init__(self):
        positive = ("batch_size_per_replica", "keep_checkpoints", "reference_global_batch",
                    "steps_per_execution")
        for name in positive:
            check_count(f"train.{name}", getattr(self, name), 1)
        for name in ("epochs", "validate_every", "steps_per_epoch", "log_every",
                     "image_summary_every"):
            check_count(f"train.{name}", getattr(self, name), 0)
        # Epoch indices (0-based): a drop at 0 or below lowers the rate from the
        # start (a negative one was never reached by PyTorch's MultiStepLR).
        check_counts("train.lr_steps", self.lr_steps, 1, " (the epochs after which the "
                     "rate drops; a lower train.learning_rate does it from the start)")
        check_number("train.learning_rate", self.learning_rate, 0, above=True)
        # Negative: gradient ascent; 0: NaN weights on a zero gradient.
        check_number("train.adam_epsilon", self.adam_epsilon, 0, above=True,
                     note=" (the reference's PyTorch default is 1e-8)")
        # A negative factor trained by gradient ascent after the first step, unsaid.
        if not 0 < self.lr_factor < float("inf"):
            raise ConfigError(f"train.lr_factor must be > 0, got {self.lr_factor}")
        if not 0 <= self.weight_decay < float("inf"):
            raise ConfigError(f"train.weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.seed < SEED_LIMIT:  # numpy's and TF's global seeds.
            raise ConfigError(f"train.seed must be in [0, 2**32), got {self.seed}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {PRECISIONS}, "
                              f"got {self.precision!r}")


@dataclasses.dataclass(frozen=True)
class TestConfig:
    """Evaluation and inference.

    Attributes:
      batch_size: images per evaluation batch.
      flip_test: average with the heatmaps of the mirrored crop.
      shift_heatmap: shift the flipped-back heatmaps one pixel right (the
        reference's quirk, worth about +2 AP).
      refine: the codec's sub-pixel refinement of the argmax (``msra``: the
        quarter offset; ``dark``: modulation and Taylor step).
      decoding: decode with this codec instead of ``model.codec`` ("" keeps
        the model's; "msra" or "dark"): DARK decoding on a model trained
        with the official targets, for instance.
      blur_kernel: DARK's modulation kernel size (odd); 0: from the sigma
        as mmpose relates them (11 at sigma 2, 17 at sigma 3, 7 at 1.5).
      use_gt_boxes: True: ground-truth boxes; False: detections; None: the
        detections when ``detection_file`` exists, else ground truth.
      detection_file: COCO detection results, relative to ``data.root``
        unless absolute.
      in_vis_threshold: keypoint scores above it count for rescoring.
      oks_threshold: OKS NMS threshold.
      gt_mat: MPII ``gt_valid.mat``, relative to ``data.root`` unless
        absolute.
    """

    batch_size: int = 32
    flip_test: bool = True
    shift_heatmap: bool = True
    refine: bool = True
    use_gt_boxes: Optional[bool] = None
    detection_file: str = (
        "person_detection_results/COCO_val2017_detections_AP_H_56_person.json")
    in_vis_threshold: float = 0.2
    oks_threshold: float = 0.9
    gt_mat: str = "annot/gt_valid.mat"
    decoding: str = ""
    blur_kernel: int = 0

    def __post_init__(self):
        check_count("test.batch_size", self.batch_size, 1)
        if self.decoding not in ("",) + CODECS:
            raise ConfigError(f"test.decoding must be one of {CODECS} or empty (the "
                              f"model's codec), got {self.decoding!r}")
        if self.blur_kernel < 0 or (self.blur_kernel and self.blur_kernel % 2 == 0):
            raise ConfigError(f"test.blur_kernel must be 0 (from sigma) or a positive odd "
                              f"size, got {self.blur_kernel}")
        # Keypoint scores and OKS lie in [0, 1]: oks_threshold -1 kept 4 of
        # 118 people (AP 0.24 for 0.60) without a word.
        for name in ("in_vis_threshold", "oks_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"test.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: what to build, on what, how to train and test."""

    name: str = "coco_resnet50_256x192"
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    test: TestConfig = TestConfig()
    track: TrackConfig = TrackConfig()

    def __post_init__(self):
        # " tiny " made the folder "output/ tiny "; "" trained into output/ itself.
        object.__setattr__(self, "name", self.name.strip())
        check_run_name(self.name)
        # Taken at any size: 100001 on a 64x48 map cost 6 s and 1.3 GB a
        # batch and moved keypoints by up to 82 px (the map blurred flat).
        widest = 2 * max(self.model.heatmap_size) + 1
        if self.test.blur_kernel > widest:
            raise ConfigError(
                f"test.blur_kernel={self.test.blur_kernel} is wider than twice the heatmap "
                f"({self.model.heatmap_size[0]}x{self.model.heatmap_size[1]}): it blurs the "
                f"map flat; give an odd size up to {widest} (DARK's presets use 11 or 17), or "
                "0 for the one from sigma")

    def replace(self, **sections: Any) -> "ExperimentConfig":
        """Returns a copy with whole sections or ``name`` replaced."""
        return dataclasses.replace(self, **sections)
