"""The string model's data: synthetic strings (:mod:`scans.synth`) prepared as served.

A set of ``n`` strings with seed ``s`` is samples 0..n-1 of :func:`scans.synth.sample`, each
prepared by :func:`scans.strings.string_image` exactly as the worker prepares a scan. Sets
are built in chunks of ``CHUNK`` by ``workers`` processes (:class:`Generator`); the result is
the same for any number of them.
The processes are spawned, not forked: the trainer may have TensorFlow's threads running
(after training the digit model), and a fork copies none of them but all their locks.
No TensorFlow is imported here, so the processes start in about a second.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from contracts.models import STRING_HEIGHT, STRING_WIDTH
from scans.strings import string_image
from scans.synth import Bank, sample

CHUNK = 2000


@dataclass(frozen=True)
class StringSet:
    """Prepared strings: model inputs, labels, and where each input came from."""

    x: np.ndarray            # uint8 [n, STRING_HEIGHT, STRING_WIDTH]
    labels: list[str]
    widths: np.ndarray       # model columns holding each string (the rest is padding)
    x0: np.ndarray           # model column u is image column x0 + u / scale
    scale: np.ndarray
    extents: list[list[tuple[float, float]]] | None = None  # true digit extents, image columns

    def __len__(self) -> int:
        return len(self.labels)


class Generator:
    """Builds sets of prepared strings in ``workers`` spawned processes (in this one for
    ``workers`` <= 1), from the MNIST training split ``images``, ``labels``. A context manager:
    the processes live, each with its digit banks, until it exits."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, workers: int = 2):
        self.images, self.labels, self.workers = images, labels, workers
        self._pool: Any = None

    def __enter__(self) -> Generator:
        if self.workers > 1:
            self._pool = mp.get_context("spawn").Pool(self.workers, initializer=_start,
                                                      initargs=(self.images, self.labels))
        else:
            _start(self.images, self.labels, threads=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        _BANKS.clear()
        _MNIST.clear()

    def make(self, n: int, seed: int, split: str, with_extents: bool = False,
             progress: Callable[[int], None] | None = None) -> StringSet:
        """Strings 0..n-1 of ``seed`` from the digits of ``split`` ("train" or "val", as
        :meth:`scans.synth.Bank.from_mnist`); ``progress`` is called with each chunk's count."""
        jobs = [(seed, start, min(n, start + CHUNK), split, with_extents) for start in range(0, n, CHUNK)]
        parts: list[StringSet] = []
        for part in (self._pool.imap(_chunk, jobs, chunksize=1) if self._pool is not None else map(_chunk, jobs)):
            parts.append(part)
            if progress is not None:
                progress(len(part))
        if not parts:
            return StringSet(np.zeros((0, STRING_HEIGHT, STRING_WIDTH), np.uint8), [], np.zeros(0, np.int32),
                             np.zeros(0), np.zeros(0), [] if with_extents else None)
        return StringSet(
            np.concatenate([p.x for p in parts]), [label for p in parts for label in p.labels],
            np.concatenate([p.widths for p in parts]), np.concatenate([p.x0 for p in parts]),
            np.concatenate([p.scale for p in parts]),
            [e for p in parts for e in (p.extents or [])] if with_extents else None)


def make_set(images: np.ndarray, labels: np.ndarray, n: int, seed: int, split: str, workers: int = 2,
             with_extents: bool = False) -> StringSet:
    """One set, as :meth:`Generator.make`, with processes of its own."""
    with Generator(images, labels, workers) as generator:
        return generator.make(n, seed, split, with_extents)


# In a generating process: the MNIST training split, and each split's bank once built.
_MNIST: list[np.ndarray] = []
_BANKS: dict[str, Bank] = {}


def _start(images: np.ndarray, labels: np.ndarray, threads: bool = True) -> None:
    if threads:
        import cv2

        cv2.setNumThreads(1)  # the processes are the parallelism
    _MNIST[:] = [images, labels]
    _BANKS.clear()


def _chunk(job: tuple[int, int, int, str, bool]) -> StringSet:
    seed, start, stop, split, with_extents = job
    if split not in _BANKS:
        _BANKS[split] = Bank.from_mnist(*_MNIST, split=split)
    drawn = [sample(_BANKS[split], seed, i) for i in range(start, stop)]
    prepared = [string_image(s.image) for s in drawn]
    return StringSet(np.stack([p.image for p in prepared]), [s.label for s in drawn],
                     np.array([p.width for p in prepared], np.int32), np.array([p.x0 for p in prepared]),
                     np.array([p.scale for p in prepared]), [s.extents for s in drawn] if with_extents else None)


def array_checksum(*arrays: np.ndarray) -> str:
    """SHA-256 of arrays' bytes (MNIST from Keras' download has no files of ours to name)."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
