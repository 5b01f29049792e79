"""Named model sizes: BERT (Turc et al. 2019, "Well-Read Students Learn Better") and GPT."""

# name: (num_layers, hidden_dim); heads = hidden / 64, intermediate = 4 * hidden.
BERT_SIZES = {
    "tiny": (2, 128),
    "mini": (4, 256),
    "small": (4, 512),
    "medium": (8, 512),
    "base": (12, 768),
}


def _dims(sizes, size, backbone):
    """Dimensions from a size table; `backbone` fields that are 0 take `size`'s."""
    num_layers, hidden_dim = sizes[size]
    hidden_dim = backbone["hidden_dim"] or hidden_dim
    return {
        "num_layers": backbone["num_layers"] or num_layers,
        "hidden_dim": hidden_dim,
        "num_heads": backbone["num_heads"] or max(1, hidden_dim // 64),
        "intermediate_dim": backbone["intermediate_dim"] or 4 * hidden_dim,
    }


def backbone_dims(size, backbone):
    """Returns BertBackbone dimensions: `backbone` fields that are 0 take `size`'s.

    Args:
        size: a key of BERT_SIZES.
        backbone: mapping with num_layers, num_heads, hidden_dim, intermediate_dim.
    """
    return _dims(BERT_SIZES, size, backbone)


# GPT decoder sizes: name: (num_layers, hidden_dim); heads = hidden / 64,
# intermediate = 4 * hidden. "base" is the GPT-2 124M shape (12 x 768).
GPT_SIZES = {
    "tiny": (2, 128),
    "mini": (4, 256),
    "small": (6, 512),
    "medium": (8, 512),
    "base": (12, 768),
}


def gpt_dims(size, backbone):
    """Returns GPT2Backbone dimensions: `backbone` fields that are 0 take `size`'s."""
    return _dims(GPT_SIZES, size, backbone)
