"""Shared absl plumbing, and the command line's one error boundary: a bad flag or bad input
(a TfllmError) prints one line and exits 2; any other exception is a bug, printed with its
traceback and a line saying so, exit 1.

Nothing here imports TensorFlow: `--help`, a bad flag and a bad config value are answered
before any command imports it (the commands import it inside their `main`).
"""

import os
import re
import sys
import traceback

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from tfllm.cli import quiet
from tfllm.cli import usage
from tfllm.configs import CONFIG_DIR, DEFAULT_CONFIG
from tfllm.errors import TfllmError  # re-exported for the commands

EXIT_USAGE = 2  # bad flags or bad input: one line
EXIT_BUG = 1  # anything else: the traceback and one line saying it is a bug

flags.DEFINE_bool("verbose", False, usage.COMMON["verbose"])
_config_default = {}  # the experiment file of the command's --config, for its --help


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


def packaged_configs():
    """The experiment files tfllm ships (configs/*.py)."""
    return sorted(name for name in os.listdir(CONFIG_DIR)
                  if name.endswith(".py") and name not in ("__init__.py", "sections.py"))


def resolve_config(path):
    """`path` of a --config value, or the packaged experiment of that name: a configs/NAME.py
    given outside a clone (no such file here) is tfllm's own configs/NAME.py."""
    if os.path.isfile(path):
        return path
    packaged = os.path.join(CONFIG_DIR, os.path.basename(path))
    if os.path.dirname(os.path.normpath(path)) in ("configs", "") and os.path.isfile(packaged):
        return packaged
    return path


def define_config_flag(argv, default=DEFAULT_CONFIG):
    """Defines --config and its --config.* overrides from `argv`.

    A --config naming a packaged experiment (configs/NAME.py) is rewritten in `argv` to
    its path. ml_collections reads the overrides while defining the flag, so a mistyped
    field fails here, with a KeyError deep in its internals; this turns it into the
    one-line error every other bad flag gets.
    """
    for i, arg in enumerate(argv):
        if arg.startswith(("--config=", "-config=")):
            name, value = arg.split("=", 1)
            path, colon, variant = value.partition(":")
            resolved = resolve_config(path)
            if not os.path.isfile(resolved):
                fail(argv[0], f"--config: config file not found: {path} (expected a file, "
                     f"or configs/NAME.py for one of tfllm's: {', '.join(packaged_configs())})")
            argv[i] = f"{name}={resolved}{colon}{variant}"
    _config_default["path"] = os.path.join("configs", os.path.basename(default))
    try:
        return config_flags.DEFINE_config_file(
            "config", default, "Experiment file: configs/NAME.py[:VARIANT].",
            lock_config=True, sys_argv=argv)
    except flags.CantOpenFlagFileError as error:  # ml_collections reads flag files here
        fail(argv[0], flagfile_message(error))
    except (AttributeError, KeyError) as error:
        fail(argv[0], unknown_field_message(error, argv))


def flagfile_message(error):
    """The one line of a --flagfile absl cannot open (its own text starts "ERROR:: ")."""
    reason = re.sub(r"^ERROR::\s*", "", _one_line(error))
    return f"--flagfile: {reason}"


def _help(program, main):
    """Prints the command's help page; exit 0."""
    # pylint: disable=import-outside-toplevel
    import importlib

    from tfllm.cli.main import COMMANDS
    command = program.split()[-1]
    summary, example = COMMANDS[command]
    module = main.__module__
    try:
        print(usage.text(command, summary, example, module,
                         importlib.import_module(module).__doc__, _config_default.get("path")))
        sys.stdout.flush()
    except BrokenPipeError:  # `tfllm train --help | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


def _verbose(argv):
    return any(a in ("--verbose", "-verbose", "--verbose=true", "--verbose=1") for a in argv)


def run(main, argv):
    """Runs an absl `main`, turning flag and input errors into one line and exit code 2;
    `--help` prints the command's own flags instead."""
    program = argv[0]
    if usage.wants_help(argv):
        _help(program, main)
    if not _verbose(argv) and not quiet.asked_for_tensorflow_logs():
        quiet.filter_stderr()

    def parse(args):
        try:
            return flags.FLAGS(args)
        except flags.CantOpenFlagFileError as error:
            fail(program, flagfile_message(error))
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
