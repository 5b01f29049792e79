"""Reads tagged sentences (named-entity tagging) and builds their tag vocabulary.

Two formats, one reader each:
- CoNLL: one token per line, whitespace-separated columns, the token first and
  the tag last (so CoNLL-2003's four columns work), a blank line between
  sentences, `-DOCSTART-` lines skipped.
- JSON Lines: one object per line with a list of tokens and a list of tags.

As in `tfllm.data.sources`, readers never drop a sentence: a bad one comes back
with `problem` set and `origin` pointing at its first line, so the caller can
count and report bad sentences before any work starts. Errors that make the
whole file unusable (missing file, a JSON array) raise DataError.

Tags are checked one by one against the scheme (BIO, also called IOB2, or
BIOES); sequences are not: an I-PER after O is kept, because entity decoding
(`tfllm.tasks.tagging.entities`) reads it as the start of an entity, as seqeval
and conlleval do. That also lets IOB1 files such as the original CoNLL-2003
release through.
"""

import dataclasses
import os
import re
from typing import Tuple

from tfllm.data.sources import decode, json_objects, numbered_lines
from tfllm.errors import DataError

OUTSIDE = "O"
_SCHEMES = {
    "BIO": (re.compile(r"[BI]-\S+"), "O, B-TYPE or I-TYPE"),
    "BIOES": (re.compile(r"[BIES]-\S+"), "O, B-TYPE, I-TYPE, E-TYPE or S-TYPE"),
}
_DOCSTART = "-DOCSTART-"
_JSONL_SUFFIXES = (".jsonl", ".json")


@dataclasses.dataclass(frozen=True)
class TaggedSentence:
    """One sentence: its tokens (words) and one tag per token.

    Args:
        tokens: the words, as written in the file.
        tags: one tag per word ("O", "B-PER", ...).
        origin: "path:line" of the sentence's first line.
        problem: empty for a usable sentence; otherwise what is wrong and where
            (a CoNLL problem names its line). Readers never drop bad sentences.
    """

    tokens: Tuple[str, ...]
    tags: Tuple[str, ...]
    origin: str = ""
    problem: str = ""


def read_tagged(path, *, scheme="BIO", tag_set=None, tokens_key="tokens", tags_key="tags"):
    """Reads a .jsonl/.json file with `read_jsonl`, any other file with `read_conll`."""
    if os.fspath(path).lower().endswith(_JSONL_SUFFIXES):
        return read_jsonl(path, scheme=scheme, tag_set=tag_set, tokens_key=tokens_key,
                          tags_key=tags_key)
    return read_conll(path, scheme=scheme, tag_set=tag_set)


def read_conll(path, *, scheme="BIO", tag_set=None):
    """Returns the list[TaggedSentence] of a CoNLL-style file.

    Args:
        path: the file; the token is its first column and the tag its last.
        scheme: "BIO" (IOB2) or "BIOES": which tag prefixes are valid.
        tag_set: if given, tags outside it mark their sentence bad (validation
            and test files are read with the training tags).
    """
    path = _existing(path)
    check = _tag_checker(scheme, tag_set)
    sentences, lines = [], []  # lines: (number, columns) of the current sentence

    def flush():
        if lines:
            sentences.append(_conll_sentence(path, lines, check))
            lines.clear()

    for number, raw in numbered_lines(path):
        text, undecodable = decode(raw)
        columns = text.split()
        if not columns or columns[0] == _DOCSTART:
            flush()
        else:
            lines.append((number, columns, undecodable))
    flush()
    return sentences


def _conll_sentence(path, lines, check):
    """Builds the TaggedSentence of consecutive token lines; the first problem wins."""
    tokens = tuple(columns[0] for _, columns, _ in lines)
    tags = tuple(columns[-1] if len(columns) > 1 else "" for _, columns, _ in lines)
    problem = ""
    for (number, columns, undecodable), tag in zip(lines, tags, strict=True):
        if undecodable:
            problem = undecodable
        elif len(columns) < 2:
            problem = "expected a token and a tag separated by whitespace"
        else:
            problem = check(tag)
        if problem:
            problem = f"line {number}: {problem}"
            break
    return TaggedSentence(tokens, tags, origin=f"{path}:{lines[0][0]}", problem=problem)


