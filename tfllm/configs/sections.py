"""Config sections every experiment file shares: backbone sizes, optimization, LoRA, runtime.

Each field is defined, with its comment, once here; an experiment file passes the defaults it
changes and adds the fields only it has. The README's configuration reference lists every
field of every experiment with its default, and a test keeps the two in step.
"""

import ml_collections


def backbone(max_sequence_length=None):
    """`model.backbone`: explicit dimensions (keras-hub's argument names) that override
    `model.size`; a decoder also gets `max_sequence_length`."""
    section = ml_collections.ConfigDict()
    # Explicit dimensions; 0 takes the value of model.size.
    section.num_layers = 0
    section.num_heads = 0
    section.hidden_dim = 0
    section.intermediate_dim = 0
    section.dropout = 0.1  # Dropout inside the transformer layers (and on embeddings).
    if max_sequence_length is not None:
        section.max_sequence_length = max_sequence_length  # Positions; 0 = what the data needs.
    return section


def train(*, epochs, learning_rate, warmup_fraction=0.1, decay="linear",
          end_learning_rate_ratio=0.0, weight_decay=0.01, early_stopping_patience=0, l2=None):
    """`train`: epochs, the AdamW schedule, regularization, checkpoints and backups.

    `l2` adds the optional kernel penalty (encoders); early stopping watches the validation
    metric each task names in the README (accuracy, entity F1, start/end accuracy, loss) and
    restores the best weights."""
    section = ml_collections.ConfigDict()
    section.epochs = epochs  # Passes over the training data.
    section.steps_per_epoch = 0  # 0 = one full pass; otherwise stop each epoch after N steps.
    section.learning_rate = learning_rate  # Peak learning rate, reached at the end of warmup.
    section.warmup_fraction = warmup_fraction  # Share of all steps warming up linearly from 0.
    section.decay = decay  # After warmup: 'linear', 'cosine' or 'constant'.
    section.end_learning_rate_ratio = end_learning_rate_ratio  # Final rate as a share of peak.
    # AdamW decoupled decay; not applied to LayerNorm, bias, embeddings.
    section.weight_decay = weight_decay
    section.ema_momentum = 0.0  # Keep an exponential moving average of weights; 0 = off.
    section.clipnorm = 1.0  # Global gradient-norm clipping; 0 = off.
    # Batches whose mean gradient makes one weight update (an update sees grad_accum_steps x
    # data.batch_size examples); 1 = update every batch.
    section.grad_accum_steps = 1
    if l2 is not None:
        section.l2 = l2  # Optional L2 penalty on kernels (in addition to weight decay).
    # Epochs without a better validation metric before stopping (best weights kept); 0 = off.
    section.early_stopping_patience = early_stopping_patience
    section.checkpoint_every_epochs = 1  # Periodic checkpoints in checkpoints/; best one kept.
    # Batches between backups (besides one at every epoch end) that a killed run resumes from.
    section.backup_every_steps = 200
    section.verbose = 1  # 0 silent, 1 progress bar, 2 one line per epoch.
    return section


def lora():
    """`train.lora`: low-rank adapters W + (alpha / rank) * A B on frozen weights instead of
    training every weight (start from a pretrained model.init_from).

    model.keras is saved merged, the adapters alone in adapters.npz. A pattern names a layer by
    its weight path less the last part ("transformer_layer_0/self_attention_layer/query" in a
    BERT, ".../self_attention/query" in a GPT), matched whole or as a tail after a "/". A task's
    new output layer (logits, tag_logits, span_logits) always trains."""
    section = ml_collections.ConfigDict()
    section.rank = 0  # Rank of each adapter; 0 = off (full fine-tuning).
    section.alpha = 0.0  # Scales the adapters' output by alpha / rank; 0 = rank (scale 1).
    section.dropout = 0.0  # Dropout on the adapters' input while training.
    section.targets = "query,value"  # Comma-separated patterns of the layers that get adapters.
    section.train_also = ""  # Comma-separated patterns of layers trained in full too; '' = none.
    return section


def runtime(mixed_precision):
    """`runtime`: determinism, precision, XLA for the train step, distribution."""
    section = ml_collections.ConfigDict()
    section.deterministic = False  # Deterministic ops (slower) for bit-reproducible runs.
    # 'float32', 'mixed_bfloat16' (CPUs with AVX-512 BF16, TPUs, recent GPUs),
    # 'mixed_float16' (GPUs; the loss is scaled dynamically so small gradients survive) or
    # 'auto' (mixed_bfloat16 where the hardware computes bfloat16 natively, else float32).
    section.mixed_precision = mixed_precision
    section.jit_compile = False  # XLA for the train step (measured slower for BERT on CPU).
    # 'none', 'mirrored' (every local GPU), 'multi_worker' (the cluster in TF_CONFIG; see
    # `tfllm train --num_workers`) or 'tpu' (runtime.tpu). data.batch_size stays the global batch.
    section.distribution = "none"
    section.tpu = ""  # TPU name or grpc:// address for 'tpu'; '' = the TPU attached to this VM.
    return section
