"""Files with one entry per line (vocab.txt, labels.txt): the line number is the id."""


def write_lines(path, entries):
    """Writes each entry on its own line, UTF-8."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f"{entry}\n" for entry in entries)


def read_lines(path):
    """Reads the entries written by `write_lines` (line endings removed)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]
