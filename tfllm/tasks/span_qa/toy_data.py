"""A toy extractive-QA dataset: short biographies among filler sentences, written as SQuAD.

For smoke runs, tests and the README: `tfllm train --config=configs/bert_qa.py:smoke`
needs a SQuAD file, and none ships with tfllm. Each context is one person's
biography: a few facts (where and when they were born, their job, where they
moved) in random order among filler sentences, long enough to take 2-4 windows
at the smoke config's 64 tokens, so answers lie in later windows too. Names and
cities include non-ASCII letters (Zoë, São Paulo, Łódź). With `unanswerable > 0`
some questions ask for a fact the context lacks (SQuAD v2.0 `is_impossible`).

    python -m tfllm.tasks.span_qa.toy_data toy_qa.json --contexts=300 --unanswerable=0.2 --seed=0
"""

import argparse
import json
import random

from tfllm.data.toy_names import CITIES, FIRST_NAMES, SURNAMES

JOBS = ["baker", "pilot", "carpenter", "nurse", "painter", "fisher", "teacher", "tailor"]
YEARS = [str(year) for year in range(1890, 1990, 7)]
FILLER = [
    "The town had a small market by the river .",
    "Winters there were long and dark .",
    "Few people in the valley owned a car .",
    "The old bridge was rebuilt twice .",
    "On Sundays the square was full of music .",
    "Letters took weeks to arrive from abroad .",
    "The school had only three rooms .",
    "Summers brought storms from the west .",
    "A railway reached the region much later .",
    "The harbour was busy every morning .",
]
# fact -> (sentence template, question template); {name} is the person, {value} the answer.
FACTS = {
    "born_in": ("{name} was born in {value} .", "Where was {name} born?"),
    "born_year": ("That was in the year {value} .", "In which year was {name} born?"),
    "job": ("For many years {name} worked as a {value} .", "What did {name} work as?"),
    "moved_to": ("Later {name} moved to {value} for good .", "Where did {name} move to?"),
}


def _values(rng):
    return {"born_in": rng.choice(CITIES), "born_year": rng.choice(YEARS),
            "job": rng.choice(JOBS), "moved_to": rng.choice(CITIES)}


def paragraph(rng, index, unanswerable=0.0):
    """One SQuAD paragraph: {"context", "qas"} about one random person."""
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
    values = _values(rng)
    missing = {fact for fact in ("job", "moved_to") if rng.random() < unanswerable}
    sentences = [FACTS[fact][0].format(name=name, value=values[fact]) for fact in FACTS
                 if fact not in missing]
    born = sentences.pop(0) + " " + sentences.pop(0)  # the year sentence follows the city's
    sentences = [born] + sentences + rng.sample(FILLER, rng.randrange(4, 8))
    rng.shuffle(sentences)
    context = " ".join(sentences)
    qas = []
    for fact, (template, question) in FACTS.items():
        qa = {"id": f"c{index}-{fact}", "question": question.format(name=name)}
        if fact in missing:
            qas.append({**qa, "answers": [], "is_impossible": True})
            continue
        at = context.index(template.format(name=name, value=values[fact]))
        at += template.format(name=name, value="\0").index("\0")  # where the value starts
        qas.append({**qa, "answers": [{"text": values[fact], "answer_start": at}],
                    "is_impossible": False})
    return {"context": context, "qas": qas}


def paragraphs(count, seed=0, unanswerable=0.0):
    """`count` random paragraphs (4 questions each), the same for the same seed."""
    rng = random.Random(seed)
    return [paragraph(rng, i, unanswerable) for i in range(count)]


def write_squad(path, count=300, seed=0, unanswerable=0.0, jsonl=False):
    """Writes `count` contexts as SQuAD v2.0 JSON (or, with `jsonl`, JSON Lines in the Hugging
    Face layout: one question per line); returns `path` as str."""
    data = paragraphs(count, seed, unanswerable)
    with open(path, "w", encoding="utf-8") as f:
        if not jsonl:
            json.dump({"version": "v2.0", "data": [{"title": "toy", "paragraphs": data}]}, f,
                      ensure_ascii=False)
            return str(path)
        for p in data:
            for qa in p["qas"]:
                answers = {"text": [a["text"] for a in qa["answers"]],
                           "answer_start": [a["answer_start"] for a in qa["answers"]]}
                f.write(json.dumps({"id": qa["id"], "question": qa["question"],
                                    "context": p["context"], "answers": answers},
                                   ensure_ascii=False) + "\n")
    return str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the SQuAD file to write")
    parser.add_argument("--contexts", type=int, default=300, help="how many contexts (4 "
                        "questions each)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same file")
    parser.add_argument("--unanswerable", type=float, default=0.0,
                        help="chance that the job and the move are each left out (v2.0)")
    parser.add_argument("--jsonl", action="store_true", help="JSON Lines, one question a line")
    args = parser.parse_args(argv)
    write_squad(args.path, args.contexts, args.seed, args.unanswerable, args.jsonl)
    print(f"wrote {args.contexts} contexts ({4 * args.contexts} questions) to {args.path}")


if __name__ == "__main__":
    main()
