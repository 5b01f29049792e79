"""What chat reads from a checkpoint: a Hugging Face directory's template, special tokens and
stop ids; a shipped template's tokens checked against the vocabulary; a template without an
end of turn refused."""

import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from tests.models.test_gguf import CONFIG, write_gguf
from tests.tasks.chat import toy
from tfllm.errors import DataError
from tfllm.tasks.chat import checkpoint as chat_checkpoint
from tfllm.tasks.chat.template import ChatTemplate

# SmolLM2's template with a BOS in front: a checkpoint variable the template uses.
TEMPLATE = ("{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + "
            "'\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}")


def write_huggingface(directory, vocabulary, merges):
    """tokenizer.json (by the `tokenizers` library), tokenizer_config.json with a named
    template list and AddedToken-style special tokens, generation_config.json."""
    tokenizer = Tokenizer(models.BPE(vocab=vocabulary, merges=[tuple(m.split(" "))
                                                              for m in merges]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.add_special_tokens(toy.SPECIALS)
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "chat_template": [{"name": "tool_use", "template": "{{ tools }}"},
                          {"name": "default", "template": TEMPLATE}],
        "bos_token": {"content": "<|im_start|>", "special": True}, "eos_token": "<|im_end|>"}))
    (directory / "generation_config.json").write_text(json.dumps({"eos_token_id": [0, 2]}))
    return tokenizer


def test_a_huggingface_directory_gives_template_tokens_and_stop_ids(tmp_path):
    vocabulary, merges = toy.vocabulary_and_merges()
    reference = write_huggingface(tmp_path, vocabulary, merges)
    chat = chat_checkpoint.from_huggingface(str(tmp_path))
    assert chat.template.origin == f"{tmp_path}/tokenizer_config.json: chat_template"
    assert chat.end_of_turn == "<|im_end|>" and chat.stop_ids == (0, 2)
    messages = [{"role": "user", "content": "Hi  there\n\n"},
                {"role": "assistant", "content": "Hello"}]
    text = chat.template.render(messages)
    assert text.startswith("<|im_start|><|im_start|>user\n")
    ids = chat.tokenizer.encode(chat.template.segments(messages))[0].tolist()
    assert ids == reference.encode(text).ids


def test_a_shipped_template_needs_its_tokens_in_the_vocabulary():
    vocabulary, merges = toy.vocabulary_and_merges()
    del vocabulary["<|im_end|>"]
    with pytest.raises(DataError, match=r"^the chatml chat template writes <\|im_end\|>, which "
                       "the vocabulary lacks; learn the tokenizer with them as special tokens$"):
        chat_checkpoint.from_vocabulary(vocabulary, merges, "chatml")


def test_a_template_that_writes_no_end_of_turn_is_refused():
    vocabulary, merges = toy.vocabulary_and_merges()
    tokenizer = chat_checkpoint.tokenizer_of(vocabulary, merges, toy.SPECIALS)
    plain = ChatTemplate("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n"
                         "{% endfor %}", "plain")
    with pytest.raises(DataError, match=r"^plain: the chat template writes no special token "
                       r"after an assistant's message \(it writes '\\n'\)"):
        chat_checkpoint.build(plain, tokenizer)


def test_a_gguf_without_a_template_is_named_and_can_use_a_shipped_one(tmp_path):
    path = write_gguf(tmp_path / "toy.gguf", {}, CONFIG)  # tokens lack <|im_end|>
    with pytest.raises(DataError, match=r"toy.gguf: tokenizer.chat_template is missing: the "
                       "checkpoint has no chat template; name a shipped one \\(chatml\\)"):
        chat_checkpoint.from_gguf(path)
    with pytest.raises(DataError, match="the chatml chat template writes <\\|im_end\\|>, which"):
        chat_checkpoint.from_gguf(path, template="chatml")
