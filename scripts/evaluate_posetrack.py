"""Evaluates PoseTrack18 predictions as the official poseval: AP and MOTA.

    python scripts/evaluate_posetrack.py --gt data/posetrack/annotations/val \
        --pred output/posetrack_val --output_dir output/posetrack_val/eval

``--gt`` is a PoseTrack18 JSON file or a directory of them (one per video
sequence); ``--pred`` is a file (with a ``--gt`` file) or a directory holding
a prediction file of the same name for every ground-truth file. Prints
poseval's two tables (per-joint AP; MOTA, MOTP, precision, recall) as
markdown; ``--output_dir`` receives ``metrics.json`` (every number, NaN as
null) and ``table.md``. See ``keras_pose.evaluation.posetrack`` for the rules.
"""

import os
import time

from absl import app, flags

from keras_pose import cli  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("gt", None, "Ground-truth PoseTrack18 JSON file or directory.")
flags.DEFINE_string("pred", None, "Prediction JSON file or directory: the ground truth's "
                    "file names, or predict.py --track's <sequence>.posetrack.json.")
flags.DEFINE_string("output_dir", None, "Where metrics.json and table.md go.")
flags.mark_flag_as_required("gt")
flags.mark_flag_as_required("pred")

cli.check_path_flag("output_dir")
cli.check_path_flag("gt")
cli.check_path_flag("pred")

def work() -> int:

    if not FLAGS.output_dir:
        return _evaluate()
    # As evaluate.py: checked before the evaluation, one evaluation at a time.
    with cli.locked_output_dir(FLAGS.output_dir, run="evaluate_posetrack.py run"):
        return _evaluate()


def _evaluate() -> int:
    from keras_pose.evaluation import posetrack

    start = time.perf_counter()
    metric = posetrack.PoseTrackMetric()
    pairs = posetrack.sequence_pairs(FLAGS.gt, FLAGS.pred)
    for gt_file, pred_file in pairs:
        metric.update(gt_file, pred_file)
    metrics = metric.result()
    table = posetrack.format_table(metrics)
    print(f"{metric.num_sequences} sequences, {metric.num_frames} evaluated frames")
    print(table)
    if FLAGS.output_dir:
        report = {
            # Absolute: what tells this evaluation from an earlier one there.
            "ground_truth": os.path.abspath(FLAGS.gt),
            "predictions": os.path.abspath(FLAGS.pred),
            # The files' contents: predictions made again (other track.*
            # settings) into the same --pred are another evaluation.
            **_digests(pairs),
            "num_sequences": metric.num_sequences,
            "num_frames": metric.num_frames,
            "metrics": dict(metrics),  # NaN (MOTA of a joint never annotated): null.
            "primary_metric": metric.primary,
            "method": metric.describe(),
            "table": table,
            "seconds": round(time.perf_counter() - start, 3),
        }
        # evaluate.py's writer: an earlier evaluation there (another --pred,
        # or evaluate.py's) is moved into earlier.<n>/, not overwritten.
        from keras_pose.evaluation.runner import write_outputs
        print(f"wrote {write_outputs(FLAGS.output_dir, None, report, table)}")
    return 0


def _digests(pairs: list) -> dict:
    """The SHA-256 of the ground-truth and of the prediction files evaluated."""
    from keras_pose.digests import files_digest
    return {"ground_truth_sha256": files_digest([(os.path.basename(g), g) for g, _ in pairs]),
            "predictions_sha256": files_digest([(os.path.basename(p), p) for _, p in pairs])}


def main(argv):
    cli.refuse_arguments(argv)
    return cli.run("evaluate_posetrack.py", work)


if __name__ == "__main__":
    app.run(main, flags_parser=cli.flags_parser)
