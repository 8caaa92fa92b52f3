"""The SavedModel signatures' input checks, in the graph.

TF Serving, ``saved_model_cli`` and a loaded signature do not hold a
request to the signature's shapes: whatever arrives reaches the graph. Each
check here fails a malformed request with an InvalidArgumentError whose
message names the input and the expected shape, and returns its input
behind the check (``tf.identity`` under a control dependency), so that no op
reading the returned tensor runs before it: else an op of the graph fails
first in TF's words, naming no input, or, for the network's convolutions,
oneDNN aborts the whole process (``F tensor_format.h Check failed``).

Shapes: N images, M boxes, h x w crops, H x W images.
"""

from __future__ import annotations

from typing import Optional

import tensorflow as tf

from keras_pose.data import transforms


# The rule of transforms.boxes_off_image, in the graph.
MAX_BOX_TO_IMAGE = transforms.MAX_BOX_TO_IMAGE


def runtime_shape(tensor: tf.Tensor) -> tf.Tensor:
    """The shape (rank,) int32 of ``tensor`` as it arrives at run time.

    The graph is built and optimised (Grappler) for the signature's shapes:
    the shape of an input the signature fixes entirely (``image_bytes``, a
    scalar) is folded into a constant, even as a raw Shape op, whatever
    arrives. Read through parse_tensor, whose output shape is unknown to
    both; of a string, its lengths (4 bytes a string, not the bytes).
    """
    if tensor.shape.is_fully_defined():
        probe = tf.strings.length(tensor) if tensor.dtype == tf.string else tensor
        tensor = tf.io.parse_tensor(tf.io.serialize_tensor(probe), probe.dtype)
    return tf.shape(tensor)


def runtime_rank(shape: tf.Tensor) -> tf.Tensor:
    """The rank (an int32 scalar) of a run-time ``shape`` (:func:`runtime_shape`).

    tf.rank / tf.size (and the axes of a reduction over all of them) are
    folded into the signature's rank when the graph is built or optimised,
    whatever arrives; the number of entries of the shape is not.
    """
    return tf.shape(tf.where(shape >= 0))[0]


def _checked(tensor: tf.Tensor, checks: list) -> tf.Tensor:
    """``tensor`` behind ``checks``: nothing that reads it runs before them."""
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def check_rank_tf(tensor: tf.Tensor, name: str, rank: int, expected: str,
                  last_dim: Optional[int] = None) -> tf.Tensor:
    """``tensor``, once checked to have ``rank`` dimensions (and a last one
    of ``last_dim``), else refused as ``"<name>: must be <expected>, got
    shape [...]"``. Checked before everything else reads the input: a box
    list without its batch axis, or a scalar ``num_boxes``, failed in TF's
    words ("Invalid reduction dimension"), naming no input."""
    shape = runtime_shape(tensor)
    ok = runtime_rank(shape) == rank
    if last_dim is not None:
        # shape[-1:] is empty, not an error, for a scalar: the rank decides then.
        ok = tf.logical_and(ok, tf.reduce_all(shape[-1:] == last_dim))
    check = tf.debugging.Assert(ok, [f"{name}: must be {expected}, got shape", shape],
                                summarize=8)
    return _checked(tensor, [check])


def check_crops_tf(images: tf.Tensor, crop_size: tuple[int, int]) -> tf.Tensor:
    """``images`` (the ``heatmaps`` signature's), once checked to be crops
    (N, h, w, 3) of ``crop_size`` (h, w). A crop batch without its channel
    axis, or a 3-D crop, aborted the process in oneDNN's convolution; 1- or
    4-channel crops failed with "input depth must be evenly divisible by
    filter depth", naming no input."""
    height, width = crop_size
    shape = runtime_shape(images)
    # Zeros in front: the last three entries exist even for a lower rank
    # (zeros never match h, w, 3), where shape[-3:] would not broadcast.
    tail = tf.concat([tf.zeros([3], tf.int32), shape], 0)[-3:]
    ok = tf.logical_and(runtime_rank(shape) == 4,
                        tf.reduce_all(tail == tf.constant([height, width, 3])))
    check = tf.debugging.Assert(ok, [
        f"images: this model takes normalised float32 crops (N, {height}, {width}, 3), "
        f"{height}x{width} (height x width) RGB, got shape", shape], summarize=8)
    return _checked(images, [check])


