"""From SQuAD files to checked train/validation question lists and their windows, with a report.

The QA counterpart of `tfllm.data.examples`, with the same rules: bad
questions (see `tfllm.tasks.span_qa.squad`: above all an answer that is not where
`answer_start` says) are counted and listed by file and record, and past
`data.max_bad_fraction` they stop the run; nothing is dropped silently. One
more check needs the tokenizer: a training answer that no window holds whole
(longer than a window's room for context) would train "no answer here" on every
window of an answerable question, so it is bad too. Without a validation file,
a seeded hash of the context holds out `data.validation_fraction`, so the
questions of one context, and so its windows, never straddle the split.
"""

import dataclasses

import numpy as np

from tfllm.data import examples as examples_lib
from tfllm.tasks.span_qa import windows as qa_windows
from tfllm.tasks.span_qa import squad
from tfllm.errors import DataError


@dataclasses.dataclass
class QaData:
    """Usable questions, split, and what happened to the rest.

    Args:
        train, validation: lists of QaExample.
        report: counts for the run log and data_report.json.
    """

    train: list
    validation: list
    report: dict


def usable(examples):
    """Splits QaExamples into (usable, bad)."""
    return [e for e in examples if not e.problem], [e for e in examples if e.problem]


def read(data_config):
    """Reads data.train and data.validation and splits by context hash when there is no
    validation file; DataError past data.max_bad_fraction or with a side left empty.

    Returns:
        (train, validation, bad, total read).
    """
    train, bad = usable(squad.read_squad(data_config.train))
    total = len(train) + len(bad)
    validation = []
    if data_config.validation:
        read_validation = squad.read_squad(data_config.validation)
        validation, bad_validation = usable(read_validation)
        bad += bad_validation
        total += len(read_validation)
    else:
        fraction, seed = data_config.validation_fraction, data_config.split_seed
        sides = [examples_lib.in_validation(e.context, fraction, seed) for e in train]
        validation = [e for e, side in zip(train, sides, strict=True) if side]
        train = [e for e, side in zip(train, sides, strict=True) if not side]
    examples_lib.check_bad_rows(bad, total, data_config.max_bad_fraction)
    if not train or not validation:
        raise DataError(f"{data_config.train}: split left {len(train)} training and "
                        f"{len(validation)} validation questions; expected both non-empty")
    return train, validation, bad, total


def windows_of(examples, tokenizer, data_config):
    """`qa_windows.build_windows` with the config's window sizes."""
    return qa_windows.build_windows(
        examples, tokenizer, sequence_length=data_config.max_seq_length,
        max_query_length=data_config.max_query_length, doc_stride=data_config.doc_stride)


def unheld_answers(examples, windows):
    """The answerable examples none of whose windows holds the answer, marked bad."""
    held = np.zeros(len(examples), bool)
    held[windows.example_index[windows.start_positions > 0]] = True
    return [dataclasses.replace(e, problem=(
        f"answer {e.answers[0][0]!r:.60} lies in no window whole (longer than a window's "
        "room for context, or only characters the tokenizer drops); raise "
        "--config.data.max_seq_length or lower --config.data.max_query_length"))
        for e, ok in zip(examples, held, strict=True) if not ok and not e.is_impossible]


def select(windows, keep):
    """The QaWindows of the examples whose indices `keep` (bool per example) marks,
    example_index renumbered to the kept examples."""
    rows = keep[windows.example_index]
    renumber = np.cumsum(keep) - 1
    fields = {f.name: getattr(windows, f.name)[rows] for f in dataclasses.fields(windows)}
    fields["example_index"] = renumber[fields["example_index"]].astype(np.int32)
    return qa_windows.QaWindows(**fields)


def prepare(read_data, data_config, tokenizer):
    """Builds the training and validation windows of `read`'s result; checks the answers.

    Returns:
        (QaData, training QaWindows, validation QaWindows).
    """
    train, validation, bad, total = read_data
    train_windows = windows_of(train, tokenizer, data_config)
    unheld = unheld_answers(train, train_windows)
    bad = bad + unheld
    examples_lib.check_bad_rows(bad, total, data_config.max_bad_fraction)
    if unheld:
        unheld_ids = {e.id for e in unheld}
        keep = np.array([e.id not in unheld_ids for e in train])
        train = [e for e, k in zip(train, keep, strict=True) if k]
        train_windows = select(train_windows, keep)
    validation_windows = windows_of(validation, tokenizer, data_config)
    report = {
        "rows_read": total,
        "bad_rows": len(bad),
        "bad_row_examples": [f"{e.origin}: {e.problem}" for e in bad[:examples_lib.MAX_LISTED]],
        "duplicates_removed": 0,
        "train_examples": len(train),
        "validation_examples": len(validation),
        "format": "questions",
        "unanswerable": sum(e.is_impossible for e in train + validation),
        "train_windows": len(train_windows.token_ids),
        "validation_windows": len(validation_windows.token_ids),
    }
    return QaData(train, validation, report), train_windows, validation_windows
