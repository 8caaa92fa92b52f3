"""The tf.data pipelines against the reference's per-sample code."""

import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.codec import MSRAHeatmap
from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
from keras_pose.data import pipeline, samples
from tests import broken_images
from tests import reference_impl as ref

IMAGE_SIZE, HEATMAP_SIZE, SIGMA = (192, 256), (48, 64), 2.0
CODEC = MSRAHeatmap(IMAGE_SIZE, HEATMAP_SIZE, SIGMA)
PLAIN = samples.Augmentation(IMAGE_SIZE, COCO_FLIP_PAIRS, rotation_prob=0.0)
COCO_AUG = samples.Augmentation(IMAGE_SIZE, COCO_FLIP_PAIRS, scale_factor=0.3,
                                rotation_factor=40.0, flip=True)


def _dataset(records, aug=PLAIN, batch=4, steps=None, **kwargs):
    steps = steps or len(records) // batch
    return pipeline.build_train_dataset(records, aug, CODEC, batch_size=batch,
                                        steps_per_epoch=steps, **kwargs)


def _epochs(ds, steps, epochs):
    batches = list(ds.take(steps * epochs))
    return [batches[e * steps:(e + 1) * steps] for e in range(epochs)]


def test_epochs_are_a_function_of_the_seed_and_the_epoch(coco_records):
    steps = len(coco_records) // 4
    first = _epochs(_dataset(coco_records, COCO_AUG, seed=3), steps, 2)
    b = first[0][0]
    assert b["image"].shape == (4, 256, 192, 3) and b["image"].dtype == tf.uint8
    assert b["heatmaps"].shape == (4, 64, 48, 17) and b["target_weight"].shape == (4, 17)
    again = _epochs(_dataset(coco_records, COCO_AUG, seed=3), steps, 2)
    resumed = _epochs(_dataset(coco_records, COCO_AUG, seed=3, start_epoch=1), steps, 1)
    for x, y, z in zip(first[1], again[1], resumed[0]):
        np.testing.assert_array_equal(x["image"].numpy(), y["image"].numpy())
        np.testing.assert_array_equal(x["image"].numpy(), z["image"].numpy())  # resume
        np.testing.assert_array_equal(x["heatmaps"].numpy(), z["heatmaps"].numpy())
    assert any(not np.array_equal(a["image"], b["image"]) for a, b in zip(*first))
    other = _epochs(_dataset(coco_records, COCO_AUG, seed=4), steps, 1)[0]
    assert any(not np.array_equal(a["image"], b["image"]) for a, b in zip(first[0], other))


def test_unaugmented_samples_are_the_reference_and_each_person_comes_once(coco_records):
    n = len(coco_records)
    seen = []
    for element in _dataset(coco_records, batch=1, steps=n).take(n):
        i = int(element["index"][0])
        seen.append(i)
        r_crop, r_target, r_weight, _ = ref.reference_sample(
            coco_records.image_path[i], coco_records.joints[i], coco_records.joints_vis[i],
            coco_records.center[i], coco_records.scale[i], image_size=IMAGE_SIZE,
            heatmap_size=HEATMAP_SIZE, sigma=SIGMA, flip_pairs=COCO_FLIP_PAIRS)
        np.testing.assert_array_equal(element["image"].numpy()[0], r_crop[..., ::-1])
        np.testing.assert_array_equal(np.transpose(element["heatmaps"].numpy()[0], (2, 0, 1)),
                                      r_target)
        np.testing.assert_array_equal(element["target_weight"].numpy()[0], r_weight[:, 0])
    assert sorted(seen) == list(range(n))


