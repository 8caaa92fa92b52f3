"""Cost of one validation during training: crops and seconds.

Compares, in one process and alternating, the validation ``train.py`` runs by
default (the official ``TEST.USE_GT_BBOX: true``, ``TEST.FLIP_TEST: false``:
``train.val_use_gt_boxes`` / ``train.val_flip_test``) with the full
evaluation of ``evaluate.py --flip`` (the detection file and the flip test),
on the same network and data, through the same code training calls
(``keras_pose.evaluation.runner.evaluate`` with the metric loaded once).

    python -m scripts.benchmark_validation --data_dir tests/data/coco

``--data_dir`` is a COCO-layout data set, or a flat sample such as
``tests/data/coco`` (``test_coco.json`` beside its images and a
``test_coco_det*.json`` detection file, as ``scripts.pipeline_data`` reads
it): that one is laid out as COCO in a temporary folder (links, no copies).

The network is the experiment's with random weights (nothing downloads);
its speed, not its accuracy, matters here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from scripts import machine  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "tests/data/coco", "A COCO-layout data set with a detection "
                    "file, or a flat sample: test_coco.json beside its images (see above).")
flags.DEFINE_string("experiment", "coco_resnet50_256x192", "Named experiment.")
flags.DEFINE_string("test_set", "val2017", "Split (its annotation and detection files).")
flags.DEFINE_integer("rounds", 3, "Timed validations of each kind (alternating).",
                     lower_bound=1)
flags.DEFINE_multi_string("set", [], "Config overrides.")


SAMPLE_ANNOTATIONS = "test_coco.json"  # The flat sample's file (scripts/pipeline_data.py).


def _is_flat_sample(data_dir: str) -> bool:
    """A folder holding test_coco.json and no COCO ``annotations/`` folder."""
    return (os.path.isfile(os.path.join(data_dir, SAMPLE_ANNOTATIONS))
            and not os.path.isdir(os.path.join(data_dir, "annotations")))


def lay_out_sample(data_dir: str, root: str, split: str, detection_file: str) -> None:
    """The flat sample ``data_dir`` as a COCO-layout data set in ``root``
    (symbolic links): ``annotations/person_keypoints_<split>.json``,
    ``images/<split>/`` and the config's ``detection_file`` (relative to
    ``root``; an absolute one is the user's own) from the sample's
    ``test_coco_det*.json``, when it has one."""
    images = os.path.join(root, "images", split)
    os.makedirs(images)
    os.makedirs(os.path.join(root, "annotations"))
    os.symlink(os.path.abspath(os.path.join(data_dir, SAMPLE_ANNOTATIONS)),
               os.path.join(root, "annotations", f"person_keypoints_{split}.json"))
    for name in os.listdir(data_dir):
        if name.lower().endswith((".jpg", ".jpeg", ".png")):
            os.symlink(os.path.abspath(os.path.join(data_dir, name)), os.path.join(images, name))
    detections = sorted(glob.glob(os.path.join(data_dir, "test_coco_det*.json")))
    target = os.path.normpath(os.path.join(root, detection_file))
    if detections and target.startswith(os.path.join(root, "")):  # Never outside root.
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.path.abspath(detections[0]), target)


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
    from keras_pose.configs.cli import build_config
    config = build_config(
        dataset="custom", data_dir=FLAGS.data_dir, experiment=FLAGS.experiment,
        overrides=[f"data.test_set={FLAGS.test_set}", "model.pretrained=none", *FLAGS.set])
    with contextlib.ExitStack() as stack:
        if _is_flat_sample(config.data.root):  # The default, tests/data/coco.
            root = os.path.join(stack.enter_context(tempfile.TemporaryDirectory()), "coco")
            lay_out_sample(config.data.root, root, config.data.test_set,
                           config.test.detection_file)
            config = config.replace(data=dataclasses.replace(config.data, root=root))
        _measure(config)


def _measure(config):
    """Times both kinds of validation on ``config``'s data set, alternating."""
    import numpy as np

    from keras_pose.evaluation.runner import evaluate
    from keras_pose.inference import TopDownEstimator
    from keras_pose.models import build_model_from_config
    from keras_pose.data import datasets
    config = datasets.resolve_dataset_config(config)
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
    app.run(main, flags_parser=cli.flags_parser)
