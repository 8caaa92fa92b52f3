"""Training-pipeline throughput and scaling: samples/s per core at 1, 2, ...
cores, against the reference's per-sample code, the CPU time of a sample by
stage, and the part of it that holds Python's GIL.

    python -m scripts.benchmark_pipeline_scaling --data_dir tests/data/coco \\
        --cores 1,2 --people_per_image 2.63,1 --rounds 3 [--callgrind]

(run as a module from the repository root: the reference side lives with the
tests). The data are ``scripts.pipeline_data``'s: the real COCO images of
``--data_dir`` copied ``--copies`` times as separate files, people dropped to
the asked mean per image (2.63: COCO train2017; 1: the worst case).

Every measurement runs in a fresh child process; the children of one round
take the variants in turn (the order rotates between rounds), so a change of
the machine's load touches all variants alike, and the spread over the rounds
is printed. Kinds of child:

- ``throughput`` (pinned with ``taskset`` to the first N cores, TF's thread
  pools sized from that affinity): ``keras_pose.data.pipeline.
  build_train_dataset`` as ``train.py`` builds it (256x192 uint8 crops, 64x48
  targets, COCO augmentation, autotuned, batches of 32), one untimed epoch,
  then ``--epochs`` timed epochs (the iterator's teardown is not timed: a
  run pays it once). Reports samples/s (wall clock), the process's CPU time
  per sample (``getrusage``: all threads; far less sensitive to other
  processes' load than the wall clock) and the Python-held time per sample:
  thread CPU time inside the NumPy sample code run by ``tf.numpy_function``,
  minus the time inside ``cv2.warpAffine``, which releases the GIL. The GIL
  is one per process: that time bounds one process at
  1 / (Python-held time) samples/s, whatever its cores.
- ``reference`` (one core): ``tests.reference_impl.reference_sample``, the
  official per-sample code re-implemented (``cv2.imread``, flip by copying
  the image, ``warpAffine``, the per-joint target loop, normalisation on the
  host), a pass over the same people after an untimed one.
- ``stages`` (one core): the per-sample work outside tf.data, stage by
  stage, in thread CPU time: reading the file, decoding (TF's decoder, as
  the pipeline), the sample code (``SampleMaker``) and, replayed with the
  same arguments, its warps and its target encodings (the rest of it: the
  random draws, matrices, joints and output arrays, Python-held), and the
  ``tf.numpy_function`` call itself (a call returning one image's arrays,
  GIL held).
- ``--callgrind``: the ``stages`` child under ``valgrind --tool=callgrind``
  (instrumentation on only around each stage): instructions per image or
  sample, independent of the load.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from keras_pose import cli  # noqa: E402
from keras_pose.errors import FlagError  # noqa: E402

from scripts import machine, results_file  # noqa: E402
from scripts.pipeline_scaling_report import report  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "tests/data/coco", "Directory with test_coco.json and its images.")
flags.DEFINE_integer("copies", 100, "Copies of each image (separate files).", lower_bound=1)
flags.DEFINE_list("people_per_image", ["2.63", "1"], "Mean people per image, one or more.")
cli.check_list_flag("people_per_image", float, minimum=0)
flags.DEFINE_list("cores", ["1", "2"], "Core counts for the throughput children; 'all': "
                  "every core of this machine.")
cli.check_list_flag("cores", words=("all",))
flags.DEFINE_integer("rounds", 3, "Rounds of alternating children.", lower_bound=1)
flags.DEFINE_integer("epochs", 2, "Timed epochs per throughput child (after one untimed).")
flags.DEFINE_bool("stages", True, "Also run the one-core stage children.")
flags.DEFINE_bool("reference", True, "Also run the reference per-sample code (one core).")
flags.DEFINE_bool("callgrind", False, "Also count instructions per stage under callgrind.")
flags.DEFINE_string("json_out", "", "Write every child's figures here (a new file, or this "
                    "script's earlier one).")
flags.DEFINE_list("compare_with", [], "NAME=DIR,...: directories holding other versions' "
                  "keras_pose package (e.g. `git archive REV keras_pose | tar -x -C DIR`), "
                  "measured alongside this tree's (alternating), under NAME.")
cli.check_list_flag("compare_with", pattern=r"[^=]+=.+")
# Child side (set by the driver).
flags.DEFINE_enum("child", "", ["", "throughput", "reference", "stages"],
                  "Internal: the child's kind.")
flags.DEFINE_string("records", "", "Internal: the child's records (.npz).")
flags.DEFINE_string("shim", "", "Internal: callgrind client-request library.")

BATCH = 32
RESULTS_KEYS = ("results", "instructions")  # --json_out's, as _work writes it.


def _api():
    """(Augmentation, SampleMaker, SkipCounter) of the keras_pose being
    measured: this tree's ``keras_pose.data.samples``, or the
    ``keras_pose.data.pipeline`` of versions before it (``--compare_with``)."""
    try:
        from keras_pose.data import samples
        return samples.Augmentation, samples.SampleMaker, samples.SkipCounter
    except ImportError:
        from keras_pose.data import pipeline
        return pipeline.Augmentation, pipeline._SampleMaker, pipeline.SkipCounter


def _setup():
    """The COCO augmentation and targets of ``train.py``'s default experiment."""
    from keras_pose.codec import MSRAHeatmap
    from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
    augmentation = _api()[0]
    aug = augmentation((192, 256), COCO_FLIP_PAIRS, scale_factor=0.3, rotation_factor=40.0,
                       flip=True)
    return aug, MSRAHeatmap((192, 256), (48, 64), 2.0)


