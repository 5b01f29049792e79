"""Keeps TensorFlow's C++ start-up log lines off the terminal.

A command's stderr otherwise opens with about eight lines of them on a healthy CPU machine
("oneDNN custom operations are on", "Could not find cuda drivers", "failed call to
cuInit", ...). TF_CPP_MIN_LOG_LEVEL does not hide them all: abseil's C++ logging writes
some before TensorFlow reads it. So the command line routes file descriptor 2 through a
thread that drops C++ log lines of severity info, warning and error (fatal ones, Python's
own warnings and tracebacks pass) and writes the rest unchanged. `--verbose`, or
TF_CPP_MIN_LOG_LEVEL=0 or 1 (the user asked for TensorFlow's info or warnings), leaves
stderr alone.
"""

import atexit
import os
import re
import sys
import threading

# abseil/glog C++ lines: severity, MMDD, time (seconds since the epoch before abseil is
# initialized), thread, file:line]
_CPP_LINE = re.compile(rb"^[IWE]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ")
_PREAMBLE = b"WARNING: All log messages before absl::InitializeLog() is called"


def dropped(line):
    """Whether `line` (bytes) is a C++ log line the default output leaves out."""
    return bool(_CPP_LINE.match(line)) or line.startswith(_PREAMBLE)


def asked_for_tensorflow_logs():
    """Whether the environment asks for TensorFlow's info or warning lines (`import tfllm`
    sets level 2 where nothing is set, and child processes inherit it)."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1")


def filter_stderr():
    """From now until exit, this process's stderr (fd 2, so C++ writes too) loses the lines
    `dropped` selects. Lines still in the pipe when the process is killed are lost."""
    read_end, write_end = os.pipe()
    terminal = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        with os.fdopen(read_end, "rb") as pipe, os.fdopen(terminal, "wb", 0) as out:
            for line in pipe:
                if not dropped(line):
                    out.write(line)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    original = os.dup(terminal)

    @atexit.register
    def restore():
        sys.stderr.flush()
        os.dup2(original, 2)  # the pipe's last write end closes: the pump drains and ends
        thread.join(timeout=5)
