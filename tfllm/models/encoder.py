"""The BERT-style encoder of a run, random or pretrained: what classification, tagging and
span QA share before their heads.

Each of those tasks reads the checkpoint `model.init_from` names (if any), takes its
vocabulary or learns one, fills model.backbone in from model.size or the checkpoint, and
builds the backbone under its own head; only the head and the texts a vocabulary is
learned from differ.
"""

import os

from tfllm import config as config_lib
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.models import bert_backbone as bert
from tfllm.models import pretrained
from tfllm.training import precision


def read_checkpoint(config):
    """The pretrained encoder `model.init_from` names (its vocabulary and shape), or None."""
    if not config.model.init_from:
        return None
    return pretrained.read_bert_checkpoint(config.model.init_from, config.tokenizer,
                                           config.model.init_unsafe)


def choose_vocabulary(config, paths, checkpoint, training_texts):
    """The WordPiece vocabulary: the work directory's (a resumed run), the checkpoint's,
    the config's, or one learned from `training_texts()` (cleaned strings)."""
    if os.path.exists(paths.vocabulary):
        return tokenizer_lib.load_vocabulary(paths.vocabulary)
    if checkpoint is not None:
        return checkpoint.vocabulary
    if config.tokenizer.vocabulary:
        return tokenizer_lib.load_vocabulary(config.tokenizer.vocabulary)
    return tokenizer_lib.learn_vocabulary(
        training_texts(), config.tokenizer.vocabulary_size, config.tokenizer.min_frequency)


def resolve(config, vocabulary_size, checkpoint=None):
    """A copy of `config` with model.backbone filled in from model.size, or from the
    pretrained checkpoint (whose tokenizer casing it takes too)."""
    resolved = config.copy_and_resolve_references()
    kwargs = bert.backbone_kwargs(config.model, vocabulary_size, config.data.max_seq_length)
    if checkpoint is not None:
        kwargs.update(checkpoint.dims)
        config_lib.check_fits_context(config, checkpoint.dims["max_sequence_length"],
                                      checkpoint.path)
    with resolved.unlocked():
        for key in ("num_layers", "num_heads", "hidden_dim", "intermediate_dim"):
            resolved.model.backbone[key] = kwargs[key]
        if checkpoint is not None:
            resolved.tokenizer.lowercase = checkpoint.lowercase
        resolved.runtime.mixed_precision = precision.resolve(
            config.runtime.mixed_precision, config.runtime.distribution)
    return resolved


def build(config, vocabulary_size, checkpoint, head):
    """`head(backbone)` over a random encoder of the (resolved) config's sizes, or over the
    pretrained one.

    Returns:
        (model, WeightReport of the pretrained import or None).
    """
    if checkpoint is None:
        kwargs = bert.backbone_kwargs(config.model, vocabulary_size, config.data.max_seq_length)
        return head(bert.build_backbone(kwargs)), None
    backbone, report = pretrained.load_bert_backbone(
        checkpoint, config.model.backbone.dropout, unsafe=config.model.init_unsafe)
    model = head(backbone)
    return model, report.with_new_weights(model.weights, backbone.weights)
