"""Text to text (`task: seq2seq`): source -> target pairs on a BART encoder-decoder or a GPT.

Select with `--config=configs/seq2seq.py` and a variant with
`--config=configs/seq2seq.py:translation_smoke` or `:summarization_smoke` (toy sizes, seconds).
There is no default corpus: name the pairs with `--config.data.train=FILE` (TSV with a header,
or JSON Lines); `python -m tfllm.tasks.seq2seq.toy_data FILE --kind=translation|summarization`
writes a toy one. Every field can be overridden with `--config.SECTION.FIELD=VALUE`; the
config is locked, so a typo is an error before any work starts.
"""

import ml_collections

from tfllm.configs import sections

ARCHITECTURES = ("bart", "gpt")
VARIANTS = ("", "translation_smoke", "summarization_smoke")


def get_config(variant=""):
    """Returns the config; `variant` is one of VARIANTS ('' = full-size defaults)."""
    config = ml_collections.ConfigDict()
    config.experiment = "seq2seq"  # Names the default work directory runs/<experiment>.
    config.task = "seq2seq"  # Text to text: generate the target of each source.
    config.seed = 0  # Seeds weights, dropout and shuffling.

    config.data = data = ml_collections.ConfigDict()
    data.train = ""  # Required: a .tsv (header row) or .jsonl file of source/target pairs.
    data.validation = ""  # Same forms; '' = hold out part of data.train by a seeded hash.
    data.validation_fraction = 0.1  # Share of data.train held out when data.validation is ''.
    data.split_seed = 0  # Seeds the hash split (independent of `seed`).
    data.source_column = "source"  # TSV column / JSON key of the source text.
    data.target_column = "target"  # TSV column / JSON key of the target text.
    data.deduplicate = True  # Drop exact duplicate pairs (after cleaning) before the split.
    data.max_bad_fraction = 0.0  # Stop when more than this share of rows is bad (too long too).
    # BART: source tokens per example, <s> and </s> included; a longer source is a bad row.
    data.max_source_length = 64
    # BART: target tokens per example, </s> included; a longer target is a bad row (never cut).
    data.max_target_length = 64
    data.batch_size = 16  # Pairs per training step.
    data.shuffle_buffer = 10_000  # Pairs in the shuffle buffer.
    # GPT: how a source is written before its target (the language model's prompt template).
    data.prompt_template = "{prompt}\n"

    data.cleaning = cleaning = ml_collections.ConfigDict()
    cleaning.strip_html = False  # Remove HTML tags and decode common entities.
    cleaning.unicode_normalization = "NFC"  # '', 'NFC', 'NFKC', 'NFD' or 'NFKD'.
    cleaning.collapse_whitespace = True  # Runs of whitespace become one space, ends stripped.
    cleaning.lowercase = False  # Keep case: the model generates it.

    config.tokenizer = tokenizer = ml_collections.ConfigDict()
    # A directory with vocab.json + merges.txt (BART: holding <s> <pad> </s>; GPT:
    # <|endoftext|>); '' = learn byte-level BPE from the training sources and targets.
    tokenizer.vocabulary = ""
    tokenizer.vocabulary_size = 2_048  # Learned byte-level BPE size, special tokens included.
    tokenizer.min_frequency = 2  # A merge must occur this often to be learned.

    config.model = model = ml_collections.ConfigDict()
    # 'bart' (keras-hub BartSeq2SeqLM: encoder-decoder) or 'gpt' (a decoder trained on
    # source -> target as prompt -> response, exactly as configs/gpt_lm.py with pairs).
    model.architecture = "bart"
    # GPT only (as in configs/gpt_lm.py): a pretrained decoder to start from; '' = random.
    # BART runs start from random weights.
    model.init_from = ""
    model.init_unsafe = False  # Allow a .keras file that needs arbitrary code to load.
    # tiny 2x128, mini 4x256, small 6x512, medium 8x512, base 12x768 (BART: layers each side).
    model.size = "tiny"
    # BartBackbone's (or GPT2Backbone's) arguments; max_sequence_length 0 = what the data needs
    # (BART: the longer of the source length and the target length + 2).
    model.backbone = sections.backbone(max_sequence_length=0)

    # Passes over the training pairs; early stopping watches val_loss.
    config.train = sections.train(
        epochs=30, learning_rate=1e-3, warmup_fraction=0.05, decay="cosine",
        end_learning_rate_ratio=0.1, early_stopping_patience=3)

    # Defaults of `tfllm predict` / `tfllm generate` and of Seq2Seq.generate for this run.
    config.generation = generation = ml_collections.ConfigDict()
    generation.sampler = "greedy"  # 'greedy', 'top_k', 'top_p', 'random' or 'beam'.
    generation.max_new_tokens = 0  # Target tokens generated at most; 0 = data.max_target_length.
    generation.temperature = 1.0  # Divides the logits before sampling (not greedy or beam).
    generation.top_k = 40  # Candidates kept by the 'top_k' sampler.
    generation.top_p = 0.9  # Probability mass kept by the 'top_p' (nucleus) sampler.
    generation.num_beams = 4  # Beams of the 'beam' sampler.
    generation.jit_compile = True  # XLA-compile the decoding loop (one compile per shape).

    config.runtime = sections.runtime(mixed_precision="float32")

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} of seq2seq: expected one of {VARIANTS}")
    if variant:
        _smoke(config, variant)
    config.lock()  # a mistyped field is an error, from Python as from flags
    return config


def _smoke(config, variant):
    """Toy sizes that learn the toy data of `tfllm.tasks.seq2seq.toy_data` in seconds."""
    config.experiment = f"seq2seq_{variant}"
    config.data.batch_size = 8
    config.data.max_source_length = 24 if variant == "translation_smoke" else 40
    config.data.max_target_length = 24 if variant == "translation_smoke" else 12
    config.tokenizer.vocabulary_size = 320
    backbone = config.model.backbone
    backbone.num_layers, backbone.num_heads = 1, 4  # 2 heads of 32 learned far slower
    backbone.hidden_dim, backbone.intermediate_dim = 64, 128
    backbone.dropout = 0.0  # learning a toy set: nothing to regularise
    train = config.train
    train.epochs = 30
    train.learning_rate = 5e-3
    train.weight_decay = 0.0
    train.early_stopping_patience = 0
    train.checkpoint_every_epochs = 0
    train.verbose = 0
    config.generation.jit_compile = False  # toy shapes change often; tracing beats compiling
