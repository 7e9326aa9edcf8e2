import keras
import numpy as np
import pytest

from trainer.layers import FusedBatchNorm


@pytest.mark.parametrize("shape", [(64, 7, 7, 5), (32, 9)])
def test_fused_batch_norm_computes_what_keras_batch_normalization_does(shape):
    x = np.random.default_rng(0).normal(3, 2, shape).astype(np.float32)
    ours, keras_bn = FusedBatchNorm(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    for _ in range(3):  # the moving statistics follow the batches alike
        np.testing.assert_allclose(ours(x, training=True), keras_bn(x, training=True), atol=1e-4)
    np.testing.assert_allclose(ours.moving_mean.numpy(), keras_bn.moving_mean.numpy(), atol=1e-4)
    # Keras keeps the biased batch variance; the fused op the unbiased one (n / (n - 1)).
    np.testing.assert_allclose(ours.moving_variance.numpy(), keras_bn.moving_variance.numpy(), rtol=0.05)
    np.testing.assert_allclose(ours(x, training=False), keras_bn(x, training=False), rtol=0.02, atol=0.02)


def test_fused_batch_norm_trains_in_bfloat16_with_float32_statistics():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = FusedBatchNorm()
        out = layer(np.ones((4, 3, 3, 2), np.float32) * np.arange(4, dtype=np.float32)[:, None, None, None],
                    training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert out.dtype.name == "bfloat16" and layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(layer.moving_mean.numpy(), [0.015, 0.015], atol=1e-4)  # 0.01 * mean 1.5
