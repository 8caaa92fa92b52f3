"""The tf.data pipelines against the reference's per-sample code."""

import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

from keras_pose.configs.keypoints import COCO_FLIP_PAIRS
from keras_pose.data import coco, mpii, pipeline
from keras_pose.data import reference_impl as ref

IMAGE_SIZE, HEATMAP_SIZE, SIGMA = (192, 256), (48, 64), 2.0
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


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


def _denormalise(image):
    return np.clip(np.round((image * np.array(STD) + np.array(MEAN)) * 255), 0, 255)


@pytest.mark.parametrize("normal_scale,rot_coin,normal_rot,flip_coin", [
    (0.0, 0.9, 0.0, 0.9),      # no augmentation
    (0.7, 0.3, -0.8, 0.2),     # scale, rotation, flip
    (-2.5, 0.5, 3.0, 0.7),     # clipped scale and rotation
])
@pytest.mark.parametrize("which", ["coco", "mpii"])
def test_augment_matches_reference(which, normal_scale, rot_coin, normal_rot, flip_coin,
                                   coco_records, mpii_records):
    records = coco_records if which == "coco" else mpii_records
    sf, rf = (0.3, 40.0) if which == "coco" else (0.25, 30.0)
    pairs = COCO_FLIP_PAIRS if which == "coco" else ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))
    image_size = IMAGE_SIZE if which == "coco" else (256, 256)
    heatmap_size = HEATMAP_SIZE if which == "coco" else (64, 64)
    for i in range(min(len(records), 5)):
        image_bgr = cv2.imread(records.image_path[i], cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        rng = ScriptedRng([normal_scale, normal_rot], [rot_coin, flip_coin])
        crop, joints, vis = pipeline.augment_sample(
            cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB), records.joints[i], records.joints_vis[i],
            records.center[i], records.scale[i], rng, image_size=image_size, flip_pairs=pairs,
            scale_factor=sf, rotation_factor=rf)
        multiplier = np.clip(normal_scale * sf + 1, 1 - sf, 1 + sf)
        rotation = float(np.clip(normal_rot * rf, -2 * rf, 2 * rf)) if rot_coin <= 0.6 else 0.0
        r_crop, r_target, r_weight, r_joints = ref.reference_sample(
            records.image_path[i], records.joints[i], records.joints_vis[i], records.center[i],
            records.scale[i], image_size=image_size, heatmap_size=heatmap_size, sigma=SIGMA,
            flip_pairs=pairs, scale_multiplier=multiplier, rotation=rotation,
            flip=flip_coin <= 0.5, image=image_bgr)
        assert np.abs(crop.astype(float) - r_crop[..., ::-1]).mean() <= 1.0
        np.testing.assert_allclose(joints, r_joints[:, :2], atol=1e-3)
        from keras_pose.codec import HeatmapCodec
        heatmaps, weight = HeatmapCodec(image_size, heatmap_size, SIGMA).encode(joints, vis)
        np.testing.assert_array_equal(np.transpose(heatmaps, (2, 0, 1)), r_target)
        np.testing.assert_array_equal(weight, r_weight[:, 0])


def test_train_dataset_elements_and_determinism(coco_records):
    kwargs = dict(image_size=IMAGE_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA,
                  flip_pairs=COCO_FLIP_PAIRS, scale_factor=0.3, rotation_factor=40.0,
                  batch_size=4, seed=3)
    batches = list(pipeline.build_train_dataset(coco_records, **kwargs))
    assert len(batches) == len(coco_records) // 4
    b = batches[0]
    assert b["image"].shape == (4, 256, 192, 3) and b["image"].dtype == tf.float32
    assert b["heatmaps"].shape == (4, 64, 48, 17)
    assert b["target_weight"].shape == (4, 17) and b["joints"].shape == (4, 17, 2)
    again = list(pipeline.build_train_dataset(coco_records, **kwargs))
    for x, y in zip(batches, again):
        np.testing.assert_array_equal(x["image"].numpy(), y["image"].numpy())
        np.testing.assert_array_equal(x["heatmaps"].numpy(), y["heatmaps"].numpy())
    # A new pass (epoch) draws new augmentations.
    ds = pipeline.build_train_dataset(coco_records, **kwargs)
    first = [e["image"].numpy() for e in ds]
    second = [e["image"].numpy() for e in ds]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))


def test_train_dataset_without_augmentation_matches_reference(coco_records):
    ds = pipeline.build_train_dataset(
        coco_records, image_size=IMAGE_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA,
        flip_pairs=COCO_FLIP_PAIRS, scale_factor=0.0, rotation_factor=0.0, rotation_prob=0.0,
        flip=False, batch_size=1, shuffle=False, seed=0)
    seen = []
    for element in ds:
        i = int(element["index"][0])
        seen.append(i)
        r_crop, r_target, r_weight, _ = ref.reference_sample(
            coco_records.image_path[i], coco_records.joints[i], coco_records.joints_vis[i],
            coco_records.center[i], coco_records.scale[i], image_size=IMAGE_SIZE,
            heatmap_size=HEATMAP_SIZE, sigma=SIGMA, flip_pairs=COCO_FLIP_PAIRS)
        crop = _denormalise(element["image"].numpy()[0])
        assert np.abs(crop - r_crop[..., ::-1]).mean() <= 1.0
        np.testing.assert_array_equal(np.transpose(element["heatmaps"].numpy()[0], (2, 0, 1)),
                                      r_target)
        np.testing.assert_array_equal(element["target_weight"].numpy()[0], r_weight[:, 0])
    assert sorted(seen) == list(range(len(coco_records)))


