"""Exports a checkpoint: a SavedModel for TF Serving, or the network for a
deployment runtime (ONNX Runtime, OpenVINO, LiteRT), at a chosen precision.

    python scripts/export_saved_model.py --checkpoint output/tiny --output exported/tiny
    python scripts/export_saved_model.py --checkpoint simplebaseline_resnet50_coco_256x192 \\
        --output exported/r50 --with_detector dfine_small_obj2coco
    python scripts/export_saved_model.py --checkpoint output/tiny --output exported/tiny \\
        --precision bf16
    python scripts/export_saved_model.py --checkpoint output/tiny --output exported/onnx \\
        --format onnx --precision int8
    saved_model_cli show --dir exported/tiny --all

Formats: ``saved_model`` (signatures ``serving_default``: uint8 images +
boxes -> keypoints, the whole pipeline in the graph; ``heatmaps``; see
``keras_pose.export``), ``onnx``, ``openvino``, ``litert`` (the fused heatmaps
network only: normalised crops -> heatmaps, ``keras_pose.export.runtimes``;
``--output`` is the file, or a directory that receives ``heatmaps.<ext>``).

``--output`` is replaced only when it holds an export of the same format (a
keras_pose SavedModel; an artifact with its sidecar ``.json``), and only
atomically: the new export is written beside it, checked, then swapped in,
the old one removed last. A directory holding anything else (notes, another
model, ``.``) is refused before any work (``keras_pose.export.destination``).
Precisions: ``fp32``, ``bf16`` (SavedModel: bf16 in the graph; OpenVINO),
``fp16`` (SavedModel, for GPUs; LiteRT weights), ``int8`` (ONNX, OpenVINO,
LiteRT; calibrated on ``--calibration_people`` crops of the training split, or
of the evaluation split when only it is on disk),
``auto`` (fp16 on GPUs, bf16 on CPUs with AMX/AVX-512 BF16, fp32 otherwise: the
first that ``--format`` takes, printed). A precision ``--format`` lacks is
refused before anything loads; one export at a time writes an ``--output``.

The accuracy guard: every export other than an fp32 SavedModel is evaluated
against the fp32 Keras model on the data set's evaluation split (its metric,
COCO AP or MPII PCKh Mean, and keypoint displacement) and refused when it
loses more than 0.5 point of it (AP x 100, PCKh in percent),
unless ``--force_precision``; ``--noguard`` skips it (no data set needed).
"""

import errno
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Checkpoint or model directory, or a preset name "
                    "(python -m keras_pose.presets).")
flags.DEFINE_string("output", None, "SavedModel directory, or the runtime's file / a "
                    "directory for it.")
flags.DEFINE_enum("format", "saved_model", ["saved_model", "onnx", "openvino", "litert"],
                  "Export format.")
flags.DEFINE_enum("precision", "fp32", ["fp32", "bf16", "fp16", "int8", "auto"],
                  "Numeric precision of the exported network.")
flags.DEFINE_boolean("flip", None, "Flip test of the export: serving_default's, and recorded "
                     "as its test.flip_test (default: the checkpoint's test.flip_test).")
flags.DEFINE_string("with_detector", None, "SavedModel: also export this keras-hub D-FINE "
                    "person detector (a preset name or directory) and the detect_and_estimate "
                    "signature (image bytes -> every person's box and pose).")
flags.DEFINE_float("detector_threshold", 0.3, "detect_and_estimate's default person score "
                   "threshold.")
flags.DEFINE_string("tflite", None, "Also write the fp32 SavedModel's heatmaps signature as "
                    "this float32 .tflite file, with its sidecar (<name>.json, the config): "
                    "the network for TFLite interpreters of your own, and a LiteRT export "
                    "that predict.py and evaluate.py run.")
flags.DEFINE_boolean("guard", True, "Evaluate the export against fp32 (not needed for an "
                     "fp32 SavedModel) and refuse a drop of its AP / PCKh above --max_ap_drop.")
flags.DEFINE_boolean("force_precision", False, "Export even when the guard fails (logged "
                     "as an error).")
flags.DEFINE_float("max_ap_drop", 0.5, "The guard's limit, in points of the data set's "
                   "metric on a 0-100 scale, the same for every data set: COCO AP x 100, "
                   "MPII PCKh Mean in percent (0.5: half an AP point or half a PCKh point).")
flags.DEFINE_integer("guard_people", 0, "Evaluate the guard on the people of the first "
                     "images up to this many (0: the whole evaluation split).")
flags.DEFINE_integer("calibration_people", 300, "int8: crops of the training split used to "
                     "calibrate (of the evaluation split when only it is on disk).")
