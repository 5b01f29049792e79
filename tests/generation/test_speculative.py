"""Speculative greedy decoding: the draft changes only the speed, never a token.

Every test compares `Decoder(..., draft_tokens=k)` with the plain greedy loop
of the same model (which tests/generation/test_decoder.py checks against an
uncached forward pass). Drafts that disagree (an unrelated model, a perturbed
copy) exercise the rejection paths; a draft equal to the model accepts all.
Most decoders here run without XLA: one trace serves every shape, where XLA
compiles each shape anew (seconds); one test runs the XLA path.
"""

import keras
import keras_hub
import numpy as np
import pytest

from tfllm.generation.decoder import Decoder
from tfllm.generation.sampling import GenerationError, SamplingOptions
from tfllm.generation.steps import cast_copy
from tfllm.models import gpt_backbone as gpt

VOCAB = 40
CONTEXT = 32
NO_STOP = VOCAB + 5  # an end id the model cannot produce
NEW = 16
PROMPTS = [np.array(p, np.int32) for p in ([3, 14, 15], [9, 2, 6, 5, 35, 8], [27], [4, 4, 30])]
GPT_CONFIG = {"vocabulary_size": VOCAB, "num_layers": 2, "num_heads": 2, "hidden_dim": 16,
              "intermediate_dim": 32, "dropout": 0.0, "max_sequence_length": CONTEXT}


def widen(model, seed, scale=3.0):
    """Redraws `model`'s matrices wide (std scale / sqrt(fan-in), embeddings std scale).

    Default-initialised tiny GPTs only repeat their last token; these weights
    give varied continuations whose argmax margins on PROMPTS (> 0.1) dwarf
    float32 rounding, so a one-token and a several-token cached pass agree.
    """
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if len(weight.shape) >= 2:
            std = scale if "embedding" in weight.path else scale / np.sqrt(weight.shape[0])
            weight.assign(rng.normal(0, std, weight.shape))
    return model


def gpt_model(seed):
    keras.utils.set_random_seed(seed)
    return widen(gpt.build_causal_lm(GPT_CONFIG), seed)


def perturbed(model, build, noise=0.5):
    """A copy of `model` (built by `build`) with Gaussian noise of `noise` x each weight's std:
    a draft that agrees often but not always."""
    copy = build()
    rng = np.random.default_rng(1)
    for target, source in zip(copy.weights, model.weights, strict=True):
        values = np.asarray(source)
        target.assign(values + rng.normal(0, noise * (values.std() + 1e-6), values.shape))
    return copy


@pytest.fixture(scope="module")
def causal_lm():
    return gpt_model(7)


@pytest.fixture(scope="module")
def drafts(causal_lm):
    return {"bfloat16": cast_copy(causal_lm, "bfloat16"),
            "perturbed": perturbed(causal_lm, lambda: gpt.build_causal_lm(GPT_CONFIG)),
            "unrelated": gpt_model(8)}


@pytest.fixture(scope="module")
def plain(causal_lm):
    return Decoder(causal_lm, end_id=NO_STOP, context_length=CONTEXT, jit_compile=False)


def speculative(model, draft, k, end_id=NO_STOP, jit_compile=False):
    return Decoder(model, end_id=end_id, context_length=CONTEXT, jit_compile=jit_compile,
                   draft_tokens=k, draft_model=draft)


def ids(rows):
    return [row.tolist() for row in rows]


@pytest.mark.parametrize("k", [1, 3, 4])
@pytest.mark.parametrize("draft_name", ["bfloat16", "perturbed", "unrelated"])
def test_equals_plain_greedy_whatever_the_draft(causal_lm, drafts, plain, draft_name, k):
    decoder = speculative(causal_lm, drafts[draft_name], k)
    drafted = accepted = 0
    for prompt in PROMPTS:
        got = decoder.generate([prompt], max_new_tokens=NEW)[0]
        assert got.tolist() == plain.generate([prompt], max_new_tokens=NEW)[0].tolist()
        assert decoder.drafted > 0
        drafted, accepted = drafted + decoder.drafted, accepted + decoder.accepted
    if draft_name == "unrelated":
        assert accepted < drafted / 2  # mostly rejected: the correction path ran
    else:
        assert 0 < accepted


