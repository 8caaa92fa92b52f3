"""End to end: what ``predict.py --input clip.mp4 --track`` costs per frame,
stage by stage, today's TensorFlow fp32 path against the runtimes, in one
process, alternating.

    python -m scripts.benchmark_video                       # 1, 4 and 13 people
    python -m scripts.benchmark_video --people 4 --repeats 5 \\
        --variants tf:tf-fp32,openvino:openvino-int8

Each variant is ``DETECTOR[-PRECISION]:POSE-PRECISION[:OPTION+OPTION...]``:
where the D-FINE-S detector's network runs (``tf``, ``openvino``,
``onnxruntime``: predict.py's ``--detector_runtime``) and at what precision
(``fp32`` by default, ``bf16``, ``int8``: ``--detector_precision``), where
the Pose-ResNet-50 256x192 runs and at what precision (predict.py's
``--runtime`` / ``--precision``), and options: ``serial`` runs the tracker's
flow after the detector, as before ``PoseTracker.prepare`` (today's code
does it in a thread while the detector runs), ``dis=fast`` /
``dis=ultrafast`` a cheaper DIS flow preset (the user option ``--set
track.dis_preset=fast``, not a default), ``flow_scale=X`` the flow at
another resolution (``--set track.flow_scale=X``; the default is 0.5, full
resolution, 1, before this work). ``tf:tf-fp32:serial+flow_scale=1`` is the
path before this work, the reference of the ratios (the first variant is
the reference).

What runs is predict.py's own path: ``PredictionRun.video(item, track=True)``
on a generated 1280 x 720 MPEG-4 clip of ``--people`` people walking
across a textured background (``scripts/benchmark_video_hooks.py``),
with the objects predict.py builds: the ``Predictor`` (the checkpoint's
Keras model, or its export loaded by ``keras_pose.export.runtimes.
load_export`` as ``--runtime`` loads it), the detector
(``KerasHubPersonDetector`` or ``RuntimePersonDetector`` on D-FINE-S,
``build_dfine_detector("small")``: the architecture of the default preset
``dfine_small_obj2coco``, no download) and the
``PoseTracker`` that ``PredictionRun`` makes, drawing and writing the
annotated video, frames JSON and PoseTrack JSON. Random weights (seeded)
cost what trained ones cost, with two arrangements to keep the work of a
real video:

- the detector runs in full on every frame (resizing, network, decoding,
  NMS) but hands the tracker the people's true boxes: random D-FINE
  weights would report random boxes (``--real_boxes`` passes them on);
- the pose stage runs in full on every box (crops, network with the flip
  test, decoding) but hands the tracker a person-shaped pose filling the
  box (``benchmark_video_hooks.TEMPLATE``, confident joints): random
  weights give scattered, unconfident joints, whose propagated boxes would not meet the detections
  and would add a box per person per frame. So the tracker runs with
  predict.py's defaults and does a real video's work: DIS flow, joints
  carried along it, propagated boxes unified with the detections, matching.
  The boxes per frame are reported per variant (the pose stage's work
  follows them): the people, when all goes as on a real video.

The int8 pose networks are exported with
``keras_pose.export.runtimes.export_network`` and calibrated on the clip's
people (crops as the inference path cuts them); the accuracy guard that
``predict.py --precision int8`` and the export script apply
(``keras_pose.export.guard``) is BYPASSED here, because random weights have
no accuracy to keep: the speed measured here is that of networks the guard
accepts on a trained model (docs/benchmarks.md, "Accuracy guard on the
trained demo model"). The same holds for a bf16 or int8 detector: its guard
(``runtime_detector``: boxes against fp32's on the user's first images)
refuses random weights, so it is bypassed here too; int8 is calibrated on
frames of the clips. The last row of each table compares the
pose stage's keypoints with the reference variant's on the same frames and
boxes, on these random weights: :data:`KEYPOINTS_NOTE` says why that is
not the guard.

Stages, per frame: decoding the frame (``cv2.VideoCapture`` + RGB), the
detector, the pose stage (``Predictor.predict``: crops, network with the
flip test, decoding; ``network`` is the runtime's own call inside it), the
tracker's own work (``PoseTracker.step`` minus the pose stage: DIS flow,
propagation, box unification, matching), drawing, writing the video, and
the rest (JSON). Each repetition runs the whole clip once per variant, in
turn (A/B/A/B...), after one untimed run of each (tracing, warm-up); the
tables give the median over repetitions and the range. The first frame of
each run has no flow to compute (no tracks yet), as in any video.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from keras_pose.errors import FlagError  # noqa: E402

from scripts import benchmark_video_hooks as hooks  # noqa: E402
from scripts import machine, results_file  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("people", ["1", "4", "13"], "People per frame, one clip each.")
cli.check_list_flag("people")
flags.DEFINE_integer("frames", 12, "Frames per clip (each repetition runs the whole clip).",
                     lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Timed repetitions (A/B alternation) per clip.",
                     lower_bound=1)
flags.DEFINE_list("variants", ["tf:tf-fp32:serial+flow_scale=1", "openvino:openvino-int8",
                               "openvino-bf16:openvino-int8", "openvino-int8:openvino-int8"],
                  "DETECTOR:POSE-PRECISION[:OPTIONS] (see the module docstring); the "
                  "first is the reference.")
flags.DEFINE_string("experiment", "coco_resnet50_256x192", "Pose model experiment.")
flags.DEFINE_string("detector", "small", "D-FINE size of the detector.")
flags.DEFINE_string("work_dir", os.path.join(tempfile.gettempdir(), "keras_pose_bench_video"),
                    "Clips, exports (reused across runs) and outputs.")
flags.DEFINE_string("results", None, "Also write the measurements to this JSON file (a new "
                    "file, or this script's earlier one).")
flags.DEFINE_boolean("real_boxes", False, "Track the detector's own boxes (random weights: "
                     "random boxes) instead of the people's true boxes.")
flags.DEFINE_integer("calibration_people", 128, "Clip people calibrating the int8 exports.")

KEYPOINTS_NOTE = (
    "\nKeypoints: random weights (no download), so the int8 rows are NOT checked by the "
    "accuracy guard (bypassed here, as the bf16 / int8 detector's);\nrandom heatmaps have "
    "no peak to keep, so int8 can move "
    "their argmax far: the deviations above are an upper\nbound, not the accuracy. On a "
    "trained model the export guard keeps AP within 0.5 point (docs/benchmarks.md).")
STAGE_NAMES = {"decode": "decode frame", "detector": "detector (D-FINE-S)",
               "pose": "pose (crops + network + decode)", "tracker": "tracker's own work",
               "draw": "drawing", "write": "video writing", "other": "other (JSON)"}

# --------------------------------------------------------------------------- variants


@dataclasses.dataclass(frozen=True)
class Variant:
    spec: str
    detector: str
    detector_precision: str
    runtime: str
    precision: str
    flow: str | None
    serial: bool
    flow_scale: float | None = None

    @classmethod
    def parse(cls, spec: str) -> "Variant":
        parts = spec.split(":")
        if len(parts) not in (2, 3) or "-" not in parts[1]:
            raise FlagError(f"variant {spec!r}: DETECTOR[-PRECISION]:POSE-PRECISION"
                                 "[:OPTIONS]")
        detector, detector_precision = (parts[0].split("-", 1) if "-" in parts[0]
                                        else (parts[0], "fp32"))
        runtime, precision = parts[1].rsplit("-", 1)
        options = parts[2].split("+") if len(parts) == 3 else []
        flow, flow_scale = None, None
        for option in options:
            if option.startswith("dis="):
                flow = option[4:]
            elif option.startswith("flow_scale="):
                flow_scale = float(option[len("flow_scale="):])
            elif option != "serial":
                raise FlagError(f"variant {spec!r}: unknown option {option!r}")
        return cls(spec, detector, detector_precision, runtime, precision, flow,
                   "serial" in options, flow_scale)

    @property
    def label(self) -> str:
        det = {"tf": "TF", "openvino": "OpenVINO", "onnxruntime": "ONNX Runtime"}
        text = (f"detector {det[self.detector]} {self.detector_precision}, pose "
                f"{det[self.runtime]} "
                f"{self.precision}")
        text += ", flow after the detector (before)" if self.serial else \
            ", flow beside the detector"
        if self.flow_scale is not None:
            text += f", flow at scale {self.flow_scale:g}"
        return text + (f", DIS {self.flow} (user option)" if self.flow else "")


def _digest(model) -> str:
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:12]


class Models:
    """The random networks, built once, and their exports (cached in work_dir)."""

    def __init__(self, work_dir: str, calibration: np.ndarray, frames: list, tracker_class):
        import keras

        from keras_pose.configs import apply_overrides, get_experiment
        from keras_pose.detection.dfine import build_dfine_detector
        from keras_pose.models import build_model_from_config
        from scripts.random_weights import trained_like_statistics
        keras.utils.set_random_seed(0)
        self.work_dir = work_dir
        self.config = apply_overrides(get_experiment(FLAGS.experiment),
                                      ["model.pretrained=none"])
        self.pose = build_model_from_config(self.config.model)
        trained_like_statistics(self.pose)  # Zero biases would cost TF its fusions.
        self.dfine = build_dfine_detector(FLAGS.detector)
        self.calibration = calibration
        self.frames = frames  # (H, W, 3) uint8 RGB clip frames: int8 detector calibration
        self.tracker_class = tracker_class  # hooks.instrument's timed PoseTracker
        self._predictors, self._detectors = {}, {}

    def predictor(self, runtime: str, precision: str):
        from keras_pose.inference import Predictor
        from keras_pose.inference.loading import PoseModel
        key = (runtime, precision)
        if key in self._predictors:
            return self._predictors[key]
        if runtime == "tf":
            if precision != "fp32":
                raise FlagError("tf runs fp32 only")
            network = self.pose
            # What load_pose_model returns for a checkpoint.
            model = PoseModel(lambda x: network(x, training=False), self.config, "keras", "",
                              keras_model=network)
        else:
            model = self._export(runtime, precision)
        self._predictors[key] = Predictor(model)
        return self._predictors[key]

    def _export(self, runtime: str, precision: str):
        from keras_pose.export import runtimes
        from keras_pose.export.cache import RUNTIME_FORMATS
        from keras_pose.export.calibration import normalise
        fmt = RUNTIME_FORMATS[runtime]
        directory = os.path.join(self.work_dir, "pose", f"{_digest(self.pose)}-{runtime}-"
                                                        f"{precision}")
        path = os.path.join(directory, "heatmaps" + runtimes.SUFFIXES[fmt])
        if not os.path.isfile(runtimes.sidecar_path(path)):
            start = time.perf_counter()
            # No accuracy guard: random weights have no accuracy to keep.
            calibration = normalise(self.calibration, self.config) \
                if precision == "int8" else None
            runtimes.export_network(self.pose, self.config, path, fmt, precision,
                                    calibration=calibration)
            print(f"exported the pose network to {runtime} {precision} in "
                  f"{time.perf_counter() - start:.0f} s ({path})", flush=True)
        # As keras_pose.export.cache.runtime_model loads it for --runtime.
        return dataclasses.replace(runtimes.load_export(path), config=self.config)

    def detector(self, runtime: str, precision: str = "fp32"):
        if (runtime, precision) in self._detectors:
            return self._detectors[runtime, precision]
        if runtime == "tf":
            from keras_pose.detection import KerasHubPersonDetector
            if precision != "fp32":
                raise FlagError("the tf detector runs fp32 only")
            detector = KerasHubPersonDetector(self.dfine, preset="dfine_small_obj2coco")
        else:
            from keras_pose.detection.runtime_detector import RuntimePersonDetector
            start = time.perf_counter()
            detector = RuntimePersonDetector(self._detector_network(runtime, precision),
                                             preset="dfine_small_obj2coco")
            print(f"detector in {runtime} {precision}: ready in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
        self._detectors[runtime, precision] = detector
        return detector

    def _detector_network(self, runtime: str, precision: str):
        """The detector's cached export, loaded as predict.py loads it (a
        damaged one exported again); bf16 / int8 WITHOUT their guard
        (random weights have no boxes to keep; see the module docstring)."""
        import tensorflow as tf

        from keras_pose.detection import runtimes as detector_runtimes
        from keras_pose.detection.export_cache import cached_network
        from keras_pose.detection.keras_hub_detector import preprocess_dfine_tf
        preset, cache = "dfine_small_obj2coco", os.path.join(self.work_dir, "detectors")
        fp32 = cached_network(self.dfine, runtime, "fp32", preset, cache)
        if precision == "fp32":
            return fp32

        def write(tmp: str) -> None:
            if precision != "int8":
                detector_runtimes.copy_export(fp32.directory, tmp, precision)
                return
            size = detector_runtimes.input_size_of(self.dfine)
            inputs = np.stack([preprocess_dfine_tf(tf.constant(frame), size).numpy()
                               for frame in self.frames])
            detector_runtimes.export_network(self.dfine, tmp, runtime, "int8", inputs,
                                             name=preset)
        return cached_network(self.dfine, runtime, precision, preset, cache, write)


# --------------------------------------------------------------------------- running


def run_once(models: Models, variant: Variant, clip: str, boxes: list, out: str) -> dict:
    """One pass of predict.py's ``--track`` path over the clip; the seconds
    per stage, frames, boxes, load average and the pose calls' keypoints."""
    from keras_pose.prediction.inputs import InputFile
    from keras_pose.prediction.runner import PredictionRun
    predictor = models.predictor(variant.runtime, variant.precision)
    detector = hooks.BoxesDetector(models.detector(variant.detector, variant.detector_precision),
                                   boxes, FLAGS.real_boxes)
    run = PredictionRun(predictor, detector, out, flip=True, score_threshold=0.2)
    run.predictor = hooks.TimedPredictor(predictor, real_poses=FLAGS.real_boxes)
    track = predictor.config.track
    if variant.flow:
        track = dataclasses.replace(track, dis_preset=variant.flow)
    if variant.flow_scale is not None:
        track = dataclasses.replace(track, flow_scale=variant.flow_scale)
    if FLAGS.real_boxes:  # Random weights' joints would all be dropped.
        track = dataclasses.replace(track, keypoint_threshold=0.0)
    models.tracker_class.serial = variant.serial
    clock = hooks.CLOCK
    clock.reset()
    load = machine.load_average()
    start = time.perf_counter()
    run.video(InputFile(clip, os.path.basename(clip), 0), True, track)
    total = time.perf_counter() - start
    s = dict(clock.seconds)
    s["tracker"] = s.pop("step") - s["pose"]
    s["other"] = total - sum(s[k] for k in hooks.STAGES if k != "other")
    if run.writer.failures:
        raise RuntimeError(f"outputs not written: {run.writer.failures}")
    return {"total": total, "frames": clock.frames, "boxes": clock.boxes, "seconds": s,
            "load": max(load, machine.load_average()), "poses": clock.poses}


