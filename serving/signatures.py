"""The SavedModel every bcpipe model is served as (DESIGN.md, "Serving contract").

Signatures, all returning `probability` (P(malignant), float32 [-1]) and `label` (int64 [-1],
1 where probability >= the operating threshold chosen on the eval split):
- `serving_default`: serialized tf.Example in `examples`;
- `serving_raw`: what a client naturally holds (PNG bytes, or the 30 named floats);
- `classify`: TF Serving's Classify API (`inputs` -> `scores`, `classes`), class "1" malignant.
The raw-to-model path runs the Transform graph inside the model, so training and serving
preprocessing cannot drift apart; before it, every input is checked against what ingestion
accepts (serving/input_checks.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2

from serving import warmup
from serving.input_checks import checked

SERVING_DEFAULT = "serving_default"
SERVING_RAW = "serving_raw"
CLASSIFY = "classify"
EXAMPLES_INPUT = "examples"
PROBABILITY = "probability"
LABEL = "label"
CLASSIFY_METHOD = "tensorflow/serving/classify"
MODEL_INFO_FILE = "bcpipe_model.json"


class _ServingModule(tf.Module):
    def __init__(self, model, tft_layer, threshold: float):
        super().__init__()
        self.model = model
        self.tft_layer = tft_layer
        self.threshold = tf.constant(threshold, tf.float32)

    def outputs(self, raw_features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        transformed = self.tft_layer(checked(raw_features))
        probability = tf.reshape(tf.cast(self.model(transformed), tf.float32), [-1])
        return {
            PROBABILITY: probability,
            LABEL: tf.cast(probability >= self.threshold, tf.int64),
        }


def _feature(value) -> tf.train.Feature:
    if isinstance(value, bytes | np.bytes_):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[bytes(value)]))
    if isinstance(value, int | np.integer):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))


def to_example(record: Mapping[str, object]) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(feature={k: _feature(v) for k, v in record.items()})
    )


def warmup_requests(
    model_name: str, records: list[Mapping[str, object]], raw_inputs: Mapping[str, tf.TensorSpec]
) -> list[predict_pb2.PredictRequest]:
    """One request through each signature per record, as a client would send it."""
    requests = []
    for record in records:
        by_examples = predict_pb2.PredictRequest()
        by_examples.model_spec.name = model_name
        by_examples.model_spec.signature_name = SERVING_DEFAULT
        by_examples.inputs[EXAMPLES_INPUT].CopyFrom(
            tf.make_tensor_proto([to_example(record).SerializeToString()], dtype=tf.string)
        )
        by_raw = predict_pb2.PredictRequest()
        by_raw.model_spec.name = model_name
        by_raw.model_spec.signature_name = SERVING_RAW
        for name, spec in raw_inputs.items():
            by_raw.inputs[name].CopyFrom(tf.make_tensor_proto([record[name]], dtype=spec.dtype))
        requests += [by_examples, by_raw]
    return requests


def _mark_classify(export_dir: str) -> None:
    """tf.saved_model.save writes every signature as Predict; TF Serving's Classify
    insists on the classify method name, so it is set on the written proto."""
    path = os.path.join(export_dir, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as handle:
        proto.ParseFromString(handle.read())
    for meta_graph in proto.meta_graphs:
        meta_graph.signature_def[CLASSIFY].method_name = CLASSIFY_METHOD
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(proto.SerializeToString())


def save_serving_model(
    export_dir: str,
    *,
    model: tf.keras.Model,
    tft_layer,
    raw_inputs: Mapping[str, tf.TensorSpec],
    raw_feature_spec: Mapping[str, tf.io.FixedLenFeature],
    threshold: float,
    info: Mapping[str, object],
    warmup_records: list[Mapping[str, object]],
    raw_to_features: Callable[[dict], dict] | None = None,
) -> None:
    """Exports `model` behind the Transform layer with the three signatures.

    raw_inputs: the `serving_raw` inputs; raw_feature_spec: how `serving_default` parses
    examples (serving features only, no label); raw_to_features maps raw inputs onto the
    features the Transform graph expects.
    """
    module = _ServingModule(model, tft_layer, threshold)
    example_spec = dict(raw_feature_spec)
    examples_sig = tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)

    @tf.function(input_signature=[examples_sig])
    def serve_examples(examples):
        return module.outputs(tf.io.parse_example(examples, example_spec))

    def reshape_to_spec(inputs):
        return {
            name: tf.reshape(value, [-1, *example_spec[name].shape])
            for name, value in inputs.items()
        }

    to_features = raw_to_features or reshape_to_spec

    @tf.function(input_signature=[dict(raw_inputs)])
    def serve_raw(inputs):
        return module.outputs(to_features(inputs))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify(inputs):
        probability = module.outputs(tf.io.parse_example(inputs, example_spec))[PROBABILITY]
        scores = tf.stack([1.0 - probability, probability], axis=1)
        classes = tf.tile(tf.constant([["0", "1"]]), [tf.shape(probability)[0], 1])
        return {"scores": scores, "classes": classes}

    tf.saved_model.save(
        module,
        export_dir,
        signatures={SERVING_DEFAULT: serve_examples, SERVING_RAW: serve_raw, CLASSIFY: classify},
    )
    _mark_classify(export_dir)
    extra = os.path.join(export_dir, warmup.ASSETS_EXTRA)
    tf.io.gfile.makedirs(extra)
    with tf.io.gfile.GFile(os.path.join(extra, MODEL_INFO_FILE), "w") as handle:
        json.dump({**info, "threshold": threshold}, handle, indent=2, sort_keys=True)
    model_name = str(info["model_name"])
    warmup.write_warmup(export_dir, warmup_requests(model_name, warmup_records, raw_inputs))


def read_model_info(export_dir: str) -> dict:
    with tf.io.gfile.GFile(os.path.join(export_dir, warmup.ASSETS_EXTRA, MODEL_INFO_FILE)) as f:
        return json.load(f)
