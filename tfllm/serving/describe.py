"""What an export prints: its signatures, the custom ops it needs, and a curl line."""

import json
import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2


def signature_lines(signatures):
    """Lines like `saved_model_cli show --all`: each signature's inputs and outputs.

    Args:
        signatures: `tf.saved_model.load(version_dir).signatures`.
    """
    lines = []
    for name, function in sorted(signatures.items()):
        lines.append(f"signature_def['{name}']:")
        _, inputs = function.structured_input_signature
        for key, spec in sorted(inputs.items()):
            lines.append(f"  input  {key}: {spec.dtype.name} {spec.shape}")
        for key, spec in sorted(function.structured_outputs.items()):
            lines.append(f"  output {key}: {spec.dtype.name} {spec.shape}")
    return lines


def graph_ops(version_dir):
    """Every op type in a SavedModel's graphs and their functions."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(version_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def custom_ops(version_dir):
    """Op types in the graph that core TensorFlow lacks (the serving binary must have them)."""
    return sorted(op for op in graph_ops(version_dir) if not hasattr(tf.raw_ops, op))


def example_inputs(signatures):
    """A small `serving_default` request body's inputs, from the signature's input names."""
    _, inputs = signatures["serving_default"].structured_input_signature
    if "prompt" in inputs:
        return {"prompt": ["What is AI?"]}
    if "source" in inputs:
        return {"source": ["What is AI?"]}
    examples = {"text": ["What is AI?"], "text_pair": ["Artificial intelligence."],
                "question": ["Where was Zoë born?"], "context": ["Zoë was born in Łódź."]}
    return {name: examples[name] for name in sorted(inputs)}


def curl_line(model_name, example_inputs, port=8501):
    """A ready REST call to TF Serving's predict API for `serving_default`."""
    body = json.dumps({"signature_name": "serving_default", "inputs": example_inputs},
                      ensure_ascii=False)
    return (f"curl -s -X POST http://localhost:{port}/v1/models/{model_name}:predict "
            f"-d '{body}'")
