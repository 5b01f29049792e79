"""Pretrained decoders for language modelling, from any source `model.init_from` names.

Two architectures fit tfllm's decoding loop and byte-level BPE pipeline:
GPT-2 (keras-hub GPT2Backbone) and Llama (keras-hub Llama3Backbone: SmolLM,
TinyLlama-style checkpoints and GGUF files). Hugging Face directories and GGUF
files go through keras-hub's converters with tfllm's recording loaders, so
every tensor is accounted for. The tokenizer (vocab.json + merges.txt,
tokenizer.json or the GGUF's own) comes with the checkpoint and must be
byte-level BPE with an `<|endoftext|>` token, which tfllm uses to separate
texts, start prompts and stop generation.
"""

import dataclasses
import json
import os

import keras_hub
from keras_hub.src.utils.transformers import convert_gpt2
from keras_hub.src.utils.transformers import convert_llama3

from tfllm.data import bpe
from tfllm.errors import DataError
from tfllm.models import gguf
from tfllm.models import keras_source
from tfllm.models import llama
from tfllm.models import sources
from tfllm.models.sources import FLAG
from tfllm.models.transfer import SafetensorsLoader, TensorsLoader
from tfllm.workdir import Paths

# keras-hub backbone class -> (architecture name, its causal LM class); subclasses match.
CAUSAL_LMS = {
    keras_hub.models.GPT2Backbone: ("gpt2", keras_hub.models.GPT2CausalLM),
    keras_hub.models.Llama3Backbone: ("llama", keras_hub.models.Llama3CausalLM),
    keras_hub.models.LlamaBackbone: ("llama", keras_hub.models.LlamaCausalLM),
}
CONVERTERS = {"gpt2": convert_gpt2, "llama": convert_llama3}
BACKBONES = {"gpt2": keras_hub.models.GPT2Backbone, "llama": llama.Llama3Backbone}


def _architecture(backbone):
    """(architecture name, causal LM class) of a keras-hub backbone."""
    return next(value for cls, value in CAUSAL_LMS.items() if isinstance(backbone, cls))


@dataclasses.dataclass
class DecoderCheckpoint:
    """What a run takes from a pretrained decoder before its weights are loaded.

    Args:
        source: where the checkpoint is (sources.Source).
        vocabulary: byte-level BPE token -> id.
        merges: "a b" merge rules, in priority order.
        architecture: "gpt2" or "llama".
        dims: num_layers, num_heads, hidden_dim, intermediate_dim (the
            config's names; for Llama num_heads counts query heads).
        context_length: positions the model was trained on; None when the
            checkpoint does not say (a bare Llama .keras file).
        hf_config: the Hugging Face-style config.json of hf and gguf sources.
    """

    source: sources.Source
    vocabulary: dict
    merges: list
    architecture: str
    dims: dict
    context_length: int
    hf_config: dict = None

    @property
    def path(self):
        """The checkpoint as the user named it."""
        return self.source.origin


def _check_tokenizer(vocabulary, origin, embeddings):
    """Refuses a vocabulary without END_OF_TEXT, or with ids past the `embeddings` rows."""
    if bpe.END_OF_TEXT not in vocabulary:
        raise DataError(f"{FLAG}: {origin}'s vocabulary has no {bpe.END_OF_TEXT!r} token; tfllm "
                        "decoders need it to separate texts and stop generation")
    largest = max(vocabulary.values())
    if largest >= embeddings:
        raise DataError(f"{FLAG}: {origin}'s tokenizer has ids up to {largest}, but the model "
                        f"has {embeddings} token embeddings; the tokenizer is not this model's")


# Hugging Face config values keras-hub's GPT-2 and Llama layers compute; others would load
# without error and compute something else.
_FIXED = {
    "gpt2": {"activation_function": "gelu_new", "scale_attn_weights": True},
    "llama": {"hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
              "pretraining_tp": 1},
}


