"""What the three command lines share: errors as one line, Ctrl-C, outputs,
the runtime flags.

``train.py``, ``evaluate.py`` and ``predict.py`` stay thin: they build a
config (``keras_pose.configs.cli``), call the library and hand their work
to :func:`run` here, which turns the errors a user can fix
(``keras_pose.errors.UserError``, and OSErrors naming a file) into one line
on stderr (exit code 1), Ctrl-C and SIGTERM into a clean stop (exit code 130
or 143, no traceback), and lets every other error through with its traceback.
A stdout or stderr that cannot be written (a closed pipe, a full disk, closed)
loses the output, not the work, and a name stdout or stderr cannot encode is
written escaped (``keras_pose.output_streams``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
from typing import Any, Callable, Iterator, Optional, Sequence

from keras_pose import signals
from keras_pose.errors import UserError
from keras_pose.output_streams import names_escaped, streams_kept_safe


def is_user_error(error: BaseException) -> bool:
    """Errors the user can fix: one clear line. ``UserError`` marks them
    where their cause is known; an ``OSError`` that names a file is the
    machine (disk full, permission denied, a file gone). Anything else, a
    ValueError or KeyError included, is a bug: it keeps its traceback."""
    if isinstance(error, UserError):
        return True
    return isinstance(error, OSError) and error.filename is not None


def error_message(error: BaseException) -> str:
    """The error's text; an OSError's without its "[Errno N]" prefix, naming
    its file once ("No space left on device: out/best")."""
    if isinstance(error, OSError) and not isinstance(error, UserError) and error.strerror:
        name = str(error.filename)
        return error.strerror if name in error.strerror else f"{error.strerror}: {name}"
    return str(error)


def flags_parser(argv: Sequence[str]) -> list[str]:
    """absl's flag parsing for ``app.run(main, flags_parser=...)``: a flag
    refused while absl parses (an empty path, ``--runtime foo``, an unknown
    flag) is one line ``<tool>: error: ...``, exit code 1, as every other
    flag error; absl's own parser printed "FATAL Flags parsing error: ..."
    and a second line."""
    from absl import flags
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        # Several flags' errors at once (absl's validators): one line still.
        print(f"{os.path.basename(argv[0])}: error: "
              f"{'; '.join(error_message(e).splitlines())}", file=sys.stderr)
        sys.exit(1)


def refuse_arguments(argv: Sequence[str], pattern_fixes: Optional[dict] = None) -> None:
    """Words after the flags (an unquoted path with a space: ``--output my
    export``; a shell pattern: ``--checkpoint runs/*/best``) are refused;
    three scripts dropped them in silence. ``pattern_fixes``: {flag name:
    the fix} for a flag whose value the shell expanded into several paths
    (``keras_pose.command_line.leftover_message``).

    Raises:
      command_line.ArgumentsError: one line in :func:`run`; absl's usage
        screen before it (an ``app.UsageError`` too).
    """
    if len(argv) > 1:
        from keras_pose import command_line
        own = sys.argv if sys.argv[:1] == list(argv[:1]) else ()  # The tool's, not a test's.
        raise command_line.ArgumentsError(
            command_line.leftover_message(argv[1:], own, pattern_fixes))


def refusing_arguments(argv: Sequence[str], work: Callable[[], int],
                       pattern_fixes: Optional[dict] = None) -> Callable[[], int]:
    """``work`` for :func:`run`, after :func:`refuse_arguments`: words left
    after the flags are one ``<tool>: error:`` line, as every flag error
    (they printed the whole --help, 56 to 95 lines, the message last)."""
    def checked() -> int:
        refuse_arguments(argv, pattern_fixes)
        return work()
    return checked


def run(name: str, work: Callable[[], int]) -> int:
    """Runs ``work`` and maps its failures to exit codes and messages; SIGTERM
    stops it as Ctrl-C does (``keras_pose.signals``), exit code 143; both
    raise through a Python handler (``signals.command_stops``). Output to a
    stdout or stderr that cannot be written is dropped (:func:`streams_kept_safe`);
    a name that stdout or stderr cannot encode is escaped (:func:`names_escaped`)."""
    with names_escaped(), streams_kept_safe(name), signals.command_stops():
        return _run(name, work)


def _run(name: str, work: Callable[[], int]) -> int:
    from keras_pose.command_line import check_flags_given_once
    try:
        _check_file_name_encoding()
        check_flags_given_once(name, sys.argv)
        _expand_home()
        with _logs_in_log_dir():
            return work()
    except KeyboardInterrupt as e:
        print(f"{name}: interrupted ({signals.stop_name(e)})", file=sys.stderr)
        return signals.stop_exit_code(e)
    except Exception as e:  # noqa: BLE001 - reported below, or re-raised.
        if not is_user_error(e):
            raise
        code = getattr(e, "exit_code", 1)  # TrainingInterrupted: 130, 143 or 129.
        print(f"{name}: {'error' if code == 1 else 'stopped'}: {error_message(e)}", file=sys.stderr)
        return code


def _check_file_name_encoding() -> None:
    """Refuses a Python that reads file names in another encoding than
    UTF-8 (``LC_ALL=C PYTHONUTF8=0``, a Latin-1 locale): it misread every
    name that is not ASCII. train.py said a quarter of a data set's images
    were missing and trained on the rest (exit 0), evaluate.py found none,
    predict.py wrote ``\\udcc3...`` names. Plain ``LC_ALL=C`` is UTF-8
    (Python's UTF-8 mode, PEP 540)."""
    import codecs
    encoding = sys.getfilesystemencoding()
    if codecs.lookup(encoding).name != "utf-8":
        raise UserError(f"this Python reads file names as {encoding}, not UTF-8, and would "
                        "misread every name that is not ASCII: set PYTHONUTF8=1 or a UTF-8 "
                        "locale, e.g. LC_ALL=C.UTF-8")


@contextlib.contextmanager
def _logs_in_log_dir() -> Iterator[None]:
    """absl's ``--log_dir`` (``--helpfull``: "directory to write logfiles
    into"), taken: the run's log lines go to a file there (absl's link
    ``py_<tool>.INFO`` names it; stderr keeps those at ``--stderrthreshold``,
    and all with ``--alsologtostderr``). It did nothing. The folder is made
    when missing; the file is closed at the end (a run in-process logs to
    where it did before)."""
    from absl import flags, logging
    log_dir = flags.FLAGS["log_dir"].value if "log_dir" in flags.FLAGS else None
    if not log_dir or flags.FLAGS["logtostderr"].value:  # absl's rule: then no file.
        yield
        return
    check_writable(log_dir, "--log_dir")
    handler = logging.get_absl_handler().python_handler
    before = handler.stream
    handler.start_logging_to_file()
    handler.stream.reconfigure(errors="backslashreplace")  # A name that is not UTF-8.
    try:
        yield
    finally:
        handler.flush()
        handler.stream.close()
        handler.stream = before


def refuse_flag_and_set(pairs: Sequence[tuple], overrides: Sequence[str]) -> None:
    """Refuses a flag and a ``--set`` item giving one setting two values
    (``--noflip --set test.flip_test=true``, ``--noaugment --set
    data.flip=true``, ``--detections a.json --set test.detection_file=b.json``):
    the flag won in silence.

    ``pairs``: (flag name, config key), the flag's value is the key's; or
    (flag name, config key, implied), ``implied(flag value)`` is the value
    the flag gives the key (None: none, as --augment). ``overrides``: the
    ``--set`` items.

    Raises:
      FlagError: naming both and the setting.
    """
    import json

    from absl import flags

    from keras_pose.errors import FlagError
    for name, key, *implied in pairs:
        value = flags.FLAGS[name].value
        wanted = implied[0](value) if implied and value is not None else value
        if wanted is None:  # The flag was not given, or says nothing of the key.
            continue
        for item in overrides:
            item_key, _, raw = item.partition("=")
            if item_key.strip() == key and _other_value(raw.strip(), wanted):
                given = (f"--{'' if value else 'no'}{name}" if isinstance(value, bool)
                         else f"--{name} {value}")
                means = f" ({given} means {key}={json.dumps(wanted)})" if implied else ""
                raise FlagError(f"{given} and --set {item.strip()} give {key} two values"
                                f"{means}: give one of them")


def _other_value(text: str, wanted: Any) -> bool:
    """Whether a --set value's ``text`` differs from ``wanted``; a text of
    another type is left to the config's own check (it names the key)."""
    if isinstance(wanted, bool):
        return text.lower() in ("true", "false") and (text.lower() == "true") != wanted
    if isinstance(wanted, (int, float)):
        try:
            return float(text) != wanted
        except ValueError:
            return False
    return text != wanted


def _expand_home() -> None:
    """``~`` at the start of a flag's value (``--output_dir=~/out``, which no
    shell expands after ``=``) and of a ``--set`` value means the home
    folder, for every tool and flag: some wrote into a folder named ``~``,
    others refused the path, others expanded it."""
    from absl import flags
    for name in flags.FLAGS:
        flag = flags.FLAGS[name]
        if name != flag.name:
            continue
        if isinstance(flag.value, str) and flag.value.startswith("~"):
            flag.value = os.path.expanduser(flag.value)
        elif name == "set" and isinstance(flag.value, list):
            flag.value = [_expand_set_value(item) for item in flag.value]


def _expand_set_value(item: Any) -> Any:
    if not isinstance(item, str) or "=" not in item:
        return item
    key, value = item.split("=", 1)
    return f"{key}={os.path.expanduser(value.strip())}" if value.strip().startswith("~") \
        else item


class OutputDirectoryError(UserError, OSError):
    """An output directory that cannot be created or written to."""

    def __str__(self) -> str:  # The message alone, without OSError's "[Errno N]".
        return str(self.strerror)


def check_writable(directory: str, what: str = "output directory") -> None:
    """Creates ``directory`` and proves a file can be written there, before
    any work starts.

    Raises:
      OutputDirectoryError: naming the directory when it cannot be created
        or written.
    """
    if not directory.strip():  # An unset shell variable ("not writable (No such file...)").
        raise OutputDirectoryError(errno.EINVAL, f"{what} is empty: give a folder")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise OutputDirectoryError(errno.ENOTDIR, f"{what} {directory} is a file, not a "
                                                  "directory: give a folder")
    for attempt in range(3):
        try:
            os.makedirs(directory, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
                pass
            return
        except FileNotFoundError as e:  # Another run's check removed the folder it made
            error = e  # (workers of one job start together): make it again.
        except OSError as e:
            error = e
            break
    from keras_pose.files import dangling_link_message, file_in_the_way
    link = dangling_link_message(directory)
    if link:  # Was "is not writable (File exists)".
        raise OutputDirectoryError(error.errno, f"{what} {directory} cannot be made: {link}")
    blocker = file_in_the_way(directory) if error.errno == errno.ENOTDIR else None
    if blocker:  # Was "(Not a directory)", the file in the way unnamed.
        raise OutputDirectoryError(error.errno, f"{what} {directory} cannot be made: {blocker} "
                                                "is a file, not a folder; give another path")
    raise OutputDirectoryError(error.errno, f"{what} {directory} is not writable "
                                            f"({error.strerror or error})") from None


def check_writable_leaving_no_folder(directory: str, what: str = "output directory") -> None:
    """:func:`check_writable`, then the folders it made are removed again
    (for a run that makes them later, and takes them away if it writes
    nothing). Only while empty: another run, such as the other workers of
    a multi-worker job, may be writing there already."""
    top = _first_missing(directory)
    check_writable(directory, what)
    if top is not None:
        _remove_empty_folders(os.path.abspath(directory), top)


@contextlib.contextmanager
def locked_output_dir(directory: str, run: str, flag: str = "--output_dir") -> Iterator[None]:
    """:func:`check_writable`, then the folder's lock for the whole run (two
    runs writing one folder mix their files); a folder made here that the
    run leaves empty (a user error) is removed again (it was left holding
    only the lock file)."""
    from keras_pose.locks import DirectoryLock
    with unused_folders_removed(directory) as top:
        check_writable(directory, flag)
        with DirectoryLock(directory, run=run, flag=flag, created=top is not None):
            yield


@contextlib.contextmanager
def unused_folders_removed(directory: str) -> Iterator[Optional[str]]:
    """The folders made on the way to ``directory`` during the block are
    removed again when ``directory`` is gone at its end (a run that wrote
    nothing: its lock took it away), only while empty. Yields the
    outermost folder that does not exist yet (None: it exists)."""
    top = _first_missing(directory)  # The folders made here: it and those below it.
    try:
        yield top
    finally:
        if top is not None and not os.path.lexists(directory):
            _remove_empty_folders(os.path.dirname(os.path.abspath(directory)), top)


def _remove_empty_folders(path: str, top: str) -> None:
    """Removes ``path`` and its parents up to ``top`` (an absolute path
    above or equal to it), each only while empty: nothing of anyone's is
    removed."""
    while path == top or path.startswith(top + os.sep):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass  # Gone already (another run's check removed it).
        except OSError:
            return  # Not empty: in use.
        path = os.path.dirname(path)


def _first_missing(directory: str) -> Optional[str]:
    """The outermost folder of ``directory``'s path that does not exist yet
    (None: it exists)."""
    path, top = os.path.abspath(directory), None
    while not os.path.lexists(path):
        path, top = os.path.dirname(path), path
    return top


def refuse_names_not_utf8(paths: Sequence[tuple[str, Optional[str]]]) -> None:
    """Refuses, before any work, a path that reaches TensorFlow (or an
    export's runtime) with a name in it that is not valid UTF-8
    (``run_\\xff``): they take UTF-8 paths only, and failed after the
    set-up ("Failed to convert a NumPy array to a Tensor (Unable to convert
    element to UTF-8)" for evaluate.py's --data_dir, a traceback out of
    TF's summary writer for train.py's --model_dir).

    Args:
      paths: (what gives it: a flag, a setting, ``--set <key>=``; the path
        or None), each checked as an absolute path (a relative one in a
        folder so named).

    Raises:
      FlagError: naming it, its name that is not UTF-8, and the fix.
    """
    from keras_pose.errors import FlagError
    from keras_pose.output_streams import shown
    from keras_pose.tf_paths import is_utf8_path
    for what, path in paths:
        if not path or is_utf8_path(os.path.abspath(path)):
            continue
        name = next(part for part in os.path.abspath(path).split(os.sep)
                    if not is_utf8_path(part))
        given = f"{what}{'' if what.endswith('=') else ' '}{shown(path)}"
        raise FlagError(f"{given}: the name {shown(name)} in it is not valid "
                        "UTF-8, and TensorFlow (and ONNX Runtime, OpenVINO) open UTF-8 paths "
                        f"only: rename {shown(name)}, e.g. to a name of ASCII letters")


def set_values(overrides: Sequence[str], key: str) -> list[tuple[str, str]]:
    """(``--set <key>=``, value) of each ``--set`` item of ``key``."""
    items = [item.partition("=") for item in overrides]
    return [(f"--set {key}=", value.strip()) for item_key, _, value in items
            if item_key.strip() == key]


def model_paths(flag: str, checkpoint: Optional[str],
                runtime: Optional[str] = None) -> list[tuple[str, str]]:
    """[(``flag``, ``checkpoint``)] when an export's runtime opens it: with
    ``--runtime``, or an export file (``.onnx``, ``.xml``, ``.tflite``),
    for :func:`refuse_names_not_utf8`; TF and Keras open the others
    whatever their name. Only a name that is not UTF-8 is looked at."""
    from keras_pose.tf_paths import is_utf8_path
    if not checkpoint or is_utf8_path(os.path.abspath(checkpoint)):
        return []
    from keras_pose.export.runtimes import SUFFIXES  # TensorFlow: only for such a name.
    exported = checkpoint.endswith(tuple(SUFFIXES.values()))
    return [(flag, checkpoint)] if runtime or exported else []


def check_list_flag(name: str, kind: type | None = int, minimum: float = 1,
                    words: tuple = (), pattern: str = "", form: str = "",
                    flag_values=None) -> None:
    """Registers absl's check of a ``DEFINE_list`` flag's items: each is one
    of ``words``, text matching ``pattern`` (a regular expression) when one is
    given (``form`` describes it to the user), else a ``kind`` (int or
    float; None: words only) of at least ``minimum``. A bad item is absl's
    one-line flag error naming it, not a ValueError's traceback where the
    script first reads it. ``flag_values``: absl's FlagValues holding the
    flag (default: the global ``FLAGS``)."""
    import re
    from absl import flags
    forms = [repr(w) for w in words]
    if pattern:
        forms.insert(0, form or f"text like {pattern!r}")
    elif kind is not None:
        forms.insert(0, f"{'integers' if kind is int else 'numbers'} >= {minimum}")

    def good(item: str) -> bool:
        if item in words or (pattern and re.fullmatch(pattern, item)):
            return True
        if pattern or kind is None:
            return False
        try:
            return kind(item) >= minimum
        except ValueError:
            return False

    def check(items: list) -> bool:
        bad = [item for item in items if not good(item)]
        if bad:
            raise flags.ValidationError(
                f"--{name}: {', '.join(map(repr, bad))}: give {' or '.join(forms)}")
        return True

    flags.register_validator(name, check, flag_values=flag_values or flags.FLAGS)


def check_path_flag(name: str, flag_values=None) -> None:
    """Registers absl's check that path flag ``name``, when given, is not
    empty: an unset shell variable (``--output_dir "$DIR"``) was taken as
    the flag left out, and the files went to the default place, or
    nowhere, without a word."""
    from absl import flags

    def check(value) -> bool:
        if value is not None and not str(value).strip():
            raise flags.ValidationError(f"--{name} is empty: give a path, or leave the flag "
                                        "out")
        return True

    flags.register_validator(name, check, flag_values=flag_values or flags.FLAGS)


def check_finite_flag(name: str, flag_values=None) -> None:
    """Registers absl's check that float flag ``name``, when given, is a
    finite number: absl's float parser takes ``nan``, ``inf`` and ``-inf``,
    and NaN passes its range check (every comparison is false), so they
    failed with a traceback where the value was first used (``predict.py
    --score_threshold=nan``: after the model loaded and the first image).
    The message names the flag's range and default, from its definition."""
    import math

    from absl import flags
    values = flag_values or flags.FLAGS

    def check(value) -> bool:
        if value is None or math.isfinite(value):
            return True
        default = values[name].default
        example = f" (default {default:g})" if default is not None else ""
        raise flags.ValidationError(f"--{name}: {value} is not a finite number: give a "
                                    f"number{_range_text(values[name].parser)}{example}")

    flags.register_validator(name, check, flag_values=values)


def _range_text(parser) -> str:
    """A float flag's bounds as its fix says them: " in [0, 1]", " >= 0.1", or ""."""
    low, high = getattr(parser, "lower_bound", None), getattr(parser, "upper_bound", None)
    if low is not None and high is not None:
        return f" in [{low:g}, {high:g}]"
    if low is not None or high is not None:
        return f" >= {low:g}" if low is not None else f" <= {high:g}"
    return ""


def define_runtime_flags() -> None:
    """``--runtime`` and ``--precision``, as predict.py and evaluate.py take
    them (``keras_pose.export.cache``: exported on first use)."""
    from absl import flags
    flags.DEFINE_enum("runtime", None, ["tf", "onnxruntime", "openvino"], "Run the checkpoint "
                      "in this runtime (exported on first use into <checkpoint>/exports/); "
                      "default: tf, or the export's own.")
    flags.DEFINE_enum("precision", None, ["fp32", "bf16", "int8"], "With --runtime: compute "
                      "in this precision (int8 calibrated and checked against fp32 on first "
                      "use).")
