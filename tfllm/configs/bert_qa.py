"""Extractive question answering (SQuAD-style): a BERT encoder points at the answer span.

Select with `--config=configs/bert_qa.py` and a variant with
`--config=configs/bert_qa.py:smoke`. There is no default corpus: name the
training file with `--config.data.train=FILE` (SQuAD v1.1/v2.0 JSON, or JSON
Lines in the Hugging Face `squad` layout); `python -m tfllm.tasks.span_qa.toy_data FILE`
writes a toy one. Every field can be overridden with `--config.SECTION.FIELD=VALUE`;
the config is locked, so a typo is an error before any work starts.
"""

import ml_collections

from tfllm.configs import sections


def get_config(variant=""):
    """Returns the config; `variant` is "" (full run) or "smoke" (seconds, for tests)."""
    config = ml_collections.ConfigDict()
    config.experiment = "bert_qa"  # Names the default work directory runs/<experiment>.
    config.task = "span_qa"  # Extractive QA: the answer is a span of the context.
    config.seed = 0  # Seeds weights, dropout and shuffling.

    config.data = data = ml_collections.ConfigDict()
    # Required: SQuAD v1.1/v2.0 JSON ({"data": [{"paragraphs": [...]}]}) or JSON Lines with
    # one {"id", "question", "context", "answers": {"text", "answer_start"}} per line.
    data.train = ""
    # Same forms; '' = hold out part of data.train by a seeded hash of the context, so the
    # questions (and windows) of one context never straddle the split.
    data.validation = ""
    data.validation_fraction = 0.1  # Share of contexts held out when data.validation is ''.
    data.split_seed = 0  # Seeds the hash split (independent of `seed`).
    # Stop when more than this share of questions is bad (answer not at answer_start,
    # missing fields, duplicate ids, an answer no window holds whole); below it they are
    # dropped and listed by file and record.
    data.max_bad_fraction = 0.0
    data.max_seq_length = 384  # Tokens per window: [CLS] question [SEP] context [SEP].
    data.max_query_length = 64  # Question tokens kept (the first ones).
    # Context tokens between the starts of consecutive windows over a long context; at most
    # max_seq_length - max_query_length - 3.
    data.doc_stride = 128
    data.max_answer_length = 30  # Longest answer predicted, in tokens.
    data.n_best = 20  # Start and end candidates per window paired in decoding.
    # Unanswerable questions (SQuAD v2.0): 'auto' (allowed when the training data has some),
    # 'yes' or 'no' (always answer, v1.1). The resolved config.json records yes or no.
    data.allow_no_answer = "auto"
    # With no-answer allowed: answer '' when the [CLS] score beats the best span score by
    # more than this (in logits; raise it for fewer empty answers).
    data.null_threshold = 0.0
    data.batch_size = 32  # Windows per training step (global, across replicas).
    data.shuffle_buffer = 10_000  # Windows in the shuffle buffer.
    # 'bucketed': training batches of similar lengths, each cut to its longest window
    # (rounded up to 8 tokens); 'dynamic': random batches, cut the same way; 'static':
    # every batch max_seq_length wide (fixed shapes for TPUs and XLA).
    data.padding = "bucketed"

    config.tokenizer = tokenizer = ml_collections.ConfigDict()
    # A vocab.txt to use; '' = learn one from the training contexts and questions.
    tokenizer.vocabulary = ""
    tokenizer.vocabulary_size = 8_000  # Upper bound on the learned vocabulary.
    tokenizer.min_frequency = 2  # A word must occur this often to enter the learned vocabulary.
    # The tokenizer lower-cases and strips accents (set from model.init_from's checkpoint);
    # answers are cut from the context as written either way.
    tokenizer.lowercase = False

    config.model = model = ml_collections.ConfigDict()
    # A pretrained encoder to start from (its vocabulary and shape replace the settings here):
    # a Hugging Face BERT directory, a keras-hub preset directory or name, an hf:// or
    # kaggle:// handle, a .keras file or a text-classification run; '' = random weights.
    model.init_from = ""
    model.init_unsafe = False  # Allow a .keras file that needs arbitrary code to load.
    model.size = "mini"  # tiny 2x128, mini 4x256, small 4x512, medium 8x512, base 12x768.
    model.backbone = backbone = sections.backbone()  # BertBackbone's arguments
    model.head_dropout = 0.1  # Dropout before the per-token start/end layer.

    # Passes over the training windows; early stopping watches the validation start/end accuracy.
    config.train = train = sections.train(epochs=3, learning_rate=5e-4, l2=0.0)
    train.lora = sections.lora()  # The new per-token layer, span_logits, always trains.

    config.runtime = runtime = sections.runtime(mixed_precision="auto")

    if variant == "smoke":
        # Seconds on a laptop: a toy model and a few steps; still needs --config.data.train.
        # Toy contexts (tfllm.tasks.span_qa.toy_data) take 2-4 windows of 64 tokens each.
        config.experiment = "bert_qa_smoke"
        data.max_seq_length = 64
        data.max_query_length = 16
        data.doc_stride = 24
        data.batch_size = 16
        tokenizer.vocabulary_size = 400
        model.size = "tiny"
        backbone.num_layers = 2
        backbone.hidden_dim = 64
        backbone.num_heads = 2
        backbone.intermediate_dim = 128
        model.head_dropout = 0.0
        backbone.dropout = 0.0
        train.epochs = 2
        train.steps_per_epoch = 150
        train.learning_rate = 1e-3
        train.warmup_fraction = 0.0  # few steps: learn from the first one
        train.decay = "constant"
        train.verbose = 0
        runtime.mixed_precision = "float32"  # the same numbers on every machine the tests run on
    elif variant:
        raise ValueError(f"unknown variant {variant!r} of bert_qa: expected '' or 'smoke'")
    config.lock()  # a mistyped field is an error, from Python as from flags
    return config