def test_corrupt_and_missing_images_are_skipped_and_counted(coco_records, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    values = coco_records.to_dict()
    values["image_path"] = values["image_path"].astype(object)
    values["image_path"][0] = str(bad)
    values["image_path"][1] = str(tmp_path / "missing.jpg")
    counter = pipeline.SkipCounter()
    ds = pipeline.build_train_dataset(
        values, image_size=IMAGE_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA,
        flip_pairs=COCO_FLIP_PAIRS, scale_factor=0.3, rotation_factor=40.0, batch_size=1,
        seed=0, skipped_counter=counter)
    assert sum(1 for _ in ds) == len(coco_records) - 2
    assert counter.count == 2 and str(bad) in counter.names


def _indices(ds):
    return [int(i) for batch in ds for i in batch["index"].numpy()]


def test_sharding_splits_whole_images_balanced_by_people(coco_records):
    shards = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        ds = pipeline.build_train_dataset(
            coco_records, image_size=IMAGE_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA,
            flip_pairs=COCO_FLIP_PAIRS, scale_factor=0.0, rotation_factor=0.0, flip=False,
            batch_size=1, seed=0, input_context=context, shuffle=False)
        shards.append(_indices(ds))
    assert sorted(shards[0] + shards[1]) == list(range(len(coco_records)))
    images = [{coco_records.image_path[i] for i in shard} for shard in shards]
    assert not images[0] & images[1]
    largest = max(len(g) for g in pipeline.group_by_image(coco_records.image_path))
    assert abs(len(shards[0]) - len(shards[1])) <= largest


def test_repeat_keeps_yielding_new_passes(coco_records):
    ds = pipeline.build_train_dataset(
        coco_records, image_size=IMAGE_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA,
        flip_pairs=COCO_FLIP_PAIRS, scale_factor=0.3, rotation_factor=40.0, batch_size=4,
        seed=0, repeat=True)
    n = len(coco_records)
    indices = _indices(ds.take(3 * n // 4))
    # Passes meet inside the interleave, so only the totals are exact.
    assert len(indices) == 3 * n and set(indices) == set(range(n))
    assert all(2 <= indices.count(i) <= 4 for i in range(n))
    assert indices[:n] != indices[n:2 * n]


def test_group_by_image_and_interleaving(coco_records):
    paths = ["b.jpg", "a.jpg", "b.jpg", "c.jpg", "a.jpg", "b.jpg"]
    groups = pipeline.group_by_image(paths)
    assert [list(g) for g in groups] == [[0, 2, 5], [1, 4], [3]]
    assert pipeline.shard_groups(groups, 2, 0) == [0]
    assert pipeline.shard_groups(groups, 2, 1) == [1, 2]
    # People of one image are spread over the stream, not back to back.
    ds = pipeline.build_train_dataset(
        coco_records, image_size=IMAGE_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA,
        flip_pairs=COCO_FLIP_PAIRS, scale_factor=0.0, rotation_factor=0.0, flip=False,
        batch_size=4, seed=0, shuffle=False, drop_remainder=False)
    order = [coco_records.image_path[i] for i in _indices(ds)]
    num_images = len(set(order))
    assert len(set(order[:num_images])) == num_images


def test_eval_dataset_matches_reference_crops(coco_records):
    ds = pipeline.build_eval_dataset(coco_records, image_size=IMAGE_SIZE, batch_size=4)
    count = 0
    for batch in ds:
        for j in range(batch["image"].shape[0]):
            i = int(batch["index"][j])
            r_crop, *_ = ref.reference_sample(
                coco_records.image_path[i], coco_records.joints[i], coco_records.joints_vis[i],
                coco_records.center[i], coco_records.scale[i], image_size=IMAGE_SIZE,
                heatmap_size=HEATMAP_SIZE, sigma=SIGMA, flip_pairs=COCO_FLIP_PAIRS)
            crop = _denormalise(batch["image"].numpy()[j])
            assert np.abs(crop - r_crop[..., ::-1]).mean() <= 1.0
            np.testing.assert_allclose(batch["center"].numpy()[j], coco_records.center[i])
            count += 1
    assert count == len(coco_records)


def test_eval_dataset_names_missing_images(coco_records, tmp_path):
    values = coco_records.to_dict()
    values["image_path"] = values["image_path"].astype(object)
    values["image_path"][0] = str(tmp_path / "gone.jpg")
    with pytest.raises(FileNotFoundError, match="gone.jpg"):
        pipeline.build_eval_dataset(values, image_size=IMAGE_SIZE)


def test_steps_run_the_same_eagerly_and_in_tf_data():
    from keras_pose.codec import HeatmapCodec
    codec = HeatmapCodec(IMAGE_SIZE, HEATMAP_SIZE, SIGMA)
    joints = np.random.default_rng(0).uniform(-10, 200, (17, 2)).astype(np.float32)
    vis = np.ones(17, np.float32)
    eager = codec.encode_tf(joints, vis)
    ds = tf.data.Dataset.from_tensors((joints, vis)).map(codec.encode_tf)
    graph = next(iter(ds))
    np.testing.assert_array_equal(eager[0].numpy(), graph[0].numpy())
    image = np.random.default_rng(1).integers(0, 255, (50, 60, 3)).astype(np.uint8)
    step = lambda im: pipeline.eval_crop_tf(im, tf.constant([30.0, 25.0]),  # noqa: E731
                                            tf.constant([0.3, 0.4]), (32, 64))
    np.testing.assert_array_equal(step(image).numpy(),
                                  next(iter(tf.data.Dataset.from_tensors(image).map(step))).numpy())
