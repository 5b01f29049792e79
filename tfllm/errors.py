"""User-facing errors: each names what was wrong, where, and what was expected.

The CLI turns these into a one-line message and exit code 2, so a bad flag or a
bad file never shows a traceback and never starts any work.
"""


class TfllmError(Exception):
    """Base class for errors caused by user input rather than by a bug."""


class ConfigError(TfllmError):
    """A config field has a bad value; the message names the flag."""

    def __init__(self, field, message):
        self.field = field
        super().__init__(f"--config.{field}: {message}")


class DataError(TfllmError):
    """An input file or dataset cannot be used; the message names it."""
