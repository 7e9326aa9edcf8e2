"""How the served string graph reads an image: the mean of the network over moved views."""

import numpy as np
import pytest
import tensorflow as tf

from contracts.models import STRING_HEIGHT, STRING_WIDTH
from trainer.strings.model import READ_SHIFTS, Config, _shift_rows, build, predict, read


@pytest.fixture(scope="module")
def tiny_model():
    tf.keras.utils.set_random_seed(3)
    model, _ = build(Config(channels=(4, 4, 4, 4), units=4))
    return model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(5).integers(0, 256, (3, STRING_HEIGHT, STRING_WIDTH), dtype=np.uint8)


def test_a_view_moves_the_rows_and_lets_blank_rows_in(images):
    down, up = _shift_rows(tf.constant(images), 2).numpy(), _shift_rows(tf.constant(images), -1).numpy()
    np.testing.assert_array_equal(down[:, 2:], images[:, :-2])
    assert not down[:, :2].any()
    np.testing.assert_array_equal(up[:, :-1], images[:, 1:])
    assert not up[:, -1].any()
    np.testing.assert_array_equal(_shift_rows(tf.constant(images), 0).numpy(), images)


def test_the_frames_are_the_mean_of_the_views_read_one_by_one(tiny_model, images):
    assert READ_SHIFTS == (-1, 0, 1)
    views = [np.roll(images, shift, axis=1) for shift in READ_SHIFTS]
    views[0][:, -1], views[2][:, 0] = 0, 0  # rolled rows come back in; a move lets blank rows in
    expected = np.mean([tiny_model(view, training=False).numpy() for view in views], axis=0)
    got = read(tiny_model, tf.constant(images)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=2), 1.0, atol=1e-5)
    # One view is the network itself; predict() is read() in batches.
    np.testing.assert_allclose(read(tiny_model, tf.constant(images), shifts=(0,)).numpy(),
                               tiny_model(images, training=False).numpy(), atol=1e-6)
    np.testing.assert_allclose(predict(tiny_model, images, batch=2), got, atol=1e-6)
