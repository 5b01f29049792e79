"""Conversation data: messages JSON Lines -> token ids and loss weights, bad records by file:line.

One conversation per line, the layout Hugging Face and OpenAI fine-tuning use:
`{"messages": [{"role": "system", "content": "..."}, {"role": "user", ...},
{"role": "assistant", ...}]}`. A record is bad, and named `path:line: why`, when the
line is not a JSON object, has no `messages` list, a message has a role other than
system/user/assistant or an empty or non-string content, the conversation does not
end with the assistant's message, the chat template refuses it (its
`raise_exception`), or its tokens do not fit the context. As for every other source,
bad records are counted and listed, and past `data.max_bad_fraction` are an error.

Loss weights follow `tfllm.data.packing`: the weight of each token when it is the
target. `train_on="assistant"` (the default for chat data) puts weight 1 on every
token of an assistant's content and on what the template writes after it up to and
including its end-of-turn token (ChatML: `<|im_end|>`), and 0 elsewhere: on the
system and user messages and on the template's headers, `<|im_start|>assistant\\n`
included, which the prompt always supplies. A token that straddles the start of an
assistant's content (a space the template wrote, merged with the content's first word)
is the assistant's: predicting it is predicting the content. `train_on="all"` weights
every token.
"""

import dataclasses
import os

import numpy as np

from tfllm.data import examples
from tfllm.data import sources
from tfllm.errors import ConfigError, DataError
from tfllm.tasks.chat.template import TemplateError
from tfllm.tasks.chat.tokens import CUT

ROLES = ("system", "user", "assistant")
TRAIN_ON = ("assistant", "all")
EXPECTED = ('messages JSON Lines: one {"messages": [{"role": "system"|"user"|"assistant", '
            '"content": "..."}, ...]} object per line')


@dataclasses.dataclass(frozen=True)
class Conversation:
    """One record of a messages file.

    Args:
        messages: tuple of {"role", "content"} dicts (None for an unreadable record).
        origin: "path:line".
        problem: empty for a usable record, otherwise why it is bad.
    """

    messages: tuple
    origin: str = ""
    problem: str = ""


@dataclasses.dataclass(frozen=True)
class EncodedConversation:
    """A conversation's token ids and the loss weight of each token as a target."""

    token_ids: np.ndarray
    weights: np.ndarray
    origin: str


