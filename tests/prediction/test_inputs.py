"""What predict.py reads: an earlier run's outputs inside --input are not
inputs again."""

import json
import os

from keras_pose.prediction.inputs import list_inputs, natural_order, sequences
from keras_pose.prediction.own_outputs import overwritten_inputs, without_own_outputs


def _touch(root, *names):
    for name in names:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()


def _keys(items):
    return [(item.key, item.index) for item in items]


def test_outputs_inside_the_input_folder_are_left_out(tmp_path):
    # An earlier run of --input . with the default --output_dir predictions,
    # and one of --output_dir . (outputs beside the inputs).
    _touch(tmp_path, "a.jpg", "b/c.png", "clip.mp4", "predictions/a.pose.jpg",
           "predictions/b/c.pose.png", "predictions/clip.mp4.pose.avi", "a.pose.jpg",
           "0/x.jpg", "predictions/predictions.json")
    items = list_inputs(str(tmp_path))
    kept, left_out = without_own_outputs(items, str(tmp_path / "predictions"))
    # Indices (image ids) as in a run without the outputs: 0/x.jpg's 0 stays.
    assert _keys(kept) == [("0/x.jpg", 0), ("a.jpg", 1), ("a.pose.jpg", 2), ("b/c.png", 3),
                           ("clip.mp4", 4)]
    assert [item.key for item in left_out] == [
        "predictions/a.pose.jpg", "predictions/b/c.pose.png", "predictions/clip.mp4.pose.avi"]
    _touch(tmp_path, "predictions.json")  # an earlier run of --output_dir .
    kept, left_out = without_own_outputs(items, str(tmp_path))
    assert [item.key for item in left_out] == [
        "a.pose.jpg", "predictions/a.pose.jpg", "predictions/b/c.pose.png",
        "predictions/clip.mp4.pose.avi"]
    assert "a.pose.jpg" not in [item.key for item in kept]


def test_copies_of_a_tracked_or_untracked_run_are_left_out_and_others_kept(tmp_path):
    _touch(tmp_path, "seq/000.jpg", "seq/001.jpg", "out/seq.pose.avi", "out/other.avi",
           "out/seq/000.pose.jpg", "out/seq/001.jpg", "out/predictions.json")
    items = list_inputs(str(tmp_path))
    kept, left_out = without_own_outputs(items, str(tmp_path / "out"))
    # --track's video of the folder, an untracked run's copy of a frame.
    assert [item.key for item in left_out] == ["out/seq.pose.avi", "out/seq/000.pose.jpg"]
    # A video or an image that no run over these inputs writes is the user's.
    assert [item.key for item in kept] == ["out/other.avi", "out/seq/001.jpg", "seq/000.jpg",
                                           "seq/001.jpg"]


def test_copies_in_an_earlier_runs_other_output_folder_are_left_out(tmp_path):
    # --input . (into predictions/), then --input . --output_dir out2: the
    # second run read predictions/*.pose.jpg as photos (4 inputs for 2; 8 next).
    _touch(tmp_path, "a.jpg", "b/c.png", "predictions/predictions.json",
           "predictions/a.pose.jpg", "predictions/b/c.pose.png", "predictions/mine.jpg",
           "other/a.pose.jpg")
    kept, left_out = without_own_outputs(list_inputs(str(tmp_path)), str(tmp_path / "out2"))
    assert [item.key for item in left_out] == ["predictions/a.pose.jpg",
                                               "predictions/b/c.pose.png"]
    # A folder without predictions.json is the user's, whatever its names.
    assert [item.key for item in kept] == ["a.jpg", "b/c.png", "other/a.pose.jpg",
                                           "predictions/mine.jpg"]


def test_nothing_is_left_out_when_the_outputs_go_elsewhere(tmp_path):
    _touch(tmp_path, "in/a.jpg", "in/a.pose.jpg")
    items = list_inputs(str(tmp_path / "in"))
    kept, left_out = without_own_outputs(items, str(tmp_path / "out"))
    assert kept == items and left_out == []


