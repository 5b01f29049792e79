#!/usr/bin/env bash
# The speed benchmarks, with the arguments BENCHMARKS.md quotes, one after another, and the
# total time. The accuracy experiments (default_accuracy.py, pretrained_*.py) are not timed
# here: they train models for minutes by design.
#
#   tfllm train && tfllm train --config=configs/gpt_lm.py   # the runs the serving rows load
#   bash benchmarks/run_speed.sh runs/bert_classifier runs/gpt_lm
set -euo pipefail
classifier=${1:?usage: benchmarks/run_speed.sh CLASSIFIER_RUN LM_RUN}
lm=${2:?usage: benchmarks/run_speed.sh CLASSIFIER_RUN LM_RUN}
here=$(dirname "$0")
start=$SECONDS
run() {
  echo "## python benchmarks/$*"
  local began=$SECONDS
  python "$here/$@"
  echo "($((SECONDS - began)) s)"
  echo
}
run train_throughput.py --steps=15
run train_vs_keras_hub.py --steps=10 --repeats=3
run input_pipeline.py
run generation.py --repeats=3
run serving.py --workdir="$classifier" --repeats=100
run lm_serving.py --workdir="$lm" --repeats=30 --new_tokens=32
run backup_cost.py --steps=20 --backups=5
run memory.py --epochs=8
run packing.py
run cli_start.py
echo "speed benchmarks: $((SECONDS - start)) s in total"
