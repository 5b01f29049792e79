"""keras-hub's Llama3Backbone, made to survive a save and load with tied embeddings.

keras-hub 0.32's LlamaBackbone takes `tie_word_embeddings` but leaves it out
of `get_config`, so a saved model.keras with tied input and output embeddings
(SmolLM2, most small Llamas) is rebuilt untied and fails to load. This
subclass writes it into the config; the layers and weights are keras-hub's.
"""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="tfllm")
class Llama3Backbone(keras_hub.models.Llama3Backbone):
    """Llama3Backbone whose config keeps `tie_word_embeddings`."""

    def get_config(self):
        return {**super().get_config(), "tie_word_embeddings": self.tie_word_embeddings}
