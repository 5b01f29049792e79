"""The precision / recall / F1 / support table `tfllm evaluate` prints, one row per label
(classification) or entity type (tagging)."""


def print_scores(heading, rows):
    """Prints `rows` ({name: {"precision", "recall", "f1", "support"}}) under `heading`, the
    name column as wide as its longest name."""
    width = max(len(name) for name in list(rows) + [heading])
    print(f"{heading:<{width}}  precision  recall     f1  support")
    for name, row in rows.items():
        print(f"{name:<{width}}  {row['precision']:9.3f}  {row['recall']:6.3f}  "
              f"{row['f1']:5.3f}  {row['support']:7d}")
