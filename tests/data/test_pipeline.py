"""The tf.data pipelines against the reference's per-sample code."""

import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.codec import MSRAHeatmap
from keras_pose.configs.keypoints import COCO_FLIP_PAIRS, MPII_FLIP_PAIRS
from keras_pose.data import coco, mpii, pipeline, samples
from tests import broken_images
from tests import reference_impl as ref

IMAGE_SIZE, HEATMAP_SIZE, SIGMA = (192, 256), (48, 64), 2.0
CODEC = MSRAHeatmap(IMAGE_SIZE, HEATMAP_SIZE, SIGMA)
PLAIN = samples.Augmentation(IMAGE_SIZE, COCO_FLIP_PAIRS, rotation_prob=0.0)
COCO_AUG = samples.Augmentation(IMAGE_SIZE, COCO_FLIP_PAIRS, scale_factor=0.3,
                                 rotation_factor=40.0, flip=True)


@pytest.fixture(scope="module")
def coco_records(coco_dir):
    return coco.load_coco_gt(os.path.join(coco_dir, "test_coco.json"), coco_dir, 0.75)


@pytest.fixture(scope="module")
def mpii_records(mpii_dir):
    return mpii.load_mpii(os.path.join(mpii_dir, "test_mpii.json"), mpii_dir)


class ScriptedRng:
    """Hands out pre-set random draws in the order augment_sample asks."""

    def __init__(self, normals, uniforms):
        self.normals, self.uniforms = list(normals), list(uniforms)

    def standard_normal(self):
        return self.normals.pop(0)

    def random(self):
        return self.uniforms.pop(0)


@pytest.mark.parametrize("normal_scale,rot_coin,normal_rot,flip_coin", [
    (0.0, 0.9, 0.0, 0.9),      # no augmentation
    (0.7, 0.3, -0.8, 0.9),     # scale and rotation
    (-2.5, 0.5, 3.0, 0.9),     # clipped scale and rotation
    (0.7, 0.3, -0.8, 0.2),     # scale, rotation and flip
])
@pytest.mark.parametrize("which", ["coco", "mpii"])
def test_augment_matches_reference(which, normal_scale, rot_coin, normal_rot, flip_coin,
                                   coco_records, mpii_records):
    records = coco_records if which == "coco" else mpii_records
    sf, rf = (0.3, 40.0) if which == "coco" else (0.25, 30.0)
    pairs = COCO_FLIP_PAIRS if which == "coco" else MPII_FLIP_PAIRS
    image_size = IMAGE_SIZE if which == "coco" else (256, 256)
    heatmap_size = HEATMAP_SIZE if which == "coco" else (64, 64)
    aug = samples.Augmentation(image_size, pairs, scale_factor=sf, rotation_factor=rf,
                                flip=True)
    flipped = flip_coin <= 0.5
    for i in range(min(len(records), 5)):
        image_bgr = cv2.imread(records.image_path[i])
        rng = ScriptedRng([normal_scale, normal_rot], [rot_coin, flip_coin])
        crop, joints, vis = samples.augment_sample(
            image_bgr[..., ::-1].copy(), records.joints[i], records.joints_vis[i],
            records.center[i], records.scale[i], rng, aug)
        multiplier = np.clip(normal_scale * sf + 1, 1 - sf, 1 + sf)
        rotation = float(np.clip(normal_rot * rf, -2 * rf, 2 * rf)) if rot_coin <= 0.6 else 0.0
        r_crop, r_target, r_weight, r_joints = ref.reference_sample(
            records.image_path[i], records.joints[i], records.joints_vis[i], records.center[i],
            records.scale[i], image_size=image_size, heatmap_size=heatmap_size, sigma=SIGMA,
            flip_pairs=pairs, scale_multiplier=multiplier, rotation=rotation, flip=flipped,
            image=image_bgr)
        if flipped:  # The mirror is folded into the warp: float rounding only.
            assert np.abs(crop.astype(float) - r_crop[..., ::-1]).mean() < 0.05
        else:  # The same warpAffine call on the same pixels: identical.
            np.testing.assert_array_equal(crop, r_crop[..., ::-1])
        np.testing.assert_allclose(joints, r_joints[:, :2], atol=1e-3)
        heatmaps, weight = MSRAHeatmap(image_size, heatmap_size, SIGMA).encode(joints, vis)
        np.testing.assert_array_equal(np.transpose(heatmaps, (2, 0, 1)), r_target)
        np.testing.assert_array_equal(weight, r_weight[:, 0])


