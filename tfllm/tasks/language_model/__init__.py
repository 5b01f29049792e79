"""Causal language modelling: GPT-2 / Llama decoders on documents or prompt/response pairs."""
