"""The library side of ``predict.py``: images, videos and frame folders.

For every input (keyed by its path relative to ``--input``): read it with the project's
decoding policy (an unreadable file is reported, counted and skipped), find the people (a
detector: keras-hub's D-FINE, a boxes file, or the whole image), estimate their poses (the one
inference path), draw them, and write the results (every write checked). With ``--track``,
videos and folders of frames go through the paper's pose tracker and also give PoseTrack18 JSON
and an annotated video where each person keeps a colour and an id. Progress is shown over the
photos and over each video's frames (``keras_pose.prediction.progress``).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
from typing import Any, Iterator, Optional, Sequence

import cv2
import numpy as np

from keras_pose import log as logging
from keras_pose.data.images import ImageReadError, read_image_and_orientation
from keras_pose.detection.file_detectors import frame_key
from keras_pose.detection.results import NO_CATEGORY
from keras_pose.signals import defer_interrupts, raise_lost_stop
from keras_pose.prediction.input_pixels import (VideoFrames, frame_count_note, frame_source,
                                                open_video, unopened_reason)
from keras_pose.prediction.image_ids import boxes_file_ids, unlisted_image_id
from keras_pose.prediction.inputs import InputFile, sequence_output, sequences
from keras_pose.prediction.earlier_outputs import (INCOMPLETE, PREVIOUS, SEQUENCE_SUFFIXES,
                                                   held, keep_earlier_sequence, keep_previous,
                                                   mark_incomplete, put_back_previous,
                                                   settle_previous, tagged)
from keras_pose.prediction.outputs import (FRAMES_FPS, DiskFullError, JsonListFile,
                                           OutputWriter, VideoOutput)
from keras_pose.prediction.progress import counted


@dataclasses.dataclass
class RunSummary:
    """What a run did (``predict.py`` prints it and sets its exit code)."""

    processed: int = 0
    people: int = 0
    unreadable: list = dataclasses.field(default_factory=list)
    # Frames of folders that cannot be read: kept as frames without people.
    unreadable_frames: list = dataclasses.field(default_factory=list)
    # Photos with an EXIF orientation (not 1), videos with rotation metadata: turned
    # upright, or kept as stored (``upright=False``: a data set's, boxes files' pixels).
    turned: list = dataclasses.field(default_factory=list)
    not_turned: list = dataclasses.field(default_factory=list)
    # Inputs (or frames) that a boxes file gives no entry: run with 0 people.
    no_boxes: list = dataclasses.field(default_factory=list)
    # Boxes-file entries for frames a video does not have.
    unused_boxes: list = dataclasses.field(default_factory=list)
    # Videos that ended before the frame count their header declares.
    short_videos: list = dataclasses.field(default_factory=list)
    # Earlier runs' outputs of another video or folder of the same name: kept.
    kept_earlier: list = dataclasses.field(default_factory=list)
    failures: list = dataclasses.field(default_factory=list)
    # Videos and folders of frames (their people are in <path>.frames.json).
    frames: int = 0
    frame_people: int = 0
    # What the tracker's thresholds dropped (``PoseTracker`` counts).
    low_score_detections: int = 0
    unconfident_poses: int = 0
    duplicate_poses: int = 0


def coco_entries(result: Any, image_id: int, file_name: str, category_id: int = 1,
                 path: Optional[str] = None) -> list[dict]:
    """COCO keypoint results (+ ``file_name``, ``bbox``, and the input's
    absolute ``path`` when given) of one image; each person's category is
    its box's (``result.categories``), else ``category_id``."""
    out = []
    categories = getattr(result, "categories", None)
    if categories is None:
        categories = [category_id] * len(result.scores)
    # A box without category_id: the model's category (0 is a category id).
    categories = [category_id if int(c) == NO_CATEGORY else int(c) for c in categories]
    for kp, ks, score, box, category in zip(result.keypoints, result.keypoint_scores,
                                            result.scores, result.boxes, categories):
        flat = [round(float(v), 2) for xy, s in zip(kp, ks) for v in (*xy, s)]
        out.append({"image_id": int(image_id), "file_name": file_name,
                    **({"path": path} if path else {}), "category_id": int(category),
                    "keypoints": flat, "score": round(float(score), 4),
                    "bbox": [round(float(v), 2) for v in box]})
    return out


