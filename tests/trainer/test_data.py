import gzip

import numpy as np
import pytest

from trainer.data import FILES, IMAGES_MAGIC, LABELS_MAGIC, load_mnist, read_idx
from trainer.errors import DatasetError


def _idx(magic: int, array: np.ndarray) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_dataset(folder, n_train=5, n_test=3, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": (IMAGES_MAGIC, rng.integers(0, 256, (n_train, 28, 28))),
        "train_labels": (LABELS_MAGIC, rng.integers(0, 10, n_train)),
        "test_images": (IMAGES_MAGIC, rng.integers(0, 256, (n_test, 28, 28))),
        "test_labels": (LABELS_MAGIC, rng.integers(0, 10, n_test)),
    }
    for key, (magic, array) in arrays.items():
        data = _idx(magic, array)
        name = FILES[key] + (".gz" if gz else "")
        (folder / name).write_bytes(gzip.compress(data) if gz else data)
    return arrays


def test_genuine_mnist_loads_with_the_published_shapes(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.parametrize("gz", [True, False])
def test_plain_and_gzipped_idx_round_trip(tmp_path, gz):
    arrays = _write_dataset(tmp_path, gz=gz)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.x_train, arrays["train_images"][1])
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"][1])


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_missing_file_is_named(tmp_path):
    _write_dataset(tmp_path)
    (tmp_path / (FILES["test_labels"] + ".gz")).unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_wrong_magic_names_the_file(tmp_path):
    _write_dataset(tmp_path)
    path = tmp_path / (FILES["train_labels"] + ".gz")
    path.write_bytes(gzip.compress(_idx(IMAGES_MAGIC, np.zeros((2, 28, 28)))))
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte.gz: wrong IDX magic"):
        load_mnist(tmp_path)


def test_truncated_file_is_named(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(_idx(IMAGES_MAGIC, np.zeros((3, 28, 28)))[:-10])
    with pytest.raises(DatasetError, match="header says"):
        read_idx(path, IMAGES_MAGIC)


def test_corrupt_gzip_is_named(tmp_path):
    _write_dataset(tmp_path)
    path = tmp_path / (FILES["test_images"] + ".gz")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


def test_label_count_must_match_images(tmp_path):
    _write_dataset(tmp_path)
    (tmp_path / (FILES["test_labels"] + ".gz")).write_bytes(gzip.compress(_idx(LABELS_MAGIC, np.zeros(2))))
    with pytest.raises(DatasetError, match="3 images but 2 labels"):
        load_mnist(tmp_path)
