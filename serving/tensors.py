"""numpy <-> TensorProto for what crosses the wire, on both ends.

tf.make_tensor_proto and tf.make_ndarray handle every dtype and layout and cost about 12 us
a call; a WDBC request carries 30 tensors, so the common cases go the short way here.
Answers are written as TF Serving writes them (typed value fields, the tensor's own dtype),
so float32 crosses the wire bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

# The value field TF Serving's Tensor::AsProtoField fills, per dtype.
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
    types_pb2.DT_INT8: "int_val",
    types_pb2.DT_INT16: "int_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_BOOL: "bool_val",
    types_pb2.DT_STRING: "string_val",
}
# Where a dtype's values map onto numpy one to one, packed or listed.
_NUMPY = {
    types_pb2.DT_FLOAT: np.dtype(np.float32),
    types_pb2.DT_DOUBLE: np.dtype(np.float64),
    types_pb2.DT_INT32: np.dtype(np.int32),
    types_pb2.DT_INT64: np.dtype(np.int64),
    types_pb2.DT_BOOL: np.dtype(np.bool_),
}
_DATA_TYPES = {dtype: enum for enum, dtype in _NUMPY.items()}


def _with_shape(proto: tensor_pb2.TensorProto, shape) -> tensor_pb2.TensorProto:
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


def from_array(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A request tensor: numbers packed into tensor_content, bytes as string_val."""
    enum = _DATA_TYPES.get(array.dtype)
    if enum is not None:
        proto = tensor_pb2.TensorProto(
            dtype=enum, tensor_content=np.ascontiguousarray(array).tobytes()
        )
        return _with_shape(proto, array.shape)
    if array.dtype == object and all(isinstance(v, bytes) for v in array.flat):
        proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=list(array.flat))
        return _with_shape(proto, array.shape)
    return tf.make_tensor_proto(array)


def to_array(proto: tensor_pb2.TensorProto, shape: list[int] | None = None) -> np.ndarray:
    """What tf.make_ndarray reads from `proto`; `shape` when the caller already has it."""
    if shape is None:
        shape = [d.size for d in proto.tensor_shape.dim]
    dtype = _NUMPY.get(proto.dtype)
    if dtype is not None:
        if proto.tensor_content:
            return np.frombuffer(proto.tensor_content, dtype).reshape(shape)
        values = getattr(proto, _VALUE_FIELDS[proto.dtype])
        if len(values) == math.prod(shape):
            return np.array(values, dtype).reshape(shape)
    elif proto.dtype == types_pb2.DT_STRING and len(proto.string_val) == math.prod(shape):
        # Serialized tf.Examples and PNG patches, on every request to both models.
        strings = np.empty(len(proto.string_val), dtype=object)
        strings[:] = proto.string_val
        return strings.reshape(shape)
    return tf.make_ndarray(proto)


def as_proto_field(array: np.ndarray, dtype: int) -> tensor_pb2.TensorProto:
    """An answer tensor of DataType `dtype` with typed value fields (TF Serving's
    Tensor::AsProtoField)."""
    field = _VALUE_FIELDS.get(dtype)
    if field is None:
        return tf.make_tensor_proto(array, dtype=tf.as_dtype(dtype))
    proto = _with_shape(tensor_pb2.TensorProto(dtype=dtype), array.shape)
    getattr(proto, field).extend(array.ravel().tolist())
    return proto
