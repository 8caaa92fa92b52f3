"""Outputs of ``predict.py`` that are never silently lost.

Every write is checked; a failed write is reported, counted and the run
goes on, and the run's exit code says that something was not written; a
full disk stops the run (every later write would fail too). Annotated
photos are written whole or not at all (a temporary file renamed).
``predictions.json`` is written as the images go and is a complete JSON
list on disk after every image's entries, so a run that ends in any way
(Ctrl-C, an error, ``kill -9``, a crash) leaves every entry written before
it readable. An earlier run's ``predictions.json`` with results of other
inputs is moved aside (``predictions.1.json``), never overwritten; one
with results of the same inputs is kept as ``predictions.previous.json``
until this run has finished (a run stopped half-way lost the earlier
complete results). A video's outputs likewise (``<key>.previous.*``). Until
a run has finished its outputs are marked partial (``predictions.incomplete``,
``<key>.incomplete``), so that a stop, a crash or ``kill -9`` leaves them
known as such (``earlier_outputs``).
"""

from __future__ import annotations

import errno
import os
from typing import Any, Mapping, Optional

import cv2
import numpy as np

from keras_pose import log as logging
from keras_pose.errors import UserError
from keras_pose.files import remove_dead_leftovers, write_atomically, write_json
from keras_pose.json_values import nonfinite_people, strict_json
# An earlier run's outputs: a module of their own (this one was 468 lines).
from keras_pose.prediction.earlier_outputs import (
    earlier_entries_are, held, keep_earlier_results, keep_previous, mark_incomplete, marker_of,
    name_limit, name_too_long, previous_path, put_back_previous, settle_previous)
from keras_pose.signals import defer_interrupts
from keras_pose.tf_paths import OpenCVPathError, opencv_path


class DiskFullError(UserError, OSError):
    """A write of predict.py's outputs found the disk full: the run stops
    (what was written before is kept)."""

    def __str__(self) -> str:
        return str(self.strerror)


