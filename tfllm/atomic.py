"""Files that appear whole or not at all: written under a temporary name, then renamed.

A run can be killed at any instant (preemption, OOM killer, Ctrl-C twice). A
checkpoint written in place and cut off half way would load as garbage or
not at all; written beside its final name and renamed (atomic on POSIX
filesystems), the old file stays valid until the new one is complete.
"""

import os


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


def replace(path, write):
    """Calls `write(temporary path)`, then renames the result to `path`."""
    temporary = temporary_name(path)
    write(temporary)
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.replace(temporary, path)
    sync_directory(os.path.dirname(path) or ".")
