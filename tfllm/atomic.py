"""Files that appear whole or not at all: written under a temporary name, then renamed.

A run can be killed at any instant (preemption, OOM killer, Ctrl-C twice). A
checkpoint written in place and cut off half way would load as garbage or
not at all; written beside its final name and renamed (atomic on POSIX
filesystems), the old file stays valid until the new one is complete.

A write that fails (a full disk, a quota, a file size limit) raises `WriteFailed`, a
TfllmError naming the file and the reason, after removing what it had half-written.
"""

import errno
import gc
import os
import shutil
import sys

from tfllm.errors import TfllmError

# The reasons a write fails that the user fixes (the rest keep their OSError text).
_REASONS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EIO)


class WriteFailed(TfllmError):
    """A file or directory could not be written; the message names it and why."""


def temporary_name(path):
    """The name `path` is written under first: same directory (so the rename is atomic),
    same suffix (Keras picks the format from it)."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f"tmp-{name}")


def sync_directory(directory):
    """Makes a rename inside `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def reason(error):
    """Why a write failed, in a few words: "No space left on device", "File too large"...

    h5py's OSErrors carry the errno with a page of HDF5 detail as their text, and
    TensorFlow's errors none, only the text of the OSError inside.
    """
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    text = str(getattr(error, "message", None) or error)
    known = [os.strerror(code) for code in _REASONS if os.strerror(code) in text]
    return known[0] if known else text.strip().splitlines()[0]


def remove(path):
    """Removes a file or a directory tree, if there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def replace(path, write):
    """Calls `write(temporary path)`, then renames the result to `path`.

    If `write` fails with an OSError (a full disk...), removes the temporary file and raises
    WriteFailed: `path` is left as it was.
    """
    temporary = temporary_name(path)
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as error:
        failure, hooks = reason(error), (sys.unraisablehook, sys.excepthook)
        sys.unraisablehook = sys.excepthook = lambda *args: None
    else:
        sync_directory(os.path.dirname(path) or ".")
        return
    # The failed write's objects are freed as the except block ends, where an h5py file
    # that could not be flushed reports the failure again, with a traceback: muted.
    try:
        gc.collect()
    finally:
        sys.unraisablehook, sys.excepthook = hooks
    remove(temporary)
    raise WriteFailed(failed_message(path, failure))


def failed_message(path, failure, what="file", kept=None):
    """The one line of a WriteFailed: what could not be written, why, and what is kept."""
    if kept is None:
        kept = (f"the previous {what} there is unchanged" if os.path.exists(path)
                else "nothing was left half-written")
    return (f"{path}: the {what} could not be written ({failure}); {kept}; run the same "
            "command again once that is fixed")
