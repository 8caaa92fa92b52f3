"""Keypoints for the people in your images, videos and frame folders.

    python predict.py --input photo.jpg                   # the default COCO preset
    python predict.py --checkpoint simplebaseline_resnet50_coco_256x192 --input photo.jpg
    python predict.py --list_presets                      # every pretrained preset
    python predict.py --list_presets ap10k                # those of a data set or name part
    python predict.py --checkpoint output/tiny --input photo.jpg --output_dir out
    python predict.py --checkpoint model/saved_model --input photos/ --boxes detections.json
    python predict.py --checkpoint output/tiny --input clip.mp4 --track --output_dir out
    python predict.py --checkpoint out/openvino/heatmaps.xml --input photos/
    python predict.py --checkpoint output/tiny --runtime openvino --precision int8 --input photos/

``--checkpoint`` is a checkpoint, a model directory, a SavedModel or a
pretrained preset name (downloaded and converted once into the cache);
without it, the default COCO preset (``keras_pose.presets.DEFAULT_PRESET``)
is used and named. Top-down: people need boxes. By default a COCO-trained person detector from
keras-hub (D-FINE, downloaded on first use) finds them; ``--boxes FILE``
takes COCO detection results or ``{"relative/path.jpg": [[x, y, w, h], ...]}``
instead, and ``--detector none`` takes each whole image as one person.
``--detector_runtime onnxruntime`` or ``openvino`` runs the detector's network
in that runtime (exported on first use, then cached). A SavedModel exported
with its detector (``--with_detector``) finds the people with that one unless
another is asked for.
Folders are searched recursively; every output mirrors the input's path
relative to ``--input``: ``<path>.pose.<ext>`` images, ``predictions.json``
(COCO results + ``file_name``), for videos ``<path>.pose.avi`` and
``<path>.frames.json``, with ``--track`` also ``<path>.posetrack.json``
(videos and each folder of frames). Unreadable inputs are reported and
skipped (the exit code is 1 if no input could be read); a write that fails
is reported and the exit code is 1. Progress goes to stderr (a bar on a
terminal, else a log line at most every 30 s; ``--noprogress``: none);
none of it goes to stdout.

``--checkpoint`` also takes an ONNX / OpenVINO / LiteRT export; ``--runtime``
and ``--precision`` run a checkpoint through an export made on first use
(``keras_pose.export.cache``): when the checkpoint's data set is not on
disk, the people found in the inputs calibrate and check it.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from keras_pose.errors import FlagError  # noqa: E402
from keras_pose.prediction.outputs import FRAMES_FPS, MAX_VIDEO_FPS  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Checkpoint, model directory, SavedModel, preset "
                    "name (--list_presets), or an .onnx / .xml / .tflite export (or a directory "
                    "holding one); default: the default COCO preset.")
flags.DEFINE_boolean("list_presets", False, "List the pretrained presets with their published "
                     "numbers, and exit; one filter may follow (a part of a name or a data "
                     "set: --list_presets ap10k).")
cli.define_runtime_flags()
flags.adopt_module_key_flags(cli)  # --help lists them as this script's
flags.DEFINE_string("input", None, "An image, a video, a folder or a glob pattern.")
flags.DEFINE_string("output_dir", "predictions", "Where the outputs go.")
flags.DEFINE_string("boxes", None, "Person boxes: COCO detection results or {path: boxes}.")
flags.DEFINE_string("detector", None, "A keras-hub D-FINE preset name or directory "
                    "(default dfine_small_obj2coco), or none: each image is one person.")
flags.DEFINE_enum("detector_runtime", "tf", ["tf", "onnxruntime", "openvino"],
                  "Where the D-FINE detector's network runs: TensorFlow, or exported once "
                  "(cached in ~/.keras/keras_pose/detectors) to ONNX Runtime or OpenVINO, "
                  "the same boxes within 0.1 px.")
flags.DEFINE_enum("detector_precision", "fp32", ["fp32", "bf16", "int8"],
                  "The --detector_runtime network's precision: bf16 (openvino; faster on CPUs "
                  "with bf16 units) or int8, each kept only if its boxes agree with fp32's on "
                  "the first 16 images or frames of --input (else fp32 runs, with a warning).")
flags.DEFINE_string("annotations", None, "A COCO annotation or image-info file: image ids "
                    "for the outputs and for detections keyed by image id.")
flags.DEFINE_boolean("track", False, "Track people across the frames of videos and of "
                     "each folder of frames (the paper's flow-based tracker).")
flags.DEFINE_float("frames_fps", FRAMES_FPS, "Frame rate of the annotated video of a "
                   "folder of frames (--track); videos keep their own.", lower_bound=0.1,
                   upper_bound=MAX_VIDEO_FPS)  # inf hung OpenCV's writer, nan failed it.
flags.DEFINE_boolean("recursive", True, "Search the subfolders of an --input folder.")
flags.DEFINE_enum("exif_orientation", "auto", ["auto", "apply", "ignore"],
                  "Photos with an EXIF orientation tag and videos with rotation metadata (a "
                  "phone's): apply = turned as "
                  "image viewers show them (keypoints, boxes and drawings in that frame); "
                  "ignore = the stored pixels (the frame of COCO-style annotations and "
                  "boxes files); auto = apply, unless --boxes or --annotations is given.")
flags.DEFINE_boolean("flip", None, "Flip test (--flip / --noflip); default: test.flip_test of "
                     "the config (true unless --set test.flip_test=false or the checkpoint "
                     "says otherwise).")
flags.DEFINE_float("score_threshold", 0.2, "Keypoints drawn above this score.")
flags.DEFINE_float("box_threshold", None, "Person boxes below this score are ignored "
                   "(default: the detector's: 0.3 for D-FINE, 0 for boxes files, the export's "
                   "--detector_threshold for the detector inside a SavedModel).",
                   lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_multi_string("set", [], "Config override section.field=value of the checkpoint's "
                          "config, e.g. test.shift_heatmap=false or track.num_previous_frames=1.")
flags.DEFINE_boolean("progress", True, "Show the progress over the photos and the frames of "
                     "each video on stderr (--noprogress: none): a bar on a terminal, else a "
                     "log line at most every 30 s.")

# nan (and inf) was taken, failing with a traceback where first used (--score_threshold:
# after the model loaded and the first image was predicted).
cli.check_finite_flag("frames_fps")
cli.check_finite_flag("score_threshold")
cli.check_finite_flag("box_threshold")
cli.check_path_flag("output_dir")
# "" (an unset variable) fell back to the default preset or detector, unsaid.
cli.check_path_flag("checkpoint")
cli.check_path_flag("boxes")
cli.check_path_flag("detector")
cli.check_path_flag("annotations")


def _image_ids(path):
    """{file_name: id} of an annotation file's images."""
    from keras_pose.special_files import special_file_refusal
    from keras_pose.errors import FlagError
    refusal = special_file_refusal(path, "--annotations")  # A pipe blocked unsaid.
    if refusal:
        raise FlagError(f"--annotations {path} {refusal}")
    try:
        with open(path, encoding="utf-8-sig") as f:  # A byte-order mark is no error.
            images = json.load(f)["images"]
        return {str(im["file_name"]): int(im["id"]) for im in images}
    except MemoryError as e:  # Was a MemoryError traceback.
        raise FlagError(f"--annotations {path}: too large to read (this machine's memory ran "
                        "out); give an image-info file (its 'images' only)") from e
    except OSError as e:  # Was "not a COCO annotation file" for a file it could not read.
        raise FlagError(f"--annotations {path}: cannot be read ({e.strerror})") from e
    except (ValueError, KeyError, TypeError) as e:
        raise FlagError(f"--annotations {path}: not a COCO annotation file ({e})") from e


