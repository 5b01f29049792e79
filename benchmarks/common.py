"""What the benchmark scripts share: their options, their --quick mode, and median timing.

Every script takes `--name=value` options with defaults that reproduce its
BENCHMARKS.md figures, and `--quick`: the same code paths on a toy workload
that runs in seconds, which the test suite runs as a smoke test. Quick
figures mean nothing; they only show that the script still works.
"""

import os
import statistics
import time
import types


def options(argv, defaults, quick=None):
    """Parses `argv[1:]` into a namespace of `defaults`' names and types.

    Args:
        argv: sys.argv-style list: the script name, then `--name=value` items
            and an optional bare `--quick`.
        defaults: dict of option name -> default value (its type parses the flag).
        quick: dict of defaults that `--quick` changes; flags given still win.
    """
    values = dict(defaults)
    given = {}
    is_quick = False
    for arg in argv[1:]:
        if arg == "--quick":
            is_quick = True
            continue
        name, sep, value = arg[2:].partition("=")
        if not arg.startswith("--") or not sep or name not in defaults:
            known = ", ".join(f"--{key}" for key in defaults)
            raise SystemExit(f"unknown argument {arg!r}; expected --quick or one of {known}")
        kind = type(defaults[name])
        given[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    if is_quick:
        values.update(quick or {})
    values.update(given)
    return types.SimpleNamespace(quick=is_quick, **values)


def workdir_or_smoke_run(args, get_config, directory):
    """`args.workdir`, or with --quick and no --workdir a `:smoke` run of `get_config`
    trained into `directory` (seconds), so the quick mode needs nothing prepared."""
    import tfllm  # pylint: disable=import-outside-toplevel

    if args.workdir:
        return args.workdir
    if not args.quick:
        raise SystemExit("--workdir: expected the work directory of a finished run")
    workdir = os.path.join(directory, "smoke")
    tfllm.train(get_config("smoke"), workdir)
    return workdir


def median_seconds(function, repeats, warmup=1):
    """Median wall seconds of `function()` over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
