"""Text classification: one label per text (or text pair)."""
