"""Load MNIST from IDX files (plain or gzipped), or from Keras' downloader."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.errors import DatasetError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension


@dataclass(frozen=True)
class Mnist:
    """MNIST as uint8 arrays: images (N, 28, 28), white ink on black; labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def load_mnist(data_dir: str | Path | None = None) -> Mnist:
    """Load MNIST from ``data_dir``, or with Keras' downloader when it is None."""
    if data_dir is None:
        return _load_with_keras()
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetError(f"MNIST data directory {root} does not exist")
    x_train = read_idx(_find(root, FILES["train_images"]), IMAGES_MAGIC)
    y_train = read_idx(_find(root, FILES["train_labels"]), LABELS_MAGIC)
    x_test = read_idx(_find(root, FILES["test_images"]), IMAGES_MAGIC)
    y_test = read_idx(_find(root, FILES["test_labels"]), LABELS_MAGIC)
    _check_pair(root / FILES["train_images"], x_train, y_train)
    _check_pair(root / FILES["test_images"], x_test, y_test)
    return Mnist(x_train, y_train, x_test, y_test, source=str(root.resolve()))


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file, checking its magic number and its size against the header."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from exc
    if len(raw) < 8:
        raise DatasetError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise DatasetError(
            f"{path}: wrong IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x}"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DatasetError(
            f"{path}: header says {dims} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(root: Path, stem: str) -> Path:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"{root / stem}(.gz): file not found")


def _check_pair(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    if images.shape[1:] != (28, 28):
        raise DatasetError(f"{path}: images are {images.shape[1:]}, expected (28, 28)")
    if len(images) != len(labels):
        raise DatasetError(f"{path}: {len(images)} images but {len(labels)} labels")
    if labels.size and int(labels.max()) > 9:
        raise DatasetError(f"{path}: labels outside 0..9")


def _load_with_keras() -> Mnist:
    import keras  # only needed on the download path

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return Mnist(x_train, y_train, x_test, y_test, source="keras.datasets.mnist")