def read_jsonl(path, *, scheme="BIO", tag_set=None, tokens_key="tokens", tags_key="tags"):
    """Returns the list[TaggedSentence] of a JSON Lines file; blank lines are skipped.

    Args:
        path: the file: one object per line, e.g. {"tokens": [...], "tags": [...]}.
        scheme, tag_set: as for `read_conll`.
        tokens_key, tags_key: the keys holding the token list and the tag list.
    """
    path = _existing(path)
    check = _tag_checker(scheme, tag_set)
    sentences = []
    for origin, obj, problem in json_objects(path):
        obj = obj or {}
        tokens, tokens_problem = _string_list(obj, tokens_key)
        tags, tags_problem = _string_list(obj, tags_key)
        problem = problem or tokens_problem or tags_problem
        problem = problem or _jsonl_problem(tokens, tags, tokens_key, tags_key, check)
        sentences.append(TaggedSentence(tokens, tags, origin=origin, problem=problem))
    return sentences


def _string_list(obj, key):
    """Returns (tuple of str, problem) for the list under `key`."""
    value = obj.get(key)
    if value is None:
        return (), f"missing key {key!r}"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return (), f"{key!r} must be a list of strings"
    return tuple(value), ""


def _jsonl_problem(tokens, tags, tokens_key, tags_key, check):
    """Returns why a JSON Lines sentence is unusable, or ""."""
    if not tokens:
        return f"no tokens in {tokens_key!r}"
    if len(tokens) != len(tags):
        return f"{len(tokens)} tokens in {tokens_key!r} but {len(tags)} tags in {tags_key!r}"
    for index, (token, tag) in enumerate(zip(tokens, tags, strict=True), 1):
        if not token.strip():
            return f"token {index} is empty"
        if problem := check(tag):
            return f"token {index} ({token!r}): {problem}"
    return ""


def _tag_checker(scheme, tag_set):
    """Returns check(tag) -> "" for a valid tag, else why it is not."""
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(_SCHEMES)}, got {scheme!r}")
    pattern, expected = _SCHEMES[scheme]
    allowed = None if tag_set is None else frozenset(tag_set)

    def check(tag):
        if tag != OUTSIDE and not pattern.fullmatch(tag):
            return f"tag {tag!r} is not a {scheme} tag (expected {expected})"
        if allowed is not None and tag not in allowed:
            return f"tag {tag!r} is not in the tag set {sorted(allowed)}"
        return ""

    return check


def _existing(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DataError(f"data file not found: {path}")
    return path


def tag_vocabulary(sentences):
    """Returns the tags of usable `sentences`: "O" first, then the others sorted.

    The list index is the tag id. "O" is always there (at id 0), even if the
    training data happens to lack it. Sentences with a problem are left out:
    the caller reports them.
    """
    tags = {tag for s in sentences if not s.problem for tag in s.tags}
    return [OUTSIDE] + sorted(tags - {OUTSIDE})


def check_tags(sentences, vocabulary):
    """Raises DataError if a usable sentence has a tag outside `vocabulary`.

    For validation and test data: a tag never seen in training has no class id.
    The message names the first such sentence (file:line), the token and the
    tag, and counts the others.
    """
    known = frozenset(vocabulary)
    unknown = [s for s in sentences if not s.problem and not known.issuperset(s.tags)]
    if unknown:
        first = unknown[0]
        index, tag = next((i, t) for i, t in enumerate(first.tags) if t not in known)
        others = len(unknown) - 1
        others = f"; {others} more sentences have unknown tags" if others else ""
        raise DataError(
            f"{first.origin}: token {index + 1} ({first.tokens[index]!r}) has tag {tag!r}, "
            f"which the training data does not have; expected one of {list(vocabulary)}{others}"
        )