def _check_hf_config(origin, architecture, hf_config):
    for key, value in _FIXED[architecture].items():
        if hf_config.get(key, value) != value:
            raise DataError(f"{FLAG}: {origin}'s config has {key}={hf_config[key]!r}; keras-hub's "
                            f"{architecture} layers compute {key}={value!r} only")
    if architecture == "llama":
        heads, hidden = hf_config.get("num_attention_heads"), hf_config.get("hidden_size")
        head_dim = hf_config.get("head_dim") or (hidden // heads if heads and hidden else None)
        if heads and hidden and head_dim * heads != hidden:
            raise DataError(f"{FLAG}: {origin}'s config has head_dim={head_dim}, not "
                            f"hidden_size / num_attention_heads = {hidden // heads}; keras-hub's "
                            "Llama cannot represent it")


def _dims(kwargs):
    """The config's dimension names from keras-hub backbone arguments (or a backbone's config)."""
    return {"num_layers": kwargs["num_layers"],
            "num_heads": kwargs.get("num_query_heads") or kwargs["num_heads"],
            "hidden_dim": kwargs["hidden_dim"], "intermediate_dim": kwargs["intermediate_dim"]}


def _backbone_kwargs(architecture, hf_config, origin=""):
    try:
        kwargs = CONVERTERS[architecture].convert_backbone_config(hf_config)
    except (KeyError, ValueError, TypeError) as error:  # a field missing or of a kind it refuses
        raise DataError(f"{FLAG}: {origin} has a {architecture} config.json keras-hub cannot "
                        f"convert ({type(error).__name__}: {error})") from error
    if architecture == "llama":  # keras-hub's converter leaves the epsilon at its default
        kwargs["layer_norm_epsilon"] = hf_config.get("rms_norm_eps", 1e-6)
    else:  # keras-hub assumes 4x; GPT-2 configs may say otherwise
        kwargs["intermediate_dim"] = hf_config.get("n_inner") or kwargs["intermediate_dim"]
    return kwargs


def _from_hf_config(source, hf_config, vocabulary, merges):
    architecture = hf_config.get("model_type")
    if architecture not in CONVERTERS:
        raise DataError(f"{FLAG}: {source.origin} has model_type {architecture!r}; language "
                        f"models start from {' or '.join(CONVERTERS)} decoders")
    _check_hf_config(source.origin, architecture, hf_config)
    kwargs = _backbone_kwargs(architecture, hf_config, source.origin)
    _check_tokenizer(vocabulary, source.origin, kwargs["vocabulary_size"])
    context = hf_config.get("n_positions") or hf_config.get("max_position_embeddings")
    return DecoderCheckpoint(source, vocabulary, merges, architecture, _dims(kwargs), context,
                             hf_config)


def _huggingface_tokenizer(path, origin):
    if os.path.isfile(os.path.join(path, bpe.VOCAB_FILE)):
        return bpe.load(path, flag=FLAG)
    tokenizer_file = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(tokenizer_file):
        raise DataError(f"{FLAG}: {origin} has no tokenizer: expected vocab.json + merges.txt "
                        "or tokenizer.json")
    tokenizer = sources.read_json(tokenizer_file)
    model = tokenizer.get("model") if isinstance(tokenizer.get("model"), dict) else {}
    if model.get("type") != "BPE" or "ByteLevel" not in json.dumps(tokenizer.get("decoder")):
        raise DataError(f"{tokenizer_file}: a {model.get('type')} tokenizer without byte-level "
                        "decoding; tfllm decoders use byte-level BPE (GPT-2 style)")
    if not isinstance(model.get("vocab"), dict) or not isinstance(model.get("merges"), list):
        raise DataError(f"{tokenizer_file}: no model.vocab object or model.merges list "
                        "(expected a BPE tokenizer.json with both)")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return model["vocab"], merges


def _read_keras(source, tokenizer_config, unsafe):
    run = (keras_source.run_config(source, "language_modeling", "a decoder")
           if source.kind == "workdir" else None)
    model = keras_source.load_model(source, unsafe)
    backbone = keras_source.find_backbone(model, tuple(CAUSAL_LMS), source.origin)
    tokenizer = keras_source.preprocessor_tokenizer(model)
    if run is not None:
        vocabulary, merges = bpe.load(Paths(source.path).tokenizer, flag=FLAG)
    elif isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        vocabulary, merges = dict(tokenizer.vocabulary), list(tokenizer.merges)
    elif tokenizer_config is not None and tokenizer_config.vocabulary:
        vocabulary, merges = bpe.load(tokenizer_config.vocabulary)
    else:
        raise DataError(f"{FLAG}: {source.origin} holds no tokenizer; give the directory with "
                        "its vocab.json and merges.txt as --config.tokenizer.vocabulary")
    _check_tokenizer(vocabulary, source.origin, backbone.vocabulary_size)
    context = getattr(backbone, "max_sequence_length", None)
    if run is not None:
        context = run.model.backbone.max_sequence_length
    return DecoderCheckpoint(source, vocabulary, merges, _architecture(backbone)[0],
                             _dims(backbone.get_config()), context)


def read_decoder_checkpoint(init_from, tokenizer_config=None, unsafe=False):
    """Reads the tokenizer, architecture and shape of the decoder `init_from` names.

    Args:
        init_from: anything `sources.locate` accepts.
        tokenizer_config: the run's `tokenizer` config; a bare .keras decoder
            takes its vocab.json/merges.txt directory from it.
        unsafe: allow .keras files that need arbitrary code to load.
    """
    source = sources.locate(init_from)
    if source.kind == "gguf":
        checkpoint = gguf.read(source.path)
        return _from_hf_config(source, checkpoint.config, checkpoint.vocabulary,
                               checkpoint.merges)
    if source.kind == "huggingface":
        hf_config = sources.read_json(os.path.join(source.path, "config.json"))
        return _from_hf_config(source, hf_config,
                               *_huggingface_tokenizer(source.path, source.origin))
    if source.kind == "keras_hub_preset":
        try:
            backbone = keras_hub.models.Backbone.from_preset(source.path, load_weights=False)
            tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(source.path)
        except (ValueError, KeyError, OSError) as error:
            raise DataError(f"{FLAG}: {init_from} is not a preset keras-hub can read: "
                            f"{error}") from error
        if not isinstance(backbone, tuple(CAUSAL_LMS)) or not isinstance(
                tokenizer, keras_hub.tokenizers.BytePairTokenizer):
            raise DataError(f"{FLAG}: {init_from} holds a {type(backbone).__name__}; language "
                            "models start from GPT-2 or Llama decoders with byte-level BPE")
        vocabulary = dict(tokenizer.vocabulary)
        _check_tokenizer(vocabulary, init_from, backbone.vocabulary_size)
        return DecoderCheckpoint(source, vocabulary, list(tokenizer.merges),
                                 _architecture(backbone)[0], _dims(backbone.get_config()),
                                 getattr(backbone, "max_sequence_length", None))
    return _read_keras(source, tokenizer_config, unsafe)


def _converted(checkpoint, dropout, loader):
    """A backbone built from the Hugging Face-style config, filled by keras-hub's converter."""
    converter = CONVERTERS[checkpoint.architecture]
    kwargs = _backbone_kwargs(checkpoint.architecture, checkpoint.hf_config)
    backbone = BACKBONES[checkpoint.architecture](**{**kwargs, "dropout": dropout})
    with loader:
        converter.convert_weights(backbone, loader, checkpoint.hf_config)
        return backbone, loader.report(backbone.weights, loader.names())


def load_causal_lm(checkpoint, dropout, unsafe=False):
    """Returns (the pretrained causal LM with `dropout` in its layers, its WeightReport)."""
    kind = checkpoint.source.kind
    if kind == "gguf":
        loader = TensorsLoader(gguf.tensors(checkpoint.source.path), checkpoint.path)
        backbone, report = _converted(checkpoint, dropout, loader)
    elif kind == "huggingface":
        loader = SafetensorsLoader(checkpoint.source.path, checkpoint.path)
        backbone, report = _converted(checkpoint, dropout, loader)
    elif kind == "keras_hub_preset":
        backbone, report = keras_source.preset_backbone(keras_hub.models.Backbone,
                                                        checkpoint.source, dropout)
    else:
        model = keras_source.load_model(checkpoint.source, unsafe)
        found = keras_source.find_backbone(model, tuple(CAUSAL_LMS), checkpoint.path)
        if isinstance(found, keras_hub.models.LlamaBackbone):  # keep tied embeddings tied
            backbone = keras_source.rebuild(found, llama.Llama3Backbone, dropout=dropout,
                                            tie_word_embeddings=found.tie_word_embeddings)
        else:
            backbone = keras_source.rebuild(found, dropout=dropout)
        report = keras_source.report(model, found, checkpoint.path)
    causal_lm_cls = _architecture(backbone)[1]
    return causal_lm_cls(backbone=backbone, preprocessor=None), report
