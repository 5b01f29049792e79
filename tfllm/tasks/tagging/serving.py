"""The serving module of a tagger: raw strings in, entity spans out, as dense tensors.

Word splitting, per-word cleaning, WordPiece, the model, the best tag per word
and the grouping of tagged words into entities all run in the graph (core
TensorFlow and tensorflow-text ops, no py_function), so TF Serving needs only
the SavedModel directory. `text_entities` is that whole path; `Tagger.predict` traces
the same function in process. TF Serving cannot return ragged tensors: each output
is [batch, n], n the most entities any text of the request has, padded with
'' (entity, word), -1 (start, end) and 0 (score); `num_entities` says how many
of a row are real.

Entities are grouped with the rules of `tfllm.tasks.tagging.entities` (seqeval's
lenient mode), vectorised: word i continues the entity of word i-1 exactly when
its tag is I-X or E-X, the previous tag is B-X or I-X, and the types agree; every
other tagged word starts an entity. Offsets are characters (Unicode code
points) of the original text, as Python's str indexing counts them.
"""

import numpy as np
import tensorflow as tf

from tfllm.tasks.tagging import features as tagged_pipeline
from tfllm.serving.offsets import char_index
from tfllm.serving.untracked import Untracked
from tfllm.workdir import Paths

PREFIX_CODES = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4}
# What pads each dense output past a text's last entity.
PADDING = {"entity": "", "word": "", "start": -1, "end": -1, "score": 0.0}
WARMUP_TEXTS = ["Zoë Kowalczyk flew from São Paulo to New York.", ""]


def tag_tables(tags):
    """(prefix code, entity type id) of each tag id, and the entity type names."""
    types = sorted({tag[2:] for tag in tags if tag != "O"})
    prefixes = [PREFIX_CODES[tag[0]] if tag != "O" else 0 for tag in tags]
    type_ids = [types.index(tag[2:]) if tag != "O" else -1 for tag in tags]
    return np.array(prefixes, np.int32), np.array(type_ids, np.int32), types


def decode_entities(tag_ids, prefixes, type_ids):
    """Entities of tagged words, as in `entities.extract_entities`.

    Args:
        tag_ids: int32 [batch, words] (padding: the "O" id).
        prefixes, type_ids: `tag_tables`' per-tag lookups.

    Returns:
        (type id, first word, last word), each ragged int32 [batch, entities].
    """
    prefix = tf.gather(prefixes, tag_ids)  # [batch, words]
    type_id = tf.gather(type_ids, tag_ids)
    # Shifted one word right, "O" before the first word (no slicing first: 0 words stay 0).
    previous_prefix = tf.pad(prefix, [[0, 0], [1, 0]])[:, :-1]
    previous_type = tf.pad(type_id, [[0, 0], [1, 0]], constant_values=-1)[:, :-1]
    continues = ((prefix == PREFIX_CODES["I"]) | (prefix == PREFIX_CODES["E"])) & (
        (previous_prefix == PREFIX_CODES["B"]) | (previous_prefix == PREFIX_CODES["I"])) & (
        type_id == previous_type)
    tagged = prefix != PREFIX_CODES["O"]
    next_continues = tf.pad(continues, [[0, 0], [0, 1]])[:, 1:]
    positions = tf.broadcast_to(tf.range(tf.shape(tag_ids)[1]), tf.shape(tag_ids))
    first = tf.ragged.boolean_mask(positions, tagged & ~continues)
    last = tf.ragged.boolean_mask(positions, tagged & ~next_continues)
    return tf.gather(type_id, first, batch_dims=1), first, last


def text_entities(model, aligner, clean, tables, text):
    """The entities of raw texts, all graph ops: what the export serves and `Tagger.predict` runs.

    Args:
        model: the Keras token classifier.
        aligner: the run's TagAligner.
        clean: the run's per-word cleaning (`tagged_pipeline.word_cleaner`).
        tables: `tag_tables(tags)`.
        text: string [batch].

    Returns:
        `entity_spans` of the texts' words and their best tags.
    """
    _, starts, ends, features = tagged_pipeline.text_features(aligner, clean, text)
    tag_ids, scores = tagged_pipeline.tag_words(model, features)
    return entity_spans(text, starts, ends, tag_ids, scores, tables)


