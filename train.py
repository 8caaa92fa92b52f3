"""Trains a pose model (and resumes automatically when interrupted).

    python train.py --dataset coco                        # ResNet-50 256x192, data/coco
    python train.py --dataset mpii --experiment mpii_resnet50_384x384
    python train.py --dataset synthetic                   # the tiny demo: train, evaluate, export
    python train.py --dataset coco --set train.epochs=3 --set data.rotation_factor=0

Outputs go to ``--model_dir`` (default ``output/<experiment>``): config.json,
checkpoints/epoch_NNNN/, best/, logs/ (TensorBoard), eval/, saved_model/.
Running the same command again resumes from the latest checkpoint.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", None, "coco, mpii, synthetic or the name of a "
                    "COCO-format data set under data/<name> (default: the experiment's, "
                    "else synthetic).")
flags.DEFINE_string("data_dir", None, "Data set directory (sets data.root; default "
                    "data/<dataset>).")
flags.DEFINE_string("experiment", None, "Named experiment (default: the data set's, "
                    "e.g. coco_resnet50_256x192, mpii_resnet50_256x256, tiny).")
flags.DEFINE_string("model_dir", None, "Output directory (default output/<experiment>).")
flags.DEFINE_multi_string("set", [], "Config override section.field=value (repeatable).")
flags.DEFINE_boolean("mixed_precision", None, "mixed_float16 compute with loss scaling "
                     "(train.mixed_precision).")
flags.DEFINE_boolean("jit_compile", None, "XLA-compile the train step (train.jit_compile).")
flags.DEFINE_string("init_checkpoint", None, "Initialise the weights from this checkpoint "
                    "(e.g. converted official weights); ignored when resuming.")
flags.DEFINE_boolean("augment", True, "Data augmentation (scale, rotation, flip).")
flags.DEFINE_boolean("export", True, "Export a SavedModel at the end.")
flags.DEFINE_boolean("progress", True, "Show a progress bar.")


def build_config():
    """The experiment from the flags: named experiment, --data_dir, --set."""
    import dataclasses
    from keras_pose.configs import apply_overrides, default_experiment, get_experiment
    dataset = FLAGS.dataset
    if FLAGS.experiment:
        config = get_experiment(FLAGS.experiment)
        if dataset and (dataset != config.data.dataset or dataset == "custom"):
            # A named recipe on another data set (e.g. tiny on COCO): its data
            # and test sections and K come from that data set.
            default = default_experiment(dataset)
            config = config.replace(
                data=default.data, test=default.test,
                model=dataclasses.replace(config.model,
                                          num_keypoints=default.model.num_keypoints))
    else:
        config = default_experiment(dataset or "synthetic")
    if FLAGS.data_dir:
        config = config.replace(data=dataclasses.replace(config.data, root=FLAGS.data_dir))
    overrides = list(FLAGS.set)
    if FLAGS.mixed_precision is not None:
        overrides.append(f"train.mixed_precision={str(FLAGS.mixed_precision).lower()}")
    if FLAGS.jit_compile is not None:
        overrides.append(f"train.jit_compile={str(FLAGS.jit_compile).lower()}")
    return apply_overrides(config, overrides)


def _is_user_error(error: BaseException) -> bool:
    return (isinstance(error, (ValueError, OSError, LookupError, RuntimeError))
            and not type(error).__module__.startswith("tensorflow"))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    from keras_pose.training import train
    started = time.time()
    try:
        config = build_config()
        model_dir = FLAGS.model_dir or os.path.join("output", config.name)
        result = train(config, model_dir, init_checkpoint=FLAGS.init_checkpoint,
                       augment=FLAGS.augment, export=FLAGS.export, progress=FLAGS.progress)
    except Exception as e:  # noqa: BLE001 - reported below, or re-raised.
        if not _is_user_error(e):
            raise
        print(f"train.py: error: {e}", file=sys.stderr)
        return 1
    minutes = (time.time() - started) / 60
    print(f"Trained {result.epochs_run} epoch(s) in {minutes:.1f} min; "
          f"{result.state.epoch} epochs done in {result.model_dir}.")
    if result.final_metrics:
        from keras_pose.evaluation.runner import format_metrics_table
        from keras_pose.configs import load_config
        config = load_config(os.path.join(result.model_dir, "config.json"))
        table = format_metrics_table(result.final_metrics, config,
                                     f"validation after epoch {result.state.epoch}")
        print(table, end="")
    if result.saved_model:
        print(f"SavedModel: {result.saved_model}")
    return 0


if __name__ == "__main__":
    app.run(main)
