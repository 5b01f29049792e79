"""A trained extractive-QA model loaded from its work directory: answers cut from contexts.

Inference runs the export's graph functions (`serving.QaModule.windows` and `.answers`:
tokenization with offsets, windows, best-span decoding), traced here with tf.function, with
the model called between them; so `predict`, `evaluate`, the run's own evaluation and the
SavedModel answer alike by construction.
"""

import dataclasses

import tensorflow as tf

from tfllm.data import examples as examples_lib
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError
from tfllm.models import keras_file
from tfllm.tasks.span_qa import examples as qa_examples
from tfllm.tasks.span_qa import metric
from tfllm.tasks.span_qa import serving
from tfllm.tasks.span_qa import squad
from tfllm.workdir import finished_run

_STRINGS = tf.TensorSpec([None], tf.string)
_LOGITS = tf.TensorSpec([None, None], tf.float32)
_OFFSETS = tf.RaggedTensorSpec([None, None], tf.int64, row_splits_dtype=tf.int64)


@dataclasses.dataclass(frozen=True)
class Answer:
    """The decoded answer of one example.

    Args:
        text: the span of the original context, or "" for no answer.
        score: start + end logit of the best span (-inf when no window had context).
        null_score: lowest [CLS] start + end logit over the example's windows.
        start: char offset of the span in the context; -1 for no answer.
        end: char offset just past the span; -1 for no answer.
    """

    text: str
    score: float
    null_score: float
    start: int = -1
    end: int = -1


class TracedQa:
    """The export's graph functions over a span model, traced for answering in process.

    Args:
        model: the Keras span model.
        tokenizer: the run's keras-hub BertTokenizer.
        data_config: the run's resolved `data` section.
        window_batch_size: windows per model call (a request's windows are cut into these).
    """

    def __init__(self, model, tokenizer, data_config, window_batch_size=64):
        self.window_batch_size = window_batch_size
        self.module = serving.QaModule(model, tokenizer, data_config)
        # Traced once for any batch. They branch on Python values only, so autograph has
        # nothing to convert; without it tracing (the second or so a first call costs)
        # takes about half as long.
        self._windows = tf.function(self.module.windows, input_signature=[_STRINGS] * 2,
                                    autograph=False)
        self._answers = tf.function(self.module.answers, autograph=False, input_signature=[
            _LOGITS, _LOGITS, tf.TensorSpec([None, None], tf.int64),
            tf.TensorSpec([None], tf.int64), _OFFSETS, _OFFSETS, _STRINGS])

    def _logits(self, features):
        """[windows, sequence_length, 2] float32, `window_batch_size` windows per call: the
        model runs between the traced functions, not inside them as in `serve_text`, so
        that a batch of long contexts takes memory for 64 windows at a time, not all."""
        total, size = int(features["token_ids"].shape[0]), self.window_batch_size
        return tf.concat([self.module.logits(
            {key: features[key][begin:begin + size] for key in serving.MODEL_FEATURES})
            for begin in range(0, total, size)], axis=0)

    def __call__(self, questions, contexts, batch_size=256):
        """`serving.answers`' outputs for each (question, context), as lists of Python
        values (answers as str), `batch_size` questions at a time."""
        found = {key: [] for key in (*serving.OUTPUTS, "span_score", "null_score")}
        for begin in range(0, len(questions), batch_size):
            question = tf.constant(questions[begin:begin + batch_size], tf.string)
            context = tf.constant(contexts[begin:begin + batch_size], tf.string)
            features, example, context_token, byte_starts, byte_ends = self._windows(
                question, context)
            logits = self._logits(features)
            outputs = self._answers(logits[:, :, 0], logits[:, :, 1], context_token, example,
                                    byte_starts, byte_ends, context)
            for key, values in found.items():
                values += outputs[key].numpy().tolist()
        found["answer"] = [text.decode("utf-8") for text in found["answer"]]
        return found

    def answers(self, examples, batch_size=256):
        """The Answer of each QaExample."""
        found = self([e.question for e in examples], [e.context for e in examples], batch_size)
        return [Answer(*row) for row in zip(*(found[key] for key in (
            "answer", "span_score", "null_score", "start", "end")), strict=True)]


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
        self.model = keras_file.load_run(paths, self.config)
        self.tokenizer = tokenizer_lib.build_tokenizer(
            self.vocabulary, lowercase=self.config.tokenizer.get("lowercase", False))
        self.traced = TracedQa(self.model, self.tokenizer, self.config.data)

    def answers(self, examples, batch_size=256):
        """The Answer of each QaExample, `batch_size` questions at a time."""
        return self.traced.answers(examples, batch_size)

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
        found = self.traced(questions, contexts, batch_size)
        return [dict(zip(serving.OUTPUTS, row, strict=True))
                for row in zip(*(found[key] for key in serving.OUTPUTS), strict=True)]

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
