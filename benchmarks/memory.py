"""Memory of the default run: peak resident set size, and growth from epoch to epoch.

Trains the default classifier (or the default GPT with --config=gpt_lm) for
--epochs epochs in a temporary work directory, in this process, and reads the
resident set size that every epoch's line of metrics.jsonl records (`rss_mb`).
Prints the RSS after each epoch, the process's peak RSS, and the growth per epoch
fitted over the second half of the run (after warm-up: traces, caches, the
optimizer's slots), the figure that shows a leak.

    python benchmarks/memory.py [--config=bert_classifier] [--epochs=15] [--quick]

15 epochs is the default run itself; --epochs=60 is the long-run check.
"""

import json
import os
import resource
import sys
import tempfile

import numpy as np

import tfllm
from common import options
from tfllm.configs import bert_classifier, gpt_lm


def main(argv):
    args = options(argv, {"config": "bert_classifier", "epochs": 15},
                   quick={"epochs": 2})
    configs = {"bert_classifier": bert_classifier.get_config, "gpt_lm": gpt_lm.get_config}
    if args.config not in configs:
        raise SystemExit(f"--config: got {args.config!r}, expected one of {sorted(configs)}")
    config = configs[args.config]("smoke" if args.quick else "")
    config.train.epochs, config.train.verbose = args.epochs, 0
    config.train.early_stopping_patience = 0  # every epoch runs
    with tempfile.TemporaryDirectory() as directory:
        report = tfllm.train(config, os.path.join(directory, "run"))
        with open(os.path.join(directory, "run", "metrics.jsonl"), encoding="utf-8") as f:
            rss = [json.loads(line)["rss_mb"] for line in f if '"rss_mb"' in line]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    half = rss[len(rss) // 2:]
    slope = np.polyfit(np.arange(len(half)), half, 1)[0] if len(half) > 1 else 0.0
    print(f"{args.config} ({config.model.size}), {len(rss)} epochs, "
          f"{report['wall_seconds']:.0f} s")
    print("| epoch | RSS MiB |")
    print("|---|---|")
    for epoch in sorted({0, 1, len(rss) // 4, len(rss) // 2, 3 * len(rss) // 4, len(rss) - 1}):
        print(f"| {epoch + 1} | {rss[epoch]:.0f} |")
    print(f"peak RSS {peak:.0f} MiB; growth over epochs {len(rss) - len(half) + 1}-{len(rss)}: "
          f"{slope:+.2f} MiB per epoch")


if __name__ == "__main__":
    main(sys.argv)
