"""`tfllm.pipeline("text-classification", model=workdir)`, as Hugging Face's pipeline."""


class TextClassificationPipeline:
    """Calls return one {"label", "score"} dict per text (the most likely label)."""

    def __init__(self, classifier):
        self.model = classifier

    def __call__(self, texts, text_pairs=None):
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [{"label": r["label"], "score": r["score"]}
                for r in self.model.predict(texts, text_pairs)]
