"""keras_pose.training.resume: which settings a resume takes, names or refuses."""

import dataclasses

import pytest

from keras_pose.configs import apply_overrides, get_experiment


def test_resume_names_the_settings_changed_since_the_checkpoint(caplog):
    import logging

    from keras_pose.training.resume import log_changed_settings
    caplog.set_level(logging.INFO, logger="absl")
    saved = get_experiment("tiny")
    path = "run/checkpoints/epoch_0003"
    log_changed_settings(saved, apply_overrides(saved, []), path)
    assert "changed" not in caplog.text  # the same command: nothing to say
    # An earlier version's None for a path not given is today's "": the same.
    log_changed_settings(
        saved.replace(train=dataclasses.replace(saved.train, init_checkpoint=None)),
        saved.replace(train=dataclasses.replace(saved.train, init_checkpoint="")), path)
    assert "changed" not in caplog.text
    log_changed_settings(saved, apply_overrides(
        saved, ["train.epochs=20", "train.learning_rate=0.01", "data.root=elsewhere"]), path)
    assert ("Resuming run/checkpoints/epoch_0003 with settings changed since it was written "
            "(by this command, or as new defaults of keras-pose since): "
            f"data.root: {saved.data.root} -> elsewhere; train.epochs: {saved.train.epochs} -> "
            f"20; train.learning_rate: {saved.train.learning_rate} -> 0.01 (each checkpoint "
            "keeps the config it was written with)") in caplog.text


def test_a_resume_refused_for_another_model_says_to_give_init_checkpoint_again():
    """A fine-tuned run resumed without its --init_checkpoint (whose model
    settings it took) was refused with only 'model.depth: checkpoint 18 vs
    now 50', and train.py's help said the flag was ignored when resuming."""
    from keras_pose.training.callbacks import TrainingError
    from keras_pose.training.resume import check_resume
    saved = get_experiment("tiny")
    # The --set items that resume, with the checkpoint's values.
    sets = ("--set model.depth=18 --set model.blocks_per_stage=1,1,1,1 --set "
            "model.image_size=96,128 --set model.heatmap_size=24,32 --set "
            "model.deconv_filters=64,64,64 --set model.sigma=1.5")
    with pytest.raises(TrainingError, match=r"\(model.depth: checkpoint 18 vs now 50.*\); use "
                       r"another --model_dir or the same settings \(" + sets + r", the values "
                       r"it was trained with; or, for a run fine-tuned by an earlier "
                       r"keras-pose, give its --init_checkpoint again\)$"):
        check_resume(saved, get_experiment("coco_resnet50_256x192"), "run/epoch_0003")
    # A run that recorded its source names it, and the other way out (the
    # source moved away: "give it again" was a dead end).
    fine_tuned = saved.replace(train=dataclasses.replace(saved.train, init_checkpoint="/m/src"))
    with pytest.raises(TrainingError, match=r"\(a run fine-tuned from /m/src: give "
                                            r"--init_checkpoint /m/src again, or " + sets
                                            + r"\)$"):
        check_resume(fine_tuned, get_experiment("coco_resnet50_256x192"), "run/epoch_0003")
    with pytest.raises(TrainingError, match=r"vs now mixed_bfloat16 \(--precision fp32 "
                                            r"resumes\)\); use another --model_dir or the "
                                            r"same settings$"):
        check_resume(saved, apply_overrides(saved, ["train.precision=mixed_bfloat16"]),
                     "run/epoch_0003")