def _load(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return dict(f)


class _PythonHeld:
    """Thread CPU time inside ``SampleMaker.__call__`` and inside
    ``cv2.warpAffine`` (GIL released) there."""

    def __init__(self):
        import cv2
        self.maker_class = _api()[1]
        self.lock = threading.Lock()
        self.call = self.warp = 0.0
        self.samples = 0
        call, warp = self.maker_class.__call__, cv2.warpAffine

        def timed_call(maker, *args):
            start = time.thread_time()
            out = call(maker, *args)
            spent = time.thread_time() - start
            with self.lock:
                self.call += spent
                self.samples += len(out[-1])
            return out

        def timed_warp(*args, **kwargs):
            start = time.thread_time()
            out = warp(*args, **kwargs)
            spent = time.thread_time() - start
            with self.lock:
                self.warp += spent
            return out

        self.maker_class.__call__ = timed_call
        cv2.warpAffine = timed_warp

    def snapshot(self):
        with self.lock:
            return self.call, self.warp, self.samples


def child_throughput() -> dict:
    from keras_pose.data import pipeline
    values = _load(FLAGS.records)
    aug, codec = _setup()
    held = _PythonHeld()
    n = len(values["image_path"])
    steps = max(1, n // BATCH)  # passes repeat to fill an epoch: tiny smoke sets too
    ds = pipeline.build_train_dataset(values, aug, codec, batch_size=BATCH,
                                      steps_per_epoch=steps, seed=0)
    iterator = iter(ds)
    for _ in range(steps):  # one untimed epoch: start-up, autotuning
        next(iterator)
    before, r0, t0 = held.snapshot(), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    count = 0
    for _ in range(steps * FLAGS.epochs):
        count += int(next(iterator)["image"].shape[0])
    t1, r1, after = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), held.snapshot()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    made = after[2] - before[2]  # samples the sample code made meanwhile (prefetch included)
    return {
        "kind": "throughput", "cores": len(os.sched_getaffinity(0)),
        "samples": count, "seconds": t1 - t0, "samples_per_s": count / (t1 - t0),
        "cpu_ms_per_sample": 1e3 * cpu / count,
        "sample_code_ms_per_sample": 1e3 * (after[0] - before[0]) / made,
        "warp_ms_per_sample": 1e3 * (after[1] - before[1]) / made,
        "python_held_ms_per_sample": 1e3 * ((after[0] - before[0]) - (after[1] - before[1])) / made,
        "involuntary_switches": r1.ru_nivcsw - r0.ru_nivcsw,
        "loadavg": os.getloadavg()[0],
    }


def child_reference() -> dict:
    """The reference's per-sample loop over the same records, in order,
    with the pipeline's augmentation settings (one untimed pass first)."""
    from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
    from tests import reference_impl as ref
    values = _load(FLAGS.records)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    sf, rf = 0.3, 40.0

    def one_pass():
        rng = np.random.default_rng(0)
        for j in range(len(values["image_path"])):
            s = np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf)
            r = np.clip(rng.standard_normal() * rf, -2 * rf, 2 * rf) if rng.random() <= 0.6 else 0
            crop, _, _, _ = ref.reference_sample(
                values["image_path"][j], values["joints"][j], values["joints_vis"][j],
                values["center"][j], values["scale"][j], image_size=(192, 256),
                heatmap_size=(48, 64), sigma=2.0, flip_pairs=COCO_FLIP_PAIRS,
                scale_multiplier=s, rotation=r, flip=rng.random() <= 0.5)
            _ = ((crop / 255.0 - mean) / std).astype(np.float32)  # its ToTensor + Normalize

    one_pass()
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    one_pass()
    t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    n = len(values["image_path"])
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"kind": "reference", "cores": len(os.sched_getaffinity(0)), "samples": n,
            "seconds": t1 - t0, "samples_per_s": n / (t1 - t0),
            "cpu_ms_per_sample": 1e3 * cpu / n, "python_held_ms_per_sample": float("nan"),
            "loadavg": os.getloadavg()[0]}


