"""`tfllm.pipeline(task, model=workdir)`: Hugging Face-style callables over finished runs."""

from tfllm.errors import TfllmError

TASKS = ("text-classification", "text-generation", "text2text-generation")
# The run task each pipeline serves.
RUN_TASKS = {"text-classification": "text_classification", "text-generation": "language_modeling",
             "text2text-generation": "seq2seq"}


class TextGenerationPipeline:
    """Calls return one {"generated_text", "completion"} dict per prompt.

    `generated_text` is the prompt as the model saw it (the run's template
    applied, for pair-trained runs) followed by the completion, as Hugging
    Face's pipeline returns with `return_full_text=True`.
    """

    def __init__(self, language_model):
        self.model = language_model

    def __call__(self, prompts, max_new_tokens=None, max_length=None, seed=None,
                 apply_template=None, **sampling):
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        completions = self.model.generate(
            prompts, max_new_tokens=max_new_tokens, max_length=max_length, seed=seed,
            apply_template=apply_template, **sampling)
        return [{"generated_text": self.model.prompt_text(p, apply_template) + c,
                 "completion": c}
                for p, c in zip(prompts, completions)]


class Text2TextGenerationPipeline:
    """Calls return one {"generated_text"} dict per source: the target a seq2seq run writes."""

    def __init__(self, seq2seq):
        self.model = seq2seq

    def __call__(self, sources, max_new_tokens=None, seed=None, **sampling):
        sources = [sources] if isinstance(sources, str) else list(sources)
        targets = self.model.generate(sources, max_new_tokens=max_new_tokens, seed=seed,
                                      **sampling)
        return [{"generated_text": target} for target in targets]


class TextClassificationPipeline:
    """Calls return one {"label", "score"} dict per text (the most likely label)."""

    def __init__(self, classifier):
        self.model = classifier

    def __call__(self, texts, text_pairs=None):
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [{"label": r["label"], "score": r["score"]}
                for r in self.model.predict(texts, text_pairs)]


def pipeline(task, model):
    """Returns the pipeline for `task` over the finished run in directory `model`."""
    import tfllm  # pylint: disable=import-outside-toplevel

    if task not in TASKS:
        raise TfllmError(f"unknown pipeline task {task!r}; expected one of {TASKS}")
    loaded = tfllm.load(model)
    if loaded.config.task != RUN_TASKS[task]:
        raise TfllmError(f"{model}: a {loaded.config.task} run cannot serve {task!r}")
    if task == "text-generation":
        return TextGenerationPipeline(loaded)
    if task == "text2text-generation":
        return Text2TextGenerationPipeline(loaded)
    return TextClassificationPipeline(loaded)