def test_photos_of_formats_not_read_are_named_never_passed_over(tmp_path):
    import pytest
    from keras_pose.prediction.inputs import InputError, find_inputs
    _touch(tmp_path, "IMG_1.HEIC", "IMG_2.heic", "raw/DSC_3.NEF", "notes.txt")
    with pytest.raises(InputError, match=r"no image or video found; 2 \.heic file\(s\), "
                                         r"1 \.nef file\(s\) not read .*convert them to JPEG"):
        list_inputs(str(tmp_path))
    _touch(tmp_path, "a.jpg", "b.gif", "clip.M4V", "cam.mts")
    assert [item.key for item in list_inputs(str(tmp_path))] == ["a.jpg", "b.gif", "cam.mts",
                                                                 "clip.M4V"]
    assert "2 .heic file(s)" in find_inputs(str(tmp_path))[1]
    assert find_inputs(str(tmp_path), recursive=False)[1].startswith("2 .heic file(s) not read")
    assert find_inputs(str(tmp_path / "a.jpg"))[1] == ""
    # PNM, JPEG 2000 and JPEG XL were passed over without a word.
    _touch(tmp_path, "x.ppm", "y.jp2", "z.jxl")
    assert find_inputs(str(tmp_path))[1].startswith(
        "2 .heic file(s), 1 .jp2 file(s), 1 .jxl file(s), 1 .nef file(s), 1 .ppm file(s) not "
        "read (the image formats read are JPEG, PNG, BMP, GIF and WebP;")