def read_conversations(path):
    """Every non-blank line of the messages file `path` as a Conversation, bad ones marked."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; expected {EXPECTED}")
    conversations = []
    for origin, obj, problem in sources.json_objects(path):
        messages = obj.get("messages") if obj is not None else None
        problem = problem or _problem(obj, messages)
        conversations.append(Conversation(tuple(messages) if not problem else None, origin,
                                          problem))
    return conversations


def _problem(obj, messages):
    """Why the object `obj` with `messages` is not a conversation, or ""."""
    if "messages" not in obj:
        return f"no 'messages' field (found {', '.join(map(repr, obj)) or 'an empty object'})"
    if not isinstance(messages, list) or not messages:
        return f"'messages' is {messages!r:.40}; expected a non-empty list of messages"
    for number, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            return f"message {number} is {message!r:.40}; expected an object with role and content"
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            return f"message {number} has role {role!r}; expected one of {', '.join(ROLES)}"
        if not isinstance(content, str):
            return (f"message {number} ({role}) has content {content!r:.40}; expected a "
                    "string")
        if not content.strip():
            return f"message {number} ({role}) has empty content"
        if CUT in content:
            return (f"message {number} ({role}) contains U+E000, a private-use character "
                    "tfllm's tokenizer reserves")
    if messages[-1]["role"] != "assistant":
        return (f"the conversation ends with a {messages[-1]['role']} message; expected it to "
                "end with the assistant's")
    return ""


def check_train_on(train_on):
    if train_on not in TRAIN_ON:
        raise ConfigError("data.train_on", f"got {train_on!r}, expected one of "
                          f"{', '.join(TRAIN_ON)}")


def encode(messages_list, chat, train_on="assistant"):
    """[(token ids, weights)] of each list of messages, rendered by `chat` (a ChatCheckpoint).

    Raises:
        TemplateError: the template refused a conversation.
        DataError: the template cannot be cut into contents and template text, or writes
            no special token after an assistant's content.
    """
    check_train_on(train_on)
    renderings = [chat.template.segments(messages) for messages in messages_list]
    encoded = chat.tokenizer.encode_batch(renderings)
    return [(ids, _weights(messages, segments, starts, ends, special, chat, train_on))
            for messages, segments, (ids, starts, ends, special)
            in zip(messages_list, renderings, encoded)]


def _weights(messages, segments, starts, ends, special, chat, train_on):
    """The loss weight of each token: see the module docstring."""
    if train_on == "all":
        return np.ones(len(starts), np.float32)
    offsets = np.cumsum([0] + [len(s.text.encode("utf-8")) for s in segments])
    weights = np.zeros(len(starts), np.float32)
    for k, segment in enumerate(segments):
        if segment.message is None or messages[segment.message]["role"] != "assistant":
            continue
        content_end = offsets[k + 1]
        follows = k + 1 < len(segments) and segments[k + 1].message is None
        limit = offsets[k + 2] if follows else content_end
        closing = np.flatnonzero(special & (starts >= content_end) & (ends <= limit))
        if not len(closing):
            raise DataError(f"{chat.template.origin}: the chat template writes no special token "
                            f"after the content of message {segment.message + 1} (assistant), "
                            "so the end of the assistant's turn cannot be learned")
        weights[(ends > offsets[k]) & (starts < ends[closing[0]])] = 1.0
    return weights


def load(path, chat, train_on="assistant", context_length=None, max_bad_fraction=0.0):
    """Reads and encodes the messages file `path`: (list of EncodedConversation, report).

    Args:
        path: messages JSON Lines.
        chat: the ChatCheckpoint that renders and tokenizes.
        train_on: "assistant" or "all" (see the module docstring).
        context_length: the most tokens a conversation may have (the model's context);
            None for no limit.
        max_bad_fraction: the share of bad records tolerated (reported) before the
            file is refused.

    Raises:
        DataError: more bad records than `max_bad_fraction` allows (each named by
            path:line), no usable record, or a template that cannot be used.
    """
    check_train_on(train_on)
    conversations = read_conversations(path)
    bad = [c for c in conversations if c.problem]
    rendered = []  # (conversation, segments)
    for conversation in (c for c in conversations if not c.problem):
        try:
            rendered.append((conversation, chat.template.segments(conversation.messages)))
        except TemplateError as error:
            bad.append(dataclasses.replace(conversation, problem=str(error)))
        except DataError as error:  # the template's fault, not the record's: stop here
            raise DataError(f"{conversation.origin}: {error}") from error
    encoded = chat.tokenizer.encode_batch([segments for _, segments in rendered])
    good = []
    for (conversation, segments), (ids, starts, ends, special) in zip(rendered, encoded):
        try:
            weights = _weights(conversation.messages, segments, starts, ends, special, chat,
                               train_on)
        except DataError as error:  # the template's, as above
            raise DataError(f"{conversation.origin}: {error}") from error
        if context_length is not None and len(ids) > context_length:
            problem = f"{len(ids)} tokens, longer than the context of {context_length} tokens"
            bad.append(dataclasses.replace(conversation, problem=problem))
            continue
        good.append(EncodedConversation(ids, weights, conversation.origin))
    order = {c.origin: i for i, c in enumerate(conversations)}
    bad.sort(key=lambda c: order[c.origin])
    examples.check_bad_rows(bad, len(conversations), max_bad_fraction)
    if not good:
        raise DataError(f"{path}: no usable conversation; expected {EXPECTED}")
    report = {"conversations_read": len(conversations), "bad_conversations": len(bad),
              "bad_conversation_examples": [f"{c.origin}: {c.problem}"
                                            for c in bad[:examples.MAX_LISTED]],
              "tokens": int(sum(len(c.token_ids) for c in good)),
              "loss_tokens": int(sum(c.weights.sum() for c in good))}
    return good, report
