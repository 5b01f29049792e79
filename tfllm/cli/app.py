"""Shared absl plumbing, and the command line's one error boundary: a bad flag or bad input
(a TfllmError) prints one line and exits 2; any other exception is a bug, printed with its
traceback and a line saying so, exit 1."""

import os
import re
import sys
import traceback

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from tfllm.configs import DEFAULT_CONFIG
from tfllm.errors import TfllmError  # re-exported for the commands

EXIT_USAGE = 2  # bad flags or bad input: one line
EXIT_BUG = 1  # anything else: the traceback and one line saying it is a bug


def fail(program, message):
    """Prints `program: error: message` to stderr and exits with code 2."""
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def _one_line(error):
    """The first line of a flag error and, if different, its last (the root cause)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1:
        return f"{lines[0]} {lines[-1]}"
    return lines[0] if lines else repr(error)


def unknown_field_message(error, argv):
    """Names the --config.* flag whose field does not exist, from ml_collections' KeyError.

    ml_collections reports a mistyped field with a KeyError (or an
    AttributeError wrapping one) while it defines or parses the override
    flags, not with a flag error, and without the flag's name.
    """
    message = str(error).replace("\\'", "'")
    match = re.search(r"'(\w+)'", message)
    field = match.group(1) if match else "?"
    suggestion = re.search(r'Did you mean "([^"]+)"', message)
    hint = f" (did you mean {suggestion.group(1)!r}?)" if suggestion else ""
    names = [a.split("=", 1)[0] for a in argv if a.lstrip("-").startswith("config.")]
    flag = next((n for n in names if n.endswith("." + field) or f".{field}." in n), field)
    return f"{flag}: no such config field{hint}"


def define_config_flag(argv, default=DEFAULT_CONFIG):
    """Defines --config and its --config.* overrides from `argv`.

    ml_collections reads the overrides while defining the flag, so a mistyped
    field fails here, with a KeyError deep in its internals; this turns it into
    the one-line error every other bad flag gets.
    """
    for arg in argv:
        if arg.startswith(("--config=", "-config=")):
            path = arg.split("=", 1)[1].split(":", 1)[0]
            if not os.path.isfile(path):
                fail(argv[0], f"--config: config file not found: {path}")
    try:
        return config_flags.DEFINE_config_file(
            "config", default, "Experiment file: configs/NAME.py[:VARIANT].",
            lock_config=True, sys_argv=argv)
    except (AttributeError, KeyError) as error:
        fail(argv[0], unknown_field_message(error, argv))


def run(main, argv):
    """Runs an absl `main`, turning flag and input errors into one line and exit code 2."""
    program = argv[0]

    def parse(args):
        try:
            return flags.FLAGS(args)
        except flags.Error as error:
            fail(program, _one_line(error))
        except (AttributeError, KeyError) as error:
            fail(program, unknown_field_message(error, args))

    def guarded_main(args):
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the output
        try:
            if len(args) > 1:
                raise TfllmError(f"unexpected arguments {args[1:]}; flags look like --name=value")
            return main(args)
        except TfllmError as error:
            fail(program, str(error))
        except Exception:  # pylint: disable=broad-exception-caught
            # Bad input is a TfllmError above; anything else is a bug in tfllm.
            traceback.print_exc()
            print(f"{program}: internal error: this is a bug in tfllm, not a problem with "
                  "your input; please report it with the traceback above", file=sys.stderr)
            sys.exit(EXIT_BUG)

    app.run(guarded_main, argv=argv, flags_parser=parse)