def _median_range(values: list, digits: int = 0, unit: str = "") -> str:
    return (f"{statistics.median(values):.{digits}f}{unit} ({min(values):.{digits}f}-"
            f"{max(values):.{digits}f})")


def _stage_rows(runs: dict, variants: list) -> list[str]:
    """ms per frame of each stage and in total, frames/s."""
    lines = []
    for stage in hooks.STAGES + ("network",):
        cells = []
        for v in variants:
            ms = [1000 * r["seconds"][stage] / r["frames"] for r in runs[v.spec]]
            cells.append("n/a" if stage == "network" and v.runtime == "tf"
                         else _median_range(ms))
        name = "  of which the pose network" if stage == "network" else STAGE_NAMES[stage]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(
        _median_range([1000 * r["total"] / r["frames"] for r in runs[v.spec]])
        for v in variants) + " |")
    lines.append("| frames/s | " + " | ".join(
        _median_range([r["frames"] / r["total"] for r in runs[v.spec]], 2)
        for v in variants) + " |")
    return lines


def _comparison_rows(runs: dict, variants: list) -> list[str]:
    """Speed against the reference (paired by repetition), boxes, load and
    the keypoints against the reference's on the same boxes."""
    ref = variants[0]
    ratios = [_median_range([(r0["total"] / r0["frames"]) / (r["total"] / r["frames"])
                             for r0, r in zip(runs[ref.spec], runs[v.spec])], 2, "x")
              for v in variants]
    lines = [f"| speed vs {ref.spec} (paired) | " + " | ".join(ratios) + " |"]
    lines.append("| boxes per frame | " + " | ".join(
        f"{statistics.median([r['boxes'] / r['frames'] for r in runs[v.spec]]):.1f}"
        for v in variants) + " |")
    lines.append("| load average during runs | " + " | ".join(
        f"{min(r['load'] for r in runs[v.spec]):.1f}-{max(r['load'] for r in runs[v.spec]):.1f}"
        for v in variants) + " |")
    cells = []
    for v in variants:
        dist = hooks.keypoint_deviation(runs[ref.spec][0]["poses"], runs[v.spec][0]["poses"])
        cells.append("none compared" if not len(dist) else
                     f"mean {dist.mean():.1f}, p99 {np.percentile(dist, 99):.1f}, "
                     f"max {dist.max():.1f} ({len(dist)} joints)")
    lines.append(f"| keypoints vs {ref.spec}, px, RANDOM weights (not the guard) | "
                 + " | ".join(cells) + " |")
    return lines