flags.DEFINE_string("data_dir", None, "Data set directory (data.root) for calibration and "
                    "the guard; default: the checkpoint's.")
flags.DEFINE_multi_string("set", [], "Config override (test.*: recorded in the export and "
                          "served, e.g. test.decoding=dark; data.*) section.field=value.")
flags.mark_flags_as_required(["checkpoint", "output"])

cli.check_path_flag("output")
cli.check_path_flag("tflite")
cli.check_path_flag("with_detector")  # "$DETECTOR" unset exported none, in silence.
cli.check_path_flag("checkpoint")
cli.check_path_flag("data_dir")  # "" calibrated on the checkpoint's data set, unsaid.

def _overrides() -> list[str]:
    """``--set`` with ``--data_dir`` as ``data.root`` (recorded alike: only
    ``--set data.root`` was); sections other than test.* and data.* are
    refused (``--set train.*`` was recorded and changed nothing)."""
    from keras_pose.errors import FlagError
    for override in FLAGS.set:
        key = override.split("=", 1)[0].strip()
        if FLAGS.data_dir and key == "data.root":  # --data_dir won, unsaid.
            raise FlagError(f"--data_dir {FLAGS.data_dir} and --set {override} name two data "
                            "sets: give one of them")
        section = key.split(".", 1)[0]
        if section not in ("test", "data", "model"):  # model.*: with_overrides says why.
            raise FlagError(f"--set {override}: an export takes test.* (recorded and served) "
                            f"and data.* (calibration, the guard) settings, not {section}.*: "
                            "leave it out")
    return list(FLAGS.set) + ([f"data.root={FLAGS.data_dir}"] if FLAGS.data_dir else [])


def _export_config(config):
    """The checkpoint's config with ``--set`` and ``--flip`` / ``--noflip``:
    what the export records and serves with (they reached only the
    calibration and the guard: ``--set test.decoding=dark`` exported the
    standard decoding, the guard certifying DARK's AP); ``model.*`` and
    unknown settings are refused."""
    from keras_pose.inference import with_overrides
    flip = [] if FLAGS.flip is None else [f"test.flip_test={str(FLAGS.flip).lower()}"]
    return with_overrides(config, _overrides() + flip)


def _config(config):
    from keras_pose.data.datasets import resolve_dataset_config
    return resolve_dataset_config(config)  # _export_config's, with data.root resolved.


def _guard_has_data(config, precision: str) -> bool:
    """Whether the guard can run: an fp32 export (which computes what the
    checkpoint computes) of a checkpoint whose data set is not on disk (a
    checkpoint moved to another machine, a command run from another
    folder) is written unguarded, as predict.py's are, and said so; it
    stopped on the missing data set, blaming --output."""
    from keras_pose.export.cache import dataset_on_disk
    if precision != "fp32" or FLAGS.data_dir or config.data.dataset == "synthetic":
        return True  # The synthetic set is made where it is missing.
    if dataset_on_disk(config):
        return True
    print(f"note: the data set {config.data.root} is not on disk: the fp32 export is not "
          "guarded (it computes what the checkpoint computes; --data_dir DIR guards it)")
    return False


def _data_config(config, precision: str, guarded: bool):
    """The data set's config (:func:`_config`); its absence, or a missing
    detections file for the guard, names the flags (they were found inside
    the export, blaming --output)."""
    from keras_pose.errors import FlagError
    from keras_pose.export.cache import dataset_on_disk
    data_config = _config(config)
    if not dataset_on_disk(data_config):
        needs = "calibrates and guards" if precision == "int8" else "guards"
        raise FlagError(f"the data set {data_config.data.root} (data.root) is not on disk, "
                        f"and it {needs} this {precision} export: give --data_dir DIR (or --set "
                        "data.root=DIR)" + ("" if precision == "int8" else ", or --noguard"))
    if guarded:
        from keras_pose.data.datasets import resolve_box_mode
        resolve_box_mode(data_config)  # The guard's boxes (a missing detections file, named).
    return data_config


def _guard_records(data_config):
    """The guard's people (``guard.guard_records``): a data set whose
    keypoints differ from the checkpoint's (another K, names or order) is
    refused before any export (was: only another K; others were guarded on)."""
    from keras_pose.export.guard import guard_records
    return guard_records(data_config, _owner())