def test_a_gif_is_read_as_its_first_frame(tmp_path):
    import numpy as np
    from PIL import Image
    from keras_pose.data.images import read_image
    frames = [Image.fromarray(np.full((6, 8, 3), v, np.uint8)) for v in (40, 200)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    image = read_image(str(tmp_path / "anim.gif"))
    assert image.shape == (6, 8, 3) and abs(int(np.median(image)) - 40) <= 2


def test_a_file_named_on_its_own_is_an_input_whatever_its_extension(tmp_path):
    _touch(tmp_path, "photo", "IMG_1.heic")
    assert [item.key for item in list_inputs(str(tmp_path / "photo"))] == ["photo"]
    # Named explicitly, a HEIC is tried (and reported unreadable), not skipped.
    assert [item.key for item in list_inputs(str(tmp_path / "IMG_1.heic"))] == ["IMG_1.heic"]


def test_jpegs_named_as_windows_saves_them_are_read_and_drawn_as_jpegs(tmp_path):
    # .jfif / .jpe were passed over in silence (a folder of them: "no image
    # or video found"); OpenCV writes no .jfif, nor a file with no extension,
    # whose annotated copy was then "NOT WRITTEN" with OpenCV's message.
    _touch(tmp_path, "a.jfif", "b.JPE", "c.jpg", "d.jif")
    items = list_inputs(str(tmp_path))
    assert [item.key for item in items] == ["a.jfif", "b.JPE", "c.jpg", "d.jif"]
    out = str(tmp_path / "out")
    assert [os.path.relpath(item.drawn_output(out), out) for item in items] == [
        "a.pose.jfif.jpg", "b.pose.JPE", "c.pose.jpg", "d.pose.jif.jpg"]
    # a.jfif.jpg's copy was a.jfif's too (a.jfif.pose.jpg): one overwrote the other.
    _touch(tmp_path, "a.jfif.jpg", "d.JIF", "d.JIF.png")
    outputs = [item.drawn_output(out) for item in list_inputs(str(tmp_path))]
    assert len(set(outputs)) == len(outputs) == 7
    _touch(tmp_path, "photo")
    (item,) = list_inputs(str(tmp_path / "photo"))
    assert item.drawn_output(out) == os.path.join(out, "photo.pose.jpg")


def test_a_path_that_does_not_exist_is_named_as_such(tmp_path):
    import pytest
    from keras_pose.prediction.inputs import InputError
    with pytest.raises(InputError, match="missing: no such file or folder$"):
        list_inputs(str(tmp_path / "missing"))  # Was "no image or video found".
    with pytest.raises(InputError, match=r"\*.jpg: no image or video found$"):
        list_inputs(str(tmp_path / "missing" / "*.jpg"))


def test_frames_numbered_without_zeros_run_in_number_order(tmp_path):
    # `ffmpeg -i clip.mp4 frame_%d.jpg` names frames 1, 2, ..., 10, 11: in
    # string order frame_10 would be tracked right after frame_1.
    for name in ("clip_b/frame_1.jpg", "clip_b/frame_2.jpg", "clip_b/frame_10.jpg",
                 "clip_b/frame_11.jpg", "clip_a/0009.png", "clip_a/0010.png",
                 "clip_10/x.jpg", "clip_9/x.jpg"):
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    items = list_inputs(str(tmp_path))
    assert [item.key for item in items] == [
        "clip_9/x.jpg", "clip_10/x.jpg", "clip_a/0009.png", "clip_a/0010.png",
        "clip_b/frame_1.jpg", "clip_b/frame_2.jpg", "clip_b/frame_10.jpg", "clip_b/frame_11.jpg"]
    assert [item.index for item in items] == list(range(8))
    assert [[item.key for item in frames] for _, frames in sequences(items)][-1] == [
        "clip_b/frame_1.jpg", "clip_b/frame_2.jpg", "clip_b/frame_10.jpg", "clip_b/frame_11.jpg"]


def test_files_of_one_frame_number_are_named_once_a_sequence_and_still_run(tmp_path, caplog):
    """frame_3.jpg and frame_3.png, frame_5.jpg and frame_05.jpg: a 6-frame
    clip was tracked as 8 frames without a word."""
    import logging
    caplog.set_level(logging.WARNING, logger="absl")
    _touch(tmp_path, *(f"walk/frame_{n}.jpg" for n in range(1, 7)), "walk/frame_3.png",
           "walk/frame_05.jpg", "plain/000000.jpg", "plain/000001.jpg", "plain/frame_10.jpg",
           "plain/frame_1.jpg", "plain/cover.jpg", "plain/cover.png")
    items = list_inputs(str(tmp_path))
    sequences(items)  # The other listings (an earlier run's outputs): unsaid.
    assert caplog.records == []
    keyed = sequences(items, warn=True)
    assert [len(frames) for _, frames in keyed] == [6, 8]  # Every file still runs.
    assert len(caplog.records) == 1  # Once, for walk; none for plain's ordinary names.
    assert caplog.records[0].getMessage() == (
        f"{tmp_path / 'walk'}: files of one frame number (digits compared as numbers, "
        "extension and zero padding ignored): frame_3.jpg and frame_3.png; frame_05.jpg and "
        "frame_5.jpg; each is tracked as a frame of its own (8 frames, 2 more than the "
        "numbers): remove or rename the extra files if they are one frame")


def test_frames_right_in_the_input_folder_are_named_after_it(tmp_path):
    # --input clips/seq1, then --input clips/seq2 into one --output_dir: both
    # were the sequence "frames", the second run's files over the first's.
    for name in ("clips/seq1/0.jpg", "clips/seq2/0.jpg", "clips/seq2/frames/0.jpg"):
        os.makedirs(tmp_path / os.path.dirname(name), exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    keys = [[key for key, _ in sequences(list_inputs(str(tmp_path / folder)))]
            for folder in ("clips/seq1", "clips/seq2", "clips")]
    assert keys == [["seq1"], ["seq2", "frames"], ["seq1", "seq2", "seq2/frames"]]
    assert [key for key, _ in sequences(list_inputs(str(tmp_path / "clips/seq1/0.jpg")))] == [
        "seq1"]


def test_a_users_photo_named_like_a_copy_is_an_input_never_overwritten(tmp_path):
    """--output_dir equal to --input, first run: the user's own a.pose.jpg
    was taken for an earlier run's copy (no run had written there), left out,
    then overwritten by a.jpg's annotated copy."""
    _touch(tmp_path, "a.jpg", "a.pose.jpg", "b.jpg")
    kept, left_out = without_own_outputs(list_inputs(str(tmp_path)), str(tmp_path))
    assert left_out == [] and [item.key for item in kept] == ["a.jpg", "a.pose.jpg", "b.jpg"]
    assert overwritten_inputs(kept, str(tmp_path)) == [str(tmp_path / "a.pose.jpg")]
    assert overwritten_inputs(kept, str(tmp_path / "out")) == []


def test_hidden_files_are_not_inputs_and_linked_folders_are_read_once(tmp_path):
    """macOS's ._frame_1.jpg files were frames of the tracked folder (every
    real frame moved 4 places); a glob's ** followed a link loop (one photo
    ran 41 times) while the folder walk skipped linked folders in silence."""
    _touch(tmp_path, "in/seq/frame_1.jpg", "in/seq/._frame_1.jpg", "in/.hidden/x.jpg",
           "elsewhere/y.jpg")
    os.symlink("..", tmp_path / "in" / "seq" / "loop")
    os.symlink(tmp_path / "elsewhere", tmp_path / "in" / "linked")
    assert [item.key for item in list_inputs(str(tmp_path / "in"))] == [
        "linked/y.jpg", "seq/frame_1.jpg"]
    assert [item.key for item in list_inputs(str(tmp_path / "in") + "/**/*.jpg")] == [
        "linked/y.jpg", "seq/frame_1.jpg"]
    # Named on its own, a hidden file is an input.
    assert [item.key for item in list_inputs(str(tmp_path / "in/seq/._frame_1.jpg"))] == [
        "._frame_1.jpg"]


def test_a_link_to_a_file_is_an_input_of_its_own(tmp_path):
    """A frame repeated by a link, and a sequence of links to another's
    frames, were dropped (one input per real file), the link's name taking
    the real file's place."""
    from keras_pose.prediction.inputs import sequences
    _touch(tmp_path, "in/seqA/1.jpg", "in/seqA/2.jpg", "in/seqA/4.jpg", "in/seqB/.keep")
    os.symlink("2.jpg", tmp_path / "in" / "seqA" / "3.jpg")
    os.symlink("../seqA/1.jpg", tmp_path / "in" / "seqB" / "1.jpg")
    for spec in (tmp_path / "in", tmp_path / "in" / "**" / "*.jpg"):
        keyed = sequences(list_inputs(str(spec)))
        assert [(key, [item.key for item in frames]) for key, frames in keyed] == [
            ("seqA", ["seqA/1.jpg", "seqA/2.jpg", "seqA/3.jpg", "seqA/4.jpg"]),
            ("seqB", ["seqB/1.jpg"])]


def test_links_to_missing_photos_are_named_never_passed_over(tmp_path):
    import pytest
    from keras_pose.prediction.inputs import InputError, find_inputs
    _touch(tmp_path, "in/a.jpg")
    os.symlink(tmp_path / "moved" / "b.jpg", tmp_path / "in" / "b.jpg")
    os.symlink(tmp_path / "gone.txt", tmp_path / "in" / "notes.txt")  # Not media: no word.
    for spec in (tmp_path / "in", tmp_path / "in" / "*.jpg"):
        items, note = find_inputs(str(spec))
        assert [item.key for item in items] == ["a.jpg"]
        assert note == (f"1 link to missing files left out (e.g. {tmp_path}/in/b.jpg -> "
                        f"{tmp_path}/moved/b.jpg): restore the files or remove the links")
    with pytest.raises(InputError, match="no image or video found; 1 link to missing"):
        find_inputs(str(tmp_path / "in" / "b.jpg"))


def test_frames_of_a_folder_and_of_its_subfolder_of_the_same_name_keep_their_outputs(tmp_path):
    """--track over seq1/ holding frames and seq1/seq1/: both were keyed
    'seq1', and the subfolder's outputs replaced the folder's."""
    from keras_pose.prediction.inputs import sequences
    _touch(tmp_path, "seq1/a.jpg", "seq1/b.jpg", "seq1/seq1/a.jpg", "seq1/seq1_frames/a.jpg",
           "seq1/other/a.jpg", "seq1/clip.mp4")
    keyed = sequences(list_inputs(str(tmp_path / "seq1")))
    assert [(key, [item.key for item in frames]) for key, frames in keyed] == [
        ("seq1_frames_frames", ["a.jpg", "b.jpg"]), ("other", ["other/a.jpg"]),
        ("seq1", ["seq1/a.jpg"]), ("seq1_frames", ["seq1_frames/a.jpg"])]
    assert [key for key, _ in sequences(list_inputs(str(tmp_path / "seq1" / "other")))] == [
        "other"]


def test_copies_of_an_earlier_run_over_another_root_are_left_out(tmp_path):
    """--input photos/trip --output_dir photos/preds, then --input photos:
    the copies were looked for under this run's keys (trip/img_11.jpg ->
    preds/trip/img_11.pose.jpg) and run again as photos; the earlier run's
    own files list what it wrote."""
    import json
    _touch(tmp_path, "photos/a.jpg", "photos/mine.jpg", "photos/trip/img_11.jpg",
           "photos/trip/img_13.jpg", "photos/trip/nobody.jpg", "photos/preds/nobody.pose.jpg",
           "photos/preds/img_11.pose.jpg", "photos/preds/img_13.pose.jpg",
           "photos/preds/old.pose.jpg", "photos/preds/mine.pose.jpg",
           "photos/preds/clips/run.mp4.pose.avi", "photos/preds/clips/run.mp4.frames.json")
    preds = tmp_path / "photos" / "preds"
    (preds / "predictions.json").write_text(json.dumps([
        {"file_name": "img_11.jpg", "path": str(tmp_path / "photos/trip/img_11.jpg")},
        {"file_name": "img_13.jpg", "path": str(tmp_path / "photos/trip/img_13.jpg")}]))
    (preds / "predictions.1.json").write_text(json.dumps([{"file_name": "old.jpg"}]))
    kept, left_out = without_own_outputs(list_inputs(str(tmp_path / "photos")),
                                         str(tmp_path / "out"))
    # preds/nobody.pose.jpg: the copy of a photo without people, whom no
    # entry lists (it was run again as a photo).
    assert [item.key for item in left_out] == [
        "preds/clips/run.mp4.pose.avi", "preds/img_11.pose.jpg", "preds/img_13.pose.jpg",
        "preds/nobody.pose.jpg", "preds/old.pose.jpg"]
    # preds/mine.pose.jpg is where this run's copy of mine.jpg would go, but
    # the earlier run's files show another --input: the user's photo.
    assert [item.key for item in kept] == ["a.jpg", "mine.jpg", "preds/mine.pose.jpg",
                                           "trip/img_11.jpg", "trip/img_13.jpg",
                                           "trip/nobody.jpg"]


def test_copies_of_an_earlier_run_that_found_nobody_are_left_out(tmp_path):
    """Its predictions.json was [] and named no --input folder: its copies
    (x.pose.jpg) were run again as photos."""
    from keras_pose.prediction.own_outputs import record_input_root
    _touch(tmp_path, "e/photos/a.jpg", "e/photos/b.jpg", "e/out/a.pose.jpg", "e/out/b.pose.jpg",
           "e/out/mine.pose.jpg")
    (tmp_path / "e" / "out" / "predictions.json").write_text("[]")
    record_input_root(str(tmp_path / "e" / "out"), list_inputs(str(tmp_path / "e" / "photos")))
    kept, left_out = without_own_outputs(list_inputs(str(tmp_path / "e")), str(tmp_path / "o"))
    assert [item.key for item in left_out] == ["out/a.pose.jpg", "out/b.pose.jpg"]
    assert [item.key for item in kept] == ["out/mine.pose.jpg", "photos/a.jpg", "photos/b.jpg"]


def test_inputs_an_annotation_file_does_not_list_take_ids_it_does_not_have(caplog):
    """b.jpg, not in the file's 'images', kept its index 1: a.jpg's id in
    the file, unsaid."""
    from keras_pose.prediction.image_ids import image_ids_of_inputs
    file_ids = {"a.jpg": 1, "z.jpg": 40}
    keys = ["a.jpg", "b.jpg", "c/d.jpg", "clip.mp4"]
    ids = image_ids_of_inputs(file_ids, keys, "ann.json")
    # Above the file's largest id, by index: the same ids for the same inputs and file.
    assert ids == {"a.jpg": 1, "b.jpg": 42, "c/d.jpg": 43}
    assert ids == image_ids_of_inputs(file_ids, keys, "ann.json")
    assert "ann.json: 2 of the 3 image inputs are not in its 'images' (b.jpg, c/d.jpg)" \
        in caplog.text
    # A boxes file is matched by the file's own ids only.
    from keras_pose.prediction.image_ids import listed_image_ids
    assert listed_image_ids(ids, file_ids) == {"a.jpg": 1}
    caplog.clear()  # None matched: the ids still the file's none, and how names match.
    ids = image_ids_of_inputs({"x/a.jpg": 7, "x/b.jpg": 3}, ["a.jpg", "q.jpg"], "ann.json")
    assert ids == {"a.jpg": 7, "q.jpg": 9}
    ids = image_ids_of_inputs({"p.jpg": 7, "x.jpg": 3}, ["a.jpg", "q.jpg"], "ann.json")
    assert ids == {"a.jpg": 8, "q.jpg": 9}
    assert "2 of the 2 image inputs are not in its 'images' (a.jpg, q.jpg) (an image is " \
        "found by its path relative to --input, or by its bare file name: file_name " \
        "'p.jpg', input 'a.jpg')" in caplog.text


def test_annotation_file_names_match_whatever_their_unicode_normalisation():
    """'café.jpg' in the file (NFC, as typed) and on disk as macOS names it
    (NFD): the image was not found in the file."""
    import unicodedata

    from keras_pose.prediction.image_ids import image_ids_of_inputs
    nfc, nfd = (unicodedata.normalize(form, "café.jpg") for form in ("NFC", "NFD"))
    ids = image_ids_of_inputs({nfc: 5, f"a/{nfd}": 6, f"c/{nfc}": 8},
                              [nfd, f"a/{nfc}", f"b/{nfd}"], "ann.json")
    # By path, then by bare name (b/café.jpg: c/café.jpg's, the one left).
    assert ids == {nfd: 5, f"a/{nfc}": 6, f"b/{nfd}": 8}
    # An exact name first: two files on disk in both forms, one of each in the file.
    assert image_ids_of_inputs({nfc: 5, nfd: 6}, [nfc, nfd], "ann.json") == {nfc: 5, nfd: 6}


def test_predict_matches_unicode_names_and_gives_unlisted_inputs_ids_of_their_own(
        run_script, tiny_exported, coco_dir, tmp_path, caplog):
    """predict.py: café.jpg written in NFD finds its boxes and annotation
    id given in NFC; b.jpg, not in the annotation file, does not take
    a.jpg's id."""
    import shutil
    import unicodedata
    nfc, nfd = (unicodedata.normalize(form, "café.jpg") for form in ("NFC", "NFD"))
    photo = os.path.join(coco_dir, "000000040083.jpg")
    os.makedirs(tmp_path / "in")
    for name in ("a.jpg", "b.jpg", nfd):
        shutil.copy(photo, tmp_path / "in" / name)
    annotations, boxes = tmp_path / "ann.json", tmp_path / "boxes.json"
    annotations.write_text(json.dumps({"images": [{"file_name": "a.jpg", "id": 1},
                                                  {"file_name": nfc, "id": 7}]}))
    boxes.write_text(json.dumps({name: [[10, 20, 100, 200]] for name in ("a.jpg", "b.jpg", nfc)}))
    code, _, err = run_script("predict.py")([
        "--checkpoint", tiny_exported[2], "--input", str(tmp_path / "in"), "--boxes", str(boxes),
        "--annotations", str(annotations), "--output_dir", str(tmp_path / "out")])
    assert code == 0, err[-2000:]
    with open(tmp_path / "out" / "predictions.json") as f:
        found = sorted((p["file_name"], p["image_id"]) for p in json.load(f))
    # b.jpg: the file's largest id 7 + 1 + its index 1; café.jpg under its own (NFD) name.
    assert found == [("a.jpg", 1), ("b.jpg", 9), (nfd, 7)]
    assert "1 of the 3 image inputs are not in its 'images' (b.jpg)" in caplog.text


def test_an_input_after_a_left_out_copy_keeps_the_id_a_fresh_run_gives_it(tmp_path):
    """A run over a folder holding an earlier run's copy gives later photos the
    image ids a fresh run gives them."""
    # in/: a.jpg, a.pose.jpg (earlier copy), b.jpg and that run's predictions.json.
    _touch(tmp_path, "in/a.jpg", "in/a.pose.jpg", "in/b.jpg")
    (tmp_path / "in" / "predictions.json").write_text(json.dumps([{"file_name": "a.jpg"}]))
    kept, left_out = without_own_outputs(list_inputs(str(tmp_path / "in")), str(tmp_path / "in"))
    # A fresh run over a.jpg, b.jpg numbers them 0, 1 in name order.
    assert _keys(kept) == [("a.jpg", 0), ("b.jpg", 1)]
    assert [item.key for item in left_out] == ["a.pose.jpg"]


def test_an_earlier_output_folder_that_is_the_input_folder_itself_is_searched(tmp_path):
    """A run over an earlier run's output folder does not read its annotated
    copies as photos again."""
    # in/ was an earlier run's --output_dir; this run writes elsewhere.
    _touch(tmp_path, "in/x.jpg", "in/x.pose.jpg")
    (tmp_path / "in" / "predictions.json").write_text(json.dumps([{"file_name": "x.jpg"}]))
    kept, left_out = without_own_outputs(list_inputs(str(tmp_path / "in")), str(tmp_path / "out"))
    assert [item.key for item in kept] == ["x.jpg"]
    assert [item.key for item in left_out] == ["x.pose.jpg"]


def test_frames_named_by_their_time_in_seconds_run_in_time_order(tmp_path):
    """``f"t_{t}.jpg"`` for t = 0.0, 0.04, ..., 0.24: read as two whole
    numbers, the 0.2 s frame (2) was tracked right after the first,
    before 0.04 s (4)."""
    times = ("0.0", "0.04", "0.08", "0.12", "0.16", "0.2", "0.24", "1.5", "10.25")
    _touch(tmp_path, *(f"clip/t_{t}.jpg" for t in reversed(times)))
    items = list_inputs(str(tmp_path))
    assert [item.key for item in items] == [f"clip/t_{t}.jpg" for t in times]
    # Frame numbers still whole: ffmpeg's frame_%d order is unchanged.
    assert sorted(["a_10.jpg", "a_9.jpg", "a_1.10.jpg", "a_1.9.jpg"], key=natural_order) == [
        "a_1.10.jpg", "a_1.9.jpg", "a_9.jpg", "a_10.jpg"]
