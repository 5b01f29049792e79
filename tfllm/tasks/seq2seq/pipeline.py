"""`tfllm.pipeline("text2text-generation", model=workdir)`, as Hugging Face's pipeline."""


class Text2TextGenerationPipeline:
    """Calls return one {"generated_text"} dict per source: the target a seq2seq run writes."""

    def __init__(self, seq2seq):
        self.model = seq2seq

    def __call__(self, sources, max_new_tokens=None, seed=None, **sampling):
        sources = [sources] if isinstance(sources, str) else list(sources)
        targets = self.model.generate(sources, max_new_tokens=max_new_tokens, seed=seed,
                                      **sampling)
        return [{"generated_text": target} for target in targets]
