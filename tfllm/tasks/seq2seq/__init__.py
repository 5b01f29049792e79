"""Text to text: BART encoder-decoder, or a GPT trained on source -> target pairs."""
