"""Small builders shared by tests: toy sizes so each test runs in seconds."""

import csv

from tfllm.configs import bert_classifier

TOY_BACKBONE = {"num_layers": 1, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}


def smoke_config(**data_overrides):
    """The `:smoke` config with `data` fields overridden."""
    config = bert_classifier.get_config("smoke")
    for key, value in data_overrides.items():
        config.data[key] = value
    return config


def write_csv(path, rows, header=("text", "label")):
    """Writes rows (tuples) under `header` as a CSV file and returns its path as str."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def toy_topics(n_per_label=40):
    """A learnable two-topic dataset: sport words vs. food words."""
    sport = ["goal", "match", "team", "score", "coach", "league", "player", "stadium"]
    food = ["pasta", "bread", "cheese", "soup", "salad", "recipe", "oven", "spice"]
    rows = []
    for i in range(n_per_label):
        rows.append((f"the {sport[i % 8]} and the {sport[(i * 3 + 1) % 8]} number {i}", "sport"))
        rows.append((f"some {food[i % 8]} with {food[(i * 5 + 2) % 8]} number {i}", "food"))
    return rows

