"""`tfllm COMMAND --help`: the command's own flags, with their help, defaults and an example.

absl's `--help` prints one usage line and exits 1, and `--helpfull` buries a command's
few flags among some 130 of absl's and TensorFlow's; this lists only the flags the
command's module defines (and --config's pointer to docs/config.md), and exits 0.
"""

import textwrap

from absl import flags

# Flags whose value is a file path (the help shows =FILE).
FILE_FLAGS = ("input", "data", "output", "pairs", "model", "adapters", "messages")
HELP_FLAGS = ("--help", "-help", "-h", "--helpshort", "-helpshort", "--h")

# Flags every command has (app.py defines them), shown after the command's own.
COMMON = {
    "verbose": "Show TensorFlow's start-up and C++ log lines (hidden by default).",
    "flagfile": "Read more flags from FILE, one per line.",
}


def wants_help(argv):
    """Whether the command line asks for the command's help."""
    return any(arg in HELP_FLAGS for arg in argv[1:])


def _flag_line(flag):
    repeated = isinstance(flag, flags.MultiFlag)
    if flag.name.endswith("dir"):
        kind = "=DIR"
    elif flag.name in FILE_FLAGS:
        kind = "=FILE"
    else:
        kind = "=TEXT" if repeated else {
        "bool": "", "int": "=INT", "float": "=NUMBER", "string": "=TEXT",
            "enum": "=CHOICE"}.get(flag.flag_type(), "=VALUE")
    # absl appends its own "repeat this option" sentence to a multi flag's help.
    help_text = flag.help.split(";\n    repeat this option")[0]
    notes = ["repeatable"] if repeated else []
    if any("must have a value other than None" in v.message for v in flag.validators):
        notes.append("required")
    elif flag.default not in (None, "", []):
        default = str(flag.default).lower() if isinstance(flag.default, bool) else flag.default
        notes.append(f"default: {default}")
    return f"--{flag.name}{kind}", help_text + (f" ({'; '.join(notes)})" if notes else "")


def _rows(rows, width=100):
    column = min(28, max(len(name) for name, _ in rows) + 2)
    lines = []
    for name, text in rows:
        wrapped = textwrap.wrap(text, width - column - 2) or [""]
        lines.append(f"  {name:<{column}}{wrapped[0]}")
        lines.extend(f"  {'':<{column}}{line}" for line in wrapped[1:])
    return lines


def text(command, summary, example, module, docstring, config_default=None):
    """The help page of `command`, whose flags `module` (a module name) defines."""
    rows = [_flag_line(flag) for flag in flags.FLAGS.flags_by_module_dict().get(module, [])]
    if config_default is not None:
        rows += [("--config=FILE[:VARIANT]",
                  f"Experiment file (default: {config_default}); configs/NAME.py names a "
                  "packaged one when there is no such file here."),
                 ("--config.FIELD=VALUE",
                  "Override any field of the experiment, e.g. --config.train.epochs=3; every "
                  "field and its meaning: docs/config.md.")]
    rows += [(f"--{name}" + ("=FILE" if name == "flagfile" else ""), help_text)
             for name, help_text in COMMON.items()]
    # The module docstring's first paragraph says what `summary` says; the rest is kept.
    details = docstring.strip().partition("\n\n")[2].strip() if docstring else ""
    parts = [f"usage: tfllm {command} [--flags]", "", summary]
    if details:
        parts += ["", details]
    parts += ["", "flags:", *_rows(rows), "", "example:", f"  {example}", "",
              "tfllm --help lists the commands; --helpfull adds absl's and TensorFlow's flags."]
    return "\n".join(parts)
