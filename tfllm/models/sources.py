"""Where a pretrained checkpoint comes from: what `model.init_from` names, found or fetched.

Accepted, in the order they are recognised:
- `hf://OWNER/NAME`, `kaggle://OWNER/MODEL/FRAMEWORK/VARIATION/VERSION`, or a
  keras-hub preset name (`bert_tiny_en_uncased`): fetched once over the network
  into the local cache with the libraries keras-hub downloads with
  (huggingface_hub, kagglehub), then read as a local directory; an offline
  machine gets an error that says how to copy it over;
- a `.gguf` file (llama.cpp; a Llama-architecture decoder);
- a `.keras` file, loaded with Keras' safe mode: a file that needs arbitrary
  code (a serialized lambda) is refused unless `model.init_unsafe` is set;
- a tfllm work directory (a finished run: config.json + model.keras);
- a keras-hub preset directory (metadata.json);
- a Hugging Face model directory (config.json + model.safetensors).
PyTorch pickles (`pytorch_model.bin`, `.pt`, `.pth`) are refused: loading a
pickle can run code.
"""

import dataclasses
import os

from tfllm import damaged
from tfllm.errors import DataError

FLAG = "--config.model.init_from"
REMOTE_SCHEMES = ("hf://", "kaggle://")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
EXPECTED = ("a Hugging Face model directory (config.json + model.safetensors), a keras-hub "
            "preset directory, a .keras file, a .gguf file, a tfllm work directory, a keras-hub "
            "preset name or an hf:// or kaggle:// handle")
VOCABULARY_FILES = ("vocab.txt", "vocabulary.txt")  # transformers', keras-hub's WordPiece


@dataclasses.dataclass(frozen=True)
class Source:
    """A located checkpoint.

    Args:
        kind: "huggingface", "keras_hub_preset", "keras_file", "workdir" or "gguf".
        path: the local file or directory.
        origin: what the user wrote (the handle for fetched checkpoints).
    """

    kind: str
    path: str
    origin: str


def _pickle_refusal(path):
    return DataError(
        f"{FLAG}: {path} is a PyTorch pickle, which can run arbitrary code when loaded, so it "
        "is refused; convert it to safetensors first, where you trust it (with transformers: "
        "AutoModel.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)), and "
        "pass the directory holding model.safetensors")


def read_json(path):
    """A checkpoint's JSON file (config.json, tokenizer.json, ...), which holds one object;
    DataError naming the flag and the file when it is damaged or not an object."""
    try:
        return damaged.read_json_object(path, "a JSON object")
    except DataError as error:
        raise DataError(f"{FLAG}: {error}") from None


def check_files(directory):
    """Reads a checkpoint directory's JSON and text files before keras-hub does, so that a
    damaged one is named rather than reported as a bare JSON or UTF-8 error: every .json
    file (top level and assets/tokenizer/) must parse, every .txt file be UTF-8, and a
    WordPiece vocabulary (whose writers, transformers and keras-hub, end each line with a
    newline) must not be empty or end mid-line."""
    for folder in (directory, os.path.join(directory, "assets", "tokenizer")):
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        for name in names:
            path = os.path.join(folder, name)
            try:
                if name.endswith(".json"):
                    damaged.read_json(path, "the JSON its writer saved")
                elif name in VOCABULARY_FILES:
                    damaged.check_entries(path, damaged.read_lines(
                        path, "a WordPiece vocabulary: one token per line", whole_lines=True),
                        "token", "a WordPiece vocabulary: one token per line, each once")
                elif name.endswith(".txt"):
                    damaged.read_text(path, "the UTF-8 text its writer saved")
            except DataError as error:
                raise DataError(f"{FLAG}: {error}") from None


def _is_tfllm_run(path):
    """True for a directory whose config.json a tfllm run wrote (finished or not)."""
    config = os.path.join(path, "config.json")
    return os.path.isfile(config) and "task" in read_json(config)


def _huggingface_directory(path):
    names = set(os.listdir(path))
    if "model.safetensors" in names or "model.safetensors.index.json" in names:
        check_files(path)
        return Source("huggingface", path, path)
    if names & {"pytorch_model.bin", "pytorch_model.bin.index.json"}:
        raise _pickle_refusal(os.path.join(path, "pytorch_model.bin"))
    raise DataError(f"{FLAG}: {path} has config.json but no model.safetensors")


