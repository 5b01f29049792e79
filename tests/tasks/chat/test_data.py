"""Conversation data: the assistant-only loss on a hand-built conversation, position by
position; `all`; bad records named by file:line."""

import json

import numpy as np
import pytest

from tests.tasks.chat import toy
from tfllm.errors import ConfigError, DataError
from tfllm.tasks.chat import checkpoint as chat_checkpoint
from tfllm.tasks.chat import data
from tfllm.tasks.chat.template import ChatTemplate

CONVERSATION = [
    {"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"},
    {"role": "assistant", "content": "Hi, you"}]
# The ChatML tokens of CONVERSATION in the toy vocabulary, and their loss weights.
EXPECTED = [
    ("<|im_start|>", 0), ("system", 0), ("Ċ", 0), ("Be", 0), ("Ġbrief", 0), ("<|im_end|>", 0),
    ("Ċ", 0),
    ("<|im_start|>", 0), ("user", 0), ("Ċ", 0), ("Hi", 0), ("<|im_end|>", 0), ("Ċ", 0),
    ("<|im_start|>", 0), ("assistant", 0), ("Ċ", 0), ("Hello", 1), ("<|im_end|>", 1), ("Ċ", 0),
    ("<|im_start|>", 0), ("user", 0), ("Ċ", 0), ("Bye", 0), ("<|im_end|>", 0), ("Ċ", 0),
    ("<|im_start|>", 0), ("assistant", 0), ("Ċ", 0), ("Hi", 1), (",", 1), ("Ġyou", 1),
    ("<|im_end|>", 1), ("Ċ", 0)]


@pytest.fixture(scope="module")
def chat():
    vocabulary, merges = toy.vocabulary_and_merges()
    return chat_checkpoint.from_vocabulary(vocabulary, merges, "chatml")


def test_assistant_only_weights_on_a_hand_built_conversation(chat):
    [(ids, weights)] = data.encode([CONVERSATION], chat)
    assert list(zip(toy.tokens_of(ids, chat.tokenizer.vocabulary), weights.tolist())) == EXPECTED
    assert np.flatnonzero(weights).tolist() == [16, 17, 28, 29, 30, 31]
    assert weights.dtype == np.float32 and ids.dtype == np.int32


def test_all_weights_every_token(chat):
    [(ids, weights)] = data.encode([CONVERSATION], chat, train_on="all")
    assert toy.tokens_of(ids, chat.tokenizer.vocabulary) == [token for token, _ in EXPECTED]
    assert weights.tolist() == [1.0] * len(EXPECTED)


def test_a_token_straddling_the_start_of_a_reply_is_the_assistants(chat):
    colon = ChatTemplate("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}<|im_end|>"
                         "{% endfor %}", "colon")
    colon_chat = chat_checkpoint.build(colon, chat.tokenizer)
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Ok"}]
    [(ids, weights)] = data.encode([messages], colon_chat)
    tokens = toy.tokens_of(ids, chat.tokenizer.vocabulary)
    assert list(zip(tokens, weights.tolist())) == [
        ("user", 0), (":", 0), ("Ġ", 0), ("Hi", 0), ("<|im_end|>", 0),
        ("assistant", 0), (":", 0), ("ĠOk", 1), ("<|im_end|>", 1)]


def test_train_on_is_checked(chat):
    with pytest.raises(ConfigError, match=r"^--config.data.train_on: got 'users', expected one "
                       "of assistant, all$"):
        data.encode([CONVERSATION], chat, train_on="users")


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def record(*messages):
    return json.dumps({"messages": [{"role": role, "content": content}
                                    for role, content in messages]})


GOOD = record(("user", "Hi"), ("assistant", "Hello"))


@pytest.mark.parametrize("line, problem", [
    ('{"messages": [{"role": "user", "content": "Hi"}', "invalid JSON: "),
    ('["user", "Hi"]', "invalid JSON: expected an object, found list"),
    ('{"conversation": []}', "no 'messages' field (found 'conversation')"),
    ('{"messages": "Hi"}', "'messages' is 'Hi'; expected a non-empty list of messages"),
    ('{"messages": []}', "'messages' is []; expected a non-empty list of messages"),
    ('{"messages": ["Hi"]}', "message 1 is 'Hi'; expected an object with role and content"),
    (record(("robot", "Hi"), ("assistant", "Hello")),
     "message 1 has role 'robot'; expected one of system, user, assistant"),
    (record(("user", "Hi"), ("assistant", " \n")), "message 2 (assistant) has empty content"),
    ('{"messages": [{"role": "user", "content": ["Hi"]}]}',
     "message 1 (user) has content ['Hi']; expected a string"),
    ('{"messages": [{"role": "user"}]}', "message 1 (user) has content None; expected a string"),
    (record(("user", "Hi"), ("assistant", "Hello"), ("user", "Bye")),
     "the conversation ends with a user message; expected it to end with the assistant's"),
    (record(("user", "x" * 40), ("assistant", "Hello")),
     "51 tokens, longer than the context of 40 tokens"),  # 40 x's + 11 ChatML tokens
])
def test_a_bad_record_is_named_by_file_and_line(tmp_path, chat, line, problem):
    path = write_lines(tmp_path / "chats.jsonl", [GOOD, "", line])
    with pytest.raises(DataError) as error:
        data.load(path, chat, context_length=40)
    assert "1 of 2 rows are bad" in str(error.value)
    assert f"{path}:3: {problem}" in str(error.value)


def test_the_templates_refusal_is_a_bad_record(tmp_path, chat):
    strict = ChatTemplate("{% if messages[0]['role'] == 'system' %}{{ raise_exception("
                          "'no system messages') }}{% endif %}" + chat.template.source, "strict")
    strict_chat = chat_checkpoint.build(strict, chat.tokenizer)
    path = write_lines(tmp_path / "chats.jsonl", [GOOD, record(("system", "x"), ("user", "Hi"),
                                                               ("assistant", "Hello"))])
    good, report = data.load(path, strict_chat, max_bad_fraction=0.5)
    assert [c.origin for c in good] == [f"{path}:1"]
    assert report["bad_conversation_examples"] == [
        f"{path}:2: the chat template (strict) refused the conversation: no system messages"]


def test_bad_records_are_listed_in_file_order_and_tolerated_up_to_the_fraction(tmp_path, chat):
    lines = [GOOD, record(("user", "x" * 60), ("assistant", "Hello")), GOOD, "not json",
             record(("user", "Hi"))]
    path = write_lines(tmp_path / "chats.jsonl", lines)
    with pytest.raises(DataError) as error:
        data.load(path, chat, context_length=40, max_bad_fraction=0.5)
    assert str(error.value).index(f"{path}:2:") < str(error.value).index(f"{path}:4:") < \
        str(error.value).index(f"{path}:5:")
    good, report = data.load(path, chat, context_length=40, max_bad_fraction=0.6)
    assert [c.origin for c in good] == [f"{path}:1", f"{path}:3"]
    assert report["conversations_read"] == 5 and report["bad_conversations"] == 3
    assert report["loss_tokens"] == 2 * 2  # "Hello" and <|im_end|>, twice


def test_a_missing_or_empty_file_is_named(tmp_path, chat):
    with pytest.raises(DataError, match=r"chats.jsonl: no such file; expected messages JSON"):
        data.load(str(tmp_path / "chats.jsonl"), chat)
    path = write_lines(tmp_path / "empty.jsonl", [])
    with pytest.raises(DataError, match=r"empty.jsonl: no usable conversation"):
        data.load(path, chat)
