"""How a Classify context meets its examples."""

import tensorflow as tf
from tensorflow_serving.apis import input_pb2

from serving.servable import serialized_examples


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