def _upright() -> bool:
    """--exif_orientation: turn photos upright? A boxes or annotation file's
    coordinates are the stored pixels' (COCO's, and the reference ignores
    the tag), so auto keeps those."""
    if FLAGS.exif_orientation == "auto":
        return not (FLAGS.boxes or FLAGS.annotations)
    return FLAGS.exif_orientation == "apply"


def _detector_inside(pose_model):
    """The person detector a SavedModel carries (export_saved_model.py
    --with_detector), when no other is asked for; else None, said when it
    is passed over (predict.py ran the default preset beside it, unsaid)."""
    from keras_pose.detection.saved_model_detector import SavedModelDetector, has_detector
    if pose_model.saved_model is None or not has_detector(pose_model.saved_model):
        return None
    other = [flag for flag, given in (
        ("--detector", FLAGS.detector), ("--boxes", FLAGS.boxes),
        ("--detector_runtime", FLAGS.detector_runtime != "tf"),
        ("--detector_precision", FLAGS.detector_precision != "fp32")) if given]
    if other:
        print(f"note: the person detector inside {pose_model.path} is not used: "
              f"{' and '.join(other)} given")
        return None
    print(f"note: people are found by the person detector inside {pose_model.path}")
    return SavedModelDetector(pose_model.saved_model, pose_model.path,
                              score_threshold=FLAGS.box_threshold)


