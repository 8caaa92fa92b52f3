"""Exports a checkpoint as a SavedModel for TF Serving (and optionally TFLite).

    python scripts/export_saved_model.py --checkpoint output/tiny --output exported/tiny
    saved_model_cli show --dir exported/tiny --all

Signatures: ``serving_default`` (uint8 images + boxes -> keypoints, the whole
pipeline in the graph) and ``heatmaps`` (normalised crops -> heatmaps). See
``keras_pose.export``.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("checkpoint", None, "Checkpoint or model directory.")
flags.DEFINE_string("output", None, "SavedModel directory to write.")
flags.DEFINE_boolean("flip", None, "Flip test in serving_default (default test.flip_test).")
flags.DEFINE_string("tflite", None, "Also write the heatmaps signature as this .tflite file.")
flags.mark_flags_as_required(["checkpoint", "output"])


def main(argv):
    del argv
    from keras_pose.checkpoint import load_model
    from keras_pose.export import export_saved_model, export_tflite
    try:
        model, config = load_model(FLAGS.checkpoint)
    except (ValueError, OSError) as e:
        print(f"export_saved_model.py: error: {e}", file=sys.stderr)
        return 1
    path = export_saved_model(model, config, FLAGS.output, flip=FLAGS.flip)
    print(f"SavedModel: {path}")
    if FLAGS.tflite:
        print(f"TFLite (heatmaps): {export_tflite(path, FLAGS.tflite)}")
    return 0


if __name__ == "__main__":
    app.run(main)
