"""A GPT language model on the chatterbot English dialogs (question -> answer turns).

Select with `--config=configs/gpt_lm.py` and a variant with
`--config=configs/gpt_lm.py:smoke`. Every field can be overridden with
`--config.SECTION.FIELD=VALUE`; the config is locked, so a typo is an error
before any work starts. Generate from the finished run with
`tfllm generate --workdir=runs/gpt_lm --prompt="What is AI?"`.
"""

import ml_collections

from tfllm.configs import sections


def get_config(variant=""):
    """Returns the config; `variant` is "" (full run) or "smoke" (seconds, for tests)."""
    config = ml_collections.ConfigDict()
    config.experiment = "gpt_lm"  # Names the default work directory runs/<experiment>.
    config.task = "language_modeling"  # Causal language modelling (next-token prediction).
    config.seed = 0  # Seeds weights, dropout and shuffling.

    config.data = data = ml_collections.ConfigDict()
    data.train = "default"  # 'default' (dialog turns), a .txt/.jsonl/.csv/.tsv path or 'tfds:NAME'.
    data.validation = ""  # Same forms; '' = hold out part of data.train by a seeded hash.
    data.validation_fraction = 0.1  # Share of data.train held out when data.validation is ''.
    data.split_seed = 0  # Seeds the hash split (independent of `seed`).
    # 'documents' (every token is a target), 'pairs' (loss on the response only) or
    # 'auto': pairs when the file has data.prompt_column (and for 'default').
    data.format = "auto"
    data.text_column = "text"  # Column / JSON key / TFDS feature of documents.
    data.prompt_column = "prompt"  # Column / key of the prompt in pairs.
    data.response_column = "response"  # Column / key of the response in pairs.
    # How a prompt is written before its response, in training and in generation.
    data.prompt_template = "{prompt}\n"
    data.tfds_data_dir = ""  # data_dir for 'tfds:' sources; '' = TFDS's default.
    data.deduplicate = True  # Drop exact duplicate documents / pairs before the split.
    data.max_bad_fraction = 0.0  # Stop when more than this share of rows is bad.
    data.max_seq_length = 128  # Tokens per packed training block.
    # How texts share a block: 'documents' = each attends only to itself, at positions from 0
    # (a block-diagonal causal mask: a text's logits are the ones it gets alone, as generation
    # sees a prompt, and no chat sees another; no measurable cost in tokens/s here,
    # BENCHMARKS.md); 'stream' = every token sees the whole block before it, other texts
    # included (how runs trained before this field; a config.json without it means 'stream').
    data.packing = "documents"
    data.batch_size = 8  # Blocks per training step (global, across replicas).
    data.shuffle_buffer = 10_000  # Blocks in the shuffle buffer.

    data.cleaning = cleaning = ml_collections.ConfigDict()
    cleaning.strip_html = False  # Remove HTML tags and decode common entities.
    cleaning.unicode_normalization = "NFC"  # '', 'NFC', 'NFKC', 'NFD' or 'NFKD'.
    cleaning.collapse_whitespace = False  # Keep line breaks: the model should learn them.
    cleaning.lowercase = False  # Keep case: the model generates it.

    config.tokenizer = tokenizer = ml_collections.ConfigDict()
    tokenizer.vocabulary = ""  # A directory with GPT-2-format vocab.json + merges.txt; '' = learn.
    tokenizer.vocabulary_size = 2_048  # Learned byte-level BPE size, end-of-text included.
    tokenizer.min_frequency = 2  # A merge must occur this often to be learned.

    config.model = model = ml_collections.ConfigDict()
    # A pretrained decoder to start from (its tokenizer and shape replace the settings here): a
    # Hugging Face GPT-2 or Llama directory, a .gguf file (Llama), a keras-hub preset directory
    # or name, an hf:// or kaggle:// handle, a .keras file or a tfllm run; '' = random weights.
    model.init_from = ""
    model.init_unsafe = False  # Allow a .keras file that needs arbitrary code to load.
    model.size = "tiny"  # tiny 2x128, mini 4x256, small 6x512, medium 8x512, base 12x768 (GPT-2).
    # GPT2Backbone's arguments; max_sequence_length is the context window, 0 = data.max_seq_length.
    model.backbone = backbone = sections.backbone(max_sequence_length=0)

    # Passes over the training blocks; early stopping watches val_loss.
    config.train = train = sections.train(
        epochs=30, learning_rate=1e-3, warmup_fraction=0.05, decay="cosine",
        end_learning_rate_ratio=0.1, weight_decay=0.1, early_stopping_patience=3)
    train.lora = sections.lora()

    # Defaults of `tfllm generate` and the text-generation pipeline for this run.
    config.generation = generation = ml_collections.ConfigDict()
    generation.sampler = "greedy"  # 'greedy', 'top_k', 'top_p', 'random' or 'beam'.
    generation.max_new_tokens = 48  # Tokens generated after the prompt at most.
    generation.temperature = 1.0  # Divides the logits before sampling (not greedy or beam).
    generation.top_k = 40  # Candidates kept by the 'top_k' sampler.
    generation.top_p = 0.9  # Probability mass kept by the 'top_p' (nucleus) sampler.
    generation.num_beams = 4  # Beams of the 'beam' sampler.
    generation.jit_compile = True  # XLA-compile the decoding loop (measured faster on CPU).
    # Weights of the in-process decoder: 'float32', or 'bfloat16' (half the bytes read per
    # token: 2.2x faster at batch 1 on a 135M model, but a greedy text can part from
    # float32's where two tokens are nearly tied). Exports keep float32.
    generation.weights_dtype = "float32"
    # Self-speculative greedy decoding: a bfloat16 copy drafts this many tokens and one float32
    # pass keeps those float32 greedy would choose (float32's text, about 1.4x faster at batch
    # 1 on 2 cores, slower at batch 8). 0 = off. Needs weights_dtype 'float32'; greedy only.
    generation.draft_tokens = 0

    config.runtime = sections.runtime(mixed_precision="float32")

    if variant == "smoke":
        # Seconds on a laptop: a toy model and a few steps; the tests run this.
        config.experiment = "gpt_lm_smoke"
        data.max_seq_length = 32
        data.batch_size = 8
        tokenizer.vocabulary_size = 300
        model.size = "tiny"
        backbone.num_layers = 1
        backbone.hidden_dim = 16
        backbone.num_heads = 2
        backbone.intermediate_dim = 32
        train.epochs = 2
        train.steps_per_epoch = 3
        train.verbose = 0
        generation.max_new_tokens = 8
    elif variant:
        raise ValueError(f"unknown variant {variant!r} of gpt_lm: expected '' or 'smoke'")
    config.lock()  # a mistyped field is an error, from Python as from flags
    return config