def test_a_resume_refuses_another_codec_sigma_or_decoding():
    """Resumed with model.codec dark -> msra (or test.decoding, model.sigma
    changed), the run validated its earlier epochs and best/ again with the
    new decoding: best.json kept the worse epoch, with a value evaluate.py
    does not give best/. Refused, naming both values and the way back."""
    from keras_pose.training.callbacks import TrainingError
    from keras_pose.training.resume import check_resume
    dark = apply_overrides(get_experiment("tiny"), ["model.codec=dark"])
    head = (r"^run/epoch_0001 holds a checkpoint of another model, input convention, decoding "
            r"or precision \(")
    with pytest.raises(TrainingError, match=head + r"model.codec: checkpoint dark vs now msra\); "
                       r"use another --model_dir or the same settings \(--set model.codec=dark, "
                       r"the values it was trained with; or, for a run fine-tuned by an earlier "
                       r"keras-pose, give its --init_checkpoint again\)$"):
        check_resume(dark, get_experiment("tiny"), "run/epoch_0001")
    saved = get_experiment("tiny")
    with pytest.raises(TrainingError, match=head + r'test.decoding: checkpoint "" vs now dark; '
                       r"test.blur_kernel: checkpoint 0 vs now 5\); use another --model_dir or "
                       r'the same settings \(--set test.decoding="" --set test.blur_kernel=0\)$'):
        check_resume(saved, apply_overrides(saved, ["test.decoding=dark", "test.blur_kernel=5"]),
                     "run/epoch_0001")
    with pytest.raises(TrainingError, match=r"\(model.sigma: checkpoint 1.5 vs now 2.0\)"):
        check_resume(saved, apply_overrides(saved, ["model.sigma=2"]), "run/epoch_0001")
    # The flip test's one-pixel shift: best.json rescored without it (0.618)
    # while evaluate.py gave best/ 0.695 with its own saved shift.
    with pytest.raises(TrainingError, match=r"\(test.shift_heatmap: checkpoint True vs now "
                                            r"False\).*--set test.shift_heatmap=true"):
        check_resume(saved, apply_overrides(saved, ["test.shift_heatmap=false"]),
                     "run/epoch_0001")
    # A fine-tune resumed with its --init_checkpoint given and a --set that
    # changes the codec: "give --init_checkpoint again" fitted nothing.
    tuned = dark.replace(train=dataclasses.replace(dark.train, init_checkpoint="/m/src"))
    with pytest.raises(TrainingError, match=r"same settings \(--set model.codec=dark: the "
                                            r"values the run was trained with\)$"):
        check_resume(tuned, apply_overrides(tuned, ["model.codec=msra"]), "run/epoch_0001",
                     source_given=True)
    # The settings that do not change a checkpoint's scores still resume.
    check_resume(saved, apply_overrides(saved, ["test.flip_test=false", "train.epochs=9"]),
                 "run/epoch_0001")


def test_a_resume_records_the_initialisation_the_run_began_from():
    """A fine-tune (model.pretrained "") resumed without --init_checkpoint
    recorded the experiment's "imagenet" in its next checkpoints' configs:
    weights it never loaded (a resume starts from its checkpoint)."""
    from keras_pose.training.resume import check_resume
    saved = get_experiment("tiny")
    command = apply_overrides(saved, ["model.pretrained=imagenet"])
    assert check_resume(saved, command, "run/epoch_0001").model.pretrained == ""


def test_a_checkpoint_or_saved_model_as_model_dir_is_refused_and_left_as_it_was(
        tiny_exported, tmp_path):
    """--model_dir <run>/best trained a new run inside best/, writing its
    config over best/'s: the run could no longer be loaded or resumed."""
    import os
    import shutil

    from keras_pose.training import TrainingError, train
    run = tmp_path / "run"
    best, epoch = run / "best", run / "checkpoints" / "epoch_0002"
    for path in (best, epoch):
        shutil.copytree(tiny_exported[2], path)
        (path / "COMPLETE").write_text("")
    shutil.copy(best / "config.json", run / "config.json")
    saved = shutil.copytree(tiny_exported[3], tmp_path / "exported")
    for model_dir, what in ((best, "a checkpoint"), (epoch, "a checkpoint"),
                            (saved, "an exported SavedModel")):
        before = {p: open(os.path.join(model_dir, p), "rb").read()
                  for p in os.listdir(model_dir) if os.path.isfile(os.path.join(model_dir, p))}
        with pytest.raises(TrainingError, match=rf"--model_dir {model_dir} is {what}, not a "
                                                r"run's folder.*--init_checkpoint"):
            train(get_experiment("tiny"), str(model_dir))
        assert {p: open(os.path.join(model_dir, p), "rb").read() for p in os.listdir(model_dir)
                if os.path.isfile(os.path.join(model_dir, p))} == before
        assert set(os.listdir(model_dir)) == set(  # No folders or lock of a run in it.
            os.listdir(tiny_exported[2] if what == "a checkpoint" else tiny_exported[3])
            + (["COMPLETE"] if what == "a checkpoint" else []))
        assert (f"resume the run it belongs to, give --model_dir {run}" in str(
            pytest.raises(TrainingError, train, get_experiment("tiny"), str(model_dir)).value)
                ) == (what == "a checkpoint")
    # Inside one of them, or in a run's own folders: a run grew there (in a
    # SavedModel's assets/ it wrote over its config.json: a traceback later).
    (run / "logs").mkdir()
    for model_dir, message in (
            (saved / "assets", rf"is inside {saved}, an exported SavedModel, not a run's"),
            (best / "sub", rf"is inside {best}, a checkpoint, not a run's folder"),
            (run / "checkpoints", rf"is the checkpoints folder of the training run {run}"),
            (run / "logs" / "x", rf"is inside {run}/logs, the logs folder of the training run")):
        config_before = open(saved / "assets" / "config.json", "rb").read()
        with pytest.raises(TrainingError, match=message):
            train(get_experiment("tiny"), str(model_dir))
        assert open(saved / "assets" / "config.json", "rb").read() == config_before
    assert not (best / "sub").exists() and not (run / "logs" / "x").exists()
    os.symlink(saved / "assets", tmp_path / "link")  # A link to it: the same.
    with pytest.raises(TrainingError, match=rf"is inside {saved}, an exported SavedModel"):
        train(get_experiment("tiny"), str(tmp_path / "link"))
    train_dir = tmp_path / "fresh" / "run"  # An ordinary new folder is no model.
    from keras_pose.training.resume import refuse_checkpoint_as_model_dir
    refuse_checkpoint_as_model_dir(str(train_dir))
    refuse_checkpoint_as_model_dir(str(run / "finetune"))  # A run nested in a run: allowed.
    (tmp_path / "project" / "logs").mkdir(parents=True)  # A project's config.json: no run.
    (tmp_path / "project" / "config.json").write_text("{}")
    refuse_checkpoint_as_model_dir(str(tmp_path / "project" / "logs" / "run1"))


