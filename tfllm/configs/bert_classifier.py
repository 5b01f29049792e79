"""The default experiment: a BERT topic classifier on the chatterbot English dialogs.

Select with `--config=configs/bert_classifier.py` (or nothing: it is the default)
and a variant with `--config=configs/bert_classifier.py:smoke`. Every field can be
overridden with `--config.SECTION.FIELD=VALUE`; the config is locked, so a typo
is an error before any work starts.
"""

import ml_collections


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
    model.backbone = backbone = ml_collections.ConfigDict()
    # Explicit dimensions; 0 takes the value of model.size. Names are BertBackbone's.
    backbone.num_layers = 0
    backbone.num_heads = 0
    backbone.hidden_dim = 0
    backbone.intermediate_dim = 0
    backbone.dropout = 0.1  # Dropout inside the transformer layers.
    model.pooling = "mean"  # 'mean' of token vectors (best from scratch) or 'cls' (pretrained BERT).
    model.head_dropout = 0.1  # Dropout before the classification layer.

    config.train = train = ml_collections.ConfigDict()
    train.epochs = 15  # Passes over the training data.
    train.steps_per_epoch = 0  # 0 = one full pass; otherwise stop each epoch after N steps.
    train.learning_rate = 5e-4  # Peak learning rate, reached at the end of warmup.
    train.warmup_fraction = 0.1  # Share of all steps spent warming up linearly from 0.
    train.decay = "linear"  # After warmup: 'linear', 'cosine' or 'constant'.
    train.end_learning_rate_ratio = 0.0  # Final learning rate as a share of the peak.
    train.weight_decay = 0.01  # AdamW decoupled decay; not applied to LayerNorm, bias, embeddings.
    train.ema_momentum = 0.0  # Keep an exponential moving average of weights; 0 = off.
    train.clipnorm = 1.0  # Global gradient-norm clipping; 0 = off.
    # Batches whose mean gradient makes one weight update (an update sees grad_accum_steps x
    # data.batch_size examples); 1 = update every batch.
    train.grad_accum_steps = 1
    train.label_smoothing = 0.1  # Cross-entropy label smoothing.
    train.l2 = 0.0  # Optional L2 penalty on kernels (in addition to weight decay).
    train.early_stopping_patience = 0  # Epochs without val improvement before stopping; 0 = off.
    train.checkpoint_every_epochs = 1  # Periodic checkpoints in checkpoints/; best one kept too.
    # Batches between backups (besides one at every epoch end) that a killed run resumes from.
    train.backup_every_steps = 200
    train.verbose = 1  # 0 silent, 1 progress bar, 2 one line per epoch.
    # LoRA: train low-rank adapters W + (alpha / rank) * A B on frozen weights instead of every
    # weight (start from a pretrained model.init_from); model.keras is saved merged, the adapters
    # alone in adapters.npz. A pattern names a layer by its weight path less the last part
    # ("transformer_layer_0/self_attention_layer/query"), matched whole or as a tail after a "/".
    train.lora = lora = ml_collections.ConfigDict()
    lora.rank = 0  # Rank of each adapter; 0 = off (full fine-tuning).
    lora.alpha = 0.0  # Scales the adapters' output by alpha / rank; 0 = rank (scale 1).
    lora.dropout = 0.0  # Dropout on the adapters' input while training.
    lora.targets = "query,value"  # Comma-separated patterns of the layers that get adapters.
    # Comma-separated patterns of layers trained in full besides the adapters ('' = none; the
    # new classification layer, logits, always trains).
    lora.train_also = ""

    config.runtime = runtime = ml_collections.ConfigDict()
    runtime.deterministic = False  # Deterministic ops (slower) for bit-reproducible runs.
    # 'float32', 'mixed_bfloat16' (CPUs with AVX-512 BF16, TPUs, recent GPUs),
    # 'mixed_float16' (GPUs; the loss is scaled dynamically so small gradients survive) or
    # 'auto' (mixed_bfloat16 where the hardware computes bfloat16 natively, else float32;
    # measured as accurate as float32 on the default corpus, and 1.2x faster end to end).
    runtime.mixed_precision = "auto"
    runtime.jit_compile = False  # XLA for the train step (measured slower for BERT on CPU).
    # 'none', 'mirrored' (every local GPU), 'multi_worker' (the cluster in TF_CONFIG; see
    # `tfllm train --num_workers`) or 'tpu' (runtime.tpu). data.batch_size stays the global batch.
    runtime.distribution = "none"
    runtime.tpu = ""  # TPU name or grpc:// address for 'tpu'; '' = the TPU attached to this VM.

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
