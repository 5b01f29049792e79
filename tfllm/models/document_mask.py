"""Packed blocks without cross-talk: each document in a block attends only to itself.

keras-hub's GPT-2 and Llama backbones take token_ids and padding_mask, and
attend causally over the whole block at positions 0..L-1, so in a packed block
a text sees the texts before it. Given `segment_ids` (the document of each
token; `tfllm.data.packing`) and `positions`, the causal LMs here run the same
layers with a block-diagonal causal mask: the decoders' own causal mask,
intersected with "same document" through their `decoder_attention_mask`.
GPT-2's learned position embeddings are looked up at `positions` (restarting
at 0 in each document). Llama needs no position input: rotary embeddings make
a query-key score depend only on the distance between the two tokens, and
within one document that distance is the same packed or alone (keras-hub's
LlamaAttention takes no positions, and none are needed).

Without segment_ids (generation's cached path, scoring, export, evaluation of
'stream' blocks) the model is keras-hub's, unchanged: same layers, weights and
saved config, only the class name differs. Padding is segment 0, a document of
its own: no real token sees it, and no row of the mask is empty.
"""

import keras
import keras_hub
from keras import ops


def document_attention_mask(segment_ids):
    """(batch, seq) segment ids -> (batch, seq, seq) bool: query i may see key j when both
    are in the same document (the decoders add the causal part)."""
    return ops.equal(ops.expand_dims(segment_ids, 2), ops.expand_dims(segment_ids, 1))


class DocumentMasking:
    """Mixin for a keras-hub causal LM: called with `segment_ids` and `positions` among its
    inputs, it attends within documents; otherwise it is the causal LM it extends."""

    def call(self, inputs, training=None, mask=None, **kwargs):
        if isinstance(inputs, dict) and "segment_ids" in inputs:
            return self.document_logits(inputs, training=training)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def document_logits(self, inputs, training=None):
        """Logits (batch, seq, vocabulary) of packed blocks, each document on its own."""
        backbone = self.backbone
        attention_mask = document_attention_mask(inputs["segment_ids"])  # (batch, seq, seq)
        x = backbone.token_embedding(inputs["token_ids"])  # (batch, seq, hidden)
        if hasattr(backbone, "position_embedding"):  # GPT-2: learned, absolute positions
            positions = backbone.position_embedding(x, positions=inputs["positions"])
            x = backbone.embeddings_dropout(backbone.embeddings_add((x, positions)),
                                            training=training)
        for layer in backbone.transformer_layers:
            x = layer(x, decoder_attention_mask=attention_mask, training=training)
        return backbone.token_embedding(backbone.layer_norm(x), reverse=True)


@keras.saving.register_keras_serializable(package="tfllm")
class DocumentGPT2CausalLM(DocumentMasking, keras_hub.models.GPT2CausalLM):
    """keras-hub's GPT2CausalLM that attends within documents when given segment_ids.

    Args:
        backbone: a `keras_hub.models.GPT2Backbone`.
        preprocessor: None (tfllm's pipeline tokenizes and packs).

    Example:
    ```python
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=20, num_layers=2, num_heads=2,
                                             hidden_dim=8, intermediate_dim=16)
    lm = DocumentGPT2CausalLM(backbone=backbone, preprocessor=None)
    lm({"token_ids": np.array([[0, 5, 6, 0, 7]]), "padding_mask": np.ones((1, 5)),
        "segment_ids": np.array([[1, 1, 1, 2, 2]]), "positions": np.array([[0, 1, 2, 0, 1]])})
    # (1, 5, 20) logits: tokens 3-4 ([0, 7]) see only each other, as if run alone
    ```
    """


@keras.saving.register_keras_serializable(package="tfllm")
class DocumentLlama3CausalLM(DocumentMasking, keras_hub.models.Llama3CausalLM):
    """keras-hub's Llama3CausalLM that attends within documents when given segment_ids
    (`positions` may be given; rotary embeddings need none)."""


@keras.saving.register_keras_serializable(package="tfllm")
class DocumentLlamaCausalLM(DocumentMasking, keras_hub.models.LlamaCausalLM):
    """keras-hub's LlamaCausalLM that attends within documents when given segment_ids."""


# keras-hub causal LM -> its document-masked subclass; the most specific class first.
DOCUMENT_CLASSES = (
    (keras_hub.models.GPT2CausalLM, DocumentGPT2CausalLM),
    (keras_hub.models.Llama3CausalLM, DocumentLlama3CausalLM),
    (keras_hub.models.LlamaCausalLM, DocumentLlamaCausalLM),
)


def with_document_mask(causal_lm):
    """Returns a causal LM on `causal_lm`'s backbone (the same layers and weights) that
    attends within documents when its inputs carry segment_ids; `causal_lm` if it does."""
    if isinstance(causal_lm, DocumentMasking):
        return causal_lm
    for keras_hub_class, document_class in DOCUMENT_CLASSES:
        if isinstance(causal_lm, keras_hub_class):
            return document_class(backbone=causal_lm.backbone,
                                  preprocessor=causal_lm.preprocessor)
    raise TypeError(f"no document-masked form of {type(causal_lm).__name__}; expected a "
                    "keras-hub GPT2CausalLM or LlamaCausalLM")
