"""Writes a trained run as a TF Serving model version: EXPORT_DIR/<version>/.

The version directory appears only when complete: the SavedModel is written
to a temporary sibling and renamed, so a failed export leaves nothing behind,
and an existing version is never overwritten.
"""

import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from tfllm.tasks.classification.predictor import TextClassifier
from tfllm.data import bpe
from tfllm.data import lm_pipeline
from tfllm.errors import TfllmError
from tfllm.tasks.language_model.predictor import LanguageModel
from tfllm.serving import core_ops
from tfllm.tasks.span_qa import serving as qa_module
from tfllm.tasks.seq2seq import serving as seq2seq_module
from tfllm.tasks.tagging import serving as tagger_module
from tfllm.tasks.classification.serving import ClassifierModule
from tfllm.tasks.language_model.serving import LanguageModelModule
from tfllm.serving.warmup import write_warmup_requests
from tfllm.workdir import Paths


def next_version(export_dir):
    """Returns 1 + the largest integer version under `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def export(workdir, export_dir, version=None, adapters=None):
    """Exports the finished run in `workdir`; returns the version directory written.

    A LoRA run's model.keras is already merged. `adapters` names one of its adapter files
    instead (say checkpoints/ckpt-0003.adapters.npz): the run's base model is rebuilt from
    its `model.init_from`, the file loaded onto it and merged, and that is exported.
    """
    version = next_version(export_dir) if version is None else int(version)
    target = os.path.join(export_dir, str(version))
    if os.path.exists(target):
        raise TfllmError(f"{target} exists; versions are never overwritten "
                         f"(the next free one is {next_version(export_dir)})")
    import tfllm  # pylint: disable=import-outside-toplevel
    loaded = tfllm.load(workdir)
    if adapters is not None:
        loaded.model = with_adapters(loaded, adapters)
    if isinstance(loaded, LanguageModel):
        module, requests = language_model_module(loaded), language_model_warmup()
    elif loaded.config.task == "seq2seq":
        module, requests = seq2seq_module.export_parts(loaded)
    elif loaded.config.task == "tagging":
        module, requests = tagger_module.export_parts(loaded)
    elif loaded.config.task == "span_qa":
        module, requests = qa_module.export_parts(loaded)
    else:
        module = classifier_module(loaded)
        requests = warmup_requests(module)
    os.makedirs(export_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=export_dir)
    try:
        with core_ops.without_xla_ops():  # TF Serving runs no XLA by default
            tf.saved_model.save(module, staging, signatures=module.signatures())
        write_warmup_requests(staging, requests)
        os.rename(staging, target)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return target


def with_adapters(loaded, adapters):
    """The base model of the run `loaded` (a TextClassifier or LanguageModel) with the LoRA
    adapter file `adapters` loaded and merged into its weights: a plain model."""
    # pylint: disable=import-outside-toplevel
    from tfllm.training import loop
    from tfllm.tasks.language_model import task as lm_loop
    from tfllm.models import lora
    if loaded.config.task not in ("text_classification", "language_modeling"):
        raise TfllmError(f"--adapters: not supported for {loaded.config.task} runs yet (their "
                         "model.keras, already merged, exports without it)")
    build = lm_loop.base_model if isinstance(loaded, LanguageModel) else loop.base_model
    model = build(loaded.workdir)
    lora.load_adapters(model, adapters)
    return lora.merge_lora(model)


def classifier_module(classifier: TextClassifier):
    """The serving module of a loaded classifier, with its vocabulary and labels as assets."""
    module = ClassifierModule(classifier.model, classifier.to_features, classifier.labels,
                              pair=bool(classifier.config.data.text_pair_column))
    paths = Paths(classifier.workdir)
    module.vocabulary_file = tf.saved_model.Asset(paths.vocabulary)
    module.labels_file = tf.saved_model.Asset(paths.labels)
    return module


def language_model_module(lm: LanguageModel):
    """The serving module of a loaded language model, with its BPE files as assets.

    `serving_default` uses the run's generation defaults; a beam-search
    default becomes greedy (the exported loop has no beams).
    """
    config = lm.config
    prefix, suffix = ("", "")
    if lm.trained_on_pairs:
        prefix, suffix = config.data.prompt_template.split(lm_pipeline.PROMPT_FIELD, 1)
    generation = config.generation
    sampling = generation.sampler in ("top_k", "top_p", "random")
    defaults = {
        "max_new_tokens": generation.max_new_tokens,
        "temperature": generation.temperature if sampling else 0.0,
        "top_k": generation.top_k if generation.sampler == "top_k" else 0,
        "top_p": generation.top_p if generation.sampler == "top_p" else 1.0,
    }
    tokenize = lm_pipeline.tokenize_fn(lm.tokenizer, config.data.cleaning)
    module = LanguageModelModule(lm.model, lm.tokenizer, tokenize, lm.end_id, lm.context_length,
                                 prefix, suffix, defaults)
    tokenizer_dir = Paths(lm.workdir).tokenizer
    module.vocabulary_file = tf.saved_model.Asset(os.path.join(tokenizer_dir, bpe.VOCAB_FILE))
    module.merges_file = tf.saved_model.Asset(os.path.join(tokenizer_dir, bpe.MERGES_FILE))
    return module


def language_model_warmup():
    """One request per signature of a LanguageModelModule."""
    prompts = np.array(WARMUP_TEXTS, dtype=object)
    return [
        ("serving_default", {"prompt": prompts}),
        ("generate", {"prompt": prompts, "max_new_tokens": np.int32(4),
                      "temperature": np.float32(0.7), "top_k": np.int32(10),
                      "top_p": np.float32(0.9), "seed": np.int32(0)}),
        ("score", {"text": prompts}),
    ]


WARMUP_TEXTS = ["What is AI?", ""]


def _example(fields):
    """A serialized tf.Example with one bytes feature per (name, text) of `fields`."""
    feature = {name: tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
               for name, text in fields.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def warmup_requests(module):
    """One request per signature of a ClassifierModule, on WARMUP_TEXTS."""
    names = ["text", "text_pair"] if module.pair else ["text"]
    inputs = {name: np.array(WARMUP_TEXTS, dtype=object) for name in names}
    examples = [_example({name: text for name in names}) for text in WARMUP_TEXTS]
    features = module.to_features(*(tf.constant(WARMUP_TEXTS) for _ in names))
    return [
        ("serving_default", inputs),
        ("serve_examples", {"examples": np.array(examples, dtype=object)}),
        ("serve_token_ids", {key: np.asarray(value) for key, value in features.items()}),
    ]