class PredictionRun:
    """Runs pose estimation (and tracking) over the inputs of one command.

    Args:
      predictor: a ``keras_pose.inference.Predictor``.
      detector: a ``keras_pose.detection.PersonDetector``.
      output_dir: where everything goes.
      flip: the flip test.
      score_threshold: keypoints drawn above this score.
      image_ids: {input key: image id} from an annotation file
        (``keras_pose.prediction.image_ids.image_ids_of_inputs``).
      upright: turn photos by their EXIF orientation, videos by their rotation
        metadata (as viewers show them; keypoints, boxes and drawings then in
        that frame); False keeps the stored pixels, a data set's and boxes'.
      progress: shown on stderr, a bar or a log line (``prediction.progress``).
    """

    def __init__(self, predictor: Any, detector: Any, output_dir: str, *, flip: bool = True,
                 score_threshold: float = 0.2, image_ids: Optional[dict] = None,
                 upright: bool = True, model: Optional[str] = None, progress: bool = False):
        self.predictor, self.detector = predictor, detector
        self.flip, self.score_threshold, self.upright = flip, score_threshold, upright
        self.image_ids, self.progress = image_ids or {}, progress
        # A person's category is its box's (a COCO results boxes file's);
        # else the model's keypoint category (the first of data.category_ids;
        # COCO's person when the checkpoint records none).
        self.category_id = int((predictor.config.data.category_ids or (1,))[0])
        self._first_category_said = False
        self.writer = OutputWriter(output_dir, model)
        self.summary = RunSummary()
        self._no_boxes: set = set()
        self._tracking = False
        # The inputs a boxes file gives no id take ids above its own.
        self._largest_file_id = max(boxes_file_ids(detector), default=None)

    def _entries(self, result: Any, image_id: int, name: str,
                 path: Optional[str] = None) -> list[dict]:
        """``coco_entries``, saying once when a model of several categories
        has people without their box's category (written as the first)."""
        categories = self.predictor.config.data.category_ids or ()
        boxes = getattr(result, "categories", None)
        if (len(categories) > 1 and len(result.scores) and not self._first_category_said
                and (boxes is None or np.any(np.asarray(boxes) == NO_CATEGORY))):
            self._first_category_said = True  # Was unsaid (all the first category).
            logging.warning(
                "the model was trained on categories %s, and boxes of %s give no category "
                "(only a COCO results boxes file's category_id does; tracked people are not "
                "carried with theirs): such people are written with category_id %d",
                list(categories), name, self.category_id)
        return coco_entries(result, image_id, name, self.category_id, path)

    def _image_id(self, item: InputFile) -> int:
        """The annotation file's id, else the boxes file's, else one above
        the boxes file's ids (was the index: another image's id there)."""
        if item.key in self.image_ids:
            return int(self.image_ids[item.key])
        from_file = getattr(self.detector, "image_id", lambda _: None)(item.key)
        if from_file is not None:
            return int(from_file)
        return unlisted_image_id(self._largest_file_id, item.index)

    def read(self, item: InputFile) -> np.ndarray:
        """An input image with the run's orientation rule, noting photos
        whose EXIF orientation turned them (or would have)."""
        image, orientation = read_image_and_orientation(item.path, self.upright)
        if orientation != 1:
            (self.summary.turned if self.upright else self.summary.not_turned).append(item.key)
        return image

    def _detect(self, image: np.ndarray, source: str) -> Any:
        found = self.detector.detect(image, source)
        has_entry = getattr(self.detector, "has_entry", None)
        if has_entry is not None and not has_entry(source) and source not in self._no_boxes:
            # Once per input (a video's frames share its source). Tracked,
            # people carried over by flow from earlier frames still come.
            logging.warning("%s: no boxes in %s: %s", source, self.detector.path,
                            "only people carried over from earlier frames"
                            if self._tracking else "0 people")
            self._no_boxes.add(source)
            self.summary.no_boxes.append(source)
        return found

    def _poses(self, image: np.ndarray, key: str) -> Any:
        found = self._detect(image, key)
        result = self.predictor.predict(image, found.boxes, flip=self.flip,
                                        box_scores=found.scores)
        return dataclasses.replace(result, categories=found.categories)

    def check_posetrack_keypoints(self) -> None:
        """Says, before any frame runs, when the model's keypoints are not
        PoseTrack18's (its 15 joints, named in any style, are written in
        PoseTrack18's layout): ``--track`` still writes PoseTrack18 JSON, but
        ``scripts/evaluate_posetrack.py`` will refuse it; stops when the
        model has too few keypoints to track (one), and says when it has
        fewer than ``track.min_keypoints`` (all of them are then needed)."""
        from keras_pose.evaluation.posetrack.reader import keypoint_mismatch
        from keras_pose.tracking.posetrack_format import posetrack18_layout
        from keras_pose.tracking.tracker import tracked_min_keypoints
        names = self.predictor.config.data.keypoint_names
        track = self.predictor.config.track
        if tracked_min_keypoints(track, len(names)) < track.min_keypoints:
            logging.warning("--track: the model has %d keypoints, fewer than "
                            "track.min_keypoints=%d: a pose is tracked with all %d confident",
                            len(names), track.min_keypoints, len(names))
        mismatch = keypoint_mismatch(names)  # Was exact names: "L_Ankle" was missing.
        if mismatch or posetrack18_layout(names) is None:  # Missing, or "nose" and "Nose".
            logging.warning("--track: the PoseTrack18 JSON written will not evaluate with "
                            "scripts/evaluate_posetrack.py: %s", mismatch
                            or f"the keypoints {list(names)} name a PoseTrack18 joint twice")

    def images(self, items: Sequence[InputFile], predictions: JsonListFile) -> None:
        """Every image: poses, an annotated copy, entries in predictions.json."""
        for item in counted(items, "photos", len(items), "photo", shown=self.progress):
            raise_lost_stop()
            try:
                image = self.read(item)
            except ImageReadError as e:
                logging.error("skipping %s", e)
                self.summary.unreadable.append(str(e))
                continue
            result = self._poses(image, item.key)
            drawn = self.predictor.draw(image, result, self.score_threshold)
            self.writer.image(item.drawn_output(self.writer.output_dir), drawn)
            predictions.add(self._entries(result, self._image_id(item), item.key,
                                          os.path.abspath(item.path)))
            self.summary.processed += 1
            self.summary.people += len(result.scores)

    def video(self, item: InputFile, track: bool, track_config: Any) -> None:
        """A video: an annotated video, per-frame JSON (and tracks)."""
        capture, rotation = open_video(item.path, self.upright)
        if not capture.isOpened():
            self.summary.unreadable.append(f"{item.path}: {unopened_reason(item.path)}")
            return
        if rotation:  # Listed as photos turned by their EXIF tag are (was unsaid).
            (self.summary.turned if self.upright else self.summary.not_turned).append(
                f"{item.key} (a video: its rotation metadata, {rotation} degrees)")
        fps = capture.get(cv2.CAP_PROP_FPS) or FRAMES_FPS
        try:
            frames = VideoFrames(capture)
            decoded = iter(frames)
            first = next(decoded, None)
            if first is None:  # No output files: there is nothing to show.
                self.summary.unreadable.append(f"{item.path}: no frame could be decoded (an "
                                               "empty, truncated or damaged video)")
                return
            # A boxes file keys a frame as frames.json names it (clip.mp4#3),
            # or the video by its path: then every frame gets its boxes.
            numbered = counted(((frame_key(item.key, i), frame_source(self.detector, item.key, i),
                                 frame) for i, frame in itertools.chain([first], decoded)),
                               item.key, frames.declared, "frame", about=True, shown=self.progress)
            if not self._sequence(item.key, numbered, fps, track, track_config, item.path):
                return  # Skipped (said as a failure): no frame ran.
        finally:
            capture.release()
        for index in frames.damaged:  # In every output as a frame without people.
            self.summary.unreadable_frames.append(
                f"{item.path}: frame {index} (numbered from 0, as frames.json numbers them) "
                "could not be decoded (a damaged frame)")
        beyond = getattr(self.detector, "frames_beyond", lambda video, count: [])(
            item.key, frames.count)
        if beyond:  # Boxes no frame took: numbered from 1, or another video's.
            self.summary.unused_boxes.append(
                f"{item.key}: {len(beyond)} boxes entr{'y' if len(beyond) == 1 else 'ies'} "
                f"for frames past its {frames.count} (e.g. {beyond[-1]}; frames are numbered "
                "from 0, as frames.json numbers them)")
        note = frame_count_note(item.path, frames.count, frames.declared)
        if note:  # Short of its header's count, or none declared (being written?).
            self.summary.short_videos.append(note)

    def folders(self, items: Sequence[InputFile], track_config: Any,
                fps: float = FRAMES_FPS) -> None:
        """Each folder of frames as one tracked video (its annotated copy at
        ``fps``: frames carry no rate)."""
        for key, frames in sequences(items, warn=True):
            folder = os.path.dirname(frames[0].path)
            read = _read_frames(self, frames)
            leading = []  # Up to the first frame read (positions kept).
            for frame in read:
                leading.append(frame)
                if frame[2] is not None:
                    break
            if leading[-1][2] is None:  # As a video of no frame: no outputs, exit code 1.
                del self.summary.unreadable_frames[-len(leading):]
                self.summary.unreadable.append(
                    f"{folder}: none of its {len(frames)} frame(s) could be read")
                continue
            self._sequence(key, counted(itertools.chain(leading, read), key, len(frames), "frame",
                                        shown=self.progress),
                           fps, True, track_config, folder, [item.key for item in frames])

    def _sequence(self, key: str, frames: Iterator, fps: float, track: bool,
                  track_config: Any, source: str,
                  frame_names: Optional[Sequence[str]] = None) -> bool:
        """``frames`` yields (frame name, detection source, RGB frame); ``source``: the video's or
        the folder's path (each frame's entry names it: an earlier run's outputs of another source
        are kept); ``frame_names``: a folder's frames (an earlier run's outputs of other frames of
        that folder are kept too).

        ``<key>.frames.json`` is complete on disk after every frame (with ``track_id``s when
        tracking), so a run ended in any way keeps the frames done; a run stopped mid-video
        (Ctrl-C, an error) also closes the annotated video and writes the PoseTrack JSON of those
        frames, then the stop goes on: an hour of video is not lost to its last frame. Returns
        False when it is skipped (its outputs cannot be named or the earlier ones moved: a failure,
        said; the other inputs run).
        """
        output = functools.partial(sequence_output, self.writer.output_dir, key)
        source = os.path.abspath(source)
        pairs = self._set_aside(key, output, source, frame_names, track)
        if pairs is None:
            return False
        tracker = _tracker(self, track_config) if track else None
        self._tracking = track
        video = VideoOutput(self.writer, output(".pose.avi"), fps)
        per_frame, results, names = None, [], []
        finished, stop = False, None
        try:
            per_frame = JsonListFile(self.writer, output(".frames.json"),
                                     shared={"source": source})
            self._frames_of(frames, tracker, video, per_frame, results, names)
            finished = True
        except BaseException as e:
            stop = e
            raise
        finally:
            done = per_frame.count if per_frame else 0
            written = False
            try:
                # A second Ctrl-C here (a quick double press) lost the PoseTrack
                # JSON of the frames done: it waits until they are written.
                with defer_interrupts():
                    written = self._close_sequence(
                        key, output, video, per_frame, tracker, track_config, results,
                        names if frame_names is None else _in_their_folder(names, source))
            except DiskFullError:
                # The disk filled at a frame: that write is the one said (the
                # PoseTrack JSON's, failing after it, named the wrong file).
                if not isinstance(stop, DiskFullError):
                    raise
            finally:  # Also when a full disk stopped the writes above. One line says
                # how many frames this run's outputs hold, marked partial, and where
                # the earlier ones are (they were said in two).
                settle_previous(key, pairs, finished and written, done, held, "frame(s)",
                                "could not write its outputs in full" if finished
                                else "stopped before its end", self.writer.model)
        self.summary.processed += 1
        return True

    def _close_sequence(self, key: str, output: Any, video: VideoOutput,
                        per_frame: Optional[JsonListFile], tracker: Any, track_config: Any,
                        results: list, names: list) -> bool:
        """Closes the video and frames.json and writes the PoseTrack JSON
        (tracked); whether all of them were written."""
        video.close()
        if per_frame:
            per_frame.close()
        written = video.ok and bool(per_frame) and not per_frame.failed
        if tracker is not None:
            written &= _write_posetrack(self, output(".posetrack.json"), results, names, key,
                                        track_config.keypoint_threshold)
            self.summary.low_score_detections += tracker.low_score_detections
            self.summary.unconfident_poses += tracker.unconfident_poses
            self.summary.duplicate_poses += tracker.duplicate_poses
        return written

    def _set_aside(self, key: str, output: Any, source: str,
                   frame_names: Optional[Sequence[str]],
                   track: bool) -> Optional[list[tuple[str, str]]]:
        """Earlier outputs of another ``source`` of the same name (or other
        ``frame_names`` of it, or tracked when this run is not) moved to
        ``<key>.<n>.*``, named in the summary; this source's kept as
        ``<key>.previous.*`` until this run has finished (they were replaced
        from the first frame, so a stop lost them; of two partial sets, the
        one holding more frames: ``keep_previous``); this run's marked
        partial (``<key>.incomplete``) until it has. Returns the (current,
        previous) file pairs; None, said as a failure, when an output's name
        does not fit or the earlier ones cannot be moved (each move is all or
        none). Was: "File name too long" stopped the whole run."""
        what = f"the {'video' if frame_names is None else 'folder'}'s outputs (it is skipped)"
        if not all(self.writer.name_fits(output(s), what, s) for s in SEQUENCE_SUFFIXES
                   if track or s != ".posetrack.json"):
            return None
        try:
            for tag, note in (("", ""), (PREVIOUS, " (the outputs a stopped rerun of it "
                                                   "kept)")):
                kept = keep_earlier_sequence(output, source, frame_names, track, tag)
                if kept:  # Said now (a stop ends the run before its summary) and at the end.
                    self.summary.kept_earlier.append(f"{key}: {kept[0]} ({kept[1]}){note}")
                    logging.warning("%s: an earlier run's outputs are kept beside this run's: "
                                    "%s (%s)%s", key, kept[0], kept[1], note)
            pairs = [(output(s), tagged(output(s), PREVIOUS)) for s in SEQUENCE_SUFFIXES]
            keep_previous(pairs, held, self.writer.model)
        except OSError as e:
            self.writer.failed(output(".frames.json"), f"{what}: the earlier run's outputs "
                                f"could not be moved aside ({e}); none is overwritten", e)
            return None
        try:
            mark_incomplete(output(INCOMPLETE), output(".frames.json"), self.writer.model)
        except OSError as e:
            put_back_previous(pairs)  # Nothing of this run's: the earlier ones in place.
            self.writer.failed(output(INCOMPLETE), f"{what}: {e.strerror or e}", e)
            return None
        return pairs

    def _frames_of(self, frames: Iterator, tracker: Any, video: VideoOutput,
                   per_frame: JsonListFile, results: list, names: list) -> None:
        """Runs the frames, adding each to ``per_frame`` (and, tracked, to
        ``results`` and ``names``) as it is done."""
        shape, cuts = None, []
        for name, source, frame in frames:
            raise_lost_stop()
            if frame is None:  # Unreadable: its place in the timeline is kept.
                self._unreadable_frame(name, tracker, video, per_frame, results, names)
                continue
            if tracker is not None and shape is not None and frame.shape != shape:
                if not cuts:  # Said once a video (frames of alternating sizes said it each).
                    logging.warning("%s is %s, the frames before %s: its people start new "
                                    "tracks (so at every change of size)", name,
                                    frame.shape[:2], shape[:2])
                cuts.append(name)
                tracker.cut()  # Not reset(): ids and frame numbers go on.
            shape = frame.shape
            if tracker is not None:
                tracker.prepare(frame)  # The flow runs while the detector does.
                result = tracker.step(frame, self._detect(frame, source))
                drawn = _draw_tracks(self, frame, result)
            else:
                result = self._poses(frame, source)
                drawn = self.predictor.draw(frame, result, self.score_threshold)
            people = self._entries(result, per_frame.count, name)
            for person, track_id in zip(people, getattr(result, "track_ids", ())):
                person["track_id"] = int(track_id)
            # A frame is in every output or in none: frames.json first, as
            # its write is the one a full disk stops (the video writer's
            # buffer took one frame more).
            with defer_interrupts():
                per_frame.add([{"frame": per_frame.count, "file_name": name,
                                "people": people}])
                if tracker is not None:
                    results.append(result)
                    names.append(name)
                video.add(drawn)
            self.summary.frames += 1
            self.summary.frame_people += len(people)
        if len(cuts) > 1:
            logging.warning("%d changes of frame size in this video (%s ...): each started new "
                            "tracks", len(cuts), ", ".join(cuts[:3]))

    def _unreadable_frame(self, name: str, tracker: Any, video: VideoOutput,
                          per_frame: JsonListFile, results: list, names: list) -> None:
        """A frame of a folder that cannot be read: an entry without people
        (and a black video frame), so that frame n of every output is still
        the folder's n-th frame (a PoseTrack evaluation pairs them by it)."""
        with defer_interrupts():  # frames.json first, as in _frames_of.
            per_frame.add([{"frame": per_frame.count, "file_name": name, "people": [],
                            "unreadable": True}])
            if tracker is not None:
                results.append(tracker.skip())
                names.append(name)
            video.gap()