def entity_spans(text, starts, ends, tag_ids, scores, tables):
    """Groups tagged words into entities on the original text, in graph ops.

    Args:
        text: string [batch].
        starts, ends: int64 ragged [batch, words], UTF-8 byte offsets of the words in `text`
            (`tag_alignment.split_words`).
        tag_ids: int32 ragged [batch, tagged words]: one tag id per word; a text cut at the
            sequence length has tags for its first words only.
        scores: float ragged [batch, tagged words], the probability of each word's tag.
        tables: `tag_tables(tags)`.

    Returns:
        A dict of ragged [batch, entities]: entity (type name), word (the text's bytes the
        entity covers), start and end (int32 character offsets into the text, end
        exclusive) and score (float64, the mean score of the entity's words).
    """
    prefixes, type_ids, types = tables
    type_id, first, last = decode_entities(tag_ids.to_tensor(0), prefixes, type_ids)
    lengths = first.row_lengths()  # entities per text

    def ragged(dense):  # [batch, most entities] -> ragged [batch, entities]
        return tf.RaggedTensor.from_tensor(dense, lengths=lengths)

    # The mean word score of each entity, from cumulative sums over the words.
    totals = tf.pad(tf.cumsum(tf.cast(scores.to_tensor(0.0), tf.float64), axis=1),
                    [[0, 0], [1, 0]])
    score = (tf.gather(totals, last + 1, batch_dims=1)
             - tf.gather(totals, first, batch_dims=1)) / tf.cast(last - first + 1, tf.float64)
    byte_start = tf.gather(starts, first, batch_dims=1).to_tensor(0)  # [batch, entities]
    byte_end = tf.gather(ends, last, batch_dims=1).to_tensor(0)
    word = tf.strings.substr(tf.broadcast_to(text[:, None], tf.shape(byte_start)),
                             byte_start, byte_end - byte_start)  # offsets in UTF-8 bytes
    names = tf.constant(types + [""], tf.string)  # type id -1 reads ""
    return {
        "entity": tf.gather(names, type_id),
        "word": ragged(word),
        "start": ragged(char_index(text, byte_start)),
        "end": ragged(char_index(text, byte_end)),
        "score": score,
    }


class TaggerModule(tf.Module):
    """Serving functions over a trained tagger.

    Args:
        model: the Keras token classifier (takes token_ids, segment_ids, padding_mask).
        aligner: the run's TagAligner (tracked: its WordPiece model is saved).
        clean: the run's per-word cleaning (`tagged_pipeline.word_cleaner`).
        tags: tag names; index = tag id.
    """

    def __init__(self, model, aligner, clean, tags):
        super().__init__(name="tfllm_tagger")
        # As in ClassifierModule: variables tracked once, the Keras model not at all.
        self._model = Untracked(model)
        self.model_variables = [variable.value for variable in model.variables]
        self.aligner = aligner
        self._clean = Untracked(clean)
        self._tables = Untracked(tag_tables(tags))

    def text_features(self, text):
        """(words, byte starts, byte ends, features) of raw texts."""
        return tagged_pipeline.text_features(self.aligner, self._clean.value, text)

    def serve_text(self, text):
        spans = text_entities(self._model.value, self.aligner, self._clean.value,
                              self._tables.value, text)
        served = {key: spans[key].to_tensor(padding) for key, padding in PADDING.items()}
        served["score"] = tf.cast(served["score"], tf.float32)
        served["num_entities"] = tf.cast(spans["entity"].row_lengths(), tf.int32)
        return served

    def serve_token_ids(self, token_ids, segment_ids, padding_mask):
        features = {"token_ids": token_ids, "segment_ids": segment_ids,
                    "padding_mask": padding_mask}
        return {"logits": tf.cast(self._model.value(features, training=False), tf.float32)}

    def signatures(self):
        """Returns the concrete functions to save, by signature name."""
        default = tf.function(self.serve_text).get_concrete_function(
            tf.TensorSpec([None], tf.string, name="text"))
        token_ids = tf.function(self.serve_token_ids).get_concrete_function(
            tf.TensorSpec([None, None], tf.int32, name="token_ids"),
            tf.TensorSpec([None, None], tf.int32, name="segment_ids"),
            tf.TensorSpec([None, None], tf.bool, name="padding_mask"))
        return {"serving_default": default, "serve_token_ids": token_ids}


def tagger_module(tagger):
    """The serving module of a loaded Tagger, with its vocabulary and tags as assets."""
    module = TaggerModule(tagger.model, tagger.aligner, tagger.clean, tagger.tags)
    paths = Paths(tagger.workdir)
    module.vocabulary_file = tf.saved_model.Asset(paths.vocabulary)
    module.labels_file = tf.saved_model.Asset(paths.labels)
    return module


def warmup_requests(module):
    """One request per signature of a TaggerModule, on WARMUP_TEXTS."""
    features = module.text_features(tf.constant(WARMUP_TEXTS))[3]
    return [
        ("serving_default", {"text": np.array(WARMUP_TEXTS, dtype=object)}),
        ("serve_token_ids", {key: np.asarray(features[key])
                             for key in tagged_pipeline.MODEL_FEATURES}),
    ]


def export_parts(tagger):
    """(module, warmup requests) for `tfllm.serving.writer.export`."""
    module = tagger_module(tagger)
    return module, warmup_requests(module)