def _detector():
    """``--with_detector``'s detector, loaded before the pose model (a bad
    preset was found after it, blamed on --output); None without it."""
    if not FLAGS.with_detector:
        return None
    from keras_pose.errors import import_required
    import_required("keras_hub.models", "keras-hub", "--with_detector (the D-FINE detector)",
                    instead="or leave --with_detector out (serving_default then takes the "
                    "people's boxes)")
    from keras_pose.detection import KerasHubPersonDetector
    # The signature applies its own threshold, so the detector keeps all. Offline,
    # this tool's ways on (the message gave predict.py's --boxes, --detector none).
    return KerasHubPersonDetector.from_preset(
        os.path.expanduser(FLAGS.with_detector), score_threshold=0.0,
        way_out="or give --with_detector DIR, a local copy of the preset's folder, or leave "
        "--with_detector out (serving_default then takes the people's boxes)")


def _owner() -> str:
    """The model, as the data set's keypoint checks name it."""
    return f"--checkpoint {FLAGS.checkpoint}"


def _calibration(data_config):
    """int8's calibration crops: of the training split, or of the
    evaluation split when only it is on disk (``calibration_split``, as
    the --runtime cache does: a data set with only val was refused)."""
    from keras_pose.export.calibration import calibration_crops, calibration_split
    split = calibration_split(data_config)
    crops = calibration_crops(data_config, FLAGS.calibration_people, split=split,
                              owner=_owner())
    data = data_config.data
    which = data.train_set if split == "train" else \
        f"{data.test_set} (the evaluation split: there is no training split {data.train_set})"
    print(f"calibration: {len(crops)} crops of {data.root} {which}")
    return crops


def _export(model, config, data_config, precision: str, path: str, detector) -> None:
    from keras_pose.export import export_saved_model
    from keras_pose.export.runtimes import export_network
    if FLAGS.format == "saved_model":
        export_saved_model(model, config, path, flip=FLAGS.flip, precision=precision,
                           detector=detector, detector_threshold=FLAGS.detector_threshold)
        return
    crops = _calibration(data_config) if precision == "int8" else None
    export_network(model, config, path, FLAGS.format, precision, calibration=crops)


def _guard(model, config, precision: str, path: str, records) -> None:
    from keras_pose.export import guard
    from keras_pose.inference import load_pose_model
    # The export as users will run it: through the one loader.
    candidate = load_pose_model(path).network
    try:
        # Its table is logged there: printing it here showed it twice.
        guard.guard_on_dataset(
            lambda x: model(x, training=False), candidate, f"{FLAGS.format} {precision}",
            config, max_drop=FLAGS.max_ap_drop / 100, people=FLAGS.guard_people,
            force=FLAGS.force_precision, records=records)
    except guard.AccuracyGuardError as e:
        raise guard.AccuracyGuardError(f"{e}\n(--force_precision to export anyway)") from None


def _about_output(error: BaseException) -> bool:
    """Whether a user's error is about writing the export (a full disk, a
    file of --output or of its temporary): only those are prefixed with
    --output. Was: every one, a missing annotation file and the guard's
    refusal too ("--output ex/x: annotation file ... does not exist")."""
    from keras_pose.files import without_temporary_names
    text = cli.error_message(error)
    if without_temporary_names(text) != text or getattr(error, "errno", None) == errno.ENOSPC:
        return True
    target = os.path.realpath(FLAGS.output)
    for name in (getattr(error, "filename", None), getattr(error, "filename2", None)):
        real = os.path.realpath(without_temporary_names(name)) if isinstance(name, str) else ""
        if real == target or real.startswith(target + os.sep):
            return True
    return False


def _write(model, config, data_config, precision: str, records, detector) -> str:
    """Exports (and guards on ``records``, unless None) at a temporary path
    that replaces ``--output`` atomically; errors about writing it name
    ``--output``, never the temporary path."""
    from keras_pose.export.destination import ExportOutputError, write_export
    from keras_pose.signals import interrupts_kept
    from keras_pose.files import without_temporary_names

    def write(path: str) -> None:
        # A Ctrl-C that a converter lost or wrapped is raised here, before
        # the rename: the old export is kept.
        with interrupts_kept():
            _export(model, config, data_config, precision, path, detector)
            if records is not None:  # Raising here discards the export: nothing is replaced.
                _guard(model, data_config, precision, path, records)

    existed = os.path.exists(FLAGS.output)
    try:
        return write_export(FLAGS.output, FLAGS.format, write)
    except ExportOutputError:
        raise
    except Exception as e:  # noqa: BLE001 - a user's error is renamed, others re-raised.
        if not cli.is_user_error(e) or not _about_output(e):
            raise
        message = without_temporary_names(cli.error_message(e))
        if isinstance(e, OSError) and e.strerror and isinstance(e.filename, str) and \
                os.path.realpath(e.filename) == os.path.realpath(FLAGS.output):
            message = e.strerror  # --output itself: named once.
        if getattr(e, "errno", None) == errno.ENOSPC:
            message += ("; " + ("the earlier export there is unchanged" if existed else
                                "nothing was kept") +
                        ": free space on that disk, or give --output on another disk")
        raise ExportOutputError(f"--output {FLAGS.output}: {message}") from e


