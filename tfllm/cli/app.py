"""Shared absl plumbing: one-line errors with exit code 2 for bad flags and bad input."""

import sys

from absl import app
from absl import flags

from tfllm.errors import TfllmError  # noqa: F401  re-exported for the commands

EXIT_USAGE = 2


def _fail(program, message):
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def run(main, argv):
    """Runs an absl `main`, turning flag and input errors into one line and exit code 2."""
    program = argv[0]

    def parse(args):
        try:
            return flags.FLAGS(args)
        except flags.Error as error:
            _fail(program, str(error).splitlines()[0])

    def guarded_main(args):
        try:
            return main(args)
        except TfllmError as error:
            _fail(program, str(error))

    app.run(guarded_main, argv=argv, flags_parser=parse)