def report(results: dict, variants: list, people: list) -> str:
    """The Markdown tables, one per number of people."""
    lines = []
    for n in people:
        lines.append(f"\n{n} people per frame (ms per frame: median of {FLAGS.repeats} "
                     "repetitions (range)):\n")
        lines += ["| stage | " + " | ".join(v.spec for v in variants) + " |",
                  "|" + " --- |" * (len(variants) + 1)]
        runs = {v.spec: results[n][v.spec] for v in variants}
        lines += _stage_rows(runs, variants) + _comparison_rows(runs, variants)
    lines.append(KEYPOINTS_NOTE)
    return "\n".join(lines)


def _clips(people: list) -> dict:
    """{people: (clip path, each frame's true boxes)}, generated in work_dir."""
    clips = {}
    for n in people:
        path = os.path.join(FLAGS.work_dir, f"clip_{n}people_{FLAGS.frames}frames.mp4")
        clips[n] = (path, hooks.make_clip(path, n, FLAGS.frames))
    return clips


def _calibration(clips: dict) -> np.ndarray:
    """Crops of the clips' people as the inference path cuts them (int8)."""
    import cv2
    from keras_pose.configs import get_experiment
    from keras_pose.export.calibration import input_crops

    def samples():
        for n in sorted(clips, reverse=True):
            capture = cv2.VideoCapture(clips[n][0])
            for boxes in clips[n][1]:
                ok, frame = capture.read()
                if not ok:
                    break
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), boxes
            capture.release()
    return input_crops(get_experiment(FLAGS.experiment), samples(), FLAGS.calibration_people)


