"""The `tfllm` command: dispatches `tfllm COMMAND [--flags]` to one absl app per command."""

import importlib
import sys

# name -> (what it does, an example its --help shows).
COMMANDS = {
    "train": ("Train the experiment a config describes (default: BERT topic classifier).",
              "tfllm train --config=configs/gpt_lm.py --workdir=runs/gpt_lm "
              "--config.train.epochs=3"),
    "import": ("Write a pretrained decoder (Hugging Face, GGUF, keras-hub) as a run, untrained.",
               "tfllm import --config.model.init_from=SmolLM2-135M-Instruct.Q4_1.gguf "
               "--workdir=runs/smollm2"),
    "evaluate": ("Evaluate a finished run on its validation split or a data file.",
                 "tfllm evaluate --workdir=runs/bert_classifier --plot"),
    "predict": ("Predict labels for texts with a finished run.",
                'tfllm predict --workdir=runs/bert_classifier --text="What is AI?"'),
    "generate": ("Continue prompts with a finished language-model run.",
                 'tfllm generate --workdir=runs/gpt_lm --prompt="What is AI?"'),
    "export": ("Write a finished run, or a .keras model taking raw strings, as a TF Serving "
               "SavedModel version.",
               "tfllm export --workdir=runs/bert_classifier --export_dir=exports/bert_classifier"),
    "explain": ("Show which tokens drove a classifier's prediction (integrated gradients).",
                'tfllm explain --workdir=runs/bert_classifier --text="What is AI?"'),
    "probe-bias": ("Swap paired terms (he/she, names) in texts and report prediction flips.",
                   "tfllm probe-bias --workdir=runs/bert_classifier"),
}

# Commands whose name is not a module name (a Python keyword, a dash).
MODULES = {"import": "import_checkpoint", "probe-bias": "probe_bias"}

USAGE = "usage: tfllm {" + ",".join(COMMANDS) + "} [--flags]   (tfllm COMMAND --help for flags)"


def main(argv=None):
    """Entry point of the console script."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
        print(USAGE)
        for name, (summary, _) in COMMANDS.items():
            print(f"  {name:<10} {summary}")
        return 0 if len(argv) >= 2 else 2
    command = argv[1]
    if command not in COMMANDS:
        print(f"tfllm: unknown command {command!r}\n{USAGE}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"tfllm.cli.{MODULES.get(command, command)}")
    return module.run([f"tfllm {command}"] + argv[2:])


if __name__ == "__main__":
    sys.exit(main())
