"""LoRA: train low-rank adapters on a frozen model, save them alone, fold them in for export.

A targeted Dense or EinsumDense layer computes y = x W + (alpha / rank) * x A B with
W frozen and only A and B trained (B starts at zero). The adapters are Keras' own
(`layer.enable_lora`); this module adds what Keras and keras-hub's
`Backbone.enable_lora` lack: targets chosen by pattern over a whole model, heads
included; `train_also`, the layers that train in full beside the adapters (a new
task head); dropout on the low-rank path's input, y = x W + s * dropout(x) A B;
adapter files that hold the adapters, the train_also weights and the settings and
refuse another base model or setting; and `merge_lora`, which leaves a plain model.

Names. A layer is named by the path of its weights less the last part, as
`[w.path for w in model.weights]` shows: keras-hub BERT's
"transformer_layer_0/self_attention_layer/query", GPT-2's
"transformer_layer_0/self_attention/query", BertTextClassifier's head "logits".
Unlike layer names ("bert_backbone_1"), these do not depend on what the process
built before. A pattern (`fnmatch` glob; `*` also matches "/") selects a layer if
it matches the whole name or a tail of it that starts after a "/": "query" selects
every layer called query, "transformer_layer_1/*" everything in that block.
EinsumDense adapters are per output head, as Keras makes them: a query kernel
(hidden, heads, head_dim) gets A (hidden, heads, rank) and B (rank, head_dim).

Adapter files (save, load, refuse another base) are `tfllm.models.lora_files`.

Example:
    print(lora.apply_lora(classifier, rank=8, train_also=("logits",)))
    classifier.compile(...); classifier.fit(...)
    lora_files.save_adapters(classifier, "adapters.npz")
    lora.merge_lora(classifier)  # a plain model now: save or export it
"""

import dataclasses
import fnmatch
import types

import keras
import numpy as np

from tfllm.errors import TfllmError

# The attention query and value projections, as in the LoRA paper; these are
# the layer names in keras-hub's BERT, GPT-2, Llama, Mistral, Gemma and Qwen.
DEFAULT_TARGETS = ("query", "value")
FORMAT = "tfllm-lora-adapters"
VERSION = 1
_STATE = "_tfllm_lora"


