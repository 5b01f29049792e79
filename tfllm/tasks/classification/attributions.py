"""Integrated gradients for a trained classifier: how much each token moved one logit.

Integrated gradients (Sundararajan et al., 2017, https://arxiv.org/abs/1703.01365)
integrate the gradient of the target logit along the straight line from a
baseline input to the real one, in the space of token embeddings (token ids are
discrete; their embeddings are not). Per token, the integrated gradient times
(input - baseline), summed over the embedding dimensions, is its attribution.
The attributions add up to logit(input) - logit(baseline) ("completeness"); how
far the Riemann sum misses that is reported, so a reader knows whether `steps`
was enough.

The baseline is the same packed sequence with every word piece's embedding
replaced by the [PAD] token's: [CLS], [SEP], positions and segments stay, so
only the words themselves are attributed.

Example:
>>> classifier = tfllm.load("runs/bert_classifier")  # doctest: +SKIP
>>> explanation = explain(classifier, "who scored the goal?")  # doctest: +SKIP
>>> print("\\n".join(to_terminal(explanation)))  # doctest: +SKIP
"""

import dataclasses
import html

import keras_hub
import numpy as np
import tensorflow as tf

from tfllm.errors import TfllmError

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]")
BAR_WIDTH = 30  # characters of the longest bar in the terminal view


@dataclasses.dataclass(frozen=True)
class Explanation:
    """Integrated-gradient attributions of one classification.

    Args:
        tokens: the WordPiece tokens the model saw (after cleaning and
            truncation), [CLS] and [SEP] included, padding not.
        attributions: one float per token, toward `label`'s logit; 0 for
            [CLS] and [SEP], which the baseline keeps.
        label: the explained class (the predicted one unless asked otherwise).
        probability: the model's probability of `label` for the input.
        logit: `label`'s logit for the input.
        baseline_logit: `label`'s logit for the baseline.
        steps: intervals of the trapezoid rule along the path.
    """

    tokens: list
    attributions: np.ndarray
    label: str
    probability: float
    logit: float
    baseline_logit: float
    steps: int

    @property
    def completeness_gap(self):
        """|sum(attributions) - (logit - baseline_logit)| / |logit - baseline_logit|."""
        delta = self.logit - self.baseline_logit
        error = abs(float(np.sum(self.attributions)) - delta)
        if delta == 0:
            return 0.0 if error == 0 else float("inf")
        return error / abs(delta)

    def words(self):
        """(word, attribution) pairs: '##' pieces merged into their word, scores summed.

        [CLS], padding and the final [SEP] are left out; a [SEP] between the two
        segments of a pair stays, to show where the second text starts.
        """
        words = []
        last = len(self.tokens) - 1
        for i, (token, score) in enumerate(zip(self.tokens, self.attributions, strict=True)):
            if token in ("[CLS]", "[PAD]") or (token == "[SEP]" and i == last):
                continue
            if token.startswith("##") and words and words[-1][0] not in SPECIAL_TOKENS:
                words[-1] = (words[-1][0] + token[2:], words[-1][1] + float(score))
            else:
                words.append((token, float(score)))
        return words


def _parts(model):
    """Returns (backbone, pooling, output layer) of a classifier `tfllm.tasks.classification.head` built."""
    backbones = [layer for layer in model.layers
                 if isinstance(layer, keras_hub.models.BertBackbone)]
    names = {layer.name for layer in model.layers}
    if len(backbones) != 1 or "logits" not in names:
        raise TfllmError(f"model {model.name!r} is not a BERT classifier built by tfllm "
                         "(expected one BertBackbone and a 'logits' layer)")
    pooling = "mean" if "mean_pooling" in names else "cls"
    return backbones[0], pooling, model.get_layer("logits")


def logits_from_embeddings(model, token_embeddings, features):
    """Runs `model` from its token-embedding output on, in inference mode (no dropout).

    The same layers, in the same order, as BertBackbone and tfllm's heads: the
    token embeddings are an input here, so they can be interpolated and
    differentiated.

    Args:
        model: a classifier from `tfllm.tasks.classification.head.build_classifier` (or loaded).
        token_embeddings: (batch, seq, hidden), in place of the token embedding
            layer's output.
        features: "segment_ids" and "padding_mask" of shape (batch, seq).

    Returns:
        float32 logits, (batch, num_classes).
    """
    backbone, pooling, output = _parts(model)
    positions = backbone.position_embedding(token_embeddings)  # (batch, seq, hidden)
    segments = backbone.segment_embedding(features["segment_ids"])
    x = backbone.embeddings_add((token_embeddings, positions, segments))
    x = backbone.embeddings_layer_norm(x)  # embeddings_dropout: identity at inference
    for layer in backbone.transformer_layers:
        x = layer(x, padding_mask=features["padding_mask"], training=False)
    if pooling == "mean":
        pooled = model.get_layer("mean_pooling")((x, features["padding_mask"]))
    else:  # keras-hub's BertTextClassifier: the pooler on [CLS]
        pooled = backbone.pooled_dense(x[:, backbone.cls_token_index, :])
    return tf.cast(output(pooled), tf.float32)  # head dropout: identity at inference