def check_boxes_tf(boxes: tf.Tensor, name: str,
                   image_size: Optional[tf.Tensor] = None) -> tf.Tensor:
    """``boxes``, once every (…, 4) box is checked finite with w, h > 0 and,
    given the (height, width) of its image, overlapping the image and at most
    ``MAX_BOX_TO_IMAGE`` times its larger side. Boxes are refused, not
    clipped: a box off the image is a caller's mistake, and clipping would
    change the crop of the people cut by the border."""
    checks = [
        tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(boxes)), [
            f"{name}: every box must be 4 finite numbers [x, y, w, h]"]),
        tf.debugging.Assert(tf.reduce_all(boxes[..., 2:] > 0), [
            f"{name}: every box must have a positive width and height"])]
    if image_size is not None:
        height, width = tf.unstack(tf.cast(image_size, tf.float32))
        x, y, w, h = tf.unstack(boxes, axis=-1)
        inside = tf.reduce_all((x < width) & (y < height) & (x + w > 0) & (y + h > 0))
        limit = MAX_BOX_TO_IMAGE * tf.maximum(height, width)
        checks += [
            tf.debugging.Assert(inside, [f"{name}: every box must overlap its image of size "
                                         "(height, width)", image_size]),
            tf.debugging.Assert(tf.reduce_all((w <= limit) & (h <= limit)), [
                f"{name}: a box is more than {MAX_BOX_TO_IMAGE:g} times the size of its "
                "image (height, width)", image_size])]
    return _checked(boxes, checks)  # Checked before anything reads them.


def check_image_shape_tf(images: tf.Tensor) -> tf.Tensor:
    """``images``, once checked to be a batch (N, H, W, 3), or (N, H, W, 1)
    grey images (their one channel stands for the three). A 4-channel (RGBA)
    or a 3-D image failed deep in the graph ("Incompatible shapes:
    [1,128,96,4] vs. [3]"), naming no input."""
    shape = runtime_shape(images)
    # shape[-1:] is empty, not an error, for a scalar: the rank decides then.
    channels_ok = tf.reduce_all((shape[-1:] == 3) | (shape[-1:] == 1))
    check = tf.debugging.Assert(tf.logical_and(runtime_rank(shape) == 4, channels_ok), [
        "images: must be uint8 (N, H, W, 3) RGB images (a batch, even of one), got shape",
        shape], summarize=8)
    return _checked(images, [check])


def check_one_image_tf(image: tf.Tensor) -> tf.Tensor:
    """``image`` (``detect``'s), once checked to be one non-empty (H, W, 3)
    RGB image: its check was the batch signatures' (naming ``images``, asking
    for a batch), which let a grey image through to TF's "input depth must
    be evenly divisible by filter depth", and an empty one to TF's words."""
    shape = runtime_shape(image)
    ok = tf.logical_and(runtime_rank(shape) == 3, tf.reduce_all(tf.concat(
        [shape[-1:] == 3, shape[:2] > 0], 0)))
    check = tf.debugging.Assert(ok, [
        "image: must be one non-empty uint8 (H, W, 3) RGB image, got shape", shape],
        summarize=8)
    return _checked(image, [check])


def check_images_tf(images: tf.Tensor, num_boxes: tf.Tensor) -> tf.Tensor:
    """``images``, once checked not empty (0 x 0) when boxes ask for people."""
    size = tf.shape(images)[1:3]
    check = tf.debugging.Assert(
        tf.logical_or(tf.reduce_sum(num_boxes) == 0, tf.reduce_all(size > 0)),
        ["images: the images are empty (height, width)", size,
         "but num_boxes asks for people in them"])
    return _checked(images, [check])


def check_threshold_tf(score_threshold: tf.Tensor) -> tf.Tensor:
    """``score_threshold``, once checked to be a list of zero or one finite
    number: a (1, 1) threshold failed in TF's words ("The second input must
    be a scalar", node All)."""
    shape = runtime_shape(score_threshold)
    rank = runtime_rank(shape)  # Also the reduction's axes: not folded.
    checks = [
        tf.debugging.Assert(tf.logical_and(rank == 1, tf.size(score_threshold) <= 1), [
            "score_threshold: a list of zero or one number, got shape", shape], summarize=8),
        tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(score_threshold), axis=tf.range(rank)),
            ["score_threshold: must be a finite number, got", score_threshold])]
    return _checked(score_threshold, checks)