def _without_own_outputs(found):
    """The inputs less predict.py's own outputs under --input (an earlier
    run's annotated copies), named in a note. A file named on its own is
    read whatever its name (as the README says), a copy too.

    Raises:
      FlagError: nothing is left (was a run over 0 inputs that moved the
        earlier predictions.json aside and wrote []), or the copies would
        overwrite inputs.
    """
    from keras_pose.prediction.own_outputs import overwritten_inputs, without_own_outputs
    inputs, left_out = ((found, []) if os.path.isfile(FLAGS.input) else
                        without_own_outputs(found, FLAGS.output_dir))
    why = (f"predict.py's own outputs (an earlier run's annotated copies, in --output_dir "
           f"{FLAGS.output_dir} or a folder holding its predictions.json)")
    if not inputs:
        raise FlagError(f"--input {FLAGS.input}: all {len(left_out)} file(s) under it are {why}: "
                        f"{_listed([item.key for item in left_out])}; give the original photos' "
                        "folder (or name one copy on its own to run it)")
    if left_out:
        print(f"note: {len(left_out)} file(s) under --input are {why}, left out: "
              f"{_listed([item.key for item in left_out])}")
    clash = overwritten_inputs(inputs, FLAGS.output_dir)
    if clash:  # A user's own x.pose.jpg beside x.jpg was overwritten.
        raise FlagError(f"--output_dir {FLAGS.output_dir}: the annotated copies would "
                        f"overwrite input(s) {_listed(clash)}; use another --output_dir")
    return inputs


def _setup(checkpoint, found):
    from keras_pose.detection import make_detector
    from keras_pose.inference import Predictor
    inputs = _without_own_outputs(found)
    image_ids = listed_ids = None
    if FLAGS.annotations:  # {input key: image id}, matched by path relative to --input.
        from keras_pose.prediction.image_ids import image_ids_of_inputs, listed_image_ids
        file_ids = _image_ids(FLAGS.annotations)
        image_ids = image_ids_of_inputs(file_ids, [item.key for item in inputs],
                                        FLAGS.annotations)
        # A boxes file's image ids are the annotation file's: not those made
        # up for the inputs it does not list (another image's there, maybe).
        listed_ids = listed_image_ids(image_ids, file_ids)
    predictor = Predictor.from_checkpoint(checkpoint, FLAGS.set)
    if FLAGS.runtime or FLAGS.precision:  # Refused before the detector loads (offline it
        from keras_pose.export.cache import check_request  # said it cannot be downloaded).
        check_request(predictor.pose_model, FLAGS.runtime, FLAGS.precision)
    from keras_pose.prediction.input_pixels import calibration_images
    detector = _detector_inside(predictor.pose_model)
    if detector is None:
        # A boxes file's COCO results are kept for the model's keypoint categories.
        detector = make_detector(
            FLAGS.detector, FLAGS.boxes, score_threshold=FLAGS.box_threshold,
            category_ids=predictor.config.data.category_ids or (1,),
            runtime=FLAGS.detector_runtime, precision=FLAGS.detector_precision,
            calibration_images=lambda: calibration_images(inputs, upright=_upright()))
    if hasattr(detector, "bind"):
        detector.bind([item.key for item in inputs], listed_ids,
                      {item.key: item.path for item in inputs})
    if FLAGS.runtime or FLAGS.precision:
        # The checkpoint's own network first (its config names the keypoint
        # categories the detector keeps); then its export, calibrated on the
        # people the detector finds in these inputs when no data set is there.
        from keras_pose.export.cache import runtime_model
        from keras_pose.prediction.input_pixels import input_people
        predictor = Predictor(runtime_model(
            predictor.pose_model, FLAGS.runtime, FLAGS.precision,
            samples=lambda: input_people(inputs, detector, _upright())))
    return inputs, predictor, detector, image_ids


