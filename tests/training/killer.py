"""Runs `tfllm ARGS...` and SIGKILLs the process at a chosen point, as a preemption would.

    python -m tests.training.killer POINT N tfllm-args...

POINT is where the process dies:
    batch       after training batch N (global count), before anything else runs;
    backup      while writing the backup of step N: its variables are on disk, its
                state.json is not, and it has not been renamed into place;
    checkpoint  while writing the N-th checkpoint file (checkpoints/*.weights.h5, periodic
                or best): the new weights are in the temporary file, not yet renamed.
"""

import os
import signal
import sys

from tfllm import atomic
from tfllm.cli import main as cli
from tfllm.training import backup


def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point, n):
    if point == "batch":
        on_train_batch_end = backup.Backup.on_train_batch_end

        def batch_end(self, batch, logs=None):
            if self.step + 1 == n:
                die()
            on_train_batch_end(self, batch, logs)

        backup.Backup.on_train_batch_end = batch_end
    elif point == "backup":
        write_synced = backup._write_synced

        def write(path, contents):
            if path.endswith(backup.STATE) and f"{backup.PREFIX}{n:09d}.tmp" in path:
                die()
            write_synced(path, contents)

        backup._write_synced = write
    elif point == "checkpoint":
        replace, calls = atomic.replace, []

        def replace_then_die(path, write):
            if path.endswith(".weights.h5"):
                calls.append(path)
                if len(calls) == n:
                    write(atomic.temporary_name(path))
                    die()
            replace(path, write)

        atomic.replace = replace_then_die
    else:
        raise ValueError(f"unknown kill point {point!r}")


if __name__ == "__main__":
    arm(sys.argv[1], int(sys.argv[2]))
    sys.exit(cli.main(["tfllm"] + sys.argv[3:]))