def _precision() -> str:
    """``--precision`` for ``--format``, checked before anything loads:
    ``auto`` becomes the machine's fastest that the format takes (said on
    stdout); one the format lacks is refused naming both flags (it was found
    only after the model had loaded, blaming --output)."""
    from keras_pose.errors import FlagError
    from keras_pose.export.precision import FORMAT_PRECISIONS as PRECISIONS
    from keras_pose.export.precision import auto_precision
    fmt, choices = FLAGS.format, PRECISIONS[FLAGS.format]
    if FLAGS.precision == "auto":
        precision, why = auto_precision(choices)
        print(f"--precision auto -> {precision} for --format {fmt} ({why})")
    elif FLAGS.precision not in choices:
        makers = " / ".join(f for f in PRECISIONS if FLAGS.precision in PRECISIONS[f])
        what = "is a quantization of" if FLAGS.precision == "int8" else "is made by"
        raise FlagError(f"--format {fmt} takes --precision {' / '.join(choices)}, not "
                        f"{FLAGS.precision} ({FLAGS.precision} {what} --format {makers})")
    else:
        precision = FLAGS.precision
    if fmt != "saved_model":
        from keras_pose.export.runtimes import check_format
        check_format(fmt, precision)  # A missing runtime package, named.
    return precision


# Files an --output must not be named like, besides the formats' artifacts
# (keras_pose.export.runtimes.SUFFIXES): those written beside an artifact
# (keras_pose.export.destination.artifact_files), and Keras' own model files.
_OTHER_FILES = {".bin": "the weights file beside a --format openvino .xml",
                ".json": "the sidecar (config) file beside a runtime export",
                ".keras": "a Keras model file", ".h5": "a Keras weights file"}


def _check_output_suffix() -> None:
    """An --output named as another format's file (``model.onnx`` without
    --format onnx, ``model.tflite`` with --format onnx, ``model.bin``): was
    written as a folder of that name (``model.onnx/heatmaps.xml``), unsaid,
    which --checkpoint then took for that format's file. A format's own
    suffix names the file only as written (``M.ONNX`` and ``m.onnx/`` were
    folders too)."""
    from keras_pose.errors import FlagError
    from keras_pose.export.runtimes import SUFFIXES
    output, fmt = FLAGS.output, FLAGS.format
    name = output.rstrip(os.sep)
    typed = os.path.splitext(name)[1]  # Named as given; matched in any case.
    suffix, own = typed.lower(), SUFFIXES.get(fmt)
    if own and suffix == own:
        if not output.endswith(own):
            raise FlagError(f"--output {output} names a {own} file, but only a name ending "
                            f"in {own} (lower case, no trailing {os.sep}) is written as the "
                            f"file, this one as a folder: give --output "
                            f"{name[:-len(own)]}{own}, or a folder name without {typed}")
        return
    other = next((f for f, s in SUFFIXES.items() if s == suffix), None)
    if other is None and suffix not in _OTHER_FILES:
        return
    what = f"a --format {other} export" if other else _OTHER_FILES[suffix]
    writes = "a folder" if fmt == "saved_model" else \
        f"a {own} file, or a folder receiving heatmaps{own}"
    way = f"an --output without {typed}" if fmt == "saved_model" else \
        f"an --output ending in {own} (the file) or without {typed} (a folder)"
    raise FlagError(f"--output {output} ends in {typed}, the name of {what}, but --format "
                    f"is {fmt} ({writes}): give " + (f"--format {other}, or " if other else "")
                    + way)


