"""numpy <-> TensorProto conversion without TensorFlow, for the dtypes our signature uses."""

from __future__ import annotations

import numpy as np

from worker.protos import tensor_pb2, types_pb2

_TO_PROTO = {
    np.dtype(np.uint8): types_pb2.DT_UINT8,
    np.dtype(np.float32): types_pb2.DT_FLOAT,
    np.dtype(np.int64): types_pb2.DT_INT64,
    np.dtype(np.int32): types_pb2.DT_INT32,
    np.dtype(np.float64): types_pb2.DT_DOUBLE,
}
_FROM_PROTO = {v: k for k, v in _TO_PROTO.items()}
# When a server fills the typed repeated fields instead of tensor_content.
_VALUE_FIELD = {
    types_pb2.DT_UINT8: "int_val",
    types_pb2.DT_INT32: "int_val",
    types_pb2.DT_INT64: "int64_val",
    types_pb2.DT_FLOAT: "float_val",
    types_pb2.DT_DOUBLE: "double_val",
}


def to_tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """Pack ``array`` as a TensorProto using the compact ``tensor_content`` encoding."""
    array = np.ascontiguousarray(array)
    if array.dtype not in _TO_PROTO:
        raise TypeError(f"unsupported dtype {array.dtype}")
    proto = tensor_pb2.TensorProto(dtype=_TO_PROTO[array.dtype])
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    proto.tensor_content = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return proto


def from_tensor_proto(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Unpack a TensorProto from either encoding into a numpy array."""
    if proto.dtype not in _FROM_PROTO:
        raise TypeError(f"unsupported TensorProto dtype {proto.dtype}")
    dtype = _FROM_PROTO[proto.dtype]
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    values = np.asarray(getattr(proto, _VALUE_FIELD[proto.dtype]), dtype=dtype)
    count = int(np.prod(shape)) if shape else 1
    if values.size == count:
        return values.reshape(shape)
    if values.size == 1:  # TF packs a constant tensor as one repeated value
        return np.full(shape, values[0], dtype=dtype)
    raise ValueError(f"TensorProto holds {values.size} values for shape {shape}")