def test_unreadable_images_are_skipped_and_counted_and_epochs_stay_full(coco_records,
                                                                          tmp_path):
    values = coco_records.to_dict()
    values["image_path"] = values["image_path"].astype(object)
    bad, missing = tmp_path / "bad.jpg", tmp_path / "missing.jpg"
    data = open(coco_records.image_path[0], "rb").read()
    bad.write_bytes(data[:len(data) // 2])  # truncated: TF refuses it
    values["image_path"][values["image_path"] == coco_records.image_path[0]] = str(bad)
    values["image_path"][values["image_path"] == coco_records.image_path[-1]] = str(missing)
    counter = samples.SkipCounter()
    n = len(coco_records)
    indices = [int(i) for b in _dataset(values, batch=1, steps=n,
                                        skipped_counter=counter).take(n) for i in b["index"]]
    skipped = {i for i in range(n) if values["image_path"][i] in (str(bad), str(missing))}
    assert len(indices) == n and not skipped & set(indices)  # the next pass filled the epoch
    assert counter.count >= len(skipped) and str(bad) in counter.names
    assert str(missing) in counter.names


def test_a_skipped_image_is_reported_with_its_reason(coco_records, tmp_path, caplog):
    # An animated WebP was "cannot be read or decoded" in training and
    # evaluation (predict.py said why: convert its first frame).
    import logging
    paths = list(dict.fromkeys(coco_records.image_path))
    animated = broken_images.write_variant(paths[0], str(tmp_path), "anim", "webp_animated")
    values = _with_images(coco_records, {paths[0]: animated})
    caplog.set_level(logging.WARNING, logger="absl")
    n = len(coco_records)
    list(_dataset(values, batch=1, steps=n, skipped_counter=samples.SkipCounter()).take(n))
    assert f"of {animated}: an animated WebP, which TensorFlow's decoder cannot read" in \
        caplog.text


def _with_images(records, replace):
    """The records as a dict whose image paths ``replace`` maps."""
    values = records.to_dict()
    values["image_path"] = np.array([replace.get(p, p) for p in values["image_path"]], object)
    return values


def test_a_pipeline_none_of_whose_images_can_be_read_is_an_error(coco_records, tmp_path):
    paths = list(dict.fromkeys(coco_records.image_path))
    broken = {p: broken_images.write_variant(p, str(tmp_path), f"b{i}", kind) for i, (p, kind)
              in enumerate(zip(paths, broken_images.UNREADABLE))}
    # Before: an endless empty data set, decoding the same files forever.
    with pytest.raises(samples.UnreadableImagesError,
                       match=r"none of the 4 training images of the training split.*b0\.jpg"):
        _dataset(_with_images(coco_records, broken), batch=1, steps=4)
    # Several pipelines: a shard of unreadable images fails, the other runs.
    groups = pipeline.group_by_image(coco_records.image_path)
    second = [paths[g] for g in pipeline.shard_groups(groups, 2, 1)]
    values = _with_images(coco_records, {p: broken[p] for p in second})
    contexts = [tf.distribute.InputContext(2, i, 2) for i in range(2)]
    with pytest.raises(samples.UnreadableImagesError, match="input pipeline 2 of 2"):
        _dataset(values, batch=1, steps=2, input_context=contexts[1])
    assert len(list(_dataset(values, batch=1, steps=2, input_context=contexts[0]).take(4))) == 4
    # Images that stop being readable while training: an error, not a loop.
    copies = {p: shutil.copy(p, tmp_path / f"c{i}.jpg") for i, p in enumerate(paths)}
    counter = samples.SkipCounter()
    ds = _dataset(_with_images(coco_records, copies), batch=1, steps=4, skipped_counter=counter)
    for copy in copies.values():
        os.remove(copy)
    with pytest.raises(tf.errors.OpError, match="none of the 4 training images"):
        list(ds.take(1))
    assert "none of the 4" in counter.error and counter.images == 4


def test_an_epoch_is_filled_from_its_own_passes_however_many_images_fail(coco_records,
                                                                           tmp_path):
    paths = list(dict.fromkeys(coco_records.image_path))
    broken = {p: broken_images.write_variant(p, str(tmp_path), f"b{i}", "truncated")
              for i, p in enumerate(paths[1:])}
    values = _with_images(coco_records, broken)
    n = len(coco_records)  # 4 passes of the one readable image per epoch
    readable = {i for i in range(n) if values["image_path"][i] == paths[0]}
    assert 0 < len(readable) <= n // 4
    counter = samples.SkipCounter()
    epochs = _epochs(_dataset(values, COCO_AUG, batch=1, steps=n, skipped_counter=counter), n, 2)
    resumed = _epochs(_dataset(values, COCO_AUG, batch=1, steps=n, start_epoch=1), n, 1)[0]
    assert set(_indices(epochs[0])) == readable and len(_indices(epochs[0])) == n
    for x, y in zip(epochs[1], resumed):  # epoch 1 does not depend on the skips of epoch 0
        np.testing.assert_array_equal(x["image"].numpy(), y["image"].numpy())
    assert counter.images == 3 and set(counter.names) == set(broken.values())


def _indices(ds):
    return [int(i) for batch in ds for i in batch["index"].numpy()]


def test_shards_hold_whole_images_balanced_by_people(coco_records):
    shards = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        groups = pipeline.group_by_image(coco_records.image_path)
        mine = pipeline.shard_groups(groups, 2, pipeline_id)
        people = sum(len(groups[g]) for g in mine)
        shards.append(_indices(_dataset(coco_records, batch=1, steps=people,
                                        input_context=context).take(people)))
    assert sorted(shards[0] + shards[1]) == list(range(len(coco_records)))
    images = [{coco_records.image_path[i] for i in shard} for shard in shards]
    assert not images[0] & images[1]
    largest = max(len(g) for g in pipeline.group_by_image(coco_records.image_path))
    assert abs(len(shards[0]) - len(shards[1])) <= largest


def test_group_by_image_and_interleaving(coco_records):
    paths = ["b.jpg", "a.jpg", "b.jpg", "c.jpg", "a.jpg", "b.jpg"]
    groups = pipeline.group_by_image(paths)
    assert [list(g) for g in groups] == [[0, 2, 5], [1, 4], [3]]
    assert pipeline.shard_groups(groups, 2, 0) == [0]
    assert pipeline.shard_groups(groups, 2, 1) == [1, 2]
    # People of one image are spread over the stream, not back to back.
    n = len(coco_records)
    order = [coco_records.image_path[i] for i in _indices(_dataset(coco_records, batch=1,
                                                                   steps=n).take(n))]
    num_images = len(set(order))
    assert len(set(order[:num_images])) == num_images


def test_eval_dataset_decodes_each_image_once_and_crops_with_the_crop_op(coco_records, tmp_path):
    # Every person's crop comes from its own image; with one image file
    # gone after the first read, only the decode-once pipeline would work.
    ds = pipeline.build_eval_dataset(coco_records, image_size=IMAGE_SIZE, batch_size=3)
    seen = []
    for batch in ds:
        for j, i in enumerate(batch["index"].numpy()):
            seen.append(int(i))
            image = cv2.cvtColor(cv2.imread(coco_records.image_path[i]), cv2.COLOR_BGR2RGB)
            m = ref.affine_matrix(coco_records.center[i], coco_records.scale[i], 0, IMAGE_SIZE)
            theirs = cv2.warpAffine(image, m, IMAGE_SIZE, flags=cv2.INTER_LINEAR)
            difference = np.abs(batch["image"].numpy()[j] - theirs)  # OpenCV's uint8 crop
            assert difference.max() <= 1 and np.mean(difference > 0) < 5e-4
            np.testing.assert_array_equal(batch["center"].numpy()[j], coco_records.center[i])
            assert batch["score"].numpy()[j] == coco_records.score[i]
    assert sorted(seen) == list(range(len(coco_records)))


def test_eval_crops_are_made_at_most_a_batch_at_a_time(coco_records, monkeypatch):
    """An image's people were all cropped at once, ~8 full-size temporaries
    each: 2,000 detections in one photo took 5.2 GB. Every crop call now gets
    at most a batch of people, and every person still comes once."""
    most = int(np.max(np.unique(coco_records.image_path, return_counts=True)[1]))
    assert most > 2  # Some image of the sample has more people than a batch.
    crop = pipeline.transforms.crop_images_tf

    def bounded(images, image_index, inverse, image_size):
        with tf.control_dependencies([tf.debugging.assert_less_equal(tf.shape(inverse)[0], 2)]):
            return tf.identity(crop(images, image_index, inverse, image_size))

    monkeypatch.setattr(pipeline.transforms, "crop_images_tf", bounded)
    ds = pipeline.build_eval_dataset(coco_records, image_size=IMAGE_SIZE, batch_size=2)
    seen = [int(i) for batch in ds for i in batch["index"].numpy()]
    assert sorted(seen) == list(range(len(coco_records)))


def test_undecodable_images_are_every_file_the_decoder_refuses_once_each(coco_records,
                                                                          tmp_path):
    """Each broken kind among readable photos, each path listed twice (people
    of one image): the refused files once each, in order of first appearance,
    the readable ones (the decodable unusual kinds too) not."""
    paths = list(dict.fromkeys(coco_records.image_path))
    broken = [broken_images.write_variant(paths[0], str(tmp_path), f"b{i}", kind)
              for i, kind in enumerate(broken_images.UNREADABLE)]
    decodable = [broken_images.write_variant(paths[0], str(tmp_path), f"d{i}", kind)
                 for i, kind in enumerate(broken_images.DECODABLE)]
    mixed = [p for pair in zip(paths, broken[:4]) for p in pair] + broken[4:] + decodable
    assert pipeline.undecodable_images(mixed + mixed[::-1], num_parallel_calls=2) == broken
    assert pipeline.undecodable_images(paths + decodable) == []
    assert pipeline.undecodable_images([]) == []


def test_eval_dataset_fails_on_an_unreadable_image(coco_records, tmp_path):
    values = coco_records.to_dict()
    values["image_path"] = values["image_path"].astype(object)
    shutil.copy(coco_records.image_path[0], tmp_path / "x.jpg")
    values["image_path"][0] = str(tmp_path / "gone.jpg")
    with pytest.raises(tf.errors.NotFoundError):
        list(pipeline.build_eval_dataset(values, image_size=IMAGE_SIZE))


def test_the_second_pass_of_a_long_epoch_is_augmented_anew(coco_records):
    """An epoch of two passes over a one-person set: the two samples of the
    person come from different draws (the same crop twice would be half the augmentation an epoch of two
    passes is meant to see)."""
    one = coco_records.select(np.arange(len(coco_records)) == 0)
    first, second = list(_dataset(one, COCO_AUG, batch=1, steps=2, seed=5).take(2))
    assert int(first["index"][0]) == int(second["index"][0]) == 0
    assert not np.array_equal(first["image"].numpy(), second["image"].numpy())


def test_the_second_pass_of_a_long_epoch_is_reshuffled(coco_records):
    """An epoch of two passes over one person per image: each pass holds
    every image once, and the second pass is in another order (for some of
    a few seeds: 1 in 24 orders of 4 images coincide by chance)."""
    groups = pipeline.group_by_image(coco_records.image_path)
    firsts = np.isin(np.arange(len(coco_records)), [g[0] for g in groups])
    one_each = coco_records.select(firsts)
    n = len(one_each)
    assert n == len(groups) >= 4
    reshuffled = []
    for seed in range(4):
        order = _indices(_dataset(one_each, batch=1, steps=2 * n, seed=seed).take(2 * n))
        assert sorted(order[:n]) == sorted(order[n:]) == list(range(n))
        reshuffled.append(order[:n] != order[n:])
    assert any(reshuffled)