class LoraError(TfllmError):
    """A LoRA setting, a pattern or an adapter file cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class LoraSummary:
    """What `apply_lora` (or `load_adapters`) did: the settings, the layers, the counts."""

    rank: int
    alpha: float
    dropout: float
    targets: tuple  # patterns, as given
    train_also: tuple  # patterns, as given
    target_layers: tuple  # layer names (weight paths without the last part)
    train_also_weights: tuple  # weight paths
    trainable_params: int
    total_params: int

    def __str__(self):
        share = 100.0 * self.trainable_params / max(self.total_params, 1)
        return (f"LoRA rank {self.rank} (alpha {self.alpha:g}, dropout {self.dropout:g}) on "
                f"{len(self.target_layers)} layers, {len(self.train_also_weights)} weights "
                f"trained in full: training {self.trainable_params:,} of "
                f"{self.total_params:,} parameters ({share:.2f}%)")


@dataclasses.dataclass(frozen=True)
class _State:
    summary: LoraSummary
    layers: tuple  # (name, layer) of each target
    train_also: tuple  # (path, variable)
    layer_trainable: tuple  # (layer, flag) before apply_lora
    variable_trainable: tuple  # (variable, flag) before apply_lora


def layer_name(layer_or_variable):
    """The name patterns match: the weight path without its last part."""
    variable = getattr(layer_or_variable, "_kernel", layer_or_variable)
    return variable.path.rpartition("/")[0]


def _unique(keys, what):
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise LoraError(f"{what} {twice} appear twice in the model; an adapter file could not "
                        "tell them apart")


def _matches(name, pattern):
    parts = name.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))


def _select(names, patterns, what, model):
    """Indices of the names some pattern selects; a pattern that selects none is an error."""
    chosen = set()
    for pattern in patterns:
        hits = {i for i, name in enumerate(names) if _matches(name, pattern)}
        if not hits:
            known = list(dict.fromkeys(names))
            more = f", ... ({len(known) - 12} more)" if len(known) > 12 else ""
            raise LoraError(f"{what} pattern {pattern!r} matches nothing in model "
                            f"{model.name!r}; the candidates are: {', '.join(known[:12])}{more}")
        chosen |= hits
    return sorted(chosen)


def _check_settings(rank, alpha, dropout, targets, train_also):
    for what, patterns in (("targets", targets), ("train_also", train_also)):
        if isinstance(patterns, str):
            raise LoraError(f"LoRA {what} must be a list of patterns, got {patterns!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise LoraError(f"LoRA rank must be a positive integer, got {rank!r}")
    if alpha is not None and not alpha > 0:
        raise LoraError(f"LoRA alpha must be positive (or None for alpha = rank), got {alpha!r}")
    if not 0.0 <= dropout < 1.0:
        raise LoraError(f"LoRA dropout must be in [0, 1), got {dropout!r}")


def _target_layers(model, targets, dropout):
    order = {id(w): i for i, w in enumerate(model.weights)}  # layer 0 before layer 1
    candidates = sorted((layer for layer in model._flatten_layers(include_self=False)
                         if isinstance(layer, (keras.layers.Dense, keras.layers.EinsumDense))
                         and id(getattr(layer, "_kernel", None)) in order),
                        key=lambda layer: order[id(layer._kernel)])
    names = [layer_name(layer) for layer in candidates]
    chosen = [(names[i], candidates[i]) for i in _select(names, targets, "LoRA target", model)]
    _unique([name for name, _ in chosen], "targeted layers")
    for name, layer in chosen:
        if layer.quantization_mode is not None:
            raise LoraError(f"LoRA target {name!r} is {layer.quantization_mode}-quantized; "
                            "tfllm applies LoRA to float layers only")
        if layer.lora_enabled:
            raise LoraError(f"layer {name!r} already has LoRA enabled (rank {layer.lora_rank})")
        if dropout and isinstance(layer, keras.layers.EinsumDense):
            kernel_axes, output_axes = layer.equation.split(",")[1].split("->")
            if kernel_axes[-1] != output_axes[-1]:
                raise LoraError(f"LoRA dropout needs the last kernel axis of {name!r} to be its "
                                f"last output axis (equation {layer.equation!r}); use dropout=0")
    return chosen


def _train_also_weights(model, train_also):
    if not train_also:
        return []
    weights = model.weights
    names = [layer_name(w) for w in weights]
    chosen = [(weights[i].path, weights[i])
              for i in _select(names, train_also, "LoRA train_also", model)]
    _unique([path for path, _ in chosen], "train_also weights")
    return chosen


def _dropout_call(layer, inputs, training=None):
    """Dense/EinsumDense call with dropout on the low-rank path's input while training."""
    if not training:
        # Keras' own call: one product with the kernel W + s * A B.
        return type(layer).call(layer, inputs, training=training)
    scale = layer.lora_alpha / layer.lora_rank
    dropped = keras.random.dropout(inputs, layer._tfllm_lora_rate,
                                   seed=layer._tfllm_lora_seed)
    if isinstance(layer, keras.layers.EinsumDense):
        x = keras.ops.einsum(layer.equation, inputs, layer._kernel)
        low = keras.ops.einsum(layer.equation, dropped, layer.lora_kernel_a)  # (..., rank)
    else:
        x = keras.ops.matmul(inputs, layer._kernel)
        low = keras.ops.matmul(dropped, layer.lora_kernel_a)  # (..., rank)
    low = keras.ops.matmul(low, layer.lora_kernel_b)  # (..., out)
    x = keras.ops.add(x, keras.ops.cast(scale * low, x.dtype))
    if layer.bias is not None:
        x = keras.ops.add(x, layer.bias)
    if layer.activation is not None:
        x = layer.activation(x)
    return x


def _add_dropout(layer, rate):
    # Layers inside keras-hub's functional backbones cannot be swapped for
    # subclasses after construction; a `call` set on the instance is what
    # Layer.__call__ runs, in eager mode and under tf.function alike.
    layer._tracker.unlock()
    layer._tfllm_lora_seed = keras.random.SeedGenerator(name="lora_dropout_seed")
    layer._tracker.lock()
    layer._tfllm_lora_rate = rate
    layer.call = types.MethodType(_dropout_call, layer)


def _forget_traced_functions(model):
    # A predict/train/test function traced before the change would keep
    # computing the old layers (merged: base + A B counted twice).
    for layer in model._flatten_layers(include_self=True):
        if isinstance(layer, keras.Model):
            layer.train_function = layer.test_function = layer.predict_function = None


def count_params(variables):
    """The number of scalars in `variables`."""
    return int(sum(np.prod(v.shape, dtype=np.int64) for v in variables))


def lora_summary(model):
    """The summary of the LoRA applied to `model`, or None if it has none."""
    state = getattr(model, _STATE, None)
    return state.summary if state else None