def _read_frames(run: PredictionRun, items: Sequence[InputFile]) -> Iterator:
    for item in items:
        try:
            # A frame of a folder is an input of its own: its key finds its boxes.
            yield item.key, item.key, run.read(item)
        except ImageReadError as e:
            logging.error("frame without people (cannot be read): %s", e)
            run.summary.unreadable_frames.append(str(e))
            yield item.key, item.key, None


def _tracker(run: PredictionRun, track_config: Any) -> Any:
    from keras_pose.configs import ConfigError
    from keras_pose.configs.sigmas import resolve_sigmas
    from keras_pose.tracking import PoseTracker
    data = run.predictor.config.data
    try:
        sigmas = resolve_sigmas(data.oks_sigmas, data.keypoint_names, log=False)
    except ValueError as e:  # A --set data.oks_sigmas=... that does not fit the model.
        raise ConfigError(f"data.oks_sigmas (the tracker's similarity): {e}") from e
    return PoseTracker(track_config, lambda image, boxes, scores: run.predictor.predict(
        image, boxes, flip=run.flip, box_scores=scores), sigmas=sigmas)


def _draw_tracks(run: PredictionRun, frame: np.ndarray, result: Any) -> np.ndarray:
    from keras_pose.tracking import draw_tracks
    return draw_tracks(frame, result, run.predictor.config.data.skeleton, run.score_threshold)


def _in_their_folder(names: Sequence[str], folder: str) -> list[str]:
    """A folder's frame names with the folder's name before those right in
    ``--input``: poseval reads a frame's sequence from the folder its
    ``file_name`` is in, and a bare ``000000.jpg`` (``--input
    images/val/<sequence>``) named none."""
    base = os.path.basename(os.path.normpath(folder))
    return [name if "/" in name else f"{base}/{name}" for name in names]


def _write_posetrack(run: PredictionRun, path: str, results: list, names: list,
                     key: str, keypoint_threshold: float) -> bool:
    from keras_pose.tracking import to_posetrack18
    data = run.predictor.config.data
    value = to_posetrack18(results, file_names=names, video_id=key,
                           keypoint_names=data.keypoint_names, skeleton=data.skeleton,
                           keypoint_threshold=keypoint_threshold)
    return run.writer.json(path, value)
