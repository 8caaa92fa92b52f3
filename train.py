"""Trains a pose model (and resumes automatically when interrupted).

    python train.py --dataset coco                        # ResNet-50 256x192, data/coco
    python train.py --dataset mpii --experiment mpii_resnet50_384x384
    python train.py --dataset synthetic                   # the tiny demo: train, evaluate, export
    python train.py --dataset coco --set train.epochs=3 --set data.rotation_factor=0
    python train.py --dataset ap10k --init_checkpoint simplebaseline_resnet50_coco_256x192

Outputs go to ``--model_dir`` (default ``output/<experiment>``; fine-tuning,
``output/<experiment>_from_<source>``): config.json,
checkpoints/epoch_NNNN/, best/, logs/ (TensorBoard), saved_model/ (and eval/final/
with --final_eval).
Running the same command again resumes from the latest checkpoint; a second
run on the same directory at the same time is refused.
"""

import dataclasses
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", None, "coco, mpii, synthetic or the name of a "
                    "COCO-format data set under data/<name> (default: the experiment's, "
                    "else synthetic).")
flags.DEFINE_string("data_dir", None, "Data set directory (sets data.root; default "
                    "data/<dataset>).")
flags.DEFINE_string("experiment", None, "Named experiment (default: the data set's, "
                    "e.g. coco_resnet50_256x192, mpii_resnet50_256x256, tiny).")
flags.DEFINE_string("model_dir", None, "Output directory (default output/<experiment>; with "
                    "--init_checkpoint, output/<experiment>_from_<its name>).")
flags.DEFINE_multi_string("set", [], "Config override section.field=value (repeatable).")
flags.DEFINE_enum("precision", None, ["fp32", "mixed_bfloat16", "mixed_float16", "auto"],
                  "Training precision (train.precision); auto: bf16 on CPUs with bf16 "
                  "units, fp16 on GPUs, else fp32.")
flags.DEFINE_boolean("mixed_precision", None, "Same as --precision=mixed_float16.")
flags.DEFINE_boolean("jit_compile", None, "XLA-compile the train step (train.jit_compile).")
flags.DEFINE_string("init_checkpoint", None, "Initialise the weights from this checkpoint "
                    "or preset name (fine-tuning: its architecture, input size and input "
                    "normalisation are kept; another K re-initialises the final layer); "
                    "when resuming, its weights are not loaded again, but give it again: it "
                    "sets the model's settings.")
flags.DEFINE_boolean("final_eval", None, "After training, run the full evaluation of "
                     "evaluate.py (test.* settings) once on best/ (train.final_evaluation).")
flags.DEFINE_boolean("augment", True, "Data augmentation (scale, rotation, flip); "
                     "--noaugment runs and records data.flip=false, data.scale_factor=0, "
                     "data.rotation_factor=0, data.rotation_prob=0, data.half_body_prob=0.")
flags.DEFINE_boolean("export", True, "Export a SavedModel at the end.")
flags.DEFINE_boolean("progress", True, "Show a progress bar.")

cli.check_path_flag("model_dir")
cli.check_path_flag("data_dir")
cli.check_path_flag("init_checkpoint")  # "" trained from scratch, unsaid.

# What --noaugment runs and records (keras_pose.training.trainer.train):
# a --set of one of them was replaced by it in silence.
NOAUGMENT_SETTINGS = [("augment", "data.flip", lambda on: None if on else False)] + [
    ("augment", f"data.{name}", lambda on: None if on else 0.0)
    for name in ("scale_factor", "rotation_factor", "rotation_prob", "half_body_prob")]
# --init_checkpoint replaced a --set train.init_checkpoint in silence.
FLAG_SETTINGS = NOAUGMENT_SETTINGS + [("init_checkpoint", "train.init_checkpoint")]


def build_config():
    """The experiment from the flags: named experiment, --data_dir, --set."""
    from keras_pose.configs.cli import build_config as build
    cli.refuse_flag_and_set(FLAG_SETTINGS, FLAGS.set)
    flagged = _flag_overrides()
    overrides = [item for _, item in flagged] + list(FLAGS.set)
    config = build(dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, experiment=FLAGS.experiment,
                   overrides=overrides)
    _refuse_clashes(config, flagged)
    if FLAGS.init_checkpoint:  # The same as --set train.init_checkpoint=...
        config = config.replace(train=dataclasses.replace(
            config.train, init_checkpoint=FLAGS.init_checkpoint))
    if config.train.init_checkpoint:
        from keras_pose.configs.cli import init_checkpoint_config
        source = _source_config(config)
        if source is not None:
            config = init_checkpoint_config(config, source, overrides)
    # Saved with every checkpoint: a relative root meant another folder (or a
    # synthetic set generated there) when the run was resumed or evaluated
    # from another working directory.
    return config.replace(data=dataclasses.replace(
        config.data, root=os.path.abspath(config.data.root)))