def apply_lora(model, rank, alpha=None, dropout=0.0, targets=DEFAULT_TARGETS, train_also=()):
    """Adds rank-`rank` adapters to the `targets` layers and freezes all else but `train_also`.

    Args:
        model: a built Keras model (a keras-hub task or backbone, or a
            functional model around one).
        rank: the rank of each adapter.
        alpha: the adapters' output is scaled by alpha / rank; None means
            alpha = rank (scale 1).
        dropout: dropout rate on the input of the low-rank path, in training.
        targets: patterns of the Dense/EinsumDense layers that get adapters
            (see the module docstring); each must match at least one.
        train_also: patterns of layers whose weights train in full beside
            the adapters, e.g. ("logits",) for a new classification head.
            Nothing else trains: not the biases of targeted layers, not the
            layer norms. Each pattern must match at least one weight.

    Returns the `LoraSummary`; `str()` of it is the line to print, with the
    number of trained parameters. Compile the model after this (an
    optimizer built before knows no adapters), and do not set `.trainable`
    on the model or its layers: that would unfreeze frozen weights.
    """
    _check_settings(rank, alpha, dropout, targets, train_also)
    if lora_summary(model) is not None:
        raise LoraError(f"model {model.name!r} already has LoRA; merge_lora it first")
    if not model.built:
        raise LoraError(f"model {model.name!r} is not built; call it on data first")
    alpha = float(rank if alpha is None else alpha)
    layers = _target_layers(model, tuple(targets), dropout)
    extra = _train_also_weights(model, tuple(train_also))
    everything = model._flatten_layers(include_self=True)
    layer_trainable = tuple((layer, layer.trainable) for layer in everything)
    variable_trainable = tuple((v, v.trainable) for v in model.weights)

    model.trainable = True  # every layer; which variables train is set below
    for variable in model.weights:
        variable.trainable = False
    for _, layer in layers:
        layer.enable_lora(rank, lora_alpha=alpha)  # adds A and B, both trainable
        if dropout:
            _add_dropout(layer, dropout)
    for _, variable in extra:
        variable.trainable = True
    _forget_traced_functions(model)

    summary = LoraSummary(
        rank=rank, alpha=alpha, dropout=float(dropout), targets=tuple(targets),
        train_also=tuple(train_also), target_layers=tuple(name for name, _ in layers),
        train_also_weights=tuple(path for path, _ in extra),
        trainable_params=count_params(model.trainable_weights),
        total_params=count_params(model.weights))
    setattr(model, _STATE, _State(summary, tuple(layers), tuple(extra),
                                  layer_trainable, variable_trainable))
    return summary


def state_of(model, action):
    state = getattr(model, _STATE, None)
    if state is None:
        raise LoraError(f"cannot {action}: model {model.name!r} has no LoRA (apply_lora first)")
    return state


def _remove_adapter(layer):
    scale = layer.lora_alpha / layer.lora_rank
    delta = scale * keras.ops.matmul(layer.lora_kernel_a, layer.lora_kernel_b)  # float32
    kernel = keras.ops.add(keras.ops.cast(layer._kernel, "float32"), delta)
    layer._kernel.assign(keras.ops.cast(kernel, layer._kernel.dtype))
    # Off Keras' tracker and TF's checkpoint dependencies: neither a .keras file nor
    # a SavedModel sees them. (`del` does this too, plus a gc.collect() of ~0.3 s.)
    for name in ("lora_kernel_a", "lora_kernel_b"):
        layer._untrack_variable(getattr(layer, name))
        super(keras.layers.Layer, layer).__delattr__(name)
    if "call" in vars(layer):  # the dropout call
        layer._tracker.untrack(layer._tfllm_lora_seed)
        del layer.call, layer._tfllm_lora_seed, layer._tfllm_lora_rate
    # get_config then has no lora_rank: a saved model loads without LoRA.
    layer.lora_enabled, layer.lora_rank, layer.lora_alpha = False, None, None


def merge_lora(model):
    """Folds each adapter into its kernel, W + (alpha / rank) * A B, and removes LoRA.

    The adapter variables, the dropout and the LoRA config entries are
    gone afterwards and every layer and weight is as trainable as before
    `apply_lora`: the model saves, loads and exports as a plain model.
    Merging runs in float32 and casts to the kernel's dtype. Returns `model`.
    """
    state = state_of(model, "merge")
    for _, layer in state.layers:
        _remove_adapter(layer)
    for layer, flag in state.layer_trainable:
        layer._trainable = flag  # the flag only: the setter would recurse into sublayers
    for variable, flag in state.variable_trainable:
        variable.trainable = flag
    delattr(model, _STATE)
    _forget_traced_functions(model)
    return model
