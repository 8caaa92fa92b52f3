"""The validation data of a training run, loaded and checked once before
the first epoch (its ground truth, its keypoints against the training
split's, every image decoded once), and how its values are titled and
recorded."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional

from keras_pose import log as logging
from keras_pose.configs import ExperimentConfig
from keras_pose.data import datasets, pipeline
from keras_pose.data.images import unreadable_images_error
from keras_pose.data.records import PersonRecords
from keras_pose.errors import UserError
from keras_pose.training.callbacks import TrainingError
from keras_pose.training.distribution import resolve_precision


@dataclasses.dataclass
class Validation:
    """What validation during training needs, loaded once."""

    config: ExperimentConfig
    records: Any
    metric: Any
    box_mode: Any

    def table(self, metrics: dict) -> str:
        from keras_pose.evaluation.runner import arch_name, table_title
        # Validation runs the network as it trains: under mixed_bfloat16 its AP
        # is bf16's (0.685 where the saved weights give 0.688), said as such.
        precision = resolve_precision(self.config.train.precision)
        title = table_title(self.config, self.box_mode, self.config.train.val_flip_test,
                            None if precision == "fp32" else f"tf {precision}")
        return self.metric.table(metrics, arch_name(self.config), title) if metrics else ""

    def how(self) -> str:
        """What a validation value depends on besides the weights: data,
        boxes, flip test, and a digest of the settings and files (recorded
        with each value)."""
        from keras_pose.evaluation.runner import table_title, validation_digest
        return (table_title(self.config, self.box_mode, self.config.train.val_flip_test, None)
                + f" | settings {validation_digest(self.config, self.box_mode)}")


def validation_setup(config: ExperimentConfig, chief: bool,
                      train: PersonRecords) -> Optional[Validation]:
    """The validation data and metric, loaded and checked once, before any
    training (against the ``train`` people); None when validation is off or
    the split has no file."""
    t = config.train
    if t.validate_every <= 0 or not chief:
        return None
    val_config = config.replace(test=dataclasses.replace(config.test,
                                                         use_gt_boxes=t.val_use_gt_boxes))
    if not os.path.isfile(datasets.annotation_file(val_config, "test")):
        logging.warning("Validation disabled: no %s", datasets.annotation_file(val_config, "test"))
        return None
    if datasets.is_test_split(val_config):  # Its metric has no number: a KeyError after epoch 1.
        raise TrainingError(
            f"validation split {val_config.data.test_set} "
            f"({datasets.annotation_file(val_config, 'test')}) has no keypoint labels to "
            "score: give a labelled split as --set data.test_set=<split>, or --set "
            "train.validate_every=0 to train without validation")
    from keras_pose.evaluation.metrics import check_records, metric_for
    try:
        box_mode = datasets.resolve_box_mode(val_config, t.val_use_gt_boxes)
        metric = metric_for(val_config)
        records = datasets.load_records(val_config, "test", box_mode)
        # Keypoints in another order would validate every epoch at AP 0, in silence.
        datasets.check_validation_keypoints(
            val_config, records, train, "the model of this run (training split "
            f"{datasets.annotation_file(config, 'train')})")
        check_records(metric, records, val_config)
        bad = pipeline.undecodable_images(records.image_path, val_config.data.num_parallel_calls)
        if bad:  # Found at the first validation instead, it failed every one: no best/.
            raise unreadable_images_error(bad, "the validation images", "; replace them or "
                                          "remove their entries from "
                                          f"{datasets.annotation_file(val_config, 'test')}")
    except UserError as e:  # The way out of the data's problem, or of validating.
        raise TrainingError(f"validation split: {e} (--set train.validate_every=0 trains "
                            "without validation)") from e
    logging.info("Validation every %d epoch(s) and after the last, on %d people of %s with %s, %s",
                 t.validate_every,
                 len(records), val_config.data.test_set, box_mode.describe(),
                 "flip test" if t.val_flip_test else "no flip test")
    return Validation(val_config, records, metric, box_mode)