class _Counter:
    """Thread CPU time (or, under callgrind, instructions) of a stage."""

    def __init__(self, shim: str):
        self.lib = ctypes.CDLL(shim) if shim else None
        if self.lib:
            self.lib.kp_start()

    def run(self, name: str, fn, clock=time.thread_time) -> float:
        if self.lib:
            self.lib.kp_zero()
            fn()
            self.lib.kp_dump(name.encode())
            return 0.0
        start = clock()
        fn()
        return clock() - start


def _replayable_pass(maker, codec, images):
    """Runs the sample code over every image once, recording the arguments
    of its warps and its encodings for the replays; returns (outputs,
    warps, encodings, the real warpAffine, the real encode)."""
    import cv2
    warps, encodings = [], []
    warp, encode = cv2.warpAffine, codec.encode
    cv2.warpAffine = lambda *a, **k: (warps.append((a, k)), warp(*a, **k))[1]
    codec.encode = lambda *a, **k: (encodings.append([np.copy(x) for x in a]), encode(*a, **k))[1]
    outputs = [maker(g, image, 0, 0) for g, image in enumerate(images)]
    cv2.warpAffine, codec.encode = warp, encode
    return outputs, warps, encodings, warp, encode


def _call_glue(outputs, image):
    """tf.numpy_function's own cost: a graph calling a Python function that
    returns one image's arrays (of the image with the mean number of people,
    or the nearest), and the same graph returning them without Python."""
    import tensorflow as tf
    mean = sum(len(o[-1]) for o in outputs) / len(outputs)
    ready = min(outputs, key=lambda o: abs(len(o[-1]) - mean))
    dtypes = [tf.as_dtype(a.dtype) for a in ready]
    glue = tf.function(lambda im: tf.numpy_function(lambda _: ready, [im], dtypes,
                                                    stateful=False))
    bare = tf.function(lambda im: [tf.zeros_like(t) for t in ready])
    image = tf.constant(image)
    for f in (glue, bare):
        f(image)
    return (lambda: glue(image)), (lambda: bare(image))


