"""TF Serving warmup: real PredictionLog records in assets.extra/tf_serving_warmup_requests.

TF Serving replays these when it loads a version, so graph tracing and
tokenizer setup happen before the first user request rather than during it.
"""

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def predict_log(signature_name, inputs):
    """One PredictionLog holding a PredictRequest for `signature_name` with `inputs`."""
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(signature_name=signature_name))
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))


def write_warmup_requests(version_dir, requests):
    """Writes one record per (signature name, inputs) pair of `requests`."""
    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests:
            writer.write(predict_log(signature_name, inputs).SerializeToString())
    return path


def read_warmup_requests(version_dir):
    """Returns the PredictionLog records of a version (for tests and inspection)."""
    path = os.path.join(version_dir, WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(path)]
