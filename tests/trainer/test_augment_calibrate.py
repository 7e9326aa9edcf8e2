import numpy as np

from trainer.augment import RandomAffine, RandomBlur, RandomElastic, RandomStroke, augmentation
from trainer.calibrate import fit_temperature, review_table, softmax


def test_augmentation_is_identity_at_inference_and_changes_images_in_training(mnist):
    x = mnist.x_test[:32].astype(np.float32)[..., None] / 255.0
    aug = augmentation(seed=3)
    np.testing.assert_array_equal(aug(x, training=False).numpy(), x)
    out = aug(x, training=True).numpy()
    assert out.shape == x.shape
    assert np.abs(out - x).mean() > 0.01
    # Still the same digit: most ink stays near where it was.
    corr = [np.corrcoef(out[i].ravel(), x[i].ravel())[0, 1] for i in range(32)]
    assert np.median(corr) > 0.5


def test_each_layer_only_moves_ink_a_little(mnist):
    x = mnist.x_test[:16].astype(np.float32)[..., None] / 255.0
    for layer in (RandomElastic(rate=1.0, seed=1), RandomAffine(seed=1), RandomStroke(rate=0.5, seed=1),
                  RandomBlur(rate=1.0, seed=1)):
        out = layer(x, training=True).numpy()
        assert out.shape == x.shape
        assert 0.0 < np.abs(out - x).mean() < 0.2, type(layer).__name__


def test_the_affine_layer_turns_scales_and_shifts_about_the_centre():
    square = np.zeros((1, 29, 29, 1), np.float32)
    square[0, 10:19, 12:17, 0] = 1.0  # a 9x5 bar, centred
    still = RandomAffine(degrees=0, scale=0, shift=0, seed=1)(square, training=True).numpy()
    np.testing.assert_allclose(still, square, atol=1e-6)
    turned = RandomAffine(degrees=90, scale=0, shift=0, seed=2)(np.repeat(square, 64, 0), training=True).numpy()
    # Turned about the centre: the ink stays centred, and some bars lie down (wider than high).
    rows, cols = turned.sum(axis=2)[..., 0], turned.sum(axis=1)[..., 0]
    centre_y = (rows * np.arange(29)).sum(axis=1) / rows.sum(axis=1)
    assert np.abs(centre_y - 14).max() < 0.5
    assert ((cols > 0.5).sum(axis=1) > (rows > 0.5).sum(axis=1)).any()
    moved = RandomAffine(degrees=0, scale=0, shift=0.1, seed=3)(np.repeat(square, 64, 0), training=True).numpy()
    shift_y = (moved.sum(axis=2)[..., 0] * np.arange(29)).sum(axis=1) / moved.sum(axis=(1, 2, 3)) - 14
    assert np.abs(shift_y).max() <= 2.95 and np.abs(shift_y).max() > 1.0  # up to 10% of 29 px


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 3, (5000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(true_logits)])
    assert abs(fit_temperature(true_logits * 2.5, labels) - 2.5) < 0.2


def test_review_table_counts():
    probs = np.array([[0.95, 0.05], [0.6, 0.4], [0.2, 0.8]] + [[1.0, 0.0]] * 7)
    labels = np.array([0, 1, 1] + [0] * 7)
    row = next(r for r in review_table(np.pad(probs, ((0, 0), (0, 8))), labels) if r["threshold"] == 0.9)
    assert row == {"threshold": 0.9, "accepted": 0.8, "precision": 1.0, "errors_accepted": 0, "errors_flagged": 1}


def test_thick_pens_and_fax_scans_act_in_training_only(mnist):
    import tensorflow as tf

    from trainer.augment import RandomFax, RandomThickPen

    x = tf.constant(mnist.x_train[:16, :, :, None].astype("float32") / 255.0)
    for layer in (RandomThickPen(rate=1.0, seed=1), RandomFax(rate=1.0, seed=1)):
        assert np.array_equal(layer(x, training=False).numpy(), x.numpy())
        out = layer(x, training=True).numpy()
        assert out.shape == x.shape and 0.0 <= out.min() and out.max() <= 1.0
        assert not np.allclose(out, x.numpy())
    thick = RandomThickPen(rate=1.0, seed=1)(x, training=True).numpy()
    assert (thick > 0.5).sum() > 1.5 * (x.numpy() > 0.5).sum()  # strokes got thicker


def test_national_forms_add_flagged_ones_and_crossed_sevens(mnist):
    from trainer.forms import add_national_forms

    images, labels = mnist.x_train[:2000], mnist.y_train[:2000]
    more, more_labels = add_national_forms(images, labels, seed=3, share=0.5)
    added = more_labels[len(labels):]
    assert set(added) == {1, 7} and np.array_equal(more[: len(images)], images)
    assert abs(len(added) - 0.5 * np.isin(labels, (1, 7)).sum()) < 0.1 * len(added)
    extra = more[len(images):]
    assert extra.dtype == np.uint8 and extra.shape[1:] == (28, 28)
    ones = extra[added == 1]
    # A flag reaches left of the stem: the ink is wider than a plain 1's.
    width = lambda im: np.ptp(np.flatnonzero(im.max(axis=0) > 96))  # noqa: E731
    assert np.median([width(im) for im in ones]) > np.median([width(im) for im in images[labels == 1]])
    again, _ = add_national_forms(images, labels, seed=3, share=0.5)
    assert np.array_equal(again, more)  # deterministic by seed
