"""A trained extractive-QA model loaded from its work directory: answers cut from contexts."""

import keras

from tfllm.data import examples as examples_lib
from tfllm.tasks.span_qa import examples as qa_examples
from tfllm.tasks.span_qa import windows as qa_windows
from tfllm.tasks.span_qa import squad
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.tasks.span_qa.squad import QaExample
from tfllm.errors import DataError
from tfllm.tasks.span_qa import decoding
from tfllm.tasks.span_qa import metric
from tfllm.workdir import finished_run


class SpanQA:
    """The model, tokenizer and window settings of one finished `span_qa` run.

    Args:
        workdir: a work directory written by `tfllm.train` with `task: span_qa`.

    Example:
    >>> qa = SpanQA("runs/bert_qa")  # doctest: +SKIP
    >>> qa.predict("Where was Zoë born?", "Zoë Kim was born in São Paulo .")  # doctest: +SKIP
    {'answer': 'São Paulo', 'score': 14.2, 'start': 20, 'end': 29}
    """

    def __init__(self, workdir):
        paths, self.config = finished_run(workdir)
        self.workdir = workdir
        self.vocabulary = tokenizer_lib.load_vocabulary(paths.vocabulary)
        self.model = keras.saving.load_model(paths.model, compile=False)
        self.tokenizer = qa_windows.OffsetTokenizer(tokenizer_lib.build_tokenizer(
            self.vocabulary, lowercase=self.config.tokenizer.get("lowercase", False)))

    def answers(self, examples, batch_size=256):
        """The qa_decoding.Answer of each QaExample, `batch_size` questions at a time."""
        answers = []
        for begin in range(0, len(examples), batch_size):
            chunk = examples[begin:begin + batch_size]
            windows = qa_examples.windows_of(chunk, self.tokenizer, self.config.data)
            answers += decoding.decode(self.model, windows, chunk, self.config)
        return answers

    def predict(self, questions, contexts, batch_size=256):
        """The answer to each question in its context, Hugging Face question-answering style.

        Args:
            questions: a list of strings (or one string).
            contexts: as many strings (or one string).

        Returns:
            One {"answer": context[start:end], "score", "start", "end"} per question (one
            dict for one string): `start` and `end` are character offsets into the context
            as given, and `score` the best span's start + end logit. A question the run
            judges unanswerable (data.allow_no_answer 'yes'), or an empty context, gets
            answer "", start and end -1 and, as score, the [CLS] (no-answer) score.
            Long contexts are read in windows of data.max_seq_length tokens, every one.
        """
        if isinstance(questions, str) and isinstance(contexts, str):
            return self.predict([questions], [contexts], batch_size)[0]
        questions, contexts = list(questions), list(contexts)
        if len(questions) != len(contexts):
            raise ValueError(f"{len(questions)} questions but {len(contexts)} contexts; "
                             "expected one context per question")
        examples = [QaExample(str(i), q, c, (), True)
                    for i, (q, c) in enumerate(zip(questions, contexts, strict=True))]
        return [{"answer": a.text, "score": a.score if a.text else a.null_score,
                 "start": a.start, "end": a.end} for a in self.answers(examples, batch_size)]

    def read_texts(self, spec):
        """(questions, contexts) of a SQuAD JSON or JSON Lines file; DataError at the first
        bad record (answers are not needed: a question without any is fine here)."""
        examples = squad.read_squad(spec)
        bad = [e for e in examples if e.problem and not e.problem.startswith("no answers")]
        if bad:
            raise DataError(f"{bad[0].origin}: {bad[0].problem}")
        return [e.question for e in examples], [e.context for e in examples]

    def evaluate(self, spec=""):
        """SQuAD exact match and F1 (`metric.evaluation_report`) on a file, or on the run's
        validation split (''); bad questions count against data.max_bad_fraction."""
        data = self.config.data
        if spec:
            examples, bad = qa_examples.usable(squad.read_squad(spec))
            examples_lib.check_bad_rows(bad, len(examples) + len(bad), data.max_bad_fraction)
            if not examples:
                raise DataError(f"{spec}: no usable questions to evaluate on")
        else:
            examples = qa_examples.read(data)[1]
        return metric.evaluation_report(examples, self.answers(examples), spec or "validation")
