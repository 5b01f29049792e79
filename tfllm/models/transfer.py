"""Moving checkpoint tensors into a Keras model, with an account of every weight.

keras-hub's converters know which Hugging Face tensor feeds which keras-hub
variable; they do not say which tensors they left behind, and a tensor of the
wrong shape fails deep inside `assign`. The loaders here speak the converters'
interface (`get_tensor`, `port_weight`) and add what a fine-tuning run needs:
a shape mismatch is an error naming both weights and both shapes, and a
WeightReport lists what was loaded, what the checkpoint had that the model
does not use, and what starts from random weights (a new task head).
"""

import dataclasses
import os

import safetensors
from keras_hub.src.utils.transformers.safetensor_utils import SafetensorLoader

from tfllm.errors import DataError

SAFETENSORS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"  # a sharded checkpoint's map of tensors to files


@dataclasses.dataclass
class WeightReport:
    """What one import did with the checkpoint's tensors and the model's weights.

    Args:
        source: the checkpoint, as the user named it.
        loaded: count of model weights set from the checkpoint.
        unused: checkpoint tensors the model has no place for (e.g. a
            pretraining head), by name.
        initialised: model weights the checkpoint did not set (e.g. a new
            classification head), by path; they keep their random values.
    """

    source: str
    loaded: int
    unused: list
    initialised: list = dataclasses.field(default_factory=list)

    def lines(self):
        """Human-readable lines for the run log."""
        out = [f"init_from: {self.loaded} weights loaded from {self.source}"]
        if self.unused:
            out.append(f"init_from: {len(self.unused)} checkpoint tensors unused: "
                       + ", ".join(self.unused))
        if self.initialised:
            out.append(f"init_from: {len(self.initialised)} weights start from random values: "
                       + ", ".join(self.initialised))
        return out

    def with_new_weights(self, model_weights, imported_weights):
        """This report plus `model_weights` outside `imported_weights` (a new head) as new."""
        imported = {id(w) for w in imported_weights}
        new = [w.path for w in model_weights if id(w) not in imported]
        return dataclasses.replace(self, initialised=self.initialised + new)

    def as_dict(self):
        return dataclasses.asdict(self)


class _Recording:
    """The `port_weight` half of keras-hub's loader interface, with shape checks and a record."""

    def _start_recording(self, source):
        self.source = source
        self.used = set()
        self.assigned = []

    def port_weight(self, keras_variable, hf_weight_key, hook_fn=None):
        tensor = self.get_tensor(hf_weight_key)
        target = tuple(keras_variable.shape)
        mismatch = DataError(
            f"{self.source}: checkpoint weight {hf_weight_key} has shape {tuple(tensor.shape)}, "
            f"but the model's {keras_variable.path} needs {target}; the checkpoint's config "
            "does not describe its tensors")
        if hook_fn:
            try:
                tensor = hook_fn(tensor, list(target))
            except ValueError as error:  # a reshape that cannot fit
                raise mismatch from error
        if tuple(tensor.shape) != target:
            raise mismatch
        keras_variable.assign(tensor)
        self.assigned.append(keras_variable)

    def report(self, model_weights, names):
        """A WeightReport for `model_weights` (all of the model's) and the checkpoint's `names`."""
        assigned = {id(v) for v in self.assigned}
        return WeightReport(
            source=self.source,
            loaded=len(assigned),
            unused=sorted(set(names) - self.used),
            initialised=[w.path for w in model_weights if id(w) not in assigned])


class SafetensorsLoader(_Recording, SafetensorLoader):
    """keras-hub's reader of Hugging Face safetensors (sharded or not), recording each tensor read.

    Args:
        directory: the Hugging Face model directory.
        source: the name errors and reports use.
    """

    def __init__(self, directory, source):
        super().__init__(directory)
        self._start_recording(source)
        index = self.safetensor_config
        weight_map = index.get("weight_map") if index is not None else {}
        if not isinstance(weight_map, dict) or any(
                not isinstance(name, str) for name in weight_map.values()):
            raise DataError(f"{os.path.join(directory, INDEX_FILE)}: no weight_map of tensor "
                            "names to file names (expected a Hugging Face safetensors index)")

    def damaged(self, error, name=SAFETENSORS_FILE):
        """The DataError for the safetensors file `name` that cannot be read (truncated,
        emptied, a header of other bytes)."""
        return DataError(f"{os.path.join(self.preset, name)}: cannot be read ({error}); the file "
                         "is damaged or incomplete: copy or download it again (expected a "
                         "safetensors file: header size, JSON header, tensor bytes)")

    def _file_of(self, hf_weight_key):
        """The name of the file that holds `hf_weight_key` (one shard, or the only file)."""
        if self.safetensor_config is None:
            return SAFETENSORS_FILE
        weight_map = self.safetensor_config["weight_map"]
        return weight_map.get(SafetensorLoader.get_prefixed_key(self, hf_weight_key, weight_map),
                              SAFETENSORS_FILE)

    def get_tensor(self, hf_weight_key):
        try:
            return super().get_tensor(hf_weight_key)
        except (safetensors.SafetensorError, OSError) as error:
            raise self.damaged(error, self._file_of(hf_weight_key)) from error

    def get_prefixed_key(self, hf_weight_key, dict_like):
        key = super().get_prefixed_key(hf_weight_key, dict_like)
        if key not in dict_like.keys():
            raise DataError(f"{self.source}: the checkpoint has no tensor {hf_weight_key}, "
                            "which its config.json implies")
        self.used.add(key)
        return key

    def names(self):
        """Every tensor name in the checkpoint's files."""
        if self.safetensor_config is not None:
            return list(self.safetensor_config["weight_map"])
        try:
            with safetensors.safe_open(os.path.join(self.preset, SAFETENSORS_FILE),
                                       framework="np") as f:
                return list(f.keys())
        except (safetensors.SafetensorError, OSError) as error:
            raise self.damaged(error) from error


class TensorsLoader(_Recording):
    """The same interface over tensors already in memory (e.g. dequantized from a GGUF file).

    Args:
        tensors: {checkpoint name: numpy array}, in Hugging Face names and layout.
        source: the name errors and reports use.
    """

    def __init__(self, tensors, source):
        self.tensors = tensors
        self._start_recording(source)

    def get_tensor(self, hf_weight_key):
        if hf_weight_key not in self.tensors:
            raise DataError(f"{self.source}: the checkpoint has no tensor {hf_weight_key}")
        self.used.add(hf_weight_key)
        return self.tensors[hf_weight_key]

    def names(self):
        return list(self.tensors)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
