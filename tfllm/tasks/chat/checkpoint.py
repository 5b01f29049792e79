"""What chat needs from a checkpoint: its template, its special tokens and its stop ids.

A GGUF file carries them in its metadata (`tokenizer.chat_template`, the CONTROL and
USER_DEFINED tokens, `tokenizer.ggml.eos_token_id` / `eot_token_id`); a Hugging Face
directory in tokenizer_config.json (`chat_template`, or a chat_template.jinja file;
`bos_token`, `eos_token`, ...), tokenizer.json (`added_tokens`, the pre-tokenizer) and
generation_config.json (`eos_token_id`, one id or a list). A model trained here names a
shipped template ("chatml") instead. The template's end of turn is the first special
token it writes after an assistant's content (`<|im_end|>` for ChatML); generation
stops at it and at the checkpoint's EOS.
"""

import dataclasses
import json
import os

from tfllm import damaged
from tfllm.data import bpe
from tfllm.errors import DataError
from tfllm.models import gguf
from tfllm.tasks.chat import template as template_lib
from tfllm.tasks.chat.tokens import ChatTokenizer

# GGUF special-id names (gguf.SPECIAL_ID_KEYS) -> the template variable holding its string.
_GGUF_VARIABLES = {"bos": "bos_token", "eos": "eos_token", "unknown": "unk_token",
                   "padding": "pad_token"}
_HF_VARIABLES = ("bos_token", "eos_token", "unk_token", "pad_token")
# llama.cpp `tokenizer.ggml.pre` names -> tfllm's pre-tokenizer; a file without one is GPT-2.
_GGUF_PRETOKENIZERS = {None: "gpt2", "default": "gpt2", "gpt2": "gpt2", "gpt-2": "gpt2",
                       "smollm": "smollm"}
