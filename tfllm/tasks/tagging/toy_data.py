"""A toy named-entity dataset: people and places in template sentences, written as CoNLL.

For smoke runs, tests and the README: `tfllm train --config=configs/bert_tagger.py:smoke`
needs a tagged file, and none ships with tfllm. Names include non-ASCII
letters (Zoë, São Paulo, Łódź) and surnames made of two parts (Kowal + czyk),
rare enough that a small learned WordPiece vocabulary splits them into several
pieces; cities and people may be two words (New York), so I- tags occur too.

    python -m tfllm.tasks.tagging.toy_data toy_ner.conll --sentences=600 --seed=0
"""

import argparse
import random

from tfllm.data.toy_names import CITIES, FIRST_NAMES, SURNAMES

# Surnames are also made of two parts ("Kowal" + "czyk"): 48 rarer words, which a small
# learned vocabulary splits into pieces.
SURNAME_STEMS = ["Kowal", "Nowak", "Wiśnie", "Lewan", "Zieliń", "Szyman", "Dąbrow", "Piotr"]
SURNAME_ENDINGS = ["ski", "czyk", "owicz", "ska", "iak", "ewski"]
# {PER} and {LOC} are filled with a name or a city; every other word is tagged O.
TEMPLATES = [
    "{PER} lives in {LOC} .",
    "{PER} flew from {LOC} to {LOC} yesterday .",
    "Yesterday {PER} met {PER} in {LOC} .",
    "The weather in {LOC} was cold , said {PER} .",
    "{PER} and {PER} visited {LOC} last year .",
    "Did {PER} ever see {LOC} ?",
    "We moved to {LOC} with {PER} .",
    "{LOC} is far from {LOC} .",
    "Nobody called {PER} today .",
    "The train to {LOC} was late again .",
]


def _entity(kind, rng):
    if kind == "LOC":
        return rng.choice(CITIES).split()
    first = rng.choice(FIRST_NAMES)
    surname = (rng.choice(SURNAMES) if rng.random() < 0.5
               else rng.choice(SURNAME_STEMS) + rng.choice(SURNAME_ENDINGS))
    return [first, surname] if rng.random() < 0.6 else [first]


def sentence(rng, scheme="BIO"):
    """One random sentence as (words, tags) in `scheme` ("BIO" or "BIOES")."""
    words, tags = [], []
    for token in rng.choice(TEMPLATES).split():
        if token in ("{PER}", "{LOC}"):
            kind = token[1:-1]
            entity = _entity(kind, rng)
            words += entity
            tags += _entity_tags(kind, len(entity), scheme)
        else:
            words.append(token)
            tags.append("O")
    return words, tags


def _entity_tags(kind, length, scheme):
    if scheme == "BIOES":
        if length == 1:
            return [f"S-{kind}"]
        return [f"B-{kind}"] + [f"I-{kind}"] * (length - 2) + [f"E-{kind}"]
    return [f"B-{kind}"] + [f"I-{kind}"] * (length - 1)


def sentences(count, seed=0, scheme="BIO"):
    """`count` random sentences, the same for the same seed."""
    rng = random.Random(seed)
    return [sentence(rng, scheme) for _ in range(count)]


def write_conll(path, count=600, seed=0, scheme="BIO"):
    """Writes `count` sentences as CoNLL (a word and its tag per line, a blank line between
    sentences); returns `path` as str."""
    with open(path, "w", encoding="utf-8") as f:
        for words, tags in sentences(count, seed, scheme):
            f.writelines(f"{word} {tag}\n" for word, tag in zip(words, tags, strict=True))
            f.write("\n")
    return str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the CoNLL file to write")
    parser.add_argument("--sentences", type=int, default=600, help="how many sentences")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same file")
    parser.add_argument("--scheme", choices=("BIO", "BIOES"), default="BIO")
    args = parser.parse_args(argv)
    write_conll(args.path, args.sentences, args.seed, args.scheme)
    print(f"wrote {args.sentences} sentences to {args.path}")


if __name__ == "__main__":
    main()