def _flag_overrides() -> list[tuple[str, str]]:
    """(the flag as given, the ``train.*`` override it stands for)."""
    flagged = []
    if FLAGS.mixed_precision:
        flagged.append(("--mixed_precision", "train.precision=mixed_float16"))
    if FLAGS.precision:
        flagged.append((f"--precision {FLAGS.precision}", f"train.precision={FLAGS.precision}"))
    for name, key in (("jit_compile", "jit_compile"), ("final_eval", "final_evaluation")):
        if FLAGS[name].value is not None:
            flagged.append((f"--{'' if FLAGS[name].value else 'no'}{name}",
                            f"train.{key}={str(FLAGS[name].value).lower()}"))
    return flagged


def _refuse_clashes(config, flagged: list[tuple[str, str]]) -> None:
    """Refuses two values of one setting, as --data_dir with --set data.root
    is: each flag's value against the one the run got (--set comes last).
    Was settled in silence: the flag won over --set, --precision over
    --mixed_precision, and --nomixed_precision gave way to any."""
    from keras_pose.configs import ConfigError
    for flag, item in flagged:
        key, value = item.split("=", 1)
        got = getattr(config.train, key.split(".", 1)[1])
        if (str(got).lower() if isinstance(got, bool) else got) != value:
            raise ConfigError(f"{flag} and {_other_setter(key, flag, flagged)} give {key} two "
                              "values: give one of them")
    if FLAGS.mixed_precision is False and config.train.precision == "mixed_float16":
        raise ConfigError(f"--nomixed_precision and {_other_setter('train.precision', '', flagged)}"
                          " give train.precision two values: give one of them")


def _other_setter(key: str, flag: str, flagged: list[tuple[str, str]]) -> str:
    """What set ``key`` besides ``flag``: the last --set of it, else another flag."""
    sets = [f"--set {item}" for item in FLAGS.set if item.split("=", 1)[0].strip() == key]
    flags_ = [f for f, item in flagged if f != flag and item.split("=", 1)[0] == key]
    return (sets or flags_ or [f"the experiment's {key}"])[-1]


def _source_config(config):
    """The config of --init_checkpoint (a preset's: the table's, no
    download); when that path is gone, the config of the run it began in
    --model_dir, which resumes without it."""
    from keras_pose.checkpoint import CheckpointError
    from keras_pose.presets import source_config
    try:
        return source_config(config.train.init_checkpoint)
    except CheckpointError as e:
        from keras_pose.configs.cli import default_model_dir
        from keras_pose.training.init_checkpoint import resumed_source_config, source_error
        resumed = resumed_source_config(config.train.init_checkpoint,
                                        FLAGS.model_dir or default_model_dir(config))
        if resumed is None:  # Named the flag only when check_source was reached.
            raise source_error(config.train.init_checkpoint, e) from None
        return resumed


def _note_unfinished_default_run(config, model_dir: str) -> None:
    """A fine-tuning run goes to output/<experiment>_from_<source>; earlier
    versions (and the same command before a release) used
    output/<experiment>: a run there, unfinished, or fine-tuned from this
    source or from an unrecorded one (an earlier version's), was left
    unsaid while the same command started over in the new folder."""
    from keras_pose.training.run_dir import run_progress
    old = os.path.join("output", config.name)
    if FLAGS.model_dir or not config.train.init_checkpoint or os.path.exists(model_dir) \
            or not os.path.isdir(old):
        return
    progress = run_progress(old)
    if not progress:
        return
    done, planned, began = progress
    source = config.train.init_checkpoint
    same = began is not None and began and (began == source or os.path.abspath(
        os.path.expanduser(began)) == os.path.abspath(os.path.expanduser(source)))
    if done >= planned and not same and began is not None:
        return
    how = ("unfinished" if done < planned else f"fine-tuned from {began}" if same
           else "its source not recorded by the version that made it")
    print(f"note: {old} holds a run ({done} of {planned} epochs done; {how}), where earlier "
          f"versions put fine-tuning runs; this one goes to {model_dir}. To continue that run "
          f"instead, stop this one and give --model_dir {old}")


def _refuse_default_run_of_other_data(config, model_dir: str) -> None:
    """The default --model_dir is the experiment's alone (output/<experiment>):
    a second data set trained with the same experiment "resumed" the first's
    run there ("Trained 0 epoch(s)" when it was finished), said only as a
    changed data.root. Refused then; an explicit --model_dir resumes on data
    moved to another folder (the resume warns of the change)."""
    from keras_pose.checkpoint import latest_epoch_checkpoint
    from keras_pose.configs import ConfigError, load_config
    from keras_pose.configs.cli import same_root
    latest = latest_epoch_checkpoint(model_dir)
    if latest is None:
        return
    try:
        saved = load_config(os.path.join(latest, "config.json"))
    except ConfigError:  # The resume names what is wrong with it.
        return
    if saved.data.root and not same_root(saved.data.root, config.data.root):
        raise ConfigError(
            f"{model_dir}, the default --model_dir of experiment {config.name}, holds a run on "
            f"the data set {saved.data.root}, not {config.data.root}: give --model_dir a new "
            f"folder to train on {config.data.root}, or --model_dir {model_dir} to resume "
            f"that run on its data moved to {config.data.root}")


