"""Files with one entry per line (vocab.txt, labels.txt): the line number is the id."""

from tfllm import atomic


def write_lines(path, entries):
    """Writes each entry on its own line, UTF-8, atomically (`atomic.WriteFailed` on a full
    disk, the previous file kept)."""
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as f:
            f.writelines(f"{entry}\n" for entry in entries)

    atomic.replace(path, write)


def read_lines(path):
    """Reads the entries written by `write_lines` (line endings removed)."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]
