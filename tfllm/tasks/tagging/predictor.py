"""A trained tagger loaded from its work directory: entities in raw text, evaluation on files."""

import keras
import tensorflow as tf

from tfllm.data import examples as examples_lib
from tfllm.data import labels as labels_lib
from tfllm.data import sources
from tfllm.tasks.tagging import alignment as tag_alignment
from tfllm.tasks.tagging import examples as tagged_examples
from tfllm.tasks.tagging import features as tagged_pipeline
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError
from tfllm.tasks.tagging import entities
from tfllm.tasks.tagging import report as tagging_report
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
        self.model = keras.saving.load_model(paths.model, compile=False)
        tokenizer = tokenizer_lib.build_tokenizer(
            tokenizer_lib.load_vocabulary(paths.vocabulary),
            lowercase=self.config.tokenizer.get("lowercase", False))
        self.aligner = tag_alignment.TagAligner(tokenizer, self.config.data.max_seq_length)
        self.clean = tagged_pipeline.word_cleaner(self.config.data.cleaning)
        # Raw texts -> words, offsets, tag ids and scores per word: the TensorFlow path the
        # exported graph traces too.
        self._tag_texts = tf.function(self._tag_texts_fn, reduce_retracing=True)

    def _tag_texts_fn(self, texts):
        words, starts, ends, features = tagged_pipeline.text_features(self.aligner, self.clean,
                                                                      texts)
        tag_ids, scores = tagged_pipeline.tag_words(self.model, features)
        return words, starts, ends, tag_ids, scores

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
            words, starts, ends, tag_ids, scores = self._tag_texts(tf.constant(chunk, tf.string))
            for row, text in enumerate(chunk):
                ids, word_scores = tag_ids[row].numpy(), scores[row].numpy()
                tagged = len(ids)  # a text cut at the sequence length has fewer tagged words
                offsets = tag_alignment.char_offsets(text, starts[row].numpy()[:tagged],
                                                     ends[row].numpy()[:tagged])
                row_words = [w.decode("utf-8") for w in words[row].numpy()[:tagged]]
                results.append(entities.entity_spans(
                    row_words, offsets, [self.tags[i] for i in ids], text=text,
                    scores=[float(s) for s in word_scores]))
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