class OutputWriter:
    """Writes images, videos and JSON files under one directory; collects
    the failures instead of stopping."""

    def __init__(self, output_dir: str, model: Optional[str] = None):
        self.output_dir = output_dir
        # Named in the marks of partial outputs (earlier_outputs.model_of):
        # another model's are kept aside, never replaced by this run's.
        self.model = model
        self.failures: list[str] = []
        # The run's people whose numbers are not finite (written as null),
        # said once at the end of the run (NonfiniteCount.say).
        self.nonfinite = NonfiniteCount()

    def failed(self, path: str, reason: str, error: Optional[BaseException] = None) -> bool:
        """Notes a write that failed; a full disk (``error``'s errno) stops
        the run: raises DiskFullError naming ``path``."""
        if getattr(error, "errno", None) == errno.ENOSPC:
            raise DiskFullError(errno.ENOSPC, f"{path}: no space left on device, so the run "
                                "stops (the outputs written before are kept): free space, or "
                                "give --output_dir on another disk", path) from error
        message = f"{path}: {reason}"
        logging.error("not written: %s", message)
        self.failures.append(message)
        return False

    def image(self, path: str, rgb: np.ndarray) -> bool:
        """Writes an RGB image (format from the extension) whole or not at
        all: encoded, then a temporary file renamed (a kill -9 during
        OpenCV's own write left a file cut short); True if written."""
        try:
            ok, encoded = cv2.imencode(os.path.splitext(path)[1],
                                       cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        except cv2.error as e:
            return self.failed(path, f"the image could not be encoded ({e})")
        if not ok:
            return self.failed(path, "the image could not be encoded")
        try:
            remove_dead_leftovers(path)  # A killed run's temporary file of this copy.
            write_atomically(path, encoded.tobytes())
            return True
        except OSError as e:
            return self.failed(path, _why_not_written(path, "the image", e), e)

    def json(self, path: str, value: Any) -> bool:
        """Writes a JSON file atomically; True if written."""
        try:
            write_json(path, value)
            return True
        except OSError as e:
            return self.failed(path, e.strerror or str(e), e)

    def name_fits(self, path: str, what: str, added: str) -> bool:
        """Whether ``path``'s name fits its file system; else noted as a
        failure, ``what`` not written (``added``: what the name adds to the
        input's name)."""
        if not name_too_long(path):
            return True
        return self.failed(path, _why_not_written(path, what, added=added))


def _why_not_written(path: str, what: str, error: Optional[OSError] = None,
                     added: str = ".pose") -> str:
    """Why ``path`` was not written: ``error``'s reason, or for OpenCV's
    writers, which say only False, the likely one (``added``: what the
    output's name adds to the input's)."""
    if name_too_long(path):  # "disk full?" was guessed
        return (f"{what} could not be written: its name is longer than the file system "
                f"allows ({name_limit(path)} bytes; the input's name plus '{added}'); "
                "rename the input")
    if error is not None:
        return f"{what} could not be written: {error.strerror or error}"
    return f"{what} could not be written (disk full or read-only?)"


# Above this the MJPG AVI writer drops frames (timestamps it cannot order;
# seen with a 2000 fps high-speed clip): the annotated copy plays slower.
MAX_VIDEO_FPS = 1000.0
# At 0.001 fps and below OpenCV cannot open the writer (a time-lapse's header
# of one frame per 20 minutes): the annotated copy plays faster instead.
MIN_VIDEO_FPS = 0.01
# The rate of a video made of frames that carry none (a folder of frames, a
# video whose header has no rate): ffmpeg's default for image sequences.
FRAMES_FPS = 25.0


class VideoOutput:
    """An annotated video (MJPG .avi); frames are checked as they go."""

    def __init__(self, writer: OutputWriter, path: str, fps: float):
        if fps > MAX_VIDEO_FPS:
            logging.warning("%s: written at %g fps, the most its writer takes (the input runs "
                            "at %g fps)", path, MAX_VIDEO_FPS, fps)
            fps = MAX_VIDEO_FPS
        elif fps < MIN_VIDEO_FPS:
            logging.warning("%s: written at %g fps, the least its writer takes (the input runs "
                            "at %g fps)", path, MIN_VIDEO_FPS, fps)
            fps = MIN_VIDEO_FPS
        self.writer, self.path, self.fps = writer, path, fps
        self._video: Optional[cv2.VideoWriter] = None
        self.ok = True
        self._gaps = 0  # unreadable frames before the first one read
        self._scaled = False  # whether a frame of another size was scaled (said once)
        self.frames = 0  # frames handed to the writer

    def gap(self) -> None:
        """A frame that could not be read: a black frame, so that the video
        keeps the timeline (frame n of the video is input frame n)."""
        if self._video is None:
            self._gaps += 1
        elif self.ok:
            self._video.write(np.zeros((self._size[1], self._size[0], 3), np.uint8))
            self.frames += 1

    def add(self, rgb: np.ndarray) -> None:
        if not self.ok:
            return
        if self._video is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            # MJPG keeps even sizes only: OpenCV cut an odd frame's last row
            # (or column); a black one is added instead (drawings stay put).
            self._size = (rgb.shape[1] + rgb.shape[1] % 2, rgb.shape[0] + rgb.shape[0] % 2)
            try:
                with opencv_path(self.path) as path:  # A name not UTF-8 crashed OpenCV.
                    self._video = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"),
                                                  self.fps, self._size)
            except OpenCVPathError as e:
                self._video, self.ok = None, self.writer.failed(self.path, e.strerror)
                return
            if not self._video.isOpened():
                self.ok = self.writer.failed(self.path, "the video could not be opened")
                return
            gaps, self._gaps = self._gaps, 0
            for _ in range(gaps):
                self.gap()
        height, width = rgb.shape[:2]
        rgb, scaled = _fitted(rgb, self._size)
        if scaled and not self._scaled:  # Said once a video.
            self._scaled = True
            logging.warning("%s: frame %d is %dx%d, the video's first %dx%d: frames of another "
                            "size are scaled to it in this video (their keypoints in the JSON "
                            "files are in their own pixels)", self.path, self.frames, width,
                            height, *self._size)
        self._video.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finishes the file and reads it back: OpenCV's writer reports no
        write error, so a full disk left a video of fewer frames (or none
        readable) in silence."""
        if self._video is None:
            if self._gaps:  # No frame gave the video its size (was not said).
                logging.warning("%s: not written: none of its %d frame(s) could be read",
                                self.path, self._gaps)
            return
        self._video.release()
        if self.ok and not _last_frame_reads(self.path, self.frames):
            why = _why_not_written(self.path, f"the video's {self.frames} frames",
                                   added=".pose.avi")
            if os.path.isfile(self.path):  # OpenCV's writer dropped the rest in silence.
                why += ("; the file left holds fewer of them (frames.json has every frame "
                        "done)")
            self.ok = self.writer.failed(self.path, why)


def _fitted(rgb: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """(frame, scaled): ``rgb`` (H, W, 3) as a frame of ``size`` (width,
    height, each even), padded with a black row or column when one short (an
    odd size), else scaled (a later frame of another size)."""
    pad_h, pad_w = size[1] - rgb.shape[0], size[0] - rgb.shape[1]
    if pad_h in (0, 1) and pad_w in (0, 1):
        if pad_h or pad_w:
            rgb = cv2.copyMakeBorder(rgb, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=0)
        return rgb, False
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), True


def _last_frame_reads(path: str, frames: int) -> bool:
    """Whether the video at ``path`` declares ``frames`` frames and its last
    one decodes (a file cut short fails one or the other)."""
    if not (os.path.isfile(path) and os.path.getsize(path)):
        return False
    try:
        with opencv_path(path) as readable:
            capture = cv2.VideoCapture(readable)
    except OpenCVPathError:
        return False
    try:
        if int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) != frames:
            return False
        capture.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
        return bool(capture.read()[0])
    finally:
        capture.release()


class NonfiniteCount:
    """The people of a run's JSON lists with a NaN or infinite number (a
    model whose heatmaps hold them: corrupted or badly converted weights),
    written as null. Were bare ``NaN`` in predictions.json, which no
    strict JSON reader takes, and unsaid."""

    def __init__(self) -> None:
        self.people, self.keypoints, self.files = 0, 0, {}

    def add(self, path: str, entries: list[dict]) -> None:
        """Counts the people of ``entries`` (people, or frames of them in
        ``"people"``): a person with any such number, and each keypoint
        (x, y, score) with one."""
        people, keypoints = nonfinite_people(
            person for entry in entries
            for person in (entry["people"] if "people" in entry else [entry]))
        if people:
            self.people, self.keypoints = self.people + people, self.keypoints + keypoints
            self.files[path] = self.files.get(path, 0) + people

    def say(self) -> None:
        """The run's one warning (and counts reset: said once)."""
        if self.people:
            logging.warning(
                "%d %s (%d keypoints) have NaN or infinite numbers from the model, written "
                "as null in %s: heatmaps that hold NaN or inf come from the model's weights "
                "(corrupted, or badly converted? check the checkpoint); an infinite person "
                "score alone can also come from a box score near float32's limit", self.people,
                "person" if self.people == 1 else "people", self.keypoints,
                ", ".join(f"{os.path.basename(p)} ({n})" for p, n in self.files.items()))
        self.people, self.keypoints, self.files = 0, 0, {}


