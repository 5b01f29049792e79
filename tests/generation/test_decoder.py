"""Decoding: the cached, compiled loop against a plain forward pass, samplers against each other."""

import keras
import numpy as np
import pytest

from tfllm.generation.decoder import Decoder
from tfllm.generation.sampling import GenerationError, SamplingOptions
from tfllm.generation.steps import cast_copy
from tfllm.models import gpt_backbone as gpt

VOCAB = 40
CONTEXT = 32


@pytest.fixture(scope="module")
def causal_lm():
    keras.utils.set_random_seed(7)
    model = gpt.build_causal_lm({"vocabulary_size": VOCAB, "num_layers": 2, "num_heads": 2,
                                 "hidden_dim": 16, "intermediate_dim": 32, "dropout": 0.0,
                                 "max_sequence_length": CONTEXT})
    # Random-init logits are nearly flat; wide embeddings make the argmax clear-cut,
    # so the cached and uncached paths cannot differ by float noise alone.
    embeddings = model.backbone.token_embedding.embeddings
    embeddings.assign(np.random.default_rng(0).normal(0, 1.0, embeddings.shape))
    return model


def reference_greedy(model, prompt, new_tokens):
    """Greedy decoding by re-running the whole sequence for every token (no cache)."""
    ids = list(prompt)
    for _ in range(new_tokens):
        x = np.array([ids], np.int32)
        logits = model({"token_ids": x, "padding_mask": np.ones_like(x)}, training=False)
        ids.append(int(np.argmax(logits[0, -1])))
    return ids[len(prompt):]



PROMPTS = [np.array([3, 14, 15], np.int32), np.array([9, 2, 6, 5, 35, 8], np.int32),
           np.array([27], np.int32)]


@pytest.fixture(scope="module")
def decoder(causal_lm):
    """One XLA-compiled decoder (no stop: the end id is outside the vocabulary) for the tests
    below: it compiles once per shape and sampler, so tests that decode the same shapes
    (12 new tokens after each of PROMPTS) share the compiled programs."""
    return Decoder(causal_lm, end_id=VOCAB + 5, context_length=CONTEXT)


def test_cached_greedy_equals_full_forward_greedy(causal_lm, decoder):
    for prompt in PROMPTS:
        got = decoder.generate([prompt], max_new_tokens=12)[0]
        assert got.tolist() == reference_greedy(causal_lm, prompt, 12)


def test_ragged_batch_equals_each_prompt_alone(decoder):
    together = decoder.generate(PROMPTS, max_new_tokens=12)
    for prompt, row in zip(PROMPTS, together):
        assert len(row) == 12
        assert row.tolist() == decoder.generate([prompt], max_new_tokens=12)[0].tolist()


def test_bfloat16_copy_keeps_clear_greedy_choices(causal_lm):
    copy = cast_copy(causal_lm, "bfloat16")
    assert {w.dtype for w in copy.weights} == {"bfloat16"}
    assert {w.dtype for w in causal_lm.weights} == {"float32"}
    x = {"token_ids": PROMPTS[1][None], "padding_mask": np.ones((1, 6), bool)}
    full = np.asarray(causal_lm(x))
    half = np.asarray(copy(x)).astype(np.float32)
    assert np.abs(half - full).max() < 0.05 * np.abs(full).max()
    decoder = Decoder(copy, end_id=VOCAB + 5, context_length=CONTEXT)
    for prompt in PROMPTS:  # argmax margins here are far wider than bfloat16's rounding
        got = decoder.generate([prompt], max_new_tokens=12)[0]
        assert got.tolist() == reference_greedy(causal_lm, prompt, 12)


@pytest.mark.parametrize("options", [
    SamplingOptions(sampler="beam", num_beams=1),
    SamplingOptions(sampler="top_k", top_k=1, temperature=0.7),
])
def test_beam_width_one_and_top_k_one_equal_greedy(decoder, options):
    greedy = decoder.generate(PROMPTS, max_new_tokens=12)
    other = decoder.generate(PROMPTS, max_new_tokens=12, options=options, seed=3)
    assert [r.tolist() for r in other] == [r.tolist() for r in greedy]