def _frames(clips: dict) -> list:
    """The frames predict.py would judge a bf16 / int8 detector on (here
    they calibrate the int8 detector), from the clips, most people first."""
    from keras_pose.prediction.inputs import list_inputs
    from keras_pose.prediction.input_pixels import calibration_images
    return calibration_images([item for n in sorted(clips, reverse=True)
                               for item in list_inputs(clips[n][0])])


def _measure(models: Models, variants: list, n: int, clip: str, boxes: list) -> dict:
    """Untimed warm-up runs, then the timed repetitions, variants in turn."""
    out = os.path.join(FLAGS.work_dir, "out")
    results = {v.spec: [] for v in variants}
    for v in variants:  # Untimed: exports, tracing, warm-up.
        start = time.perf_counter()
        run_once(models, v, clip, boxes, out)
        print(f"{n} people, {v.spec}: warm-up run {time.perf_counter() - start:.1f} s",
              flush=True)
    for rep in range(FLAGS.repeats):
        for v in variants:
            r = run_once(models, v, clip, boxes, out)
            results[v.spec].append(r)
            print(f"{n} people, repetition {rep + 1}, {v.spec}: "
                  f"{1000 * r['total'] / r['frames']:.0f} ms/frame "
                  f"({r['boxes'] / r['frames']:.1f} boxes/frame, load {r['load']:.1f}): "
                  + ", ".join(f"{k} {1000 * t / r['frames']:.0f}"
                              for k, t in r["seconds"].items()), flush=True)
    return results