def child_stages() -> dict:
    import cv2
    import tensorflow as tf

    from keras_pose.data import decoding, pipeline
    values = pipeline._records_dict(_load(FLAGS.records))
    aug, codec = _setup()
    cv2.setNumThreads(1)
    groups = pipeline.group_by_image(values["image_path"])
    paths = [str(values["image_path"][g[0]]) for g in groups]
    _, sample_maker, skip_counter = _api()
    maker = sample_maker(values, groups, aug, codec, 0, skip_counter(),
                         np.arange(len(groups)), "", None)
    decode = tf.function(lambda data: decoding.decode_image_tf(data))
    blobs = [open(p, "rb").read() for p in paths]
    constants = [tf.constant(b) for b in blobs]
    images = [decode(c).numpy() for c in constants]
    outputs, warps, encodings, warp, encode = _replayable_pass(maker, codec, images)
    num_samples = sum(len(o[-1]) for o in outputs)
    glue, bare = _call_glue(outputs, images[0])

    def read():
        for p in paths:
            with open(p, "rb") as f:
                f.read()

    steps = [
        ("read", read, len(groups)),
        ("decode", lambda: [decode(c) for c in constants], len(groups)),
        ("sample_code", lambda: [maker(g, im, 0, 0) for g, im in enumerate(images)],
         num_samples),
        ("warp", lambda: [warp(*a, **k) for a, k in warps], num_samples),
        ("encode", lambda: [encode(*a) for a in encodings], num_samples),
        ("numpy_function_call", lambda: [glue() for _ in groups], len(groups)),
        ("bare_tf_function_call", lambda: [bare() for _ in groups], len(groups)),
    ]
    counter = _Counter(FLAGS.shim)
    reps = 1 if counter.lib else 3
    stages = {}
    for name, fn, per in steps:
        # TF ops may run on TF's threads: process CPU time (one core pinned).
        clock = time.process_time if name in ("decode", "numpy_function_call",
                                              "bare_tf_function_call") else time.thread_time
        best = min(counter.run(name, fn, clock) for _ in range(reps))
        stages[name] = {"ms_per_unit": 1e3 * best / per, "units": per}
    return {"kind": "stages", "images": len(groups), "samples": num_samples,
            "loadavg": os.getloadavg()[0], "stages": stages}


def _child_main():
    kinds = {"throughput": child_throughput, "reference": child_reference,
             "stages": child_stages}
    result = kinds[FLAGS.child]()
    print("RESULT " + json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # the iterator's teardown can wait for the autotuner: not timed


def _run_child(args: list[str], cores: int, prefix: list[str] = (), other: str = "") -> dict:
    """Runs a child pinned to the first ``cores`` cores; ``other``: a
    directory of ``--compare_with`` whose keras_pose package the child runs
    (as the working directory it comes first on the path, this tree's scripts
    after it)."""
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:cores])
    command = ["taskset", "-c", cpus, *prefix, sys.executable, "-m",
               "scripts.benchmark_pipeline_scaling", *args]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [here] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    done = subprocess.run(command, capture_output=True, text=True, env=env,
                          cwd=other or here)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"child failed: {' '.join(command)}\n{done.stderr[-3000:]}")


def _shim(work_dir: str) -> str:
    source = os.path.join(work_dir, "shim.c")
    with open(source, "w") as f:
        f.write("#include <valgrind/callgrind.h>\n"
                "void kp_start(void) { CALLGRIND_START_INSTRUMENTATION; }\n"
                "void kp_zero(void) { CALLGRIND_ZERO_STATS; }\n"
                "void kp_dump(const char *s) { CALLGRIND_DUMP_STATS_AT(s); }\n")
    library = os.path.join(work_dir, "shim.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", library, source], check=True)
    return library


def _callgrind(records: str, work_dir: str, shim: str, tag: str, other: str) -> dict:
    """Instructions per unit of each stage (one pass, instrumentation on
    only around the stages)."""
    out = os.path.join(work_dir, f"callgrind.{tag}")
    result = _run_child(["--child", "stages", "--records", records, "--shim", shim], 1,
                        ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                         f"--callgrind-out-file={out}.%p"], other=other)
    counts = {}
    for name in os.listdir(work_dir):
        if not name.startswith(f"callgrind.{tag}."):
            continue
        text = open(os.path.join(work_dir, name)).read()
        trigger = [ln for ln in text.splitlines() if ln.startswith("desc: Trigger:")]
        total = [ln for ln in text.splitlines() if ln.startswith(("summary:", "totals:"))]
        if trigger and total and "Client Request:" in trigger[0]:
            stage = trigger[0].split("Client Request:")[1].strip()
            counts[stage] = int(total[0].split()[1])
    return {stage: counts.get(stage, 0) / info["units"]
            for stage, info in result["stages"].items()}