def _model_name(checkpoint: str) -> str:
    """The pose model as the marks of partial outputs name it: the
    checkpoint's real path (or the preset's name), and the runtime and
    precision when given. A stopped run's outputs of another model are
    kept aside by the next run, never replaced (earlier_outputs._drop)."""
    name = os.path.realpath(checkpoint) if os.path.exists(checkpoint) else checkpoint
    given = [f"--{flag} {value}" for flag, value in (("runtime", FLAGS.runtime),
                                                      ("precision", FLAGS.precision)) if value]
    return " ".join([name] + given)


def _checkpoint() -> str:
    """--checkpoint, or the default preset (named on stdout); a name that is
    neither a path nor a preset stops here, naming close presets."""
    from keras_pose import presets
    if FLAGS.checkpoint:
        name = FLAGS.checkpoint
        if not os.path.exists(name) and not presets.is_preset(name):
            raise FlagError(presets.missing_message(name))
        if presets.is_preset(name) and not os.path.exists(name):
            print(f"pose model: preset {name}")
    else:
        name = presets.DEFAULT_PRESET
        print(f"pose model: preset {name} (the default; --checkpoint chooses another, "
              "--list_presets lists them)")
    if presets.is_preset(name) and not os.path.exists(name):
        preset = presets.get_preset(name)
        if preset.dataset not in ("coco", "mpii", "crowdpose", "aic", "posetrack18") \
                and not (FLAGS.boxes or FLAGS.detector):
            print(f"note: {name} is a {preset.dataset} model; the default detector finds "
                  "people: give --boxes (or --detector none for crops)")
    return name


def work() -> int:
    from keras_pose.prediction.inputs import find_inputs
    if FLAGS.list_presets:
        return _list_presets([])
    if not FLAGS.input:
        raise FlagError("--input is required (an image, a video, a folder or a glob pattern)")
    cli.refuse_flag_and_set([("flip", "test.flip_test")], FLAGS.set)  # The flag won, unsaid.
    if not FLAGS.track:
        _refuse_tracking_only()
    checkpoint = _checkpoint()
    cli.refuse_names_not_utf8(cli.model_paths("--checkpoint", checkpoint, FLAGS.runtime))
    found, unread = find_inputs(FLAGS.input, FLAGS.recursive)
    if unread:
        print(f"note: --input {FLAGS.input}: {unread}")
    # Two runs writing one predictions.json would interleave their bytes.
    with cli.locked_output_dir(FLAGS.output_dir, run="predict.py run"):
        return _predict(checkpoint, found)


def _refuse_tracking_only() -> None:
    """--frames_fps or a --set track.* without --track: taken, and unused."""
    keys = [item.split("=", 1)[0].strip() for item in FLAGS.set or []]
    given = (["--frames_fps"] if FLAGS["frames_fps"].present else []) + [
        f"--set {key}" for key in keys if key.startswith("track.")]
    if given:
        raise FlagError(f"{', '.join(given)}: used by the tracker only; give --track too, or "
                        "leave them out")


