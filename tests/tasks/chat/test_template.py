"""Chat templates: the shipped ChatML renders as written out here, renderings cut into
template text and contents, and templates that cannot be cut are refused by name."""

import pytest

from tfllm.errors import DataError
from tfllm.tasks.chat import template as template_lib
from tfllm.tasks.chat.template import ChatTemplate, Segment, TemplateError

MESSAGES = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"}]


def test_chatml_renders_as_written():
    chatml = template_lib.named("chatml")
    assert chatml.render(MESSAGES) == (
        "<|im_start|>system\nBe brief<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello<|im_end|>\n")
    assert chatml.render(MESSAGES[:2], add_generation_prompt=True) == (
        "<|im_start|>system\nBe brief<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n")


def test_segments_mark_each_content_and_the_template_text_between():
    segments = template_lib.named("chatml").segments(MESSAGES)
    assert segments == [
        Segment("<|im_start|>system\n"), Segment("Be brief", 0),
        Segment("<|im_end|>\n<|im_start|>user\n"), Segment("Hi", 1),
        Segment("<|im_end|>\n<|im_start|>assistant\n"), Segment("Hello", 2),
        Segment("<|im_end|>\n")]


def test_a_content_that_spells_a_marker_or_a_special_token_stays_a_content():
    messages = [{"role": "user", "content": "[[tfllm:content:1]] <|im_end|>"},
                {"role": "assistant", "content": "ok"}]
    segments = template_lib.named("chatml").segments(messages)
    assert [s for s in segments if s.message is not None] == [
        Segment("[[tfllm:content:1]] <|im_end|>", 0), Segment("ok", 1)]


def test_a_template_that_strips_every_content_gives_the_stripped_contents():
    strip = ChatTemplate("{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                         "{{ m['content'] | trim }}<|im_end|>\n{% endfor %}", "strip")
    segments = strip.segments([{"role": "user", "content": "  Hi \n"},
                               {"role": "assistant", "content": "Hello "}])
    assert [s.text for s in segments if s.message is not None] == ["Hi", "Hello"]


@pytest.mark.parametrize("body, expected", [
    ("{{ m['content'] | upper }}", "drops the content of message 1 (or changes it)"),
    ("{% if m['role'] != 'assistant' %}{{ m['content'] }}{% endif %}",
     "drops the content of message 2"),
    ("{{ m['content'] }}{{ m['content'] }}", "repeats (2 times) the content of message 1"),
    ("{% if 'Hi' in m['content'] %}Hi!{% else %}{{ m['content'] }}{% endif %}",
     "renders a message's content differently from the content itself"),
])
def test_a_template_that_transforms_drops_or_repeats_a_content_is_refused(body, expected):
    bad = ChatTemplate("{% for m in messages %}<|im_start|>" + body + "<|im_end|>{% endfor %}",
                       "bad.gguf: tokenizer.chat_template")
    with pytest.raises(DataError) as error:
        bad.segments([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}])
    message = str(error.value)
    assert message.startswith("bad.gguf: tokenizer.chat_template: the chat template ")
    assert expected in message and "once and unchanged" in message


def test_raise_exception_and_the_sandbox_refuse_with_the_templates_name():
    alternate = ChatTemplate("{% if messages[0]['role'] != 'user' %}"
                             "{{ raise_exception('Conversations must start with the user') }}"
                             "{% endif %}{{ messages[0]['content'] }}", "alt")
    with pytest.raises(TemplateError, match=r"^the chat template \(alt\) refused the "
                       r"conversation: Conversations must start with the user$"):
        alternate.render(MESSAGES)
    escape = ChatTemplate("{{ ''.__class__.__mro__[1].__subclasses__() }}", "escape")
    with pytest.raises(TemplateError, match=r"\(escape\) refused the conversation: .*unsafe"):
        escape.render(MESSAGES)


def test_a_template_that_does_not_compile_is_named():
    with pytest.raises(DataError, match=r"^x.json: chat_template: not a Jinja template jinja2 "
                       r"can compile \(template line 1: "):
        ChatTemplate("{% for m in messages %}", "x.json: chat_template")


def test_generation_tags_and_checkpoint_variables_render():
    source = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}"
              "{% generation %}{{ m['content'] + eos_token }}{% endgeneration %}"
              "{% else %}{{ m['content'] }}{% endif %}{% endfor %}{{ messages | tojson }}")
    tagged = ChatTemplate(source, "tagged", {"bos_token": "<s>", "eos_token": "</s>"})
    messages = [{"role": "user", "content": "é"}, {"role": "assistant", "content": "<b>"}]
    assert tagged.render(messages) == (
        '<s>é<b></s>[{"role": "user", "content": "é"}, {"role": "assistant", "content": "<b>"}]')


def test_an_unknown_shipped_name_lists_the_shipped_ones():
    with pytest.raises(DataError, match="chat template 'llama9' is not shipped; expected one "
                       "of chatml"):
        template_lib.named("llama9")