def _check_flags(precision: str) -> None:
    """Values and combinations refused before any work (they were accepted
    and did nothing, turned the guard off (--max_ap_drop nan), or failed
    after the export was written)."""
    from keras_pose.errors import FlagError
    numbers = {"--detector_threshold": (FLAGS.detector_threshold, "in [0, 1]",
                                        0 <= FLAGS.detector_threshold <= 1),
               "--max_ap_drop": (FLAGS.max_ap_drop, "a finite number >= 0",
                                 0 <= FLAGS.max_ap_drop < math.inf),
               "--guard_people": (FLAGS.guard_people, ">= 0 (0: the whole split)",
                                  FLAGS.guard_people >= 0),
               "--calibration_people": (FLAGS.calibration_people, ">= 1",
                                        FLAGS.calibration_people >= 1)}
    for flag, (value, rule, good) in numbers.items():
        if not good:  # NaN fails every comparison: refused too.
            raise FlagError(f"{flag} must be {rule}, got {value}")
    _check_output_suffix()
    if FLAGS["detector_threshold"].present and not FLAGS.with_detector:
        raise FlagError("--detector_threshold is the threshold of --with_detector's "
                        "signature: give --with_detector too, or leave it out")
    if FLAGS.tflite is None:
        return
    if FLAGS.format != "saved_model" or precision != "fp32":
        raise FlagError(f"--tflite writes the fp32 SavedModel's network as float32 TFLite, not "
                        f"with --format {FLAGS.format} --precision {precision}: leave it out, or "
                        "export --format litert (its --precision fp32, fp16 or int8) separately")
    tflite, output = os.path.realpath(FLAGS.tflite), os.path.realpath(FLAGS.output)
    if FLAGS.tflite.endswith(os.sep) or os.path.isdir(FLAGS.tflite):
        raise FlagError(f"--tflite {FLAGS.tflite} names a folder: give the file to write "
                        "(e.g. model.tflite)")
    if tflite == output or tflite.startswith(output + os.sep):
        raise FlagError(f"--tflite {FLAGS.tflite} is inside --output {FLAGS.output}, which holds "
                        "the SavedModel alone: give a path outside it")
    if not FLAGS.tflite.endswith(".tflite"):  # Written, then not found by --checkpoint.
        raise FlagError(f"--tflite {FLAGS.tflite}: give a file name ending in .tflite (what "
                        "predict.py and evaluate.py take as a LiteRT export)")


def work() -> int:
    from keras_pose.checkpoint import load_model
    from keras_pose.export import export_tflite
    from keras_pose.export.destination import check_output, output_lock
    if FLAGS.with_detector and FLAGS.format != "saved_model":
        from keras_pose.errors import FlagError
        raise FlagError(f"--with_detector adds the detector to a SavedModel only, not to "
                        f"--format {FLAGS.format}: leave it out (predict.py runs the detector "
                        "in ONNX Runtime or OpenVINO with --detector_runtime)")
    precision = _precision()
    _check_flags(precision)
    check_output(FLAGS.output, FLAGS.format)  # Before any work: nothing of the user's is lost.
    # TF writes a SavedModel and reads the data set by UTF-8 paths only: such a
    # name failed after the work (UnicodeEncodeError; "Unable to convert").
    cli.refuse_names_not_utf8([*([("--output", FLAGS.output)] if FLAGS.format == "saved_model"
                                 else []), ("--data_dir", FLAGS.data_dir),
                               *cli.set_values(FLAGS.set, "data.root")])
    from keras_pose.presets.loader import source_config
    stored = source_config(FLAGS.checkpoint)
    if stored is not None:
        _export_config(stored)  # A bad --set, refused before the model loads.
    if FLAGS.tflite and FLAGS.format == "saved_model":
        from keras_pose.export.destination import check_tflite_output
        check_tflite_output(FLAGS.tflite, "--tflite")
    # One export at a time into --output: two both said they succeeded, the
    # last to finish silently winning.
    with output_lock(FLAGS.output):
        detector = _detector()
        model, config = load_model(FLAGS.checkpoint)
        config = _export_config(config)
        guarded = FLAGS.guard and (FLAGS.format != "saved_model" or precision != "fp32")
        # The data set's config (data.root, resolved) serves calibration and the
        # guard; the export records data.root as given.
        guarded = guarded and _guard_has_data(config, precision)
        data_config = _data_config(config, precision, guarded) if guarded or precision == "int8" \
            else config
        # The guard's people, read (their keypoints checked) before any export.
        records = _guard_records(data_config) if guarded else None
        path = _write(model, config, data_config, precision, records, detector)
    print(f"{FLAGS.format} ({precision}): {path}")
    if FLAGS.tflite and FLAGS.format == "saved_model":
        try:
            print(f"TFLite (heatmaps): {export_tflite(path, FLAGS.tflite)}")
        except KeyboardInterrupt:
            # Was unsaid: the SavedModel was the new model's, the TFLite file
            # an earlier export's (or none).
            earlier = ("still holds the earlier export" if os.path.exists(FLAGS.tflite)
                       else "was not written")
            print(f"note: stopped while converting --tflite: {FLAGS.tflite} {earlier}; "
                  f"{path} holds this export", file=sys.stderr)
            raise
    return 0


def main(argv):
    cli.refuse_arguments(argv)
    return cli.run("export_saved_model.py", work)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