def _predict(checkpoint, found) -> int:
    from keras_pose.prediction.outputs import JsonListFile, previous_path
    from keras_pose.prediction.runner import PredictionRun
    inputs, predictor, detector, image_ids = _setup(checkpoint, found)
    flip = predictor.config.test.flip_test if FLAGS.flip is None else FLAGS.flip
    run = PredictionRun(predictor, detector, FLAGS.output_dir, flip=flip,
                        score_threshold=FLAGS.score_threshold, image_ids=image_ids,
                        upright=_upright(), model=_model_name(checkpoint),
                        progress=FLAGS.progress)
    if FLAGS.track:  # Before any file is touched: it may refuse the model.
        run.check_posetrack_keypoints()  # Before the first frame, not after the video.
    images = [item for item in inputs if not item.is_video]
    from keras_pose.prediction.own_outputs import record_input_root
    record_input_root(FLAGS.output_dir, inputs)  # Its copies are known as such later.
    # Its entries: the images' (videos and tracked folders have files of their own).
    predictions = JsonListFile(run.writer, os.path.join(FLAGS.output_dir, "predictions.json"),
                                  {} if FLAGS.track else {item.key: os.path.abspath(item.path)
                                                          for item in images})
    if predictions.kept_earlier:
        print(f"note: {predictions.path} of an earlier run, with results of other inputs, "
              f"is kept as {predictions.kept_earlier}")
    if predictions.kept_earlier_previous:
        print(f"note: the results of other inputs that a stopped rerun kept as "
              f"{previous_path(predictions.path)} are kept as "
              f"{predictions.kept_earlier_previous}")
    completed = False
    try:
        if FLAGS.track:
            run.folders(images, predictor.config.track, FLAGS.frames_fps)
        else:
            run.images(images, predictions)
        for item in inputs:
            if item.is_video:
                run.video(item, FLAGS.track, predictor.config.track)
        completed = True
    finally:
        if completed:
            predictions.close()
        else:  # Before its first entry: the earlier results back in place.
            predictions.finish(complete=False)
    return _report(run, predictions, inputs)


def _tracker_drops(summary, track, num_keypoints: int) -> str:
    """What the tracker's thresholds dropped, and the settings that decide
    (only those that can still be lowered are suggested)."""
    from keras_pose.tracking.tracker import tracked_min_keypoints
    parts, lower = [], []
    if summary.low_score_detections:
        parts.append(f"{summary.low_score_detections} detected box(es) scoring below "
                     f"track.detection_threshold={track.detection_threshold}")
        lower.append(f"track.detection_threshold={track.detection_threshold / 2:g}")
    if summary.unconfident_poses:
        needed = tracked_min_keypoints(track, num_keypoints)
        parts.append(f"{summary.unconfident_poses} pose(s) of detected boxes with fewer than "
                     f"{needed} joints (track.min_keypoints={track.min_keypoints}, at most the "
                     f"model's {num_keypoints}) scoring at least "
                     f"track.keypoint_threshold={track.keypoint_threshold}")
        if track.keypoint_threshold > 0:
            lower.append(f"track.keypoint_threshold={track.keypoint_threshold / 2:g}")
        if needed > 2:
            lower.append("track.min_keypoints=2")
    if summary.duplicate_poses:
        parts.append(f"{summary.duplicate_poses} pose(s) of detected boxes within OKS "
                     f"track.pose_nms_oks={track.pose_nms_oks} of a better pose (a second box "
                     "on one person)")
        lower.append("track.pose_nms_oks=1")
    keep = ("; to keep more, e.g. " + " ".join(f"--set {s}" for s in lower)) if lower else ""
    return f"  --track dropped {' and '.join(parts)} (the tracker's rules{keep})"


def _listed(keys) -> str:
    return ", ".join(keys[:10]) + (" ..." if len(keys) > 10 else "")


def _report_orientation(summary) -> None:
    if summary.turned:
        print(f"  {len(summary.turned)} photo(s) or video(s) turned upright as their EXIF "
              f"orientation or rotation metadata says (their keypoints are in that frame; "
              f"--exif_orientation ignore keeps the stored pixels): {_listed(summary.turned)}")
    if summary.not_turned:
        why = ("as " + ("--boxes" if FLAGS.boxes else "--annotations") + " is given: its "
               "coordinates are taken in the stored pixels, as a data set's are"
               if FLAGS.exif_orientation == "auto" else "--exif_orientation ignore")
        # A predictions.json of a run without --boxes, given back as --boxes,
        # is in the upright frame: its people were found off their place.
        print(f"  {len(summary.not_turned)} photo(s) or video(s) have an EXIF orientation tag or "
              f"rotation metadata, not applied "
              f"({why}; --exif_orientation apply turns them, and is needed when the boxes are "
              f"of the upright photos, such as predict.py's predictions.json of a run without "
              f"--boxes): {_listed(summary.not_turned)}")


