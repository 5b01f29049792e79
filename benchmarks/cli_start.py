"""How long the command line takes to answer before any work: `--help`, a rejected flag, a
rejected config value, against `import tensorflow` measured in the same run (what every
command paid before saying anything, when `import tfllm` imported TensorFlow).

    python benchmarks/cli_start.py            # median of 5 runs each
    python benchmarks/cli_start.py --quick    # one run each (the test suite's check)
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TFLLM = os.path.join(os.path.dirname(sys.executable), "tfllm")


def command(*args):
    """The installed console script, or the module where there is none."""
    base = [TFLLM] if os.path.exists(TFLLM) else [sys.executable, "-m", "tfllm.cli.main"]
    return base + list(args)


def seconds(argv, repeats):
    """Median wall time of running `argv` `repeats` times (its exit code is not checked:
    the rejected cases exit 2 by design)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory() as workdir:
        cases = [
            ("`python -c 'import tensorflow'` (baseline)",
             [sys.executable, "-c", "import tensorflow"]),
            ("`tfllm --help`", command("--help")),
            ("`tfllm predict --help`", command("predict", "--help")),
            ("rejected flag: `tfllm predict --top_k=abc`",
             command("predict", f"--workdir={workdir}", "--top_k=abc")),
            ("rejected config value: `tfllm train --config.train.epochs=0`",
             command("train", "--config=configs/bert_classifier.py:smoke",
                     "--config.train.epochs=0", f"--workdir={workdir}/run")),
        ]
        measured = [(name, seconds(argv, repeats)) for name, argv in cases]
    baseline = measured[0][1]
    print(f"median of {repeats} run(s) each; ratio = time / import tensorflow's\n")
    print("| what | seconds | ratio |")
    print("|---|---|---|")
    for name, value in measured:
        print(f"| {name} | {value:.3f} | {value / baseline:.3f} |")


if __name__ == "__main__":
    main()
