"""Token classification (named-entity tagging): a BERT encoder tags every word of a sentence.

Select with `--config=configs/bert_tagger.py` and a variant with
`--config=configs/bert_tagger.py:smoke`. There is no default corpus: name the
tagged training file with `--config.data.train=FILE` (CoNLL, or JSON Lines with
a token list and a tag list per line); `python -m tfllm.tasks.tagging.toy_data FILE`
writes a toy one. Every field can be overridden with `--config.SECTION.FIELD=VALUE`;
the config is locked, so a typo is an error before any work starts.
"""

import ml_collections

from tfllm.configs import sections


def get_config(variant=""):
    """Returns the config; `variant` is "" (full run) or "smoke" (seconds, for tests)."""
    config = ml_collections.ConfigDict()
    config.experiment = "bert_tagger"  # Names the default work directory runs/<experiment>.
    config.task = "tagging"  # Token classification: one tag per word.
    config.seed = 0  # Seeds weights, dropout and shuffling.

    config.data = data = ml_collections.ConfigDict()
    # Required: a CoNLL file (word first, tag last on each line, a blank line between
    # sentences) or a .jsonl/.json file of {"tokens": [...], "tags": [...]} objects.
    data.train = ""
    data.validation = ""  # Same forms; '' = hold out part of data.train by a seeded hash.
    data.validation_fraction = 0.1  # Share of data.train held out when data.validation is ''.
    data.split_seed = 0  # Seeds the hash split (independent of `seed`).
    data.scheme = "BIO"  # Tag scheme: 'BIO' (IOB2: B-X, I-X, O) or 'BIOES' (also E-X, S-X).
    data.tokens_key = "tokens"  # JSON Lines: the key of the word list.
    data.tags_key = "tags"  # JSON Lines: the key of the tag list.
    data.deduplicate = True  # Drop exact duplicate sentences (same words, same tags).
    # Stop when more than this share of sentences is bad (malformed lines, tags outside the
    # scheme or, in validation data, outside the training tags, sentences longer than
    # max_seq_length); below it they are dropped and listed by file:line.
    data.max_bad_fraction = 0.0
    data.max_seq_length = 128  # WordPiece tokens per sentence, [CLS] and [SEP] included.
    data.batch_size = 32  # Sentences per training step (global, across replicas).
    data.shuffle_buffer = 10_000  # Sentences in the shuffle buffer.
    # 'bucketed': training batches of similar lengths, each cut to its longest sentence
    # (rounded up to 8 tokens); 'dynamic': random batches, cut the same way; 'static':
    # every batch max_seq_length wide (fixed shapes for TPUs and XLA).
    data.padding = "bucketed"

    # Cleaning runs on each word separately, so entity offsets always point into the
    # original text; whitespace and HTML cleaning do not apply to words.
    data.cleaning = cleaning = ml_collections.ConfigDict()
    cleaning.unicode_normalization = "NFKC"  # '', 'NFC', 'NFKC', 'NFD' or 'NFKD'.
    cleaning.lowercase = False  # Lower-case words; case is a strong cue for names, so off.

    config.tokenizer = tokenizer = ml_collections.ConfigDict()
    tokenizer.vocabulary = ""  # A vocab.txt to use; '' = learn one from the training words.
    tokenizer.vocabulary_size = 8_000  # Upper bound on the learned vocabulary.
    tokenizer.min_frequency = 2  # A word must occur this often to enter the learned vocabulary.
    # The tokenizer lower-cases and strips accents (set from model.init_from's checkpoint).
    tokenizer.lowercase = False

    config.model = model = ml_collections.ConfigDict()
    # A pretrained encoder to start from (its vocabulary and shape replace the settings here):
    # a Hugging Face BERT directory, a keras-hub preset directory or name, an hf:// or
    # kaggle:// handle, a .keras file or a text-classification run; '' = random weights.
    model.init_from = ""
    model.init_unsafe = False  # Allow a .keras file that needs arbitrary code to load.
    model.size = "mini"  # tiny 2x128, mini 4x256, small 4x512, medium 8x512, base 12x768.
    model.backbone = backbone = sections.backbone()  # BertBackbone's arguments
    model.head_dropout = 0.1  # Dropout before the per-token tag layer.

    # Early stopping watches the validation token accuracy.
    config.train = train = sections.train(epochs=10, learning_rate=5e-4, l2=0.0)
    train.lora = sections.lora()  # The new per-token layer, tag_logits, always trains.

    config.runtime = runtime = sections.runtime(mixed_precision="auto")

    if variant == "smoke":
        # Seconds on a laptop: a toy model and a few steps; still needs --config.data.train.
        config.experiment = "bert_tagger_smoke"
        data.max_seq_length = 32
        data.batch_size = 16
        tokenizer.vocabulary_size = 200
        model.size = "tiny"
        backbone.num_layers = 1
        backbone.hidden_dim = 32
        backbone.num_heads = 2
        backbone.intermediate_dim = 64
        train.epochs = 2
        train.steps_per_epoch = 10
        train.learning_rate = 5e-3
        train.verbose = 0
        runtime.mixed_precision = "float32"  # the same numbers on every machine the tests run on
    elif variant:
        raise ValueError(f"unknown variant {variant!r} of bert_tagger: expected '' or 'smoke'")
    config.lock()  # a mistyped field is an error, from Python as from flags
    return config