_PROBE = ({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"})
_TOKENIZER_JSON = "a Hugging Face tokenizer.json"
_CONFIG_JSON = "a Hugging Face JSON object"


@dataclasses.dataclass
class ChatCheckpoint:
    """A checkpoint's chat template with the tokenizer that keeps its special tokens whole.

    Args:
        template: the ChatTemplate.
        tokenizer: the ChatTokenizer of the checkpoint's vocabulary.
        end_of_turn: the special token the template writes to close an assistant turn.
        stop_ids: the ids generation stops at: the end of turn and the checkpoint's
            EOS / end-of-turn ids, sorted.
    """

    template: template_lib.ChatTemplate
    tokenizer: ChatTokenizer
    end_of_turn: str
    stop_ids: tuple


def tokenizer_of(vocabulary, merges, special_tokens, pretokenizer="gpt2"):
    """The ChatTokenizer; `special_tokens` may repeat (a token both CONTROL and EOS)."""
    return ChatTokenizer(vocabulary, merges, list(dict.fromkeys(special_tokens)), pretokenizer)


def build(template, tokenizer, eos_ids=()):
    """A ChatCheckpoint of a ChatTemplate and a ChatTokenizer; `eos_ids` the checkpoint's own
    end ids. Finds the template's end of turn: refuses a template that writes none."""
    vocabulary = tokenizer.vocabulary
    segments = template.segments(_PROBE)
    after = next(i for i, s in enumerate(segments) if s.message == 1) + 1
    following = (segments[after].text if after < len(segments)
                 and segments[after].message is None else "")
    found = tokenizer.find_special(following)
    if not found:
        raise DataError(f"{template.origin}: the chat template writes no special token after an "
                        f"assistant's message (it writes {following[:40]!r}), so a model could "
                        "neither learn nor signal the end of its turn; expected one such as "
                        "<|im_end|>")
    end_of_turn = found[0][2]
    stop_ids = tuple(sorted({vocabulary[end_of_turn], *eos_ids}))
    return ChatCheckpoint(template, tokenizer, end_of_turn, stop_ids)


def from_vocabulary(vocabulary, merges, template="chatml", pretokenizer="gpt2"):
    """A model trained here: its vocab.json/merges.txt and a shipped template's name. The
    template's special tokens must be tokens of the vocabulary (learned as special tokens)."""
    chat_template = _own_or_named(None, "", template, {}, vocabulary)
    special = [*template_lib.NAMED_TOKENS[template],
               *([bpe.END_OF_TEXT] if bpe.END_OF_TEXT in vocabulary else [])]
    return build(chat_template, tokenizer_of(vocabulary, merges, special, pretokenizer))


def from_gguf(path, template=None):
    """The chat checkpoint of a GGUF file; `template` names a shipped one to use instead."""
    checkpoint = gguf.read(path)
    tokens = {token_id: token for token, token_id in checkpoint.vocabulary.items()}
    variables = {_GGUF_VARIABLES[name]: tokens[token_id]
                 for name, token_id in checkpoint.special_ids.items()
                 if name in _GGUF_VARIABLES and token_id in tokens}
    if checkpoint.pretokenizer not in _GGUF_PRETOKENIZERS:
        raise DataError(f"{path}: tokenizer.ggml.pre is {checkpoint.pretokenizer!r}; chat "
                        "tokenization splits text as the gpt2 and smollm pre-tokenizers do")
    chat_template = _own_or_named(checkpoint.chat_template, f"{path}: tokenizer.chat_template",
                                  template, variables, checkpoint.vocabulary)
    eos_ids = [checkpoint.special_ids[name] for name in ("eos", "eot")
               if name in checkpoint.special_ids]
    tokenizer = tokenizer_of(checkpoint.vocabulary, checkpoint.merges,
                             [*checkpoint.added_tokens, *variables.values(),
                              *_named_tokens(template)],
                             _GGUF_PRETOKENIZERS[checkpoint.pretokenizer])
    return build(chat_template, tokenizer, eos_ids)


def from_huggingface(directory, template=None):
    """The chat checkpoint of a Hugging Face model directory."""
    config_path = os.path.join(directory, "tokenizer_config.json")
    config = (damaged.read_json_object(config_path, _CONFIG_JSON)
              if os.path.isfile(config_path) else {})
    variables = {name: _content(config[name]) for name in _HF_VARIABLES
                 if _content(config.get(name))}
    vocabulary, merges, added, pretokenizer = _hf_tokenizer(directory)
    added += [_content(entry) for entry in (config.get("added_tokens_decoder") or {}).values()]
    jinja_path = os.path.join(directory, "chat_template.jinja")
    if os.path.isfile(jinja_path):
        own, origin = damaged.read_text(jinja_path, "a Jinja chat template"), jinja_path
    else:
        own, origin = _hf_template(config.get("chat_template"), config_path), \
            f"{config_path}: chat_template"
    chat_template = _own_or_named(own, origin, template, variables, vocabulary)
    eos_ids = []
    generation_path = os.path.join(directory, "generation_config.json")
    if os.path.isfile(generation_path):
        value = damaged.read_json_object(generation_path, _CONFIG_JSON).get("eos_token_id")
        eos_ids = [value] if isinstance(value, int) else list(value or [])
    if variables.get("eos_token") in vocabulary:
        eos_ids.append(vocabulary[variables["eos_token"]])
    special = [t for t in [*added, *variables.values(), *_named_tokens(template)] if t]
    tokenizer = tokenizer_of(vocabulary, merges, special, pretokenizer)
    return build(chat_template, tokenizer, eos_ids)


def _own_or_named(source, origin, name, variables, vocabulary):
    """The checkpoint's own template, or the shipped one `name` names (whose special tokens
    the vocabulary must hold)."""
    if name:
        template_lib.named(name)  # refuses a name that is not shipped
        missing = [t for t in template_lib.NAMED_TOKENS[name] if t not in vocabulary]
        if missing:
            raise DataError(f"the {name} chat template writes {', '.join(missing)}, which the "
                            "vocabulary lacks; learn the tokenizer with them as special tokens")
        return template_lib.ChatTemplate(template_lib.NAMED[name], name, variables)
    if source is None:
        raise DataError(f"{origin} is missing: the checkpoint has no chat template; name a "
                        f"shipped one ({', '.join(template_lib.NAMED)})")
    return template_lib.ChatTemplate(source, origin, variables)


def _named_tokens(name):
    return list(template_lib.NAMED_TOKENS.get(name, ())) if name else []


def _content(value):
    """A special token given as a string or as transformers' AddedToken dict."""
    return value.get("content") if isinstance(value, dict) else value


def _hf_template(value, path):
    """tokenizer_config.json's chat_template: a string, or a list of named ones ("default")."""
    if isinstance(value, list):
        named = {entry.get("name"): entry.get("template") for entry in value
                 if isinstance(entry, dict)}
        if "default" not in named:
            raise DataError(f"{path}: chat_template lists {', '.join(map(str, named))} but no "
                            "'default' template")
        return named["default"]
    return value


def _hf_tokenizer(directory):
    """(vocabulary, merges, added tokens, pre-tokenizer) of tokenizer.json or vocab.json +
    merges.txt (GPT-2's split)."""
    path = os.path.join(directory, "tokenizer.json")
    if not os.path.isfile(path):
        vocabulary, merges = bpe.load(directory, flag=directory, special_tokens=())
        return vocabulary, merges, [], "gpt2"
    tokenizer = damaged.read_json_object(path, _TOKENIZER_JSON)
    model = tokenizer.get("model") if isinstance(tokenizer.get("model"), dict) else {}
    if model.get("type") != "BPE" or not isinstance(model.get("vocab"), dict):
        raise DataError(f"{path}: a {model.get('type')} tokenizer; chat expects byte-level BPE")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    added = [entry.get("content") for entry in tokenizer.get("added_tokens") or []
             if isinstance(entry, dict)]
    return model["vocab"], merges, added, _hf_pretokenizer(tokenizer.get("pre_tokenizer"), path)


def _hf_pretokenizer(pre, path):
    """'gpt2' for ByteLevel(use_regex), 'smollm' for Digits(individual) then ByteLevel."""
    steps = pre.get("pretokenizers", []) if isinstance(pre, dict) and \
        pre.get("type") == "Sequence" else [pre]
    byte_level = steps[-1] if steps and isinstance(steps[-1], dict) else {}
    plain = (byte_level.get("type") == "ByteLevel" and byte_level.get("use_regex", True)
             and not byte_level.get("add_prefix_space", False))
    if plain and len(steps) == 1:
        return "gpt2"
    if plain and len(steps) == 2 and steps[0] == {"type": "Digits", "individual_digits": True}:
        return "smollm"
    raise DataError(f"{path}: pre_tokenizer {json.dumps(pre)[:120]}; chat tokenization splits "
                    "text as ByteLevel (GPT-2) or Digits(individual_digits) + ByteLevel do, "
                    "without a prefix space")
