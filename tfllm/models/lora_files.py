"""LoRA adapter files: the adapters, the train_also weights and the settings of a model
(`tfllm.models.lora`), written atomically as .npz, with the shape and a hash of every frozen
weight so that loading refuses another base model or setting."""

import dataclasses
import hashlib
import itertools
import json
import os

import keras
import numpy as np

from tfllm import atomic
from tfllm import damaged
from tfllm.errors import DataError
from tfllm.models import lora
from tfllm.models.lora import FORMAT, VERSION, LoraError


def _base_weights(model, state):
    """The frozen weights the adapters were trained on: all but the adapters and train_also."""
    skip = {id(v) for _, v in state.train_also}
    for _, layer in state.layers:
        skip |= {id(layer.lora_kernel_a), id(layer.lora_kernel_b)}
    return [v for v in model.weights if id(v) not in skip]


def _fingerprint(variables):
    digest = hashlib.sha256()
    for variable in variables:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest.update(f"{variable.path}:{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _float32(variable):
    value = keras.ops.convert_to_numpy(variable)
    # bfloat16 and float16 are exact in float32, and plain NumPy reads float32.
    return value.astype(np.float32) if value.dtype.kind in "fV" else value


def save_adapters(model, path):
    """Writes the adapters, the train_also weights and the settings to `path` (an .npz file).

    The file also records the shape of every frozen weight and a hash of
    their values, so that `load_adapters` refuses another base model. It is
    written atomically: a kill mid-write leaves any previous file intact.
    """
    state = lora.state_of(model, "save adapters")
    base = _base_weights(model, state)
    meta = {"format": FORMAT, "version": VERSION,
            **dataclasses.asdict(state.summary),
            "base_weights": [[v.path, list(v.shape)] for v in base],
            "base_fingerprint": _fingerprint(base)}
    arrays = {"meta": np.array(json.dumps(meta))}
    for name, layer in state.layers:
        arrays[f"lora/{name}/a"] = _float32(layer.lora_kernel_a)
        arrays[f"lora/{name}/b"] = _float32(layer.lora_kernel_b)
    for weight_path, variable in state.train_also:
        arrays[f"train_also/{weight_path}"] = _float32(variable)

    def write(temporary):
        with open(temporary, "wb") as f:
            np.savez(f, **arrays)

    atomic.replace(os.fspath(path), write)


def _read(path):
    """The meta dict and arrays of an adapter file. It is a zip archive: every member is
    checked against its CRC-32 first, so a flipped byte in an adapter is an error."""
    if not os.path.isfile(path):
        raise LoraError(f"{path}: no such adapter file")
    try:
        damaged.check_zip(path, "the .npz zip archive save_adapters writes")
    except DataError as error:
        raise LoraError(f"{error}, so it is not a tfllm LoRA adapter file") from None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError) as error:
        raise LoraError(f"{path}: not a tfllm LoRA adapter file ({error})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise LoraError(f"{path}: not a {FORMAT} file of version {VERSION}")
    return meta, arrays


def _check_same_setting(path, meta, summary, keys):
    for key in keys:
        saved, here = meta[key], getattr(summary, key)
        if (tuple(saved) if isinstance(saved, list) else saved) != here:
            raise LoraError(f"{path}: the adapters were saved with LoRA {key}={saved!r}, but "
                            f"this model has {key}={here!r}; apply_lora with the same settings "
                            "(or load onto a model without LoRA, which applies the file's)")


def _check_same_base(path, meta, base, check_base_weights):
    here = [[v.path, list(v.shape)] for v in base]
    missing = ["(nothing)", []]
    for saved, mine in itertools.zip_longest(meta["base_weights"], here, fillvalue=missing):
        if saved != mine:
            raise LoraError(f"{path}: saved from a different base model: its frozen weight "
                            f"{saved[0]} {tuple(saved[1])} is {mine[0]} {tuple(mine[1])} here")
    if check_base_weights and _fingerprint(base) != meta["base_fingerprint"]:
        raise LoraError(f"{path}: the adapters were trained on other base weights (same shapes, "
                        "different values); load the same pretrained checkpoint in the same "
                        "dtype, or pass check_base_weights=False")


def load_adapters(model, path, check_base_weights=True):
    """Loads `save_adapters`' file onto `model`, a base model like the one it was saved from.

    On a model without LoRA, first applies LoRA with the file's settings;
    on one with LoRA, the rank, alpha, targeted layers and train_also
    weights must equal the file's. Raises `LoraError` naming the difference
    for another setting, another architecture, or (with
    `check_base_weights`) other frozen weight values. Returns the summary.
    """
    path = os.fspath(path)
    meta, arrays = _read(path)
    applied_here = lora.lora_summary(model) is None
    if applied_here:
        lora.apply_lora(model, meta["rank"], alpha=meta["alpha"], dropout=meta["dropout"],
                   targets=meta["targets"], train_also=meta["train_also"])
    state = lora.state_of(model, "load adapters")
    try:
        _check_same_setting(path, meta, state.summary, ("rank", "alpha"))
        _check_same_base(path, meta, _base_weights(model, state), check_base_weights)
        _check_same_setting(path, meta, state.summary, ("target_layers", "train_also_weights"))
        pairs = [(layer.lora_kernel_a, arrays[f"lora/{name}/a"]) for name, layer in state.layers]
        pairs += [(layer.lora_kernel_b, arrays[f"lora/{name}/b"]) for name, layer in state.layers]
        pairs += [(variable, arrays[f"train_also/{weight_path}"])
                  for weight_path, variable in state.train_also]
        for variable, value in pairs:
            if tuple(variable.shape) != value.shape:
                raise LoraError(f"{path}: {variable.path} has shape {value.shape} in the file, "
                                f"{tuple(variable.shape)} in the model")
    except LoraError:
        if applied_here:  # leave the model as it came: B is still zero, W unchanged
            lora.merge_lora(model)
        raise
    for variable, value in pairs:
        variable.assign(keras.ops.cast(value, variable.dtype))
    return state.summary
