"""Extractive question answering: the answer span of a question in its context (SQuAD)."""