def test_noaugment_is_recorded_in_the_config_and_a_resume_switching_it_is_named(
        tmp_path, fast_config, caplog):
    """--noaugment was in no config: epoch_0002/config.json said flip and
    scale 0.25 where none ran, and a resume switching it was unsaid."""
    import json
    import logging
    import os

    import numpy as np

    from keras_pose.configs import load_config
    from keras_pose.data import samples
    from keras_pose.training import train
    caplog.set_level(logging.WARNING, logger="absl")
    model_dir = str(tmp_path / "run")
    config = apply_overrides(fast_config, ["train.validate_every=0"])
    train(apply_overrides(config, ["train.epochs=1"]), model_dir, augment=False,
          progress=False, export=False)
    saved = load_config(os.path.join(model_dir, "checkpoints", "epoch_0001", "config.json"))
    assert (saved.data.flip, saved.data.scale_factor, saved.data.rotation_prob,
            saved.data.half_body_prob) == (False, 0.0, 0.0, 0.0)
    # The recorded settings draw what --noaugment drew.
    joints, vis = np.random.default_rng(0).uniform(0, 50, (17, 2)), np.ones((17, 1))
    for seed in range(20):
        draws = [samples._draw(joints, vis, np.array([25.0, 25.0]), np.array([1.0, 1.0]),
                               np.random.default_rng(seed), aug) for aug in
                 (samples.Augmentation.from_config(saved),
                  samples.Augmentation.from_config(config, augment=False))]
        assert json.dumps(draws, default=str) == json.dumps(draws[::-1], default=str)
    train(apply_overrides(config, ["train.epochs=2"]), model_dir, progress=False, export=False)
    assert "settings changed since it was written" in caplog.text
    assert "data.flip" in caplog.text and "data.scale_factor" in caplog.text


@pytest.mark.parametrize("field,value", [("mean", (0.5, 0.5, 0.5)), ("std", (0.25, 0.25, 0.25))])
def test_a_resume_with_another_input_normalisation_is_refused(field, value):
    """A checkpoint trained on other mean/std values resumed under new ones
    is refused: every later epoch would train on inputs it never saw."""
    from keras_pose.training.callbacks import TrainingError
    from keras_pose.training.resume import check_resume
    saved = get_experiment("tiny")
    config = saved.replace(model=dataclasses.replace(saved.model, **{field: value}))
    with pytest.raises(TrainingError, match=rf"another model, input convention, decoding or "
                       rf"precision "
                       rf"\(model.{field}: checkpoint .* vs now \(0.\d+, 0.\d+, 0.\d+\)\)"):
        check_resume(saved, config, "run/epoch_0003")


def _agreeing_workers(monkeypatch, tmp_path, theirs, mine=5, writers=None):
    """agreed_checkpoint's collectives with one other worker: this one (the
    chief) holds epochs 1-``mine`` complete, written by ``writers`` workers
    (None: a state.json of an earlier keras-pose, without the count); the
    other gathers ``theirs`` in turn (its newest epoch; when one apart, the
    writers of its newest, 0 for none or unknown; whether it has the agreed
    epoch)."""
    import json

    from keras_pose.training import resume
    for epoch in range(1, mine + 1):
        path = tmp_path / "checkpoints" / f"epoch_{epoch:04d}"
        path.mkdir(parents=True, exist_ok=True)
        state = {"epoch": epoch, "step": 4 * epoch, "steps_per_epoch": 4, "global_batch": 8}
        (path / "state.json").write_text(json.dumps(
            state if writers is None else dict(state, workers=writers)))
        (path / "COMPLETE").write_text("")
    answers = list(theirs)
    monkeypatch.setattr(resume, "_gathered", lambda strategy, value: [value, answers.pop(0)])
    monkeypatch.setattr(resume, "settle_after_collective", lambda: None)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    return lambda: resume.agreed_checkpoint(None, str(tmp_path), str(tmp_path), str(
        tmp_path / "checkpoints" / f"epoch_{mine:04d}"))


