"""Chat fine-tuning: templates, whole special tokens, conversation data, assistant-only loss.

`template` renders a checkpoint's Jinja chat template (or a shipped one) into segments,
`tokens` tokenizes them exactly as the checkpoint's own tokenizer does while keeping
user text from ever producing a special token, `checkpoint` reads what chat needs from
a GGUF file or a Hugging Face directory (template, special tokens, stop ids), and `data`
turns messages JSON Lines into token ids and loss weights.
"""
