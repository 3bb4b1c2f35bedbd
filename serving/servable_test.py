"""How a Classify context meets its examples, and which executor a session runs on."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import input_pb2, predict_pb2

from pipeline.config import SERVING
from serving.servable import Servable, executor_type, read_meta_graph, serialized_examples
from serving.tensors import from_array, to_array
from tests.serving_models import exported


def test_a_context_merges_under_each_example():
    def example(**floats):
        return tf.train.Example(
            features=tf.train.Features(
                feature={
                    k: tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
                    for k, v in floats.items()
                }
            )
        )

    source = input_pb2.Input()
    source.example_list_with_context.context.CopyFrom(example(a=1.0, b=2.0))
    source.example_list_with_context.examples.extend([example(b=5.0), example(c=3.0)])
    merged = [tf.train.Example.FromString(s) for s in serialized_examples(source)]
    values = [{k: f.float_list.value[0] for k, f in e.features.feature.items()} for e in merged]
    assert values == [{"a": 1.0, "b": 5.0}, {"a": 1.0, "b": 2.0, "c": 3.0}]
    assert serialized_examples(input_pb2.Input()) == []


def _tf1_saved_model(export_dir: str) -> None:
    """y = 2x through TF1 control flow (Switch, Merge), as a TF1 exporter writes it."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None], name="x")
        branches = tf.raw_ops.Switch(data=x, pred=tf.reduce_all(x > -100))
        y = tf.raw_ops.Merge(inputs=list(branches)).output * 2
        with tf.compat.v1.Session(graph=graph) as session:
            builder = tf.compat.v1.saved_model.Builder(export_dir)
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
            builder.add_meta_graph_and_variables(
                session, ["serve"], signature_def_map={"serving_default": signature}
            )
            builder.save()


def test_bcpipe_models_run_on_the_configured_executor():
    for path in exported().values():
        assert executor_type(read_meta_graph(path)) == SERVING.session_executor


def test_a_graph_that_executor_cannot_run_is_served_on_tf_default(tmp_path):
    _tf1_saved_model(str(tmp_path / "tf1"))
    assert executor_type(read_meta_graph(str(tmp_path / "tf1"))) == ""
    request = predict_pb2.PredictRequest()
    request.inputs["x"].CopyFrom(from_array(np.array([1.5, -2.0], np.float32)))
    response = Servable("tf1", 1, str(tmp_path / "tf1")).predict(request)
    assert to_array(response.outputs["y"]).tolist() == [3.0, -4.0]


def test_reference_variables_also_keep_tf_default():
    graph = tf.Graph()
    with graph.as_default():
        tf.raw_ops.VariableV2(shape=[], dtype=tf.float32)
    meta_graph = meta_graph_pb2.MetaGraphDef(graph_def=graph.as_graph_def())
    assert executor_type(meta_graph) == ""


def test_loading_a_version_prints_no_deprecation_notice():
    """TF's warnings print once per process: a process of its own shows whether one is left."""
    code = ("import sys; from serving.servable import Servable; "
            "Servable('wdbc', 1, sys.argv[1])")
    loaded = subprocess.run([sys.executable, "-c", code, exported()["wdbc", 1]],
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    assert "deprecated" not in loaded.stderr
