r"""Evaluates a pose model: COCO OKS AP (COCOeval) or MPII PCKh.

    python evaluate.py --dataset coco --data_dir data/coco \
        --checkpoint runs/r50/best --flip --output_dir runs/r50/eval

    python evaluate.py --checkpoint simplebaseline_resnet50_coco_256x192 --data_dir data/coco
    python evaluate.py --flip    # the default preset (predict.py's) on data/coco val2017

``--checkpoint`` takes a checkpoint directory written by train.py, a model
directory (its best checkpoint), an exported SavedModel, a pretrained
preset name (``python -m keras_pose.presets``; downloaded and converted
once, evaluated with what its config records), or an ONNX / OpenVINO /
LiteRT export (``.onnx``, ``.xml``, ``.tflite``, or a directory holding
one): the AP is the one that export gives. A preset's data set is looked
for before its weights download. ``--runtime`` and
``--precision`` evaluate a checkpoint through an export made (calibrated on
the data set's training split, checked by the accuracy guard) on first use
and cached beside it; metrics.json and table.md say which runtime and
precision ran. COCO-format sets
use the reference person detections when the file is present (else
ground-truth boxes); ``--use_gt_boxes`` or ``--detections FILE`` choose
explicitly, and the table header says which boxes were used. The table goes
to stdout; ``--output_dir`` receives metrics.json, table.md and the results
JSON (COCO) or pred.mat (MPII).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from keras_pose import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", None, "coco, mpii, synthetic or the name of a "
                    "COCO-format data set under data/<name>; default: the "
                    "checkpoint's data set.")
flags.DEFINE_string("data_dir", None, "Data set directory (sets data.root).")
flags.DEFINE_string("experiment", None, "Named experiment to start from "
                    "(default: the checkpoint's config).")
flags.DEFINE_string("checkpoint", None, "Checkpoint directory, model directory, "
                    "SavedModel, preset name (python -m keras_pose.presets), or an .onnx / .xml / "
                    ".tflite export; default: the preset predict.py uses by default.")
cli.define_runtime_flags()
flags.adopt_module_key_flags(cli)  # --help lists them as this script's
flags.DEFINE_boolean("flip", None, "Flip test (--flip / --noflip); default: "
                     "test.flip_test of the config.")
flags.DEFINE_boolean("use_gt_boxes", None, "Evaluate on ground-truth boxes "
                     "(COCO-format sets); default: test.use_gt_boxes.")
flags.DEFINE_string("detections", None, "COCO detection results file of the "
                    "person boxes to evaluate on.")
flags.DEFINE_string("output_dir", None, "Where metrics.json, table.md and "
                    "the results go.")
flags.DEFINE_multi_string("set", [], "Config override section.field=value "
                          "(repeatable).")
flags.DEFINE_integer("batch_size", None, "Evaluation batch size "
                     "(test.batch_size).", lower_bound=1)  # 0 fell back to the config's.
flags.DEFINE_boolean("progress", True, "Show a progress bar.")

cli.check_path_flag("output_dir")
# "" (an unset variable) fell back to the default preset, unsaid.
cli.check_path_flag("checkpoint")
cli.check_path_flag("detections")
cli.check_path_flag("data_dir")


def _checkpoint() -> str:
    """--checkpoint, or the default preset (named on stdout, as predict.py does)."""
    if FLAGS.checkpoint:
        return FLAGS.checkpoint
    from keras_pose import presets
    print(f"pose model: preset {presets.DEFAULT_PRESET} (the default; --checkpoint chooses "
          f"another, {presets.LIST_COMMAND} lists them)")
    return presets.DEFAULT_PRESET


# A flag and the --set of its setting: the flag won in silence (the file of
# --set test.detection_file was never read beside --use_gt_boxes or --detections;
# --batch_size 4 ran beside --set test.batch_size=64).
FLAG_SETTINGS = [
    ("flip", "test.flip_test"), ("use_gt_boxes", "test.use_gt_boxes"),
    ("use_gt_boxes", "test.detection_file", lambda given: "" if given else None),
    ("detections", "test.detection_file"),
    ("detections", "test.use_gt_boxes", lambda path: False),
    ("batch_size", "test.batch_size")]


def work() -> int:
    from keras_pose.configs.cli import refuse_model_overrides
    cli.refuse_flag_and_set(FLAG_SETTINGS, FLAGS.set)
    # By key, first: applied, model.image_size asked for model.heatmap_size too.
    refuse_model_overrides(FLAGS.set, "at evaluation")
    cli.refuse_names_not_utf8([("--data_dir", FLAGS.data_dir),
                               *cli.set_values(FLAGS.set, "data.root"),
                               *cli.model_paths("--checkpoint", FLAGS.checkpoint, FLAGS.runtime)])
    if not FLAGS.output_dir:
        return _evaluate()
    # Two evaluations into one folder would leave one's results beside the other's numbers.
    with cli.locked_output_dir(FLAGS.output_dir, run="evaluate.py run"):
        return _evaluate()


def _use_gt_boxes():
    """--use_gt_boxes; a detections file named with --set test.detection_file
    must be used (a missing one fell back to ground-truth boxes, unsaid)."""
    named = any(item.split("=", 1)[0].strip() == "test.detection_file" for item in FLAGS.set)
    return False if FLAGS.use_gt_boxes is None and named else FLAGS.use_gt_boxes


def _where_scored(config, written: list) -> str:
    """Where a test split's predictions are scored: COCO's test-dev by its
    evaluation server; MPII's test set by its authors (no server)."""
    if config.data.dataset == "mpii":
        from keras_pose.evaluation.mpii import TEST_SUBMISSION
        return TEST_SUBMISSION
    return f"submit {' or '.join(written) or 'them'} to the benchmark's server"


def _evaluate() -> int:
    from keras_pose.evaluation.runner import run_evaluation
    result = run_evaluation(
        checkpoint=_checkpoint(), dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
        experiment=FLAGS.experiment, flip=FLAGS.flip, use_gt_boxes=_use_gt_boxes(),
        detection_file=FLAGS.detections, output_dir=FLAGS.output_dir, overrides=FLAGS.set,
        batch_size=FLAGS.batch_size, progress=FLAGS.progress, runtime=FLAGS.runtime,
        precision=FLAGS.precision)
    if result.table:
        print(result.table, end="")
    else:  # MPII's is pred.mat, COCO's the results folder's file.
        written = [name for name in ("results", "pred.mat")
                   if os.path.exists(os.path.join(FLAGS.output_dir, name))]
        print(f"{result.title}\nNo ground truth for split {result.config.data.test_set}: "
              f"predictions written to {FLAGS.output_dir} only "
              f"({_where_scored(result.config, written)}).")
    if result.metrics_file:
        logging.info("Wrote %s", result.metrics_file)
    return 0


def main(argv):
    return cli.run("evaluate.py", cli.refusing_arguments(argv, work))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
