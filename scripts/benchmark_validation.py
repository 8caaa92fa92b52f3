"""Cost of one validation during training: crops and seconds.

Compares, in one process and alternating, the validation ``train.py`` runs by
default (the official ``TEST.USE_GT_BBOX: true``, ``TEST.FLIP_TEST: false``:
``train.val_use_gt_boxes`` / ``train.val_flip_test``) with the full
evaluation of ``evaluate.py --flip`` (the detection file and the flip test),
on the same network and data, through the same code training calls
(``keras_pose.evaluation.runner.evaluate`` with the metric loaded once).

    python -m scripts.benchmark_validation --data_dir tests/data/coco

The network is the experiment's with random weights (nothing downloads);
its speed, not its accuracy, matters here.
"""

from __future__ import annotations

import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from scripts import machine  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "tests/data/coco", "A COCO-layout data set with a detection file.")
flags.DEFINE_string("experiment", "coco_resnet50_256x192", "Named experiment.")
flags.DEFINE_string("test_set", "val2017", "Split (its annotation and detection files).")
flags.DEFINE_integer("rounds", 3, "Timed validations of each kind (alternating).")
flags.DEFINE_multi_string("set", [], "Config overrides.")


def _setup(config, use_gt_boxes: bool, flip: bool):
    """Records, metric and estimator of one kind of validation."""
    from keras_pose.data import datasets
    from keras_pose.evaluation.metrics import metric_for
    config = config.replace(test=dataclasses.replace(config.test, use_gt_boxes=use_gt_boxes))
    box_mode = datasets.resolve_box_mode(config, use_gt_boxes)
    records = datasets.load_records(config, "test", box_mode)
    return records, metric_for(config), box_mode, flip


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_validation.py", _work)


def _work():
    import numpy as np

    from keras_pose.configs.cli import build_config
    from keras_pose.evaluation.runner import evaluate
    from keras_pose.inference import TopDownEstimator
    from keras_pose.models import build_model_from_config
    from keras_pose.data import datasets
    config = datasets.resolve_dataset_config(build_config(
        dataset="custom", data_dir=FLAGS.data_dir, experiment=FLAGS.experiment,
        overrides=[f"data.test_set={FLAGS.test_set}", "model.pretrained=none", *FLAGS.set]))
    print(machine.header())
    network = build_model_from_config(config.model)
    kinds = {"training default (GT boxes, no flip)": _setup(config, True, False),
             "evaluate.py --flip (detections, flip)": _setup(config, False, True)}
    # One estimator per kind, made once, as the Validation callback does.
    estimators = {name: TopDownEstimator(lambda x: network(x, training=False), config, flip=flip)
                  for name, (_, _, _, flip) in kinds.items()}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for round_ in range(FLAGS.rounds + 1):
        for name, (records, metric, _, flip) in kinds.items():
            estimator = estimators[name]
            start = time.perf_counter()
            evaluate(estimator, records, metric, batch_size=config.test.batch_size)
            if round_:  # The first round traces: not timed.
                times[name].append(time.perf_counter() - start)
    for name, (records, _, box_mode, flip) in kinds.items():
        crops = len(records) * (2 if flip else 1)
        images = len(np.unique(records.image_id))
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name}: {len(records)} people on {images} images ({box_mode.describe()}), "
              f"{crops} crops; {np.median(times[name]):.2f} s per validation "
              f"(runs: {runs})")


if __name__ == "__main__":
    app.run(main)