def test_draft_equal_to_the_model_accepts_every_token(causal_lm, plain):
    decoder = speculative(causal_lm, causal_lm, 3)
    for prompt in PROMPTS:
        got = decoder.generate([prompt], max_new_tokens=NEW)[0]
        assert got.tolist() == plain.generate([prompt], max_new_tokens=NEW)[0].tolist()
        # Rounds of 3 drafts + 1 bonus token: 16 tokens = 4 rounds.
        assert (decoder.drafted, decoder.accepted, decoder.accept_rate) == (12, 12, 1.0)


def test_stops_at_end_of_text_mid_round(causal_lm):
    prompt = PROMPTS[1]
    free = Decoder(causal_lm, end_id=NO_STOP, context_length=CONTEXT, jit_compile=False)
    unstopped = free.generate([prompt], max_new_tokens=NEW)[0].tolist()
    # A token first generated at new position 1..3: inside the first round (new tokens 0..4).
    position = next(i for i in range(1, 4) if unstopped[i] not in unstopped[:i])
    end_id = unstopped[position]
    decoder = speculative(causal_lm, causal_lm, 4, end_id=end_id)
    assert decoder.generate([prompt], max_new_tokens=NEW)[0].tolist() == unstopped[:position]
    assert decoder.drafted == 4  # stopped after the round that produced the end id


@pytest.mark.parametrize("draft_name", ["perturbed", "unrelated"])
def test_stops_at_end_of_text_like_plain_greedy(causal_lm, drafts, plain, draft_name):
    end_id = 26  # generated first at new position 1 or 7 after PROMPTS[1:], never after [0]
    decoder = speculative(causal_lm, drafts[draft_name], 4, end_id=end_id)
    for prompt in PROMPTS:
        unstopped = plain.generate([prompt], max_new_tokens=NEW)[0].tolist()
        expected = unstopped[:unstopped.index(end_id)] if end_id in unstopped else unstopped
        assert decoder.generate([prompt], max_new_tokens=NEW)[0].tolist() == expected


def test_start_id_equal_to_end_id(causal_lm, drafts):
    """LanguageModel puts end-of-text before every prompt: only new tokens may stop a row."""
    kwargs = {"end_id": 26, "context_length": CONTEXT, "jit_compile": False, "start_id": 26}
    plain = Decoder(causal_lm, **kwargs)
    decoder = Decoder(causal_lm, draft_tokens=3, draft_model=drafts["perturbed"], **kwargs)
    for prompt in PROMPTS:
        expected = plain.generate([prompt], max_new_tokens=NEW)[0].tolist()
        assert decoder.generate([prompt], max_new_tokens=NEW)[0].tolist() == expected
        assert decoder.drafted > 0


