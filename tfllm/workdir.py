"""The work directory layout: every file a run writes, named in one place."""

import dataclasses
import os

from tfllm import config as config_lib
from tfllm.errors import DataError


@dataclasses.dataclass(frozen=True)
class Paths:
    """Paths inside one run's work directory (see the README's "Work directory")."""

    root: str

    def _join(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def config(self):
        return self._join("config.json")

    @property
    def tokenizer(self):
        return self._join("tokenizer")

    @property
    def vocabulary(self):
        return self._join("tokenizer", "vocab.txt")

    @property
    def labels(self):
        return self._join("tokenizer", "labels.txt")

    @property
    def checkpoints(self):
        return self._join("checkpoints")

    @property
    def best(self):
        return self._join("checkpoints", "best.weights.h5")

    @property
    def best_adapters(self):
        """A LoRA run's best epoch: its adapters, in place of `best` (see training/lora.py)."""
        return self._join("checkpoints", "best.adapters.npz")

    @property
    def adapters(self):
        """A LoRA run's final adapters, which load onto the base model (model.keras is merged)."""
        return self._join("adapters.npz")

    @property
    def backup(self):
        return self._join("backup")

    @property
    def logs(self):
        return self._join("logs")

    @property
    def metrics(self):
        return self._join("metrics.jsonl")

    @property
    def model(self):
        return self._join("model.keras")

    @property
    def init_report(self):
        return self._join("init_from.json")

    @property
    def eval(self):
        return self._join("eval.json")

    @property
    def data_report(self):
        return self._join("data_report.json")

    def make_dirs(self):
        for directory in (self.root, self.tokenizer, self.checkpoints, self.logs):
            os.makedirs(directory, exist_ok=True)


def finished_run(workdir):
    """Returns (Paths, resolved config) of a finished run; DataError if it is not one."""
    paths = Paths(workdir)
    if not os.path.exists(paths.model):
        raise DataError(f"{workdir}: no model.keras; is it the work directory of a "
                        "finished `tfllm train` run?")
    return paths, config_lib.load(paths.config)
