"""Where ``keras_pose.export.cache`` keeps a checkpoint's exports, and what
makes a place safe to read an export from and to write one into.

The places, looked up in this order::

    <checkpoint>/exports/<runtime>-<precision>/
    <keras_pose.convert.download.cache_dir()>/exports/<digest[:16]>/<runtime>-<precision>/
    $TMPDIR/keras_pose-<user>/exports/<digest[:16]>/<runtime>-<precision>/

the last only when the cache cannot be written (a preset served from a
shared read-only cache). Its name is predictable: it serves only when it
is this user's alone (:func:`refusal`), as an export found there is
trusted to compute what the checkpoint computes.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import stat
import tempfile
from typing import Callable, Optional

# The folder of exports beside a checkpoint: a cache, not part of its model
# (keras_pose.evaluation.runner leaves it out of the model's digest).
EXPORTS = "exports"


def export_dirs(checkpoint_dir: str, digest: str, runtime: str, precision: str,
                writable: Callable[[str], bool]) -> list[str]:
    """The places of the export of the checkpoint whose digest is ``digest``
    (module docstring); ``writable(directory)`` tells whether the cache's
    can be written."""
    from keras_pose.convert.download import cache_dir
    leaf = f"{runtime}-{precision}"
    places = [os.path.join(checkpoint_dir, EXPORTS, leaf),
              os.path.join(cache_dir(), EXPORTS, digest[:16], leaf)]
    if not writable(places[1]):
        places.append(os.path.join(temp_folder(), EXPORTS, digest[:16], leaf))
    return places


def temp_folder() -> str:
    """``$TMPDIR/keras_pose-<user>``: this user's folder of exports when
    the cache cannot be written."""
    user = re.sub(r"[^A-Za-z0-9_.-]", "_", _user_name())
    return os.path.join(tempfile.gettempdir(), f"keras_pose-{user}")


def _user_name() -> str:
    """The name of the user id the process runs as; not $USER / $LOGNAME,
    which getpass reads first: ``sudo -u nobody`` or setpriv keep
    USER=root, and root's folder was refused as another user's. A uid with
    no name (docker run --user 1234; was a traceback): the number. Without
    user ids (Windows): getpass's."""
    if not hasattr(os, "getuid"):
        return getpass.getuser()
    import pwd
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def refusal(directory: str) -> Optional[str]:
    """Why exports are neither read from nor written into ``directory``
    (one line naming the folder and the fix), or None: the temporary
    folder when it is not this user's alone (:func:`_not_private`), the
    cache when it is a file or a link to nothing (:func:`_broken_cache`)."""
    from keras_pose.convert.download import cache_dir
    if _inside(directory, temp_folder()):
        return _not_private(temp_folder())
    if _inside(directory, cache_dir()):
        return _broken_cache(cache_dir())
    return None


def _inside(path: str, folder: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(folder) + os.sep)


def _not_private(folder: str) -> Optional[str]:
    """Why ``folder`` (made here with mode 0o700 when missing) is not this
    user's alone, or None. Was: trusted whoever made it, so that another
    user could plant a wrong export there (silently wrong keypoints), or
    keep exports out by making the folder first. Where there are no user
    ids (Windows), None as before."""
    if not hasattr(os, "getuid"):
        return None
    with contextlib.suppress(OSError):  # What is in the way is said below.
        os.makedirs(folder, 0o700, exist_ok=True)
    try:
        st = os.lstat(folder)
    except FileNotFoundError:  # Cannot be made: nothing there to trust.
        return None
    fix = "set KERAS_POSE_CACHE to a folder of yours"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        why = "it is a link" if stat.S_ISLNK(st.st_mode) else "it is not a folder"
    elif st.st_uid != os.getuid():
        why = f"it belongs to another user (uid {st.st_uid})"
    elif st.st_mode & 0o022:
        why = f"others can write in it (mode {stat.S_IMODE(st.st_mode):o})"
        fix += f", or make it yours alone: chmod go-w {folder}"
    else:
        return None
    return (f"exports are not read from or written into {folder}: {why}, so that another "
            f"user could have put a wrong export there; {fix}")


def _broken_cache(folder: str) -> Optional[str]:
    """Why the cache ``folder`` cannot hold exports (a file, or a link to
    nothing, where it or a folder above it should be), or None. Was "...
    is a file where a folder is needed" or "No such file or directory:
    .../exports", not naming KERAS_POSE_CACHE."""
    from keras_pose.convert.download import CACHE_ENV
    from keras_pose.files import dangling_link, file_in_the_way
    link = dangling_link(folder)
    blocker = folder if os.path.exists(folder) and not os.path.isdir(folder) \
        else file_in_the_way(folder)
    if link:
        what = f"{link} is a link to {os.readlink(link)}, which does not exist"
    elif blocker:
        what = f"{blocker} is a file, not a folder"
    else:
        return None
    named = f"{CACHE_ENV}={os.environ[CACHE_ENV]}" if os.environ.get(CACHE_ENV) \
        else f"the default cache, {CACHE_ENV} unset"
    return (f"cannot use the cache {folder} ({named}) for exports: {what}; set {CACHE_ENV} "
            "to a folder you can write")
