"""How tensors go on the wire: what TF itself would read and write, only quicker."""

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from serving.tensors import as_proto_field, from_array, to_array


def test_floats_go_as_typed_float32_fields_bit_for_bit():
    value = np.array([0.1, 1 / 3, 1e-8, 0.999999], np.float32)
    proto = as_proto_field(value, types_pb2.DT_FLOAT)
    assert proto.dtype == types_pb2.DT_FLOAT
    assert not proto.tensor_content and len(proto.float_val) == 4
    assert tf.make_ndarray(proto).tobytes() == value.tobytes()


def test_labels_and_strings_keep_their_dtype_and_shape():
    labels = as_proto_field(np.array([[0, 1], [1, 1]], np.int64), types_pb2.DT_INT64)
    assert labels.dtype == types_pb2.DT_INT64 and list(labels.int64_val) == [0, 1, 1, 1]
    assert [d.size for d in labels.tensor_shape.dim] == [2, 2]
    strings = as_proto_field(np.array([b"0", b"1\x00"], dtype=object), types_pb2.DT_STRING)
    assert strings.dtype == types_pb2.DT_STRING
    assert list(strings.string_val) == [b"0", b"1\x00"]
    halves = as_proto_field(np.array([0.5, 2.0], np.float16), types_pb2.DT_HALF)
    assert tf.make_ndarray(halves).tolist() == [0.5, 2.0]


def test_request_tensors_read_as_tf_reads_them():
    cases = [
        tf.make_tensor_proto(np.arange(6, dtype=np.float32).reshape(2, 3)),  # packed bytes
        tf.make_tensor_proto(np.array([1.5], np.float32)),  # one float_val
        tf.make_tensor_proto(np.array([[7, 8]], np.int64)),
        tf.make_tensor_proto(np.array([True, False])),
        tf.make_tensor_proto(np.array([b"a\x00", b""], dtype=object)),
        tf.make_tensor_proto(np.array([[b"ab", b"c"], [b"", b"\x00"]], dtype=object)),
        tf.make_tensor_proto(b"one", shape=[2]),  # one string fills the shape
        tf.make_tensor_proto(np.array(b"scalar", dtype=object)),
        tf.make_tensor_proto(2.0, dtype=tf.float32, shape=[3]),  # one value fills the shape
        tf.make_tensor_proto(np.zeros([0], np.float32)),
        tf.make_tensor_proto(np.array([1.5], np.float16)),  # TF's own path
    ]
    for proto in cases:
        got, want = to_array(proto), tf.make_ndarray(proto)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tolist() == want.tolist()


def test_what_a_client_sends_is_what_tf_would_send():
    cases = [
        np.array([[0.1], [1 / 3]], np.float32),
        np.arange(6, dtype=np.float64).reshape(3, 2)[:, :1],  # not contiguous
        np.array([[7], [-8]], np.int64),
        np.array([3], np.int32),
        np.array([True, False]),
        np.array([b"ends in nul\x00\x00", b""], dtype=object),
        np.zeros([0, 1], np.float32),
        np.array([1.5], np.float16),  # TF's own path
    ]
    for array in cases:
        proto, tf_proto = from_array(array), tf.make_tensor_proto(array)
        assert proto.dtype == tf_proto.dtype and proto.tensor_shape == tf_proto.tensor_shape
        assert tf.make_ndarray(proto).tolist() == array.tolist()
