"""Chat templates: the Jinja text that turns a list of messages into the model's prompt.

A template renders as transformers' `apply_chat_template` renders it: in jinja2's
ImmutableSandboxedEnvironment (a template that came with a downloaded checkpoint can
read the messages but reach no Python object beyond them), with trim_blocks and
lstrip_blocks, `raise_exception`, `strftime_now`, a `tojson` that does not escape
HTML, loop controls, and the `{% generation %}` tag (rendered as plain text here: the
segments below already say which text is the assistant's).

`segments` is what tfllm adds: the rendered text cut into template text and message
contents. It renders once with each content replaced by a marker, cuts at the markers,
and checks that putting the real contents back gives exactly the real rendering. A
template that changes, drops or repeats a content (`|upper`, a branch on what the
content says) is refused, naming the template; one that strips every content (`|trim`,
as Llama 3's does) is accepted, and its segments hold the stripped contents, as the
model sees them.
"""

import dataclasses
import datetime
import json

import jinja2
from jinja2 import ext
from jinja2 import nodes
from jinja2 import sandbox

from tfllm.errors import DataError

# ChatML, as Qwen and SmolLM write it: <|im_start|>ROLE\nCONTENT<|im_end|>\n per message.
CHATML = ("{% for message in messages %}"
          "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
          "{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
# Shipped templates by the name a config gives, and the special tokens each one writes
# (a vocabulary used with one must hold them as single tokens).
NAMED = {"chatml": CHATML}
NAMED_TOKENS = {"chatml": ("<|im_start|>", "<|im_end|>")}
_MARKER = "[[tfllm:content:{}]]"  # stands for message {}'s content in the first rendering
UNSPLITTABLE = ("tfllm renders each message's content into the prompt once and unchanged, so "
                "that it is tokenized apart from the template's special tokens and the "
                "assistant's tokens can be found")


class TemplateError(DataError):
    """The template refused a conversation: its `raise_exception`, or a Jinja error."""


@dataclasses.dataclass(frozen=True)
class Segment:
    """A piece of a rendered conversation.

    Args:
        text: the piece.
        message: index (in the messages) of the message whose content this is;
            None for text the template wrote (where special tokens are written).
    """

    text: str
    message: int = None


class _GenerationTag(ext.Extension):
    """`{% generation %}...{% endgeneration %}` (transformers' assistant-mask tag): its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def _raise_exception(message):
    raise jinja2.TemplateError(message)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def _environment():
    environment = sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[ext.loopcontrols, _GenerationTag])
    environment.filters["tojson"] = _tojson
    environment.globals["raise_exception"] = _raise_exception
    environment.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    return environment


class ChatTemplate:
    """A Jinja chat template, compiled in the sandbox.

    Args:
        source: the template text.
        origin: where it came from, for messages ("chatml",
            "model.gguf: tokenizer.chat_template").
        variables: the other names the template may use, e.g. the checkpoint's
            {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}.

    Example:
    >>> template = ChatTemplate(CHATML, "chatml")
    >>> template.render([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """

    def __init__(self, source, origin, variables=None):
        self.source, self.origin, self.variables = source, origin, dict(variables or {})
        if not isinstance(source, str) or not source.strip():
            raise DataError(f"{origin}: the chat template is {source!r}; expected Jinja text")
        try:
            self._template = _environment().from_string(source)
        except jinja2.TemplateSyntaxError as error:
            raise DataError(f"{origin}: not a Jinja template jinja2 can compile (template line "
                            f"{error.lineno}: {error.message})") from error

    def render(self, messages, add_generation_prompt=False):
        """The prompt text of `messages` (dicts with role and content)."""
        try:
            return self._template.render(messages=[dict(m) for m in messages],
                                         add_generation_prompt=add_generation_prompt,
                                         **self.variables)
        except jinja2.TemplateError as error:  # raise_exception, sandbox refusals, undefined
            raise TemplateError(f"the chat template ({self.origin}) refused the conversation: "
                                f"{error}") from error
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as error:
            raise TemplateError(f"the chat template ({self.origin}) failed on the conversation "
                                f"({type(error).__name__}: {error})") from error

    def segments(self, messages, add_generation_prompt=False):
        """The rendering of `messages` as a list of Segment, template text and contents in order.

        Raises:
            TemplateError: the template refused the conversation.
            DataError: the template changes, drops or repeats a content, so the
                rendering cannot be cut into template text and contents.
        """
        markers = [_MARKER.format(i) for i in range(len(messages))]
        marked = self.render([{**m, "content": marker} for m, marker in zip(messages, markers)],
                             add_generation_prompt)
        cut = self._cut(marked, markers)
        real = self.render(messages, add_generation_prompt)
        for strip in (False, True):
            contents = [m["content"].strip() if strip else m["content"] for m in messages]
            filled = [Segment(contents[s.message], s.message) if s.message is not None else s
                      for s in cut]
            if "".join(s.text for s in filled) == real:
                return [s for s in filled if s.text or s.message is not None]
        raise DataError(f"{self.origin}: the chat template renders a message's content "
                        f"differently from the content itself (it transforms it, or branches on "
                        f"it); {UNSPLITTABLE}")

    def _cut(self, marked, markers):
        """Segments of the marker rendering: template text between markers, a content at each."""
        places = []
        for index, marker in enumerate(markers):
            count = marked.count(marker)
            if count != 1:
                what = "drops" if count == 0 else f"repeats ({count} times)"
                raise DataError(f"{self.origin}: the chat template {what} the content of message "
                                f"{index + 1} (or changes it); {UNSPLITTABLE}")
            places.append((marked.index(marker), index))
        segments, start = [], 0
        for place, index in sorted(places):
            segments += [Segment(marked[start:place]), Segment(markers[index], index)]
            start = place + len(markers[index])
        return segments + [Segment(marked[start:])]


def named(name):
    """The shipped template called `name` ("chatml")."""
    if name not in NAMED:
        raise DataError(f"chat template {name!r} is not shipped; expected one of "
                        f"{', '.join(NAMED)} or a checkpoint's own template")
    return ChatTemplate(NAMED[name], name)
