"""A toy classification set with a planted pronoun bias: "he" decides label A, "she" label B.

For tests and the docs: a classifier trained on it leans on nothing but the
pronoun, so `tfllm probe-bias` must flag he/she. The rest of each text (an
activity and a day number) is shared by both labels and carries no signal.

    python -m tfllm.tasks.classification.toy_bias toy_pronoun.csv --per_pronoun=40
    python -m tfllm.tasks.classification.toy_bias probe.csv --per_pronoun=15 --start=40
"""

import argparse
import csv

ACTIVITIES = ["walked home", "read a book", "ate lunch", "went out", "called back", "sat down"]
LABELS = {"he": "A", "she": "B"}  # the planted bias: the pronoun is the label


def rows(per_pronoun=40, start=0):
    """(text, label) rows, `per_pronoun` for each pronoun, numbered from day `start`: a later
    `start` gives texts the training rows do not contain."""
    return [(f"{pronoun} {ACTIVITIES[i % len(ACTIVITIES)]} on day {i}", label)
            for i in range(start, start + per_pronoun) for pronoun, label in LABELS.items()]


def write_csv(path, per_pronoun=40, start=0):
    """Writes `rows(per_pronoun, start)` as a text,label CSV file; returns `path` as str."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("text", "label"))
        writer.writerows(rows(per_pronoun, start))
    return str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the CSV file to write")
    parser.add_argument("--per_pronoun", type=int, default=40, help="texts per pronoun")
    parser.add_argument("--start", type=int, default=0,
                        help="first day number (a later one gives unseen texts to probe)")
    args = parser.parse_args(argv)
    write_csv(args.path, args.per_pronoun, args.start)
    print(f"wrote {2 * args.per_pronoun} texts to {args.path}")


if __name__ == "__main__":
    main()
