"""Text generation from keras-hub causal LMs (GPT-2, Llama) over a key/value cache.

keras-hub supplies the cached forward step (`CausalLM.call_with_cache`) and
the samplers; tfllm adds what serving and the CLI need around them:
- one compiled function per sampling setting, traced once for any batch size
  and length (a repeated shape reuses the compiled program);
- a cache seeded with the prompt prefix only (keras-hub's `generate_step`
  runs the whole padded length, logits included);
- a seed that makes random sampling reproducible call after call;
- ragged prompts in one batch, each row cut at its own end-of-text;
- argument checks that name the bad argument;
- self-speculative greedy decoding (`Decoder(..., draft_tokens=k)`): a cheap
  draft (by default a bfloat16 copy of the model) proposes k tokens, and one
  float32 cached pass over k + 1 positions keeps those float32 greedy would
  have chosen, so the text is float32's, at fewer float32 weight reads.
Each new token runs one cached step over a fixed-size cache, so its cost does
not grow with the text already generated.
"""