RESULTS_KEYS = ("variants", "weights", "results")  # --results's, as _write_results writes it.


def _write_results(results: dict, variants: list) -> None:
    without_poses = {str(n): {spec: [{k: v for k, v in r.items() if k != "poses"} for r in runs]
                              for spec, runs in by_variant.items()}
                     for n, by_variant in results.items()}
    results_file.write(FLAGS.results, {
        "date": datetime.date.today().isoformat(), "machine": machine.describe(),
        "frames": FLAGS.frames, "repeats": FLAGS.repeats,
        "variants": [v.spec for v in variants], "weights": "random", "results": without_poses})


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_video.py", _work)


def _work():
    import cv2
    variants = [Variant.parse(s) for s in FLAGS.variants]
    people = [int(p) for p in FLAGS.people]
    if FLAGS.results:  # Before the measurements (was: after them, any file overwritten).
        results_file.check_destination(FLAGS.results, "--results", "benchmark_video.py",
                                       RESULTS_KEYS)
    os.makedirs(FLAGS.work_dir, exist_ok=True)
    print(f"{datetime.date.today().isoformat()}, {machine.describe()}, cv2 threads "
          f"{cv2.getNumThreads()}, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
          flush=True)
    clips = _clips(people)
    models = Models(FLAGS.work_dir, _calibration(clips), _frames(clips), hooks.instrument())
    results = {n: _measure(models, variants, n, *clips[n]) for n in people}
    print(f"\n{datetime.date.today().isoformat()}, {machine.describe()}")
    for v in variants:
        print(f"  {v.spec}: {v.label}")
    print(report(results, variants, people))
    if FLAGS.results:
        _write_results(results, variants)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
