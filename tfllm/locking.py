"""One writer per directory: a lock file that a second `tfllm train`, `import` or `export`
into the same directory finds taken, and that a killed holder leaves free.

The lock is `fcntl.flock` on DIRECTORY/.tfllm.lock, taken without waiting; the file names
its holder (pid, host, start time, command) for the message a second process prints, and
is removed when the holder lets go. The kernel drops the flock when its holder exits,
SIGKILL included, so a run killed and started again with the same command takes the lock
it left behind with no manual step. flock is per host: on a shared filesystem each host
locks on its own, and of a multi-host run only the chief (the one process that writes the
work directory) takes it.
"""

import contextlib
import datetime
import fcntl
import json
import os
import socket
import sys
import threading

from tfllm.errors import TfllmError

LOCK_FILE = ".tfllm.lock"


class DirectoryInUse(TfllmError):
    """Another live process holds the directory's lock; the message names it."""


def holder_line(path):
    """'pid 123 on host h since 2026-12-04T18:00:00 (tfllm train ...)' from a lock file."""
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.load(f)
        return (f"pid {holder['pid']} on {holder['host']} since {holder['started']} "
                f"({holder['command']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its lock file names no holder yet)"


# Directories this process holds: real path -> [holding thread, depth].
_HELD = {}


@contextlib.contextmanager
def locked(directory, purpose):
    """Holds `directory`'s lock (creating the directory) for the body; DirectoryInUse at
    once if another live process, or another thread of this one, holds it. `purpose` names
    the work in the message. A directory this call created is removed again if the body
    left it empty.

    In the thread that holds it the lock nests: the command line takes it before importing
    TensorFlow (so a second run is refused in a fraction of a second) and the run it
    starts takes it again."""
    key = os.path.realpath(directory)
    if key in _HELD:
        thread, _ = _HELD[key]
        if thread != threading.get_ident():
            raise DirectoryInUse(f"{directory} is in use by another thread of this process "
                                 f"(pid {os.getpid()}); choose another directory for {purpose}")
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    with _locked(directory, purpose):
        _HELD[key] = [threading.get_ident(), 1]
        try:
            yield
        finally:
            del _HELD[key]


@contextlib.contextmanager
def _locked(directory, purpose):
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise TfllmError(f"{directory} is a file; expected a directory for {purpose}")
    created = not os.path.exists(directory)
    path = os.path.join(directory, LOCK_FILE)
    try:
        os.makedirs(directory, exist_ok=True)
        fd = _acquire(path, directory, purpose)
    except OSError as error:  # read-only, not permitted, a file on the way
        raise TfllmError(f"{directory}: cannot write there ({error.strerror}); choose a "
                         f"directory you can write for {purpose}") from None
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.datetime.now().isoformat(timespec="seconds"),
                  "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])[:200]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        yield
    finally:
        os.unlink(path)  # while still held: whoever opens the path next gets a new file
        os.close(fd)  # closing the only descriptor releases the flock
        if created and not os.listdir(directory):
            os.rmdir(directory)  # work refused before it wrote anything leaves nothing


def _acquire(path, directory, purpose):
    """A descriptor of `path` holding its flock. A holder removes the file as it lets go,
    so a lock taken on a file no longer at `path` is let go and taken again."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DirectoryInUse(
                f"{directory} is in use by {holder_line(path)}; wait for it to finish or "
                f"choose another directory for {purpose}") from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