def test_the_sample_code_warps_into_aligned_output_that_tf_takes_without_a_copy(coco_records):
    """Crops are warped straight into the output array, whose data are
    64-byte aligned: tf.numpy_function (in a graph) then hands it to TF
    without copying it with the GIL held."""
    image = cv2.imread(coco_records.image_path[0])
    out = samples.aligned_empty((2, 256, 192, 3), np.uint8)
    assert out.ctypes.data % 64 == 0 and out.flags.c_contiguous
    args = (image, coco_records.joints[0], coco_records.joints_vis[0], coco_records.center[0],
            coco_records.scale[0])
    crop, joints, _ = samples.augment_sample(*args, np.random.default_rng(1), COCO_AUG,
                                              out=out[1])
    assert np.shares_memory(crop, out)
    again, joints_again, _ = samples.augment_sample(*args, np.random.default_rng(1), COCO_AUG)
    np.testing.assert_array_equal(out[1], again)
    np.testing.assert_array_equal(joints, joints_again)

    kept = {}

    def make():
        kept["array"] = samples.aligned_empty((1000,), np.float32)
        kept["array"][:] = 1
        return kept["array"]

    tensor = tf.function(lambda: tf.numpy_function(make, [], tf.float32, stateful=True))()
    kept["array"][:] = 2
    assert float(tensor[0]) == 2  # the same memory: not copied


def test_half_body_follows_the_reference_rule():
    """HRNet's rule on fixed draws: a normal draw < 0.5 picks the upper body
    (when it has > 2 visible joints), the box of those joints is fixed to the
    aspect ratio and x1.5."""
    joints = np.array([[x, y] for x, y in zip(range(10, 180, 10), range(20, 190, 10))],
                      np.float32)
    vis = np.ones(17, np.float32)
    upper = tuple(range(11))
    c, s = samples.half_body_center_scale(joints, vis, upper, 0.75, ScriptedRng([0.1], []))
    sel = joints[:11]
    np.testing.assert_allclose(c, sel.mean(0))
    w, h = np.ptp(sel[:, 0]), np.ptp(sel[:, 1])
    w = max(w, h * 0.75)
    np.testing.assert_allclose(s, [w / 200 * 1.5, w / 0.75 / 200 * 1.5], rtol=1e-6)
    c, _ = samples.half_body_center_scale(joints, vis, upper, 0.75, ScriptedRng([0.9], []))
    np.testing.assert_allclose(c, joints[11:].mean(0))  # the lower body
    aug = samples.Augmentation((192, 256), COCO_FLIP_PAIRS, half_body_prob=1.0,
                                upper_body_ids=upper)
    image = np.zeros((300, 300, 3), np.uint8)
    _, crop_joints, _ = samples.augment_sample(image, joints, vis, [150, 150], [2, 2],
                                                ScriptedRng([0.1, 0.0], [0.0, 0.9, 0.9]), aug)
    m = ref.affine_matrix(sel.mean(0), [w / 200 * 1.5, w / 0.75 / 200 * 1.5], 0, (192, 256))
    np.testing.assert_allclose(crop_joints[0], ref.apply_affine(joints[0], m), atol=1e-3)


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
            assert np.abs(batch["image"].numpy()[j] - theirs).max() <= 0.52
            np.testing.assert_array_equal(batch["center"].numpy()[j], coco_records.center[i])
            assert batch["score"].numpy()[j] == coco_records.score[i]
    assert sorted(seen) == list(range(len(coco_records)))


def test_eval_dataset_fails_on_an_unreadable_image(coco_records, tmp_path):
    values = coco_records.to_dict()
    values["image_path"] = values["image_path"].astype(object)
    shutil.copy(coco_records.image_path[0], tmp_path / "x.jpg")
    values["image_path"][0] = str(tmp_path / "gone.jpg")
    with pytest.raises(tf.errors.NotFoundError):
        list(pipeline.build_eval_dataset(values, image_size=IMAGE_SIZE))
