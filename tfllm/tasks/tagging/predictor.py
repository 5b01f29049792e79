"""A trained tagger loaded from its work directory: entities in raw text, evaluation on files."""

import tensorflow as tf

from tfllm.data import examples as examples_lib
from tfllm.data import labels as labels_lib
from tfllm.data import sources
from tfllm.models import keras_file
from tfllm.tasks.tagging import alignment as tag_alignment
from tfllm.tasks.tagging import examples as tagged_examples
from tfllm.tasks.tagging import features as tagged_pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError
from tfllm.tasks.tagging import report as tagging_report
from tfllm.tasks.tagging import serving as tagger_serving
from tfllm.workdir import finished_run


class Tagger:
    """The model, tokenizer, tags and word cleaning of one finished tagging run.

    Args:
        workdir: a work directory written by `tfllm.train` with `task: tagging`.

    Example:
    >>> tagger = Tagger("runs/bert_tagger")  # doctest: +SKIP
    >>> tagger.predict(["Zoë lives in São Paulo."])[0]  # doctest: +SKIP
    [{'entity': 'PER', 'word': 'Zoë', 'start': 0, 'end': 3, 'score': 0.98},
     {'entity': 'LOC', 'word': 'São Paulo', 'start': 13, 'end': 22, 'score': 0.97}]
    """

    def __init__(self, workdir):
        paths, self.config = finished_run(workdir)
        self.workdir = workdir
        self.tags = labels_lib.load_labels(paths.labels)
        self.model = keras_file.load_run(paths, self.config, label_outputs=True)
        tokenizer = tokenizer_lib.build_tokenizer(
            tokenizer_lib.load_vocabulary(paths.vocabulary),
            lowercase=self.config.tokenizer.get("lowercase", False))
        self.aligner = tag_alignment.TagAligner(tokenizer, self.config.data.max_seq_length)
        self.clean = tagged_pipeline.word_cleaner(self.config.data.cleaning)
        self._tables = tagger_serving.tag_tables(self.tags)
        # Raw texts -> ragged entity spans: the graph function the export serves.
        self._text_entities = tf.function(self._text_entities_fn,
                                          input_signature=[tf.TensorSpec([None], tf.string)])

    def _text_entities_fn(self, texts):
        return tagger_serving.text_entities(self.model, self.aligner, self.clean, self._tables,
                                            texts)

    def predict(self, texts, batch_size=64):
        """The entities of each text, Hugging Face token-classification style (aggregated).

        Args:
            texts: a list of strings (or one string).

        Returns:
            One list per text of {"entity": type, "word": text[start:end],
            "start", "end" (character offsets into the text), "score" (mean
            probability of the entity's word tags)}; one list for one string.
            Words past `data.max_seq_length` tokens are not tagged.
        """
        if isinstance(texts, str):
            return self.predict([texts], batch_size)[0]
        results = []
        for begin in range(0, len(texts), batch_size):
            chunk = list(texts[begin:begin + batch_size])
            results += span_dicts(chunk, self._text_entities(tf.constant(chunk, tf.string)))
        return results

    def predict_words(self, word_lists):
        """The predicted tag names of pre-split sentences (lists of words)."""
        features = tagged_pipeline.align(self.aligner, self.clean, list(word_lists))
        return tagged_pipeline.predict_tags(self.model, features, self.tags)

    def read_texts(self, spec):
        """(texts, None) of a file to predict on: .txt (a text per line), or .csv/.tsv/.jsonl
        with a `text` column; DataError at the first bad row."""
        records = sources.read_records(spec, text_column="text", label_column="")
        bad = [r for r in records if r.problem]
        if bad:
            raise DataError(f"{bad[0].origin}: {bad[0].problem}")
        return [r.text for r in records], None

    def evaluate(self, spec=""):
        """The entity report (`tagging_report.evaluation_report`) on a tagged file, or on the
        run's validation split ('').

        A file is read as in training: its tags must be the run's, and bad or
        too-long sentences count against data.max_bad_fraction.
        """
        data = self.config.data

        def count_tokens(word_lists):
            return tagged_pipeline.align(self.aligner, self.clean, word_lists)["num_tokens"]

        if spec:
            read, bad = tagged_examples.usable(
                tagged_examples.read_file(spec, data, tag_set=self.tags))
            fit, long = tagged_examples.too_long(read, count_tokens([s.tokens for s in read]),
                                                 data.max_seq_length)
            examples_lib.check_bad_rows(bad + long, len(read) + len(bad), data.max_bad_fraction)
            sentences = fit
            if not sentences:
                raise DataError(f"{spec}: no usable tagged sentences to evaluate on")
        else:
            sentences = tagged_examples.prepare(tagged_examples.read(data), data,
                                                count_tokens).validation
        predicted = self.predict_words([s.tokens for s in sentences])
        return tagging_report.evaluation_report(sentences, predicted, spec or "validation")


def span_dicts(texts, spans):
    """`tagger_serving.entity_spans` of `texts` as one list of entity dicts per text.

    Each dict is {"entity", "word" (text[start:end]), "start", "end", "score"}: Python
    values, the offsets characters of the text.
    """
    columns = [spans[key].to_list() for key in ("entity", "start", "end", "score")]
    return [[{"entity": entity.decode("utf-8"), "word": text[start:end], "start": start,
              "end": end, "score": score}
             for entity, start, end, score in zip(*(column[row] for column in columns),
                                                  strict=True)]
            for row, text in enumerate(texts)]
