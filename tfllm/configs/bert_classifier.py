"""The default experiment: a BERT topic classifier on the chatterbot English dialogs.

Select with `--config=configs/bert_classifier.py` (or nothing: it is the default)
and a variant with `--config=configs/bert_classifier.py:smoke`. Every field can be
overridden with `--config.SECTION.FIELD=VALUE`; the config is locked, so a typo
is an error before any work starts.
"""

import ml_collections

from tfllm.configs import sections


def get_config(variant=""):
    """Returns the config; `variant` is "" (full run) or "smoke" (seconds, for tests)."""
    config = ml_collections.ConfigDict()
    config.experiment = "bert_classifier"  # Names the default work directory runs/<experiment>.
    config.task = "text_classification"  # The only task this config family builds.
    config.seed = 0  # Seeds weights, dropout and shuffling.

    config.data = data = ml_collections.ConfigDict()
    data.train = "default"  # 'default', a .csv/.tsv/.jsonl/.txt path, or 'tfds:NAME[:SPLIT]'.
    data.validation = ""  # Same forms; '' = hold out part of data.train by a seeded hash.
    data.validation_fraction = 0.1  # Share of data.train held out when data.validation is ''.
    data.split_seed = 0  # Seeds the hash split (independent of `seed`).
    data.text_column = "text"  # Column / JSON key / TFDS feature with the text.
    data.text_pair_column = ""  # Second segment for sentence-pair tasks; '' = single sentences.
    data.label_column = "label"  # Column / key / feature with the label (strings or integers).
    data.tfds_data_dir = ""  # data_dir for 'tfds:' sources; '' = TFDS's default.
    data.deduplicate = True  # Drop exact duplicate examples before the split.
    data.max_bad_fraction = 0.0  # Stop when more than this share of rows is bad.
    data.max_seq_length = 64  # Tokens per example, [CLS] and [SEP]s included.
    data.batch_size = 32  # Examples per training step (global, across replicas).
    data.shuffle_buffer = 10_000  # Examples in the shuffle buffer.
    # 'bucketed': training batches of similar lengths, each cut to its longest example
    # (rounded up to 8 tokens), so short texts do not pay for max_seq_length positions;
    # 'dynamic': random batches, cut the same way; 'static': every batch max_seq_length wide
    # (fixed shapes for TPUs and XLA).
    data.padding = "bucketed"

    data.cleaning = cleaning = ml_collections.ConfigDict()
    cleaning.strip_html = False  # Remove HTML tags and decode common entities.
    cleaning.unicode_normalization = "NFKC"  # '', 'NFC', 'NFKC', 'NFD' or 'NFKD'.
    cleaning.collapse_whitespace = True  # Runs of whitespace become one space.
    cleaning.lowercase = True  # Unicode lower-casing before tokenization.

    config.tokenizer = tokenizer = ml_collections.ConfigDict()
    tokenizer.vocabulary = ""  # A vocab.txt to use; '' = learn one from the training text.
    tokenizer.vocabulary_size = 8_000  # Upper bound on the learned vocabulary.
    tokenizer.min_frequency = 2  # A word must occur this often to enter the learned vocabulary.
    # The tokenizer lower-cases and strips accents (set from model.init_from's checkpoint).
    tokenizer.lowercase = False

    config.model = model = ml_collections.ConfigDict()
    # A pretrained encoder to start from (its vocabulary and shape replace the settings here): a
    # Hugging Face BERT directory (config.json, model.safetensors, vocab.txt), a keras-hub preset
    # directory or name, an hf:// or kaggle:// handle, a .keras file or a tfllm run; '' = random.
    model.init_from = ""
    model.init_unsafe = False  # Allow a .keras file that needs arbitrary code to load.
    model.size = "mini"  # tiny 2x128, mini 4x256, small 4x512, medium 8x512, base 12x768.
    model.backbone = backbone = sections.backbone()  # BertBackbone's arguments
    model.pooling = "mean"  # 'mean' of token vectors (best from scratch) or 'cls' (pretrained BERT).
    model.head_dropout = 0.1  # Dropout before the classification layer.

    config.train = train = sections.train(epochs=15, learning_rate=5e-4, l2=0.0)
    train.label_smoothing = 0.1  # Cross-entropy label smoothing.
    train.lora = sections.lora()  # The new classification layer, logits, always trains.

    # 'auto' measured as accurate as float32 on the default corpus, and 1.2x faster end to end.
    config.runtime = runtime = sections.runtime(mixed_precision="auto")

    if variant == "smoke":
        # Seconds on a laptop: a toy model and a few steps; the tests run this.
        config.experiment = "bert_classifier_smoke"
        data.max_seq_length = 24
        data.batch_size = 16
        tokenizer.vocabulary_size = 400
        model.size = "tiny"
        backbone.num_layers = 1
        backbone.hidden_dim = 16
        backbone.num_heads = 2
        backbone.intermediate_dim = 32
        train.epochs = 2
        train.steps_per_epoch = 3
        train.verbose = 0
        runtime.mixed_precision = "float32"  # the same numbers on every machine the tests run on
    elif variant:
        raise ValueError(f"unknown variant {variant!r} of bert_classifier: expected '' or 'smoke'")
    config.lock()  # a mistyped field is an error, from Python as from flags
    return config
