"""How answers go on the wire, and how a Classify context meets its examples."""

import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import input_pb2

from serving.servable import as_proto_field, serialized_examples


def test_floats_go_as_typed_float32_fields_bit_for_bit():
    value = tf.constant([0.1, 1 / 3, 1e-8, 0.999999], tf.float32)
    proto = as_proto_field(value)
    assert proto.dtype == types_pb2.DT_FLOAT
    assert not proto.tensor_content and len(proto.float_val) == 4
    assert tf.make_ndarray(proto).tobytes() == value.numpy().tobytes()


def test_labels_and_strings_keep_their_dtype_and_shape():
    labels = as_proto_field(tf.constant([[0, 1], [1, 1]], tf.int64))
    assert labels.dtype == types_pb2.DT_INT64 and list(labels.int64_val) == [0, 1, 1, 1]
    assert [d.size for d in labels.tensor_shape.dim] == [2, 2]
    strings = as_proto_field(tf.constant([b"0", b"1\x00"]))
    assert list(strings.string_val) == [b"0", b"1\x00"]


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