def _local(path, origin):
    if os.path.isfile(path):
        if path.endswith(".gguf"):
            return Source("gguf", path, origin)
        if path.endswith(".keras"):
            return Source("keras_file", path, origin)
        if path.endswith(PICKLE_SUFFIXES):
            raise _pickle_refusal(path)
        raise DataError(f"{FLAG}: {path} is a file tfllm cannot read; expected {EXPECTED}")
    if os.path.isfile(os.path.join(path, "metadata.json")):
        check_files(path)
        return Source("keras_hub_preset", path, origin)
    if _is_tfllm_run(path):
        if not os.path.isfile(os.path.join(path, "model.keras")):
            raise DataError(f"{FLAG}: {path} is a tfllm run that has not finished (no "
                            "model.keras); finish it (run the same command again) or pick "
                            "another checkpoint")
        return Source("workdir", path, origin)
    if os.path.isfile(os.path.join(path, "config.json")):
        return _huggingface_directory(path)
    if os.path.isfile(os.path.join(path, "pytorch_model.bin")):
        raise _pickle_refusal(os.path.join(path, "pytorch_model.bin"))
    raise DataError(f"{FLAG}: {path} holds no checkpoint tfllm can read; expected {EXPECTED}")


def preset_handle(name):
    """The kaggle:// handle of a keras-hub preset name, or None for an unknown name."""
    from keras_hub.src.utils import preset_utils  # pylint: disable=import-outside-toplevel

    preset = preset_utils.BUILTIN_PRESETS.get(name)
    return preset["kaggle_handle"] if preset else None


def fetch(handle):
    """Downloads an hf:// or kaggle:// checkpoint into the local cache; returns its directory.

    keras-hub downloads with the same libraries into the same caches, so a
    checkpoint fetched once (by either) is not fetched again.
    """
    # pylint: disable=import-outside-toplevel
    import huggingface_hub
    import kagglehub
    from kagglehub import exceptions

    failures = (OSError, ValueError,  # connection, DNS, HTTP and not-found errors
                exceptions.CredentialError, exceptions.BackendError, exceptions.NotFoundError,
                exceptions.DataCorruptionError, exceptions.UnauthenticatedError,
                exceptions.KaggleEnvironmentError)
    try:
        if handle.startswith("hf://"):
            # Hugging Face layout and keras-hub presets; not GGUF repositories, which hold
            # one file per quantization (download the one you want and pass the file).
            return huggingface_hub.snapshot_download(
                handle[len("hf://"):],
                allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.h5",
                                "assets/**"])
        return kagglehub.model_download(handle[len("kaggle://"):])
    except failures as error:
        raise DataError(
            f"{FLAG}: could not fetch {handle} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}). Without network access, "
            "fetch it on a machine that has it (keras_hub.models.Backbone.from_preset"
            f"({handle!r}) fills the same cache), copy the checkpoint directory over and pass "
            "that directory") from error


def locate(init_from):
    """Returns the Source `init_from` names (fetching remote handles first).

    Raises:
        DataError: nothing usable there, a pickle, or a fetch that failed;
            the message names the flag, the path and what was expected.
    """
    if init_from.startswith(REMOTE_SCHEMES):
        return dataclasses.replace(_local(fetch(init_from), init_from), origin=init_from)
    if os.path.exists(init_from):
        return _local(init_from, init_from)
    handle = None if os.sep in init_from else preset_handle(init_from)
    if handle is None:
        raise DataError(f"{FLAG}: {init_from} not found: no such file or directory, and not "
                        f"a keras-hub preset name; expected {EXPECTED}")
    return dataclasses.replace(_local(fetch(handle), init_from), origin=init_from)


def is_remote(init_from):
    """True when `init_from` names a checkpoint to fetch rather than a local path."""
    return init_from.startswith(REMOTE_SCHEMES) or (
        not os.path.exists(init_from) and os.sep not in init_from
        and preset_handle(init_from) is not None)