class JsonListFile:
    """A JSON list file that is complete after every :meth:`add`: the
    entries, then the closing bracket, which the next :meth:`add` overwrites
    (a killed run leaves valid JSON, not a list missing its ``]``).
    ``predictions.json`` (an entry per person) and a video's
    ``.frames.json`` (an entry per frame: an hour of video is not held in
    memory, nor lost to a ``kill -9`` in its last minute)."""

    _CLOSE = b"\n]\n"

    def __init__(self, writer: OutputWriter, path: str,
                 names: Optional[Mapping[str, str]] = None,
                 shared: Optional[Mapping[str, Any]] = None):
        """``names``: {file name: input path} of the inputs this run gives
        results for; an earlier file with results of any other is kept
        (``kept_earlier``). None: an earlier file is replaced (a video's own
        frames). ``shared``: fields every entry gets (a video's path)."""
        self.writer, self.path, self.count = writer, path, 0
        self._ends_run = names is not None  # predictions.json (a video's: None).
        self._shared = dict(shared or {})
        self._file = None
        self._end = 1  # Byte offset where the next entry goes: after "[".
        self.kept_earlier: Optional[str] = None
        self.kept_earlier_previous: Optional[str] = None
        self.previous: Optional[str] = None
        # Results of inputs (``names``): (current, previous) pairs of the
        # file and of its mark of partial results (earlier_outputs.INCOMPLETE).
        self._pairs: Optional[list[tuple[str, str]]] = None
        self._images: set = set()  # The file names of the entries added.
        self._marked = False  # Whether this run wrote the mark (its to remove).
        self.failed = False
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if names is not None:
                self._set_aside(dict(names))
            if self._pairs:  # Partial until finish(complete=True).
                mark_incomplete(marker_of(path), path, writer.model)
                self._marked = True
            # Unbuffered: a write the disk cut short leaves no bytes behind
            # in a buffer, to be flushed (or fail again) at the next seek.
            self._file = open(path, "wb", buffering=0)
            self._write(b"[" + self._CLOSE)
        except OSError as e:
            if self._file is not None:  # Not even "[]" fits: no file that does not parse.
                self._file.close()
                os.remove(path)
            self._file, self.failed = None, True
            if self._marked and not self.previous:  # Else put back with the earlier file.
                os.remove(marker_of(path))
            self._put_back_previous()  # Nothing of this run's: the earlier file, as it was.
            writer.failed(path, e.strerror or str(e), e)

    def _set_aside(self, names: dict[str, str]) -> None:
        """An earlier file of other inputs (and the one a stopped rerun of
        those kept as previous) moved aside, named; one of these inputs kept
        as previous until this run has finished (``keep_previous``: of two
        partial ones, the one holding more images)."""
        self.kept_earlier = keep_earlier_results(self.path, names)
        self.kept_earlier_previous = keep_earlier_results(previous_path(self.path), names)
        if not names:  # --track: no results of its own in this file.
            return
        self._pairs = [(self.path, previous_path(self.path)),
                       (marker_of(self.path), marker_of(previous_path(self.path)))]
        # An earlier "[]" alone is replaced (no results to keep).
        if os.path.exists(previous_path(self.path)) or not earlier_entries_are(
                self.path, lambda entry: False):
            keep_previous(self._pairs, _images_held, self.writer.model)
        self._previous_left()

    def _previous_left(self) -> None:
        """``self.previous``: the earlier results file still there, if any."""
        path = previous_path(self.path)
        self.previous = path if self._pairs and os.path.isfile(path) else None

    def _put_back_previous(self) -> None:
        """The earlier results go back in place when this run wrote no entry
        (it stopped, or failed, at once)."""
        if self._pairs and not self.count:
            put_back_previous(self._pairs)
            self._previous_left()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # A raw write may take part of the data and say so.
            written = self._file.write(view)
            if not written:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.path)
            view = view[written:]
        os.fsync(self._file.fileno())

    def add(self, entries: list[dict]) -> None:
        """Appends entries; on disk when this returns."""
        if self._file is None or not entries:
            return
        # ASCII (json.dumps escapes the rest): string length = byte length.
        # Strict JSON: a NaN or infinite number is null, counted for the run's warning.
        self.writer.nonfinite.add(self.path, entries)
        text = "".join(("," if self.count + i else "") + "\n"
                       + strict_json({**entry, **self._shared})
                       for i, entry in enumerate(entries)).encode("ascii")
        try:
            # A stop inside fsync, after the bytes: the count one short of the file.
            with defer_interrupts():
                self._file.seek(self._end)
                self._write(text + self._CLOSE)  # One write: entries and "]" together.
                self._end += len(text)
                self.count += len(entries)
                if self._pairs:
                    self._images.update(str(entry.get("file_name")) for entry in entries)
        except OSError as e:  # Disk full, say: keep the entries before these.
            self._restore_end()
            self._file, self.failed = None, True
            self.writer.failed(self.path, e.strerror or str(e), e)

    def _restore_end(self) -> None:
        """Best effort after a failed add: cut what it wrote, close the list."""
        try:
            self._file.seek(self._end)
            self._file.truncate()  # First: frees the space a full disk needs.
            self._write(self._CLOSE)
        except OSError:
            pass

    def close(self) -> None:
        if self._ends_run:  # Every other list of the run is closed before it.
            self.writer.nonfinite.say()
        if self._file is None:
            return
        try:
            self._file.close()
        except OSError as e:
            self._file, self.failed = None, True
            self.writer.failed(self.path, e.strerror or str(e), e)
        self._file = None

    def finish(self, complete: bool) -> Optional[str]:
        """Closes the file; the earlier run's results kept as
        ``self.previous`` go, with this file's mark of partial results, once
        this run is ``complete`` (every input done) and written in full;
        else one line says what is kept where. Returns the file still
        holding the earlier results, if any."""
        self.close()
        if self._pairs is None or (complete and self.failed):
            return self.previous  # Written in part: marked partial, the earlier kept.
        settle_previous(os.path.basename(self.path), self._pairs, complete, len(self._images),
                        _images_held, "image(s) with people", model=self.writer.model)
        self._previous_left()
        return self.previous

    def withdraw(self) -> None:
        """Takes an empty file back (a run none of whose inputs could be
        read): removed, and the earlier run's file it moved aside put back
        (it was left as predictions.<n>.json beside an empty list)."""
        self.close()
        if self.count:
            return
        if self.kept_earlier and os.path.isfile(self.kept_earlier):
            put_back_previous([(self.path, self.kept_earlier),
                               (marker_of(self.path), marker_of(self.kept_earlier))])
            self.kept_earlier = None
            return
        if self.previous:
            self._put_back_previous()
            return
        for path in (self.path, marker_of(self.path) if self._marked else None):
            if path and os.path.isfile(path):
                os.remove(path)


def _images_held(path: str) -> int:
    """The images with people in the results file at ``path``."""
    return held(path, "file_name")