def token_embeddings(model, token_ids):
    """The token embedding layer's output for `token_ids`, as float32."""
    backbone, _, _ = _parts(model)
    return tf.cast(backbone.token_embedding(token_ids), tf.float32)


def _path_gradients(model, inputs, baseline, features, target, steps, batch_size):
    """Target logits and their gradients at the steps + 1 points baseline -> inputs.

    Returns (logits (steps + 1,), gradients (steps + 1, seq, hidden)).
    """
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    chunks = np.array_split(alphas, -(-len(alphas) // batch_size))
    logits, gradients = [], []
    for chunk in chunks:
        alpha = tf.constant(chunk)[:, None, None]  # (n, 1, 1)
        path = baseline + alpha * (inputs - baseline)  # (n, seq, hidden)
        batch = {k: tf.repeat(v, len(chunk), axis=0) for k, v in features.items()}
        with tf.GradientTape() as tape:
            tape.watch(path)
            target_logits = logits_from_embeddings(model, path, batch)[:, target]
        gradients.append(tape.gradient(target_logits, path))
        logits.append(target_logits)
    return tf.concat(logits, 0).numpy(), tf.concat(gradients, 0)


def load_classifier(workdir):
    """The TextClassifier of a finished classification run; TfllmError for any other directory.

    Checks the run's task before loading the model, so a language-model run is
    turned away at once with a message saying what it is.
    """
    # pylint: disable=import-outside-toplevel
    from tfllm.tasks.classification.predictor import TextClassifier
    from tfllm.workdir import finished_run
    _, config = finished_run(workdir)
    if config.task != "text_classification":
        raise TfllmError(f"{workdir} is a {config.task} run; explain needs a text "
                         "classification run")
    classifier = TextClassifier(workdir)
    _parts(classifier.model)  # a model explain cannot run from its embeddings fails here
    return classifier


def _segments(classifier, text, text_pair):
    """The run's segments as tensors: two for a pair run (a missing pair is ''), else one.

    Always the arity the run was trained with: the classifier's traced feature
    function must not see both.
    """
    if not classifier.config.data.text_pair_column:
        if text_pair is not None:
            raise TfllmError("text_pair given, but the run was trained on single texts "
                             "(data.text_pair_column is empty)")
        return [tf.constant([text])]
    return [tf.constant([text]), tf.constant([text_pair or ""])]


def _target_index(labels, target, probabilities):
    if target is None:
        return int(np.argmax(probabilities))
    if target not in labels:
        raise TfllmError(f"unknown label {target!r}; the model's labels are {list(labels)}")
    return list(labels).index(target)


def explain(classifier, text, target=None, steps=64, text_pair=None, batch_size=64):
    """Returns the integrated-gradient `Explanation` of `classifier` on one text.

    Args:
        classifier: a `tfllm.tasks.classification.predictor.TextClassifier`.
        text: the text (first segment) to explain.
        target: the label whose logit to explain; None = the predicted label.
        steps: intervals of the trapezoid rule; more is closer to completeness.
        text_pair: the second segment, for sentence-pair runs.
        batch_size: path points per forward pass.
    """
    if not text or not text.strip():
        raise TfllmError("text is empty: nothing to explain")
    if steps < 1:
        raise TfllmError(f"steps must be a positive integer, got {steps}")
    segments = _segments(classifier, text, text_pair)
    features = classifier._features(*segments)  # pylint: disable=protected-access
    model_logits = tf.cast(classifier.model(features, training=False), tf.float32)[0].numpy()
    probabilities = tf.nn.softmax(model_logits).numpy()
    index = _target_index(classifier.labels, target, probabilities)

    # Padding is masked out of attention and pooling, so dropping it changes no
    # logit and saves the path most of its work on short texts.
    length = int(tf.reduce_sum(tf.cast(features["padding_mask"], tf.int32)))
    features = {k: v[:, :length] for k, v in features.items()}
    tokenizer = classifier.preprocessor.tokenizer
    ids = features["token_ids"]
    special = np.isin(ids.numpy()[0], [tokenizer.cls_token_id, tokenizer.sep_token_id,
                                       tokenizer.pad_token_id])
    if special.all():
        raise TfllmError(f"text {text!r} has no tokens to attribute after cleaning")
    inputs = token_embeddings(classifier.model, ids)  # (1, seq, hidden)
    pad = token_embeddings(classifier.model, tf.constant([[tokenizer.pad_token_id]]))
    baseline = tf.where(special[None, :, None], inputs, pad)  # (1, seq, hidden)

    logits, gradients = _path_gradients(classifier.model, inputs, baseline, features, index,
                                        steps, batch_size)
    tolerance = 1e-3 if classifier.model.compute_dtype == "float32" else 5e-2  # 16-bit: looser
    if abs(logits[-1] - model_logits[index]) > tolerance * (1.0 + abs(model_logits[index])):
        raise RuntimeError(f"the forward pass from the embeddings gives logit {logits[-1]:.6f}, "
                           f"the model {model_logits[index]:.6f}: attributions would be wrong")
    weights = np.full(steps + 1, 1.0 / steps, np.float32)  # trapezoid rule on [0, 1]
    weights[[0, -1]] /= 2
    mean_gradient = tf.tensordot(tf.constant(weights), gradients, axes=1)  # (seq, hidden)
    attributions = tf.reduce_sum((inputs - baseline)[0] * mean_gradient, -1).numpy()
    vocabulary = tokenizer.get_vocabulary()
    return Explanation(
        tokens=[vocabulary[i] for i in ids.numpy()[0]], attributions=attributions,
        label=classifier.labels[index], probability=float(probabilities[index]),
        logit=float(logits[-1]), baseline_logit=float(logits[0]), steps=steps)


def _items(explanation, words):
    if words:
        return explanation.words()
    pairs = zip(explanation.tokens, explanation.attributions, strict=True)
    return [(token, float(score)) for token, score in pairs]


def summary(explanation):
    """One line: the label, its probability, the logit change and the completeness gap."""
    e = explanation
    return (f"{e.label}: probability {e.probability:.4f}; logit {e.logit:+.4f} vs baseline "
            f"{e.baseline_logit:+.4f}; attributions sum {float(np.sum(e.attributions)):+.4f}"
            f" (completeness gap {e.completeness_gap:.2%}, {e.steps} steps)")


def to_terminal(explanation, words=True):
    """Returns lines `token  score  bar  sign`, the bar's length proportional to |score|."""
    items = _items(explanation, words)
    if not items:
        return []
    width = min(max(len(token) for token, _ in items), 24)
    largest = max(abs(score) for _, score in items) or 1.0
    lines = []
    for token, score in items:
        bar = "█" * round(BAR_WIDTH * abs(score) / largest)
        lines.append(f"{token:<{width}}  {score:+.4f}  {bar:<{BAR_WIDTH}}  "
                     f"{'+' if score >= 0 else '-'}")
    return lines


def _colour(score, largest):
    """Green toward the label, red against it; opacity by |score| / max."""
    rgb = "0, 150, 0" if score >= 0 else "210, 0, 0"
    return f"rgba({rgb}, {abs(score) / largest:.3f})"


def to_html(explanation, words=True):
    """Returns a self-contained HTML page: the text as spans coloured by attribution."""
    e = explanation
    items = _items(e, words)
    largest = max((abs(score) for _, score in items), default=0.0) or 1.0
    spans = "\n".join(
        f'<span class="t" style="background: {_colour(score, largest)}" '
        f'title="{score:+.4f}">{html.escape(token)}</span>' for token, score in items)
    title = (f"{html.escape(e.label)} (probability {e.probability:.4f}), completeness gap "
             f"{e.completeness_gap:.2%}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }}
.text {{ line-height: 2.4; font-size: 1.2em; }}
.t {{ padding: 0.2em 0.3em; border-radius: 0.3em; margin: 0 0.1em; }}
.note {{ color: #555; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="text">
{spans}
</p>
<p class="note">Integrated gradients over the token embeddings ({e.steps} steps, baseline:
every word piece replaced by [PAD]). <span style="color: rgb(0, 150, 0)">Green</span> pushes
toward {html.escape(e.label)}, <span style="color: rgb(210, 0, 0)">red</span> against;
hover a token for its score. Logit {e.logit:+.4f}, baseline {e.baseline_logit:+.4f},
attributions sum {float(np.sum(e.attributions)):+.4f}.</p>
</body>
</html>
"""


def save_png(explanation, path, words=True, columns=12):
    """Writes the attributions as a heat map of token cells (rows of `columns`) to `path`."""
    # The object API, not pyplot: writing a file must not change a notebook's backend.
    from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel

    items = _items(explanation, words)
    columns = max(1, min(columns, len(items)))
    rows = -(-max(len(items), 1) // columns)
    grid = np.full((rows, columns), np.nan)
    for i, (_, score) in enumerate(items):
        grid[i // columns, i % columns] = score
    largest = max((abs(score) for _, score in items), default=0.0) or 1.0
    figure = Figure(figsize=(1.1 * columns, 0.6 * rows + 0.8))
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(grid, cmap="RdYlGn", vmin=-largest, vmax=largest, aspect="auto")
    for i, (token, score) in enumerate(items):
        axes.text(i % columns, i // columns, f"{token}\n{score:+.3f}", ha="center",
                  va="center", fontsize=8)
    axes.set_axis_off()
    axes.set_title(f"{explanation.label} (p={explanation.probability:.3f}), completeness gap "
                   f"{explanation.completeness_gap:.2%}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