def _report_boxes(run) -> None:
    """The inputs --boxes gives no boxes, and its boxes that were not run:
    off their image, or below the threshold in effect (was "None" when
    --box_threshold was not given)."""
    if run.summary.no_boxes:
        people = ("only people carried over from earlier frames" if FLAGS.track
                  else "0 people")
        print(f"  {len(run.summary.no_boxes)} input(s) have no boxes in {FLAGS.boxes} "
              f"({people}): {_listed(run.summary.no_boxes)}")
    detector = run.detector
    off = getattr(detector, "off_image", 0)
    if off:
        print(f"  {off} box(es) of {FLAGS.boxes} do not overlap their image (or are more than "
              "10 times its size) and were not run: boxes of another image's pixels?")
    below = getattr(detector, "below_threshold", 0)
    if below:
        threshold = getattr(detector, "score_threshold", FLAGS.box_threshold)
        default = "" if FLAGS.box_threshold is not None else " (the default for a boxes file)"
        print(f"  {below} box(es) of {FLAGS.boxes} scored below --box_threshold "
              f"{threshold:g}{default} and were not run")


def _report(run, predictions, inputs) -> int:
    summary = run.summary
    nothing_read = summary.unreadable and not summary.processed
    if nothing_read:
        earlier = predictions.kept_earlier or predictions.previous
        predictions.withdraw()  # No result: the folder as it was.
        from keras_pose.prediction.own_outputs import record_input_root
        record_input_root(FLAGS.output_dir, inputs, remove=True)
        if earlier and os.path.isfile(predictions.path):
            print(f"note: the earlier run's {predictions.path} is back in place")
    else:
        kept = predictions.finish(complete=True)
        if kept:
            print(f"note: the earlier run's results of these inputs are kept as {kept}: "
                  f"{predictions.path} could not be written in full", file=sys.stderr)
    written = ("nothing written" if nothing_read else
               f"{predictions.count} people in {predictions.path}")
    print(f"{summary.processed} input(s) processed, {len(summary.unreadable)} unreadable "
          f"skipped; {written}")
    if summary.frames:
        print(f"  {summary.frame_people} people in {summary.frames} frame(s) of videos and "
              f"frame folders: <path>.frames.json in {FLAGS.output_dir}")
    for message in summary.unreadable:
        print(f"  skipped: {message}")
    for message in summary.unreadable_frames:
        print(f"  frame without people in every output (it cannot be read): {message}")
    for message in summary.short_videos:
        print(f"  frames missing: {message}")
    for message in summary.unused_boxes:
        print(f"  boxes not used: {message}")
    for message in summary.kept_earlier:
        print(f"  note: an earlier run's outputs are kept beside this run's: {message}")
    _report_orientation(summary)
    _report_boxes(run)
    if summary.low_score_detections or summary.unconfident_poses or summary.duplicate_poses:
        print(_tracker_drops(summary, run.predictor.config.track,
                            len(run.predictor.config.data.keypoint_names)))
    for message in run.writer.failures:
        print(f"  NOT WRITTEN: {message}", file=sys.stderr)
    if run.writer.failures:
        print(f"predict.py: error: {len(run.writer.failures)} output(s) could not be written",
              file=sys.stderr)
        return 1
    if nothing_read:
        print(f"predict.py: error: none of the {len(summary.unreadable)} input(s) under "
              f"--input {FLAGS.input} could be read (see 'skipped' above)", file=sys.stderr)
        return 1
    return 0


def _list_presets(arguments) -> int:
    """--list_presets [FILTER]: as python -m keras_pose.presets [FILTER]
    (a filter printed the whole --help, then "unexpected arguments")."""
    from keras_pose.presets.listing import print_presets
    return print_presets(arguments, "predict.py --list_presets")


def main(argv):
    if FLAGS.list_presets:
        return cli.run("predict.py", lambda: _list_presets(argv[1:]))
    # `--input photos/*.jpg` unquoted: the shell gave the first file to --input
    # and the others as arguments; they must not be dropped, nor run alone.
    return cli.run("predict.py", cli.refusing_arguments(argv, work, {"input": (
        "the shell expanded a pattern; quote it (--input 'photos/*.jpg') or give the folder")}))


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
