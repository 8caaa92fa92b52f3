"""A tool's command line read again before its work, for what absl takes in
silence: a flag of one value given twice (the last would win), a
``--flagfile`` after a flag it sets again (the file would win), and the
words left after the flags (an unquoted path with a space, a shell pattern
the shell expanded, a flag file's line that is no flag), named with their
cause. (Imports absl and keras_pose.errors only.)
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from absl import app, flags

from keras_pose.errors import FlagError


class ArgumentsError(FlagError, app.UsageError):
    """Words left after the flags. A ``FlagError``: one line inside
    ``keras_pose.cli.run``; an ``app.UsageError`` too, for a script that
    refuses them before its run (absl prints its usage then)."""


# A UTF-8 byte-order mark as absl reads it: decoded as UTF-8, or as Latin-1.
BYTE_ORDER_MARKS = ("\ufeff", "\xef\xbb\xbf")
# What a word left after a flag's value says without other sign of its cause.
QUOTES_HINT = "a path with a space, or a shell pattern (* ? [), needs quotes"


def _key(arg: str) -> str:
    """The flag name ``arg`` starts with (``--x=1``, ``-x``: "x"); "" for a word."""
    return arg.lstrip("-").split("=", 1)[0] if arg.startswith("-") and arg != "--" else ""


def _flag(arg: str) -> Optional[flags.Flag]:
    """The absl flag that ``arg`` gives (``--x=1``, ``-x 1``, ``--nox``), or None."""
    key = _key(arg)
    if key not in flags.FLAGS and key.startswith("no") and key[2:] in flags.FLAGS:
        key = key[2:]
    return flags.FLAGS[key] if key and key in flags.FLAGS else None


def _takes_next(arg: str, flag: Optional[flags.Flag]) -> bool:
    """Whether ``arg`` takes the next word as its value (``--input a.jpg``)."""
    return flag is not None and "=" not in arg and not isinstance(flag, flags.BooleanFlag)


def check_flags_given_once(name: str, argv: Sequence[str]) -> None:
    """A flag that takes one value, given twice on the command line
    (``--input a.jpg --input b.jpg``, ``--flip --noflip``), is refused: absl
    keeps the last in silence, and the first was dropped without a word. So
    is a flag given on the command line that a ``--flagfile`` after it sets
    again (the file's value won, unsaid); a flag file's values may be
    overridden by the command line after it, ``--set`` items too. Only
    ``argv`` of the tool ``name`` itself is read (not a run in-process).

    Raises:
      FlagError: naming both values and the fix.
    """
    if not argv or os.path.basename(argv[0]) != name:  # Called in-process, not as a command.
        return
    seen: dict = {}
    for i, arg in enumerate(argv[1:], 1):
        if arg == "--":
            break
        if _key(arg) == "flagfile":  # absl's directive, not a flag.
            path = arg.partition("=")[2] if "=" in arg else "".join(argv[i + 1:i + 2])
            if not path.strip():  # "$FLAGS" unset: absl reads no file for an empty name, unsaid.
                raise FlagError("--flagfile is empty: give a flag file's path, or leave it out")
            _check_flagfile_overrides_nothing(path, seen)
            continue
        flag = _flag(arg)
        if flag is None or isinstance(flag, flags.MultiFlag):
            continue
        given = arg if not _takes_next(arg, flag) or i + 1 >= len(argv) else f"{arg} {argv[i + 1]}"
        if flag.name in seen:
            raise FlagError(f"{seen[flag.name]} and {given} both given: --{flag.name} takes "
                            "one value (the last would win, the other dropped in silence); "
                            "give it once")
        seen[flag.name] = given


def _check_flagfile_overrides_nothing(path: str, seen: dict) -> None:
    """Refuses a flag of the flag file ``path`` (or of one it names) that
    the command line before it gave, ``seen`` ({flag name: as given})."""
    try:  # absl's own reading; it read the file when parsing already.
        lines = flags.FLAGS.read_flags_from_files([f"--flagfile={path.strip()}"])
    except flags.Error:
        return
    for line in lines:
        flag = _flag(line)
        if flag is not None and flag.name in seen and not isinstance(flag, flags.MultiFlag):
            raise FlagError(
                f"{seen[flag.name]} and {line} of the --flagfile {path.strip()} after it both "
                f"given: the file's value would win in silence; give --{flag.name} once, or "
                "give the --flagfile first (the command line after it overrides it)")


def flag_before(word: str, command_line: Sequence[str]) -> tuple[str, str]:
    """(name, as given) of the flag whose value stands right before ``word``,
    the first word absl left after the flags, on ``command_line``
    (``("checkpoint", "--checkpoint tr1/best")``: the shell expanded
    ``--checkpoint tr*/best``); ("", "") when none does (a flag file's
    word, or one after ``--`` or after a flag without a value)."""
    before, i = ("", ""), 1
    while i < len(command_line):
        arg, key = command_line[i], _key(command_line[i])
        if arg == "--":
            return "", ""
        if not key:  # A word.
            if arg == word:
                return before
            before, i = ("", ""), i + 1
            continue
        flag = _flag(arg)  # None: --flagfile, absl's directive, which takes a value too.
        value = i + 1 < len(command_line) and (
            _takes_next(arg, flag) or key == "flagfile" and "=" not in arg)
        given = f"{arg} {command_line[i + 1]}" if value else arg
        before = (flag.name, given) if flag is not None and (value or "=" in arg) else ("", "")
        i += 2 if value else 1
    return "", ""


def leftover_message(words: Sequence[str], command_line: Sequence[str] = (),
                     pattern_fixes: Optional[dict] = None) -> str:
    """The error for ``words``, left after the flags of ``command_line``
    (the tool's own, or none), with what they show of their cause. absl
    passes a --flagfile's lines that are neither flags nor comments on as
    arguments: its first line behind a byte-order mark (Windows editors),
    an indented comment (a comment starts in the first column). Else the
    flag before them is named: its value had a space, or was a pattern the
    shell expanded (every word a path: the fix is ``pattern_fixes[flag
    name]``, default: give one path)."""
    hints = []
    if any(word.startswith(BYTE_ORDER_MARKS) for word in words):
        hints.append("a byte-order mark starts a --flagfile: save the file as UTF-8 without "
                     "one (BOM)")
    if any(word.startswith(("#", "//")) for word in words):
        hints.append("a comment in a --flagfile must start in the first column: an indented "
                     "one is read as an argument")
    name, given = flag_before(words[0], command_line) if words and not hints else ("", "")
    if name and all(os.path.lexists(word) for word in words):
        listed = ", ".join(words[:10]) + (" ..." if len(words) > 10 else "")
        fix = (pattern_fixes or {}).get(name) or (
            f"--{name} takes one path (a shell pattern, * or ?, gives all it matches): give "
            "one, in quotes if it has a space")
        noun = "file(s)" if all(os.path.isfile(word) for word in words) else "path(s)"
        return f"{len(words)} {noun} after {given} ({listed}): {fix}"
    hint = "; ".join(hints) or (f"after {given}: " if name else "") + QUOTES_HINT
    return f"unexpected arguments: {list(words)} ({hint})"
