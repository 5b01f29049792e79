"""Every file tfllm reads, truncated, emptied or with bytes flipped: a TfllmError naming the
file and saying what is wrong, never a traceback from the library that read it.

Each case builds the tiniest artifact of its kind (or copies a run of tests/fixtures),
damages one file in it and reads it the way tfllm does. Formats without a checksum
(safetensors, GGUF, HDF5) have their bytes flipped in their header, where damage changes
the structure; flipped bytes in their tensor data cannot be detected (see
docs/operations.md, "Damaged files").
"""

import dataclasses
import functools
import json
import os
import random
import re
import shutil

import gguf
import keras_hub
import pytest

import tfllm
from tests import helpers
from tfllm.errors import TfllmError
from tfllm.evaluation import plots
from tfllm.models import gguf as gguf_checkpoint
from tfllm.models import lora
from tfllm.models import lora_files
from tfllm.models import pretrained
from tfllm.models import pretrained_lm

FIXTURE_RUNS = os.path.join(helpers.REPO, "tests", "fixtures", "runs_v0_1")
DAMAGES = ("truncated", "emptied", "flipped")


def damage(path, kind, region=None):
    """Cuts `path` to half its bytes, empties it, or XORs 16 bytes spread over `region`
    ((start, end) offsets; default the whole file) with seeded non-zero values."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if kind == "truncated":
        data = data[:len(data) // 2]
    elif kind == "emptied":
        data = bytearray()
    else:
        rng = random.Random(0)
        start, end = region or (0, len(data))
        step = max(1, (end - start) // 16)
        for i in range(16):
            data[min(end - 1, start + i * step + rng.randrange(step))] ^= rng.randrange(1, 256)
    with open(path, "wb") as f:
        f.write(bytes(data))


class Artifacts:
    """The tiny checkpoints the cases damage copies of, each built once per module."""

    def __init__(self, directory):
        self.directory = directory

    @functools.cached_property
    def preset(self):
        """A keras-hub preset directory: a 1-layer BertBackbone and its tokenizer."""
        vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(27)]
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=8,
            intermediate_dim=16, max_sequence_length=16)
        path = str(self.directory / "preset")
        backbone.save_to_preset(path)
        keras_hub.models.BertTokenizer(vocabulary=vocabulary).save_to_preset(path)
        return path

    @functools.cached_property
    def gguf(self):
        """A toy Llama GGUF file (tests/models/test_gguf.py's)."""
        from tests.models import test_gguf  # pylint: disable=import-outside-toplevel
        directory = self.directory / "gguf"
        directory.mkdir()
        return test_gguf.write_gguf(directory / "toy.gguf",
                                    test_gguf.hf_llama_weights(test_gguf.CONFIG),
                                    test_gguf.CONFIG)

    @functools.cached_property
    def gpt2(self):
        """A Hugging Face GPT-2 directory (tests/models/test_pretrained_lm.py's)."""
        from tests.models import test_pretrained_lm  # pylint: disable=import-outside-toplevel
        path = str(self.directory / "gpt2")
        test_pretrained_lm.write_gpt2_checkpoint(path)
        return path

    @functools.cached_property
    def adapters(self):
        """A directory with the adapters.npz of a rank-2 LoRA on tests/models/test_lora.py's
        classifier."""
        from tests.models import test_lora  # pylint: disable=import-outside-toplevel
        model = test_lora.classifier()
        lora.apply_lora(model, 2)
        directory = self.directory / "lora"
        directory.mkdir()
        lora_files.save_adapters(model, directory / "adapters.npz")
        return str(directory)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    return Artifacts(tmp_path_factory.mktemp("artifacts"))


def copy_of(source, destination):
    """A copy of the file or directory `source` at `destination`; returns it as str."""
    if os.path.isdir(source):
        shutil.copytree(source, destination)
    else:
        shutil.copy(source, destination)
    return str(destination)


def with_tokenizer_json(artifacts, destination):
    """The GPT-2 directory with tokenizer.json in place of vocab.json and merges.txt."""
    root = copy_of(artifacts.gpt2, destination)
    with open(os.path.join(root, "vocab.json"), encoding="utf-8") as f:
        vocabulary = json.load(f)
    with open(os.path.join(root, "merges.txt"), encoding="utf-8") as f:
        merges = [line.rstrip("\n") for line in f if not line.startswith("#")]
    tokenizer = {"model": {"type": "BPE", "vocab": vocabulary, "merges": merges},
                 "decoder": {"type": "ByteLevel"}}
    with open(os.path.join(root, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f)
    os.remove(os.path.join(root, "vocab.json"))
    os.remove(os.path.join(root, "merges.txt"))
    return root


def with_index(artifacts, destination):
    """The GPT-2 directory with a model.safetensors.index.json naming its one file."""
    root = copy_of(artifacts.gpt2, destination)
    from safetensors import safe_open  # pylint: disable=import-outside-toplevel
    with safe_open(os.path.join(root, "model.safetensors"), framework="np") as f:
        names = list(f.keys())
    with open(os.path.join(root, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump({"weight_map": {name: "model.safetensors" for name in names}}, f)
    return root


def minilm_copy(destination):
    """The real MiniLM encoder directory, its files linked, config.json and vocab.txt copied
    (so they can be damaged)."""
    from tests.models.test_pretrained import MINILM  # pylint: disable=import-outside-toplevel
    os.makedirs(destination)
    for name in os.listdir(MINILM):
        if name in ("config.json", "vocab.txt"):
            shutil.copy(os.path.join(MINILM, name), destination / name)
        elif not name.startswith("."):
            os.symlink(os.path.join(MINILM, name), destination / name)
    return str(destination)


def load_encoder(path):
    pretrained.load_bert_backbone(pretrained.read_bert_checkpoint(path), dropout=0.0)


def load_decoder(path):
    pretrained_lm.load_causal_lm(pretrained_lm.read_decoder_checkpoint(path), dropout=0.0)


def read_gguf(path):
    gguf_checkpoint.read(path)
    gguf_checkpoint.tensors(path)


def load_adapters(directory):
    from tests.models import test_lora  # pylint: disable=import-outside-toplevel
    lora_files.load_adapters(test_lora.classifier(), os.path.join(directory, "adapters.npz"))


def safetensors_header(path):
    """The 8-byte length and the JSON header of a safetensors file."""
    with open(path, "rb") as f:
        return 0, 8 + int.from_bytes(f.read(8), "little")


def gguf_header(path):
    """Everything before a GGUF file's tensor data: its metadata and tensor infos."""
    return 0, gguf.GGUFReader(path).data_offset


def hdf5_header(path):
    """The superblock and the root group of an HDF5 file (its first KiB)."""
    del path
    return 0, 1024


@dataclasses.dataclass
class Case:
    """One kind of file: how to make a copy to damage, which file in it, how tfllm reads it.

    Args:
        setup: (artifacts, destination) -> the copy (a directory or a file).
        file: the damaged file, relative to a directory copy ("" for a file copy).
        read: reads the copy as tfllm does.
        header: path -> (start, end): where flips go, for a format without a checksum.
    """

    setup: object
    file: str
    read: object
    header: object = None


def run(name):
    return lambda artifacts, destination: copy_of(os.path.join(FIXTURE_RUNS, name), destination)


CASES = {
    "model.keras": Case(run("classifier"), "model.keras", tfllm.load),
    "init_from .keras": Case(
        lambda a, d: copy_of(os.path.join(FIXTURE_RUNS, "classifier", "model.keras"),
                             f"{d}.keras"), "", pretrained.read_bert_checkpoint),
    "run config.json": Case(run("classifier"), "config.json", tfllm.load),
    "run vocab.txt": Case(run("classifier"), "tokenizer/vocab.txt", tfllm.load),
    "run labels.txt": Case(run("classifier"), "tokenizer/labels.txt", tfllm.load),
    "run tagger labels.txt": Case(run("tagger"), "tokenizer/labels.txt", tfllm.load),
    "run vocab.json": Case(run("gpt"), "tokenizer/vocab.json", tfllm.load),
    "run merges.txt": Case(run("gpt"), "tokenizer/merges.txt", tfllm.load),
    "preset model.weights.h5": Case(lambda a, d: copy_of(a.preset, d), "model.weights.h5",
                                    load_encoder, header=hdf5_header),
    "preset config.json": Case(lambda a, d: copy_of(a.preset, d), "config.json", load_encoder),
    "preset vocabulary.txt": Case(lambda a, d: copy_of(a.preset, d),
                                  "assets/tokenizer/vocabulary.txt", load_encoder),
    "hf config.json": Case(lambda a, d: minilm_copy(d), "config.json", load_encoder),
    "hf vocab.txt": Case(lambda a, d: minilm_copy(d), "vocab.txt", load_encoder),
    "hf model.safetensors": Case(lambda a, d: copy_of(a.gpt2, d), "model.safetensors",
                                 load_decoder, header=safetensors_header),
    "hf model.safetensors.index.json": Case(with_index, "model.safetensors.index.json",
                                            load_decoder),
    "hf vocab.json": Case(lambda a, d: copy_of(a.gpt2, d), "vocab.json", load_decoder),
    "hf merges.txt": Case(lambda a, d: copy_of(a.gpt2, d), "merges.txt", load_decoder),
    "hf tokenizer.json": Case(with_tokenizer_json, "tokenizer.json", load_decoder),
    "gguf": Case(lambda a, d: copy_of(a.gguf, f"{d}.gguf"), "", read_gguf,
                 header=gguf_header),
    "adapters.npz": Case(lambda a, d: copy_of(a.adapters, d), "adapters.npz", load_adapters),
}


NOT_ZIP = r": not a readable zip archive \(File is not a zip file\); the file is damaged"
EMPTY = r": the file is empty \(expected "
NOT_UTF8 = r":\d+: not UTF-8 text: byte 0x[0-9a-f]{2} at offset \d+ \(.*\); the file is damaged"
CUT_SHORT = r":\d+: ends in the middle of a line, so the file was cut short"
NOT_JSON = r":\d+:\d+: not valid JSON \(.*\); the file is damaged or incomplete"
# (file kind, damage) -> what the message says after the file's path.
EXPECTED = {
    "model.keras": (NOT_ZIP, EMPTY, ": member model.weights.h5 fails its CRC-32 check"),
    "init_from .keras": (NOT_ZIP, EMPTY, ": member model.weights.h5 fails its CRC-32 check"),
    "run config.json": (NOT_JSON, EMPTY, NOT_UTF8),
    "run vocab.txt": (CUT_SHORT, r": 0 tokens, but .*model.keras has 394 token embeddings",
                      NOT_UTF8),
    "run labels.txt": (CUT_SHORT, EMPTY, NOT_UTF8),
    "run tagger labels.txt": (CUT_SHORT, EMPTY, NOT_UTF8),
    "run vocab.json": (NOT_JSON, EMPTY, NOT_UTF8),
    "run merges.txt": (NOT_UTF8, EMPTY, NOT_UTF8),  # its half ends inside a character
    "preset model.weights.h5": (
        r": keras-hub could not load the preset's weights \(OSError: .*truncated file",
        r": keras-hub could not load the preset's weights \(OSError: .*signature not found",
        r": keras-hub could not load the preset's weights \(OSError: "),
    "preset config.json": (NOT_JSON, EMPTY, NOT_UTF8),
    "preset vocabulary.txt": (CUT_SHORT, EMPTY, NOT_UTF8),
    "hf config.json": (NOT_JSON, EMPTY, NOT_UTF8),
    # MiniLM's vocab.txt, cut in half, ends at a line end: only its length gives it away
    "hf vocab.txt": (r" has 15429 tokens but the encoder has 30522 token embeddings; the "
                     "vocabulary is cut short", EMPTY, NOT_UTF8),
    "hf model.safetensors": (r": cannot be read \(.*incomplete metadata",
                             r": cannot be read \(.*header too small",
                             r": cannot be read \(.*invalid UTF-8 in header"),
    "hf model.safetensors.index.json": (NOT_JSON, EMPTY, NOT_UTF8),
    "hf vocab.json": (NOT_JSON, EMPTY, NOT_UTF8),
    "hf merges.txt": (r":23: merge 's a' uses or makes 'sa', which vocab.json lacks", EMPTY,
                      NOT_UTF8),
    "hf tokenizer.json": (NOT_JSON, EMPTY, NOT_UTF8),
    "gguf": (r": not a GGUF file the gguf package can read \(cannot reshape",
             r": not a GGUF file the gguf package can read \(cannot mmap an empty file",
             r": not a GGUF file the gguf package can read \('utf-8' codec"),
    "adapters.npz": (NOT_ZIP, EMPTY, r": not a readable zip archive \(Corrupt extra field"),
}


@pytest.mark.parametrize("damage_kind", DAMAGES)
@pytest.mark.parametrize("name", CASES)
def test_a_damaged_file_is_an_error_naming_it(artifacts, tmp_path, name, damage_kind):
    case = CASES[name]
    copy = case.setup(artifacts, tmp_path / "copy")
    path = os.path.join(copy, case.file) if case.file else copy
    flip_only_header = damage_kind == "flipped" and case.header is not None
    damage(path, damage_kind, case.header(path) if flip_only_header else None)
    with pytest.raises(TfllmError) as error:
        case.read(copy)
    expected = EXPECTED[name][DAMAGES.index(damage_kind)]
    assert re.search(re.escape(path) + expected, str(error.value)), str(error.value)


def edit(path, change):
    """Rewrites the text file `path` as `change(text)`."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(change(text))


def cut_at_line(text, fraction=0.5):
    """`text` cut at the line end nearest `fraction` of it: nothing shows the cut but the
    number of lines."""
    return text[:text.rindex("\n", 0, int(len(text) * fraction)) + 1]


# Files that still parse but no longer fit: (file kind in CASES, change, what the message says).
MISFITS = {
    "labels.txt with an empty line": (
        "run labels.txt", lambda t: t.replace("\n", "\n\n", 1), r"labels.txt:2: an empty label"),
    "labels.txt with a label twice": (
        "run tagger labels.txt", lambda t: t + t.split("\n")[0] + "\n",
        r"labels.txt:6: label 'O' again \(first on line 1\)"),
    "labels.txt cut at a line end": (
        "run labels.txt", cut_at_line,
        r"labels.txt: 10 labels, but the head of .*model.keras has 21 outputs"),
    "vocab.txt cut at a line end": (
        "run vocab.txt", cut_at_line,
        r"vocab.txt: 223 tokens, but .*model.keras has 394 token embeddings"),
    "config.json without a task": (
        "run config.json", lambda t: t.replace('"task"', '"tusk"'),
        r"config.json: no \"task\" name \(expected the config.json a tfllm run wrote\)"),
    "config.json without its model section": (
        "run config.json", lambda t: t.replace('"model"', '"mode1"'),
        r"config.json: no 'model' section"),
    "config.json that is a list": (
        "run config.json", lambda t: f"[{t}]", r"config.json: holds a JSON list"),
    "vocab.json with an id twice": (
        "run vocab.json", lambda t: t.replace(": 1,", ": 0,", 1),
        r"vocab.json: 1 id\(s\) given to more than one token"),
    "vocab.json that is a list": (
        "run vocab.json", lambda t: f"[{t}]",
        r"vocab.json: expected a JSON object mapping tokens to ids"),
    "merges.txt with a merge of unknown tokens": (
        "run merges.txt", lambda t: t.replace("\n", "\nq\u00e9 z\n", 1),
        r"merges.txt:2: merge 'q\u00e9 z' uses or makes 'q\u00e9', which vocab.json lacks"),
    "merges.txt with a line of three tokens": (
        "run merges.txt", lambda t: t.replace("\n", "\na b c\n", 1),
        r"merges.txt:2: expected two tokens separated by one space"),
    "tokenizer.json without merges": (
        "hf tokenizer.json", lambda t: t.replace('"merges"', '"merged"'),
        r"tokenizer.json: no model.vocab object or model.merges list"),
}


@pytest.mark.parametrize("name", MISFITS)
def test_a_file_that_parses_but_does_not_fit_is_an_error_naming_it(artifacts, tmp_path, name):
    kind, change, expected = MISFITS[name]
    case = CASES[kind]
    copy = case.setup(artifacts, tmp_path / "copy")
    path = os.path.join(copy, case.file)
    edit(path, change)
    with pytest.raises(TfllmError, match=expected) as error:
        case.read(copy)
    assert path in str(error.value)


def test_a_gguf_string_that_is_not_utf8_is_an_error_naming_the_key(artifacts, tmp_path):
    """The gguf package decodes metadata strings only when asked for them, after the file
    opened: a flipped byte in tokenizer.ggml.model's value 'gpt2'."""
    path = copy_of(artifacts.gguf, tmp_path / "toy.gguf")
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[data.index(b"gpt2")] ^= 0x80
    with open(path, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(TfllmError, match=re.escape(path) + r": metadata key tokenizer.ggml.model "
                                         r"holds a string that is not UTF-8 \(.*\); the file is "
                                         "damaged"):
        gguf_checkpoint.read(path)


def test_the_cli_says_in_one_line_which_file_of_a_run_is_damaged(tmp_path):
    paths, workdirs = [], []
    for name, file, kind in (("model", "model.keras", "truncated"),
                             ("config", "config.json", "flipped"),
                             ("labels", "tokenizer/labels.txt", "deleted")):
        workdirs.append(copy_of(os.path.join(FIXTURE_RUNS, "classifier"), tmp_path / name))
        paths.append(os.path.join(workdirs[-1], file))
        if kind == "deleted":
            os.remove(paths[-1])
        else:
            damage(paths[-1], kind)
    results = helpers.tfllm_all(*[("predict", f"--workdir={workdir}", "--text=hello")
                                  for workdir in workdirs])
    for result, path in zip(results, paths):
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert path in helpers.error_line(result)


@pytest.mark.parametrize("damage_kind", DAMAGES)
def test_a_damaged_metrics_log_is_an_error_naming_its_line(tmp_path, damage_kind):
    """`tfllm evaluate --plot` draws the training curves from metrics.jsonl."""
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"epoch": e, "step": 3 * e, "loss": 1.0 / e,
                                        "learning_rate": 1e-3}) + "\n" for e in (1, 2, 3)))
    damage(str(path), damage_kind)
    expected = {"truncated": r":2: not valid JSON \(.*\); the file is damaged or incomplete",
                "emptied": r": no epochs logged \(expected ",
                "flipped": r":\d+: (not valid JSON|not UTF-8 text)"}[damage_kind]
    with pytest.raises(TfllmError, match=re.escape(str(path)) + expected):
        plots.training_curves(str(path), str(tmp_path / "curves.png"))
    assert not (tmp_path / "curves.png").exists()
