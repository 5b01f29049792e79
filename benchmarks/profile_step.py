"""Where a training step's time goes: a TensorFlow profiler trace, summarised by op type.

Two workloads, as in train_vs_keras_hub.py, in mixed bfloat16:
- `--workload=default`: the default model on the default corpus's length-bucketed batches;
- `--workload=full`: BERT-small (4 x 512), every position of 128 real, batch 32.
Times --steps steps (after warm-up), then traces --trace_steps more into
--logdir (default: a new temporary directory; TensorBoard's profile tab reads it).

If the `xprof` package can be imported, the trace is also summarised here: the
share of busy CPU time (neither idle nor in the input pipeline) of each op
type, and of the matmul ops.
xprof has heavy dependencies, so install it apart from the project, e.g.
`python -m venv /tmp/xprof && /tmp/xprof/bin/pip install xprof`, and summarise a
trace written by a run here with
`/tmp/xprof/bin/python benchmarks/profile_step.py --summarize=LOGDIR`.

    python benchmarks/profile_step.py [--workload=default] [--steps=20] [--logdir=DIR]
        [--quick]
"""

import collections
import glob
import json
import os
import sys
import tempfile
import time


def summarize(logdir, top=12):
    """Prints busy-time shares by op type of the newest trace under `logdir` (needs xprof)."""
    from xprof.convert import raw_to_tool_data  # pylint: disable=import-outside-toplevel

    traces = sorted(glob.glob(os.path.join(logdir, "plugins", "profile", "*", "*.xplane.pb")))
    data, _ = raw_to_tool_data.xspace_to_tool_data([traces[-1]], "framework_op_stats^", {})
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    rows = [dict(zip(columns, [cell.get("v") if cell else None for cell in row["c"]],
                     strict=True)) for row in table["rows"]]
    by_type = collections.Counter()
    for row in rows:
        if row["type"] not in ("IDLE", "Dataset"):  # idle threads; the input pipeline
            by_type[row["type"]] += row["total_self_time"]
    busy = sum(by_type.values())
    matmul = sum(v for k, v in by_type.items() if "MatMul" in k)
    print(f"\n{traces[-1]}: busy {busy / 1e3:.0f} ms outside the input pipeline; matmul ops "
          f"{matmul / busy:.0%} of it")
    print("| op type | share of busy time |")
    print("|---|---|")
    for op_type, micros in by_type.most_common(top):
        print(f"| {op_type} | {micros / busy:.1%} |")


def main(argv):
    from common import options  # pylint: disable=import-outside-toplevel

    args = options(argv, {"workload": "default", "steps": 20, "trace_steps": 10,
                          "logdir": "", "summarize": ""},
                   quick={"steps": 2, "trace_steps": 1})
    if args.summarize:
        summarize(args.summarize)
        return
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    import tfllm  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    from tfllm.configs import bert_classifier  # pylint: disable=import-outside-toplevel
    from tfllm.data import examples as examples_lib  # pylint: disable=import-outside-toplevel
    from tfllm.data import pipeline  # pylint: disable=import-outside-toplevel
    from tfllm.data import tokenizer as tokenizer_lib  # pylint: disable=import-outside-toplevel
    from tfllm.tasks.classification import task as classification  # pylint: disable=import-outside-toplevel
    from tfllm.models import encoder  # pylint: disable=import-outside-toplevel
    from tfllm.training import run  # pylint: disable=import-outside-toplevel

    config = bert_classifier.get_config()
    config.runtime.mixed_precision = "mixed_bfloat16"
    if args.quick:
        config.model.size = "tiny"
    if args.workload == "full":
        config.model.size = "tiny" if args.quick else "small"
        config.data.max_seq_length = length = 128
        vocabulary_size, num_labels, n = 8000, 4, 8 * config.data.batch_size
        rng = np.random.default_rng(0)
        features = {"token_ids": rng.integers(5, vocabulary_size, (n, length)).astype(np.int32),
                    "segment_ids": np.zeros((n, length), np.int32),
                    "padding_mask": np.ones((n, length), bool)}
        dataset = tf.data.Dataset.from_tensor_slices(
            (features, np.eye(num_labels, dtype=np.float32)[rng.integers(0, num_labels, n)]))
        stream = dataset.batch(config.data.batch_size).repeat().prefetch(4)
    elif args.workload == "default":
        examples = examples_lib.prepare(config.data)
        vocabulary = tokenizer_lib.learn_vocabulary([r.text.lower() for r in examples.train],
                                                    config.tokenizer.vocabulary_size)
        vocabulary_size, num_labels = len(vocabulary), len(examples.labels)
        preprocessor = pipeline.build_preprocessor(tokenizer_lib.build_tokenizer(vocabulary),
                                                   config.data.max_seq_length)
        stream = pipeline.classification_dataset(examples.train, examples.labels, preprocessor,
                                                 config.data, training=True)
    else:
        raise SystemExit(f"--workload: got {args.workload!r}, expected 'default' or 'full'")
    config = encoder.resolve(config, vocabulary_size)
    logdir = args.logdir or tempfile.mkdtemp(prefix="tfllm-profile-")
    print(f"trace of {args.trace_steps} steps: {logdir}")
    print("| workload | model | steps | ms per step |")
    print("|---|---|---|---|")
    with run.runtime(config):
        model, _ = classification.build(config, vocabulary_size, num_labels)
        classification.TASK.compile_model(model, config, steps_per_epoch=1000)
        start = time.perf_counter()
        model.fit(stream, epochs=1, steps_per_epoch=5, verbose=0)  # trace and warm up
        warmup = (time.perf_counter() - start) / 5
        start = time.perf_counter()
        model.fit(stream, epochs=1, steps_per_epoch=args.steps, verbose=0)
        seconds = (time.perf_counter() - start) / args.steps
        tf.profiler.experimental.start(logdir)
        model.fit(stream, epochs=1, steps_per_epoch=args.trace_steps, verbose=0)
        tf.profiler.experimental.stop()
    name = f"| {args.workload} | {config.model.size} |"
    print(f"{name} first 5 (graph tracing included) | {warmup * 1e3:.1f} |")
    print(f"{name} next {args.steps} | {seconds * 1e3:.1f} |", flush=True)
    try:
        summarize(logdir)
    except ImportError:
        print("(install xprof apart from the project to summarise the trace; see the docstring)")


if __name__ == "__main__":
    main(sys.argv)
