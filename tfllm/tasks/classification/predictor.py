"""A trained classifier loaded from its work directory: predict and evaluate on raw text."""


import numpy as np
import tensorflow as tf

from tfllm.data import examples as examples_lib
from tfllm.data import labels as labels_lib
from tfllm.data import pipeline
from tfllm.data import sources
from tfllm.data import tokenizer as tokenizer_lib
from tfllm.errors import DataError
from tfllm.models import keras_file
from tfllm.tasks.classification import report as classification
from tfllm.workdir import finished_run


class TextClassifier:
    """The model, tokenizer, labels and cleaning of one finished run.

    Args:
        workdir: a work directory written by `tfllm.train`.

    Example:
    >>> classifier = TextClassifier("runs/bert_classifier")  # doctest: +SKIP
    >>> classifier.predict(["What is AI?"])[0]["label"]  # doctest: +SKIP
    'ai'
    """

    # The head has one output per label (labels.txt is checked against it); a subclass
    # with another head (a regression score, say) sets False.
    label_outputs = True

    def __init__(self, workdir):
        paths, self.config = finished_run(workdir)
        self.workdir = workdir
        self.labels = labels_lib.load_labels(paths.labels)
        self.model = keras_file.load_run(paths, self.config, self.label_outputs)
        tokenizer = tokenizer_lib.build_tokenizer(
            tokenizer_lib.load_vocabulary(paths.vocabulary),
            lowercase=self.config.tokenizer.get("lowercase", False))
        self.preprocessor = pipeline.build_preprocessor(tokenizer, self.config.data.max_seq_length)
        # Raw segments -> BERT features: cleaning, tokenization, packing. Traced
        # into the exported graph as is; called here through a tf.function so it
        # runs the same TensorFlow path as training's tf.data pipeline
        # (keras-hub takes a pure-Python path when eager).
        self.to_features = pipeline.features_fn(self.preprocessor, self.config.data.cleaning)
        self._features = tf.function(self.to_features, reduce_retracing=True)

    def read_texts(self, spec):
        """(texts, text pairs or None) of a data source, labels not needed; DataError at
        the first bad row."""
        data = self.config.data
        records = sources.read_records(  # labels, if the file has them, are not needed
            spec, text_column=data.text_column, text_pair_column=data.text_pair_column,
            label_column="", data_dir=data.tfds_data_dir)
        bad = [r for r in records if r.problem]
        if bad:
            raise DataError(f"{bad[0].origin}: {bad[0].problem}")
        pairs = [r.text_pair or "" for r in records] if data.text_pair_column else None
        return [r.text for r in records], pairs

    def probabilities(self, texts, text_pairs=None, batch_size=64):
        """Returns class probabilities, shape (len(texts), num_labels)."""
        outputs = []
        for start in range(0, len(texts), batch_size):
            segments = [tf.constant(texts[start:start + batch_size])]
            if text_pairs is not None:
                segments.append(tf.constant(text_pairs[start:start + batch_size]))
            logits = self.model(self._features(*segments), training=False)
            outputs.append(tf.nn.softmax(tf.cast(logits, tf.float32)).numpy())
        return np.concatenate(outputs) if outputs else np.zeros((0, len(self.labels)), np.float32)

    def predict(self, texts, text_pairs=None):
        """Returns one dict per text: {"label", "score", "probabilities": {label: p}}."""
        results = []
        for row in self.probabilities(list(texts), text_pairs):
            best = int(row.argmax())
            results.append({
                "label": self.labels[best],
                "score": float(row[best]),
                "probabilities": {label: float(p) for label, p in zip(self.labels, row)},
            })
        return results

    def evaluation_records(self, spec=""):
        """The labelled records `evaluate` scores: a data source's, read and checked as in
        training (their labels must be the model's), or the run's validation split ('')."""
        data = self.config.data
        if not spec:
            return examples_lib.prepare(data).validation
        read = examples_lib.read(spec, data)
        records, bad = examples_lib.usable(read, set(self.labels), "the model's labels")
        examples_lib.check_bad_rows(bad, len(read), data.max_bad_fraction)
        return records

    def segments(self, records):
        """(texts, text pairs or None) of records, as the run's model takes them."""
        pairs = [r.text_pair or "" for r in records] if self.config.data.text_pair_column else None
        return [r.text for r in records], pairs

    def evaluate(self, spec="", records=None):
        """Returns the classification report on a data source ('' = the run's validation
        split), or on its `records` (`evaluation_records(spec)`) when they are read already."""
        if records is None:
            records = self.evaluation_records(spec)
        probabilities = self.probabilities(*self.segments(records))
        index = {label: i for i, label in enumerate(self.labels)}
        y_true = [index[r.label] for r in records]
        return classification.evaluation_report(y_true, probabilities, self.labels,
                                                spec or "validation")
