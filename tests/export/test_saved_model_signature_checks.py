"""The SavedModel signatures' input checks (keras_pose.export.signature_checks):
inputs of another rank or shape fail the request naming the input and the
expected shape, before any op of the graph reads them."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf


@pytest.fixture(scope="module")
def loaded(tiny_exported):
    return tf.saved_model.load(tiny_exported[3])


# Run in a child process: oneDNN's convolution aborted the process (SIGABRT,
# "F tensor_format.h:428 Check failed") on a crop batch of another rank.
BAD_CROPS = """
import sys
import tensorflow as tf
heatmaps = tf.saved_model.load(sys.argv[1]).signatures["heatmaps"]
for shape in ([1, 64, 64], [64, 64, 3], [1, 64, 64, 4], [1, 64, 64, 1], [1, 32, 32, 3]):
    try:
        heatmaps(images=tf.zeros(shape))
        print(shape, "-> taken")
    except tf.errors.InvalidArgumentError as e:
        named = [line for line in e.message.splitlines() if "images:" in line]
        print(shape, "->", named[0] if named else e.message.strip().splitlines()[-1])
"""


def test_heatmaps_refuses_crops_of_another_shape_naming_images(tiny_exported):
    """A crop batch without its channel axis, a single crop, 4- or 1-channel
    crops and crops of another size: each a clean InvalidArgumentError naming
    ``images`` and the export's (N, 64, 64, 3), and the process lives on."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run([sys.executable, "-c", BAD_CROPS, tiny_exported[3]],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 5, run.stdout
    for line in lines:
        sent = line.split(" -> ")[0]  # e.g. "[1, 64, 64]", reported as "[1 64 64]"
        assert line.endswith(f"-> assertion failed: [images: this model takes normalised "
                             f"float32 crops (N, 64, 64, 3), 64x64 (height x width) RGB, "
                             f"got shape] {sent.replace(',', '')}"), line


SERVE_IMAGES = tf.zeros([1, 30, 40, 3], tf.uint8)
BOX = [[5.0, 5.0, 10.0, 20.0]]  # one (M=1, 4) box list of the 30x40 image


@pytest.mark.parametrize("signature,inputs,message", [
    ("serving_default", dict(images=SERVE_IMAGES, boxes=tf.constant(BOX),
                             num_boxes=tf.constant([1])), r"boxes: must be float32 \(N, M, 4\)"),
    ("serving_default", dict(images=SERVE_IMAGES, boxes=tf.constant([BOX]),
                             num_boxes=tf.constant(1)), r"num_boxes: must be int32 \(N,\)"),
    ("serving_default", dict(images=SERVE_IMAGES, boxes=tf.constant([BOX]),
                             num_boxes=tf.constant([[1]])), r"num_boxes: must be int32 \(N,\)"),
    ("encoded_image", dict(boxes=tf.constant([BOX])), r"boxes: must be float32 \(M, 4\)"),
    ("encoded_image", dict(boxes=tf.constant(BOX), bytes_shape=[1]),
     "image_bytes: must be one encoded image: a scalar string"),
], ids=["boxes_without_batch_axis", "num_boxes_scalar", "num_boxes_2d",
        "encoded_boxes_with_batch_axis", "image_bytes_list"])
def test_inputs_of_another_rank_are_refused_naming_the_input(loaded, signature, inputs,
                                                             message):
    """Each failed in TF's words naming no input ("Invalid reduction
    dimension", "In[0] should be a scalar", "The second input must be a
    scalar")."""
    inputs = dict(inputs)
    if signature == "encoded_image":
        jpeg = tf.io.encode_jpeg(SERVE_IMAGES[0])
        inputs["image_bytes"] = tf.reshape(jpeg, inputs.pop("bytes_shape", []))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        loaded.signatures[signature](**inputs)