def test_workers_one_epoch_apart_resume_from_the_older_two_apart_are_refused(
        tmp_path, monkeypatch):
    """A worker killed in its last save is one epoch behind: resumed from it.
    Two behind means a run went on alone: resuming trains epochs again."""
    from keras_pose.training.callbacks import TrainingError
    agreed = _agreeing_workers(monkeypatch, tmp_path, [4, 0, 1])
    assert agreed() == str(tmp_path / "checkpoints" / "epoch_0004")
    agreed = _agreeing_workers(monkeypatch, tmp_path, [3, 1])
    with pytest.raises(TrainingError, match=r"epochs worker 0: 5, worker 1: 3: more than the one "
                       r"epoch a stopped worker can miss"):
        agreed()


@pytest.mark.parametrize("mine,theirs,ahead,source", [
    # The chief's run continued as one process for one epoch:
    (1, [0, 0, 1], "worker 0's epoch 1 was written by 1 worker", "checkpoints/epoch_0001"),
    (5, [4, 2, 1], "worker 0's epoch 5 was written by 1 worker", "checkpoints/epoch_0005"),
    # What the other worker gathers decides alike (its copy is the newer).
    (5, [6, 1, 1], "worker 1's epoch 6 was written by 1 worker",
     "worker_1/checkpoints/epoch_0006")])
def test_a_run_continued_as_one_process_one_epoch_ahead_is_refused(
        tmp_path, monkeypatch, mine, theirs, ahead, source):
    """One epoch apart as a worker killed during its save, but the newer
    checkpoint was written by one process, not by this cluster of two:
    resuming from the older epoch trained it again over that checkpoint."""
    import re

    from keras_pose.training.callbacks import TrainingError
    agreed = _agreeing_workers(monkeypatch, tmp_path, theirs, mine=mine,
                               writers=1 if theirs[0] < mine else 2)
    with pytest.raises(TrainingError) as refused:
        agreed()
    message = str(refused.value)
    assert f"{ahead}, not by a cluster of 2" in message
    target = "worker_1/checkpoints/ (worker 1's machine)" if mine > theirs[0] else \
        "checkpoints/ (worker 0's machine)"
    assert f"copy {tmp_path}/{source} into {tmp_path}/{target}" in message, message
    assert ("starting over from the initial weights would train epoch 1 again" if mine == 1
            else "resuming from epoch 5 would train epoch 6 again" if theirs[0] == 6
            else "resuming from epoch 4 would train epoch 5 again") in message, message
    assert not re.search("resuming from epoch 0", message, re.I)


@pytest.mark.parametrize("writers", [2, None])  # this cluster's size; unknown (earlier version)
def test_one_epoch_apart_written_by_this_cluster_or_unknown_resume_from_the_older(
        tmp_path, monkeypatch, caplog, writers):
    """A worker killed during its save (the newer checkpoint written by a
    cluster of two, or by an earlier keras-pose that did not record it) is
    resumed from the older epoch; without one, training starts over and says
    so (it said "Resuming from epoch 0")."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    agreed = _agreeing_workers(monkeypatch, tmp_path / "first", [0, 0, 1], mine=1,
                               writers=writers)
    assert agreed() is None
    assert ("Training starts over from the initial weights: worker 1 has no checkpoint "
            "(stopped during its first save) (worker 0: 1, worker 1: 0); worker 0's epoch 1 "
            "is trained again and its checkpoint replaced") in caplog.text
    assert "from epoch 0" not in caplog.text
    agreed = _agreeing_workers(monkeypatch, tmp_path / "later", [4, writers or 0, 1],
                               writers=writers)
    assert agreed() == str(tmp_path / "later" / "checkpoints" / "epoch_0004")
    assert ("Resuming from epoch 4, the newest every worker has (worker 0: 5, worker 1: 4); "
            "worker 0's epoch 5 is trained again") in caplog.text


def test_a_resume_given_no_flip_pairs_over_recorded_ones_says_what_the_empty_list_means():
    """An earlier run's own command with --set data.flip_pairs=[] (then: the file's or the
    names' pairs, recorded) was refused with "use the same settings", which it had."""
    from keras_pose.training import TrainingError
    from keras_pose.training.resume import check_resume
    saved = get_experiment("tiny")  # COCO's 8 pairs recorded.
    with pytest.raises(TrainingError, match=r"data\.flip_pairs: checkpoint .* vs now \(\); "
                       r"--set data\.flip_pairs=\[\] now means no pairs .* leave it out to "
                       r"resume"):
        check_resume(saved, apply_overrides(saved, ["data.flip_pairs=[]"]), "run/epoch_0001")
    check_resume(saved, apply_overrides(saved, []), "run/epoch_0001")  # Left out: resumes.
