"""Experiment configs shipped with the package (the top-level configs/ links here)."""

import os

CONFIG_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONFIG = os.path.join(CONFIG_DIR, "bert_classifier.py")
