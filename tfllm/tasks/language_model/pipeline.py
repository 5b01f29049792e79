"""`tfllm.pipeline("text-generation", model=workdir)`, as Hugging Face's pipeline."""


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