@pytest.mark.parametrize("new_tokens", [1, 2, 7, 9])
def test_max_new_tokens_reached_mid_round(causal_lm, plain, new_tokens):
    decoder = speculative(causal_lm, causal_lm, 4)
    got = decoder.generate([PROMPTS[0]], max_new_tokens=new_tokens)[0]
    assert got.tolist() == plain.generate([PROMPTS[0]], max_new_tokens=new_tokens)[0].tolist()
    # Rounds of 4 drafts + 1 bonus token until the limit is reached or passed.
    assert decoder.drafted == 4 * -(-new_tokens // 5)


def test_max_length_and_full_context(causal_lm, drafts, plain):
    """At the context's end rounds no longer fit: plain steps finish the text."""
    decoder = speculative(causal_lm, drafts["perturbed"], 4)
    prompt = PROMPTS[1]
    for kwargs in ({"max_length": 20}, {"max_new_tokens": CONTEXT - len(prompt)}):
        got = decoder.generate([prompt], **kwargs)[0]
        assert got.tolist() == plain.generate([prompt], **kwargs)[0].tolist()


def test_batch_of_one_length_equals_each_prompt_alone(causal_lm, drafts, plain):
    prompts = [PROMPTS[0], PROMPTS[3], np.array([11, 0, 39], np.int32)]
    decoder = speculative(causal_lm, drafts["perturbed"], 3)
    together = decoder.generate(prompts, max_new_tokens=NEW)
    assert decoder.drafted > 0
    alone = [decoder.generate([prompt], max_new_tokens=NEW)[0] for prompt in prompts]
    assert ids(together) == ids(alone) == ids(plain.generate(prompts, max_new_tokens=NEW))


def test_ragged_batches_and_other_samplers_decode_plainly(causal_lm, drafts, plain):
    decoder = speculative(causal_lm, drafts["perturbed"], 3)
    assert ids(decoder.generate(PROMPTS, max_new_tokens=NEW)) == ids(
        plain.generate(PROMPTS, max_new_tokens=NEW))
    assert (decoder.drafted, decoder.accept_rate) == (0, None)
    options = SamplingOptions(sampler="top_k", top_k=5, temperature=2.0)
    sampled = decoder.generate(PROMPTS[:1], max_new_tokens=NEW, options=options, seed=4)
    assert ids(sampled) == ids(plain.generate(PROMPTS[:1], max_new_tokens=NEW, options=options,
                                              seed=4))
    assert decoder.drafted == 0


def test_xla_compiled_loop_with_a_bfloat16_draft(causal_lm):
    """The default configuration: XLA, and the draft a bfloat16 copy made on first use."""
    prompts = [PROMPTS[0], PROMPTS[3]]
    plain_xla = Decoder(causal_lm, end_id=NO_STOP, context_length=CONTEXT)
    decoder = Decoder(causal_lm, end_id=NO_STOP, context_length=CONTEXT, draft_tokens=4)
    expected = ids(plain_xla.generate(prompts, max_new_tokens=NEW))
    assert ids(decoder.generate(prompts, max_new_tokens=NEW)) == expected
    assert {w.dtype for w in decoder.draft_model.weights} == {"bfloat16"}
    assert 0 < decoder.accepted <= decoder.drafted


def test_one_trace_serves_every_shape(causal_lm, drafts):
    decoder = speculative(causal_lm, drafts["unrelated"], 2)
    decoder.generate(PROMPTS[:1], max_new_tokens=5)
    decoder.generate(PROMPTS[1:2], max_new_tokens=9)
    decoder.generate([PROMPTS[0], PROMPTS[3]], max_new_tokens=9)
    assert decoder.traces == 1


def test_llama_equals_plain_greedy():
    def build():
        backbone = keras_hub.models.Llama3Backbone(
            vocabulary_size=VOCAB, num_layers=2, num_query_heads=4, num_key_value_heads=2,
            hidden_dim=16, intermediate_dim=32, tie_word_embeddings=False)
        return keras_hub.models.Llama3CausalLM(backbone=backbone, preprocessor=None)

    keras.utils.set_random_seed(3)
    model = widen(build(), 3)
    plain = Decoder(model, end_id=NO_STOP, context_length=CONTEXT, jit_compile=False)
    decoder = speculative(model, perturbed(model, build), 3)
    drafted = accepted = 0
    for prompt in PROMPTS:
        got = decoder.generate([prompt], max_new_tokens=NEW)[0]
        assert got.tolist() == plain.generate([prompt], max_new_tokens=NEW)[0].tolist()
        drafted, accepted = drafted + decoder.drafted, accepted + decoder.accepted
    assert 0 < accepted < drafted


@pytest.mark.parametrize("kwargs, message", [
    ({"draft_tokens": -1}, "draft_tokens: got -1, expected an integer >= 0"),
    ({"draft_tokens": 2.0}, "draft_tokens: got 2.0"),
    ({"draft_tokens": 2, "draft_model": "other vocabulary"},
     "draft_model: its vocabulary has 41 ids, the model's 40; expected the same"),
])
def test_bad_draft_arguments_are_named(causal_lm, kwargs, message):
    if kwargs.get("draft_model") == "other vocabulary":
        keras.utils.set_random_seed(0)
        kwargs = {**kwargs, "draft_model": gpt.build_causal_lm(
            {**GPT_CONFIG, "vocabulary_size": VOCAB + 1})}
    with pytest.raises(GenerationError, match=message):
        Decoder(causal_lm, end_id=NO_STOP, context_length=CONTEXT, **kwargs)