def test_beam_search_finds_a_sequence_at_least_as_likely_as_greedy(causal_lm, decoder):
    prompt = PROMPTS[1]

    def log_likelihood(new):
        ids = np.concatenate([prompt, new])[None].astype(np.int32)
        logits = causal_lm({"token_ids": ids, "padding_mask": np.ones_like(ids)}, training=False)
        log_probs = keras.ops.convert_to_numpy(keras.ops.log_softmax(logits[0], axis=-1))
        return sum(log_probs[len(prompt) - 1 + i, t] for i, t in enumerate(new))

    greedy = decoder.generate([prompt], max_new_tokens=6)[0]
    beam = decoder.generate([prompt], max_new_tokens=6,
                            options=SamplingOptions(sampler="beam", num_beams=4))[0]
    assert log_likelihood(beam) >= log_likelihood(greedy) - 1e-4


@pytest.mark.parametrize("sampler", ["random", "top_k", "top_p"])
def test_seed_makes_sampling_reproducible(decoder, sampler):
    options = SamplingOptions(sampler=sampler, temperature=5.0, top_k=20, top_p=0.99)
    first = decoder.generate(PROMPTS, max_new_tokens=15, options=options, seed=11)
    again = decoder.generate(PROMPTS, max_new_tokens=15, options=options, seed=11)
    other = decoder.generate(PROMPTS, max_new_tokens=15, options=options, seed=12)
    assert [r.tolist() for r in first] == [r.tolist() for r in again]
    assert [r.tolist() for r in first] != [r.tolist() for r in other]


def test_generation_stops_at_end_of_text(causal_lm):
    # Sampling with one seed follows one path until the end id appears on it.
    options = SamplingOptions(sampler="random", temperature=5.0)
    free = Decoder(causal_lm, end_id=VOCAB + 5, context_length=CONTEXT)
    unstopped = free.generate([PROMPTS[0]], max_new_tokens=12, options=options, seed=1)
    unstopped = unstopped[0].tolist()
    position = next(i for i, t in enumerate(unstopped) if t not in unstopped[:i] and i >= 2)
    stopping = Decoder(causal_lm, end_id=unstopped[position], context_length=CONTEXT)
    stopped = stopping.generate([PROMPTS[0]], max_new_tokens=12, options=options, seed=1)
    assert stopped[0].tolist() == unstopped[:position]


def test_repeated_calls_reuse_one_trace(causal_lm):
    decoder = Decoder(causal_lm, end_id=VOCAB + 5, context_length=CONTEXT)
    decoder.generate(PROMPTS[:2], max_new_tokens=5)
    decoder.generate(PROMPTS[:2], max_new_tokens=5)
    decoder.generate(PROMPTS, max_new_tokens=7)  # another batch size and length
    assert decoder.traces == 1


@pytest.mark.parametrize("kwargs, options, message", [
    ({"max_new_tokens": 4}, SamplingOptions(sampler="nucleus"), "sampler: unknown sampler"),
    ({"max_new_tokens": 4}, SamplingOptions(temperature=0.0), "temperature"),
    ({"max_new_tokens": 4}, SamplingOptions(top_p=1.5), "top_p"),
    ({"max_new_tokens": 4}, SamplingOptions(top_p=0.0), "top_p"),
    ({"max_new_tokens": 4}, SamplingOptions(top_k=0), "top_k"),
    ({"max_length": 3}, None, "max_length: got 3, but the longest prompt has 6 tokens"),
    ({"max_new_tokens": 0}, None, "max_new_tokens"),
    ({"max_new_tokens": CONTEXT}, None, "context window of 32"),
])
def test_bad_arguments_name_the_argument(decoder, kwargs, options, message):
    with pytest.raises(GenerationError, match=message):
        decoder.generate(PROMPTS[:2], options=options, **kwargs)


def test_empty_prompt_is_an_error(decoder):
    with pytest.raises(GenerationError, match="empty prompt"):
        decoder.generate([np.array([], np.int32)], max_new_tokens=3)
