"""The record: one raw example as read from a source, before any tensor work."""

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Record:
    """One example as read from a file or dataset.

    Args:
        text: the first (or only) text segment; None when the row lacks it.
        label: the label as a string; None when the source has no label.
        text_pair: the second segment for sentence-pair tasks, else None.
        origin: where the row came from, as "path:line" (or
            "tfds:name:split:index"), so every error and report can point at it.
        problem: empty for a usable row; otherwise why the row is bad
            ("missing text", "undecodable bytes", ...). Sources never drop bad
            rows: they mark them, and the caller counts and reports them.
    """

    text: Optional[str]
    label: Optional[str] = None
    text_pair: Optional[str] = None
    origin: str = ""
    problem: str = ""