def work() -> int:
    started = time.time()
    config = build_config()
    from keras_pose.configs.cli import default_model_dir
    model_dir = FLAGS.model_dir or default_model_dir(config)
    cli.refuse_names_not_utf8([("--data_dir", FLAGS.data_dir) if FLAGS.data_dir
                               else ("data.root", config.data.root), ("--model_dir", model_dir),
                               *cli.model_paths("--init_checkpoint", config.train.init_checkpoint)])
    if not FLAGS.model_dir:
        _refuse_default_run_of_other_data(config, model_dir)
    _note_unfinished_default_run(config, model_dir)
    from keras_pose.training import train  # TensorFlow: after the cheap checks.
    from keras_pose.training.init_checkpoint import check_source
    if config.train.init_checkpoint and os.path.exists(config.train.init_checkpoint):
        check_source(config.train.init_checkpoint)  # A SavedModel: before the folder is made.
    with cli.unused_folders_removed(model_dir):  # Also the parents it made.
        # Made again by the run's lock, which takes it away if the run writes nothing.
        cli.check_writable_leaving_no_folder(model_dir, "--model_dir")
        result = train(config, model_dir, augment=FLAGS.augment, export=FLAGS.export,
                       progress=FLAGS.progress)
    print(f"Trained {result.epochs_run} epoch(s) in {(time.time() - started) / 60:.1f} min; "
          f"{result.state.epoch} epochs done in {result.model_dir}.")
    if result.state.epoch == 0:  # train.epochs=0: a SavedModel of untrained weights.
        start = (f"the weights of --init_checkpoint {config.train.init_checkpoint}"
                 if config.train.init_checkpoint else "untrained weights (random, or ImageNet's "
                 "backbone)")
        print(f"warning: no epoch was trained (train.epochs={config.train.epochs}): the model "
              f"holds {start}")
    if result.validation_failures:  # Logged as they came; said where the run ends too.
        count = len(result.validation_failures)
        print(f"warning: {count} validation(s) of this run failed, the last: "
              f"{result.validation_failures[-1]}; fix that, then validate the checkpoints "
              "with evaluate.py (or run this command again: a resumed run validates its "
              "last checkpoint)")
    if result.final_table:
        print(result.final_table, end="")
    if result.saved_model:
        print(f"SavedModel: {result.saved_model}{_exported_epoch(result)}")
    return 0


def _exported_epoch(result) -> str:
    """Which epoch the SavedModel holds (best/'s), said where it is not the
    epoch of the table printed above it (the last validated one)."""
    from keras_pose.training.run_dir import best_record
    best = best_record(result.model_dir)
    if best is None:
        return ""
    said = f" (of best/: epoch {best.get('epoch')}, {best.get('metric')} {best['value']:.3f}"
    if result.final_table and best.get("epoch") != result.state.epoch:
        said += f"; the table above is epoch {result.state.epoch}'s"
    return said + ")"


def main(argv):
    """train.py's work: its exit code (0 done; else stopped or failed, said)."""
    return cli.run("train.py", cli.refusing_arguments(argv, work))


def _main_leaving(argv):
    """:func:`main` as the command runs it: a stopped or failed run leaves
    the interpreter without its teardown. Every write is done and said by
    then; the teardown deadlocked at times in a tf.data iterator's
    destructor (minutes alive after the message, seen with gdb) or aborted
    ("terminate called without an active exception"), and a lost worker's
    collective thread pools printed a traceback ("Exception ignored in
    Pool.__del__"). Was in :func:`main` itself: a notebook calling
    ``train.main`` after ``flags.FLAGS(argv)`` lost its kernel on any
    error."""
    code = main(argv)
    if code:
        sys.stdout.flush()
        sys.stderr.flush()
        _remove_autograph_files()
        os._exit(code)
    return code


def _remove_autograph_files() -> None:
    """TF's autograph writes each function it converts to a temporary .py
    file and deletes it at the interpreter's exit, which os._exit skips: a
    stopped or failed run left them in $TMPDIR, and no run removed them.
    TF 2.21 (pinned below 2.22) loads each as a module named
    ``__autograph_generated_file...``, its ``__file__`` the file."""
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name.startswith("__autograph_generated_file") and path:
            try:
                os.remove(path)
            except OSError:  # Already gone (a $TMPDIR cleaner).
                pass


if __name__ == "__main__":
    app.run(_main_leaving, flags_parser=cli.flags_parser)
