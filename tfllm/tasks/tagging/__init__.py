"""Token classification: one tag per word, entities out (BIO / BIOES)."""