def _make_sets(work_dir: str) -> dict:
    """people per image -> (records .npz path, people, images)."""
    from scripts.pipeline_data import make_records
    sets = {}
    for ppi in FLAGS.people_per_image:
        values = make_records(work_dir, FLAGS.data_dir, FLAGS.copies, float(ppi))
        path = os.path.join(work_dir, f"records_{ppi}.npz")
        np.savez(path, **values)
        sets[ppi] = (path, len(values["image_path"]), len(set(values["image_path"])))
        made = sets[ppi][1] / sets[ppi][2]
        if abs(made - float(ppi)) > 0.05:  # The table would label it with the asked mean.
            raise FlagError(f"--people_per_image {ppi}: the sample's images hold {made:.2f} "
                                 "people each at this setting (from 1 to all of their people)")
    return sets


def _run_rounds(sets, cores, versions, others) -> list[dict]:
    """Every variant once per round, the order rotated between rounds."""
    variants = [("throughput", ppi, c, v) for ppi in sets for c in cores for v in versions]
    if FLAGS.reference:
        variants += [("reference", ppi, 1, "reference per-sample code") for ppi in sets]
    if FLAGS.stages:
        variants += [("stages", ppi, 1, v) for ppi in sets for v in versions]
    results = []
    for r in range(FLAGS.rounds):
        shift = r % len(variants)
        for kind, ppi, c, version in variants[shift:] + variants[:shift]:
            result = _run_child(["--child", kind, "--records", sets[ppi][0],
                                 "--epochs", str(FLAGS.epochs)], c,
                                other=others.get(version, ""))
            result.update(people_per_image=ppi, round=r, version=version)
            results.append(result)
            print(f"round {r} {version} {kind} ppi={ppi} cores={c}: " + (
                f"{result['samples_per_s']:.1f} samples/s, "
                f"{result['cpu_ms_per_sample']:.2f} CPU ms/sample, "
                f"{result['python_held_ms_per_sample']:.3f} Python-held ms/sample"
                if kind != "stages" else "stages done")
                + f" (load {result['loadavg']:.1f})", flush=True)
    return results


def main(argv):
    if len(argv) > 1:  # Ignored, a typo ran the whole default benchmark.
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    # A user's mistake (a flag, a file) is one line, as in the project's tools.
    return cli.run("benchmark_pipeline_scaling.py", _work)


def _work():
    if FLAGS.child:
        _child_main()
    if FLAGS.json_out:  # Before the measurements (was: after them, any file overwritten).
        results_file.check_destination(FLAGS.json_out, "--json_out",
                                       "benchmark_pipeline_scaling.py", RESULTS_KEYS)
    print(machine.header())
    available = len(os.sched_getaffinity(0))
    cores = sorted({available if c == "all" else int(c) for c in FLAGS.cores})
    if not all(1 <= c <= available for c in cores):  # They were left out without a word.
        raise FlagError(f"--cores {','.join(FLAGS.cores)}: this machine gives the "
                             f"process {available} core(s): counts from 1 to {available}, or all")
    others = dict(item.split("=", 1) for item in FLAGS.compare_with)
    versions = ["this"] + list(others)
    with tempfile.TemporaryDirectory() as work_dir:
        sets = _make_sets(work_dir)
        print(", ".join(f"ppi={p}: {n} people in {i} files" for p, (_, n, i) in sets.items()))
        results = _run_rounds(sets, cores, versions, others)
        instructions = {}
        if FLAGS.callgrind:
            shim = _shim(work_dir)
            for version in versions:
                for ppi in sets:
                    instructions[(version, ppi)] = _callgrind(
                        sets[ppi][0], work_dir, shim, f"{version}_{ppi}", others.get(version, ""))
    report(results, instructions, sets, cores, versions, available, rounds=FLAGS.rounds,
           reference=FLAGS.reference, stages=FLAGS.stages)
    if FLAGS.json_out:
        results_file.write(FLAGS.json_out, {"results": results, "instructions": {
            f"{v} {p}": c for (v, p), c in instructions.items()}})


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
