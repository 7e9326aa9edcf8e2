"""Our TF-free TensorProto codec must agree with TensorFlow's own."""

import numpy as np
import pytest
import tensorflow as tf

from worker.tensors import from_tensor_proto, to_tensor_proto


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int64, np.int32, np.float64])
def test_matches_tensorflow_both_ways(dtype):
    array = (np.arange(2 * 3 * 4) % 7).astype(dtype).reshape(2, 3, 4)
    np.testing.assert_array_equal(tf.make_ndarray(to_tensor_proto(array)), array)
    np.testing.assert_array_equal(from_tensor_proto(tf.make_tensor_proto(array)), array)


def test_reads_typed_value_fields():
    proto = tf.make_tensor_proto([0.25, 0.5], dtype=tf.float32)
    proto.ClearField("tensor_content")
    proto.float_val.extend([0.25, 0.5])
    np.testing.assert_array_equal(from_tensor_proto(proto), np.array([0.25, 0.5], np.float32))


def test_reads_a_splatted_constant():
    proto = tf.make_tensor_proto(7, dtype=tf.int64, shape=[3])
    np.testing.assert_array_equal(from_tensor_proto(proto), [7, 7, 7])


def test_rejects_unsupported_dtypes():
    with pytest.raises(TypeError):
        to_tensor_proto(np.array(["a"]))
