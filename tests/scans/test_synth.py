"""The string generator (scans.synth): the research generator's samples, deterministic by seed."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from contracts.models import MAX_STRING_DIGITS, STRING_HEIGHT, STRING_WIDTH
from scans.strings import string_image
from scans.synth import HOLDOUT, VERSION, Bank, contact_sheet, render, sample

# Samples drawn by the research generator (strlab synth.py, VERSION 6) from the same MNIST
# files: (split, seed, index, label, image shape, SHA-256 prefix of the image, of its
# prepared 32 x 192 input). The port must draw exactly these.
RESEARCH_SAMPLES = [
    ("train", 1, 0, "7901892", (40, 125), "7c390421412727d8", "eb6b71f935739d8e"),
    ("train", 1, 1, "30000", (55, 100), "0683834eeee5a1f7", "effa2547aecc82a0"),
    ("train", 1, 2, "900000", (43, 115), "014136eb82d5780a", "678fbf4f80960cae"),
    ("train", 1, 3, "8", (83, 182), "abfe6d385056648b", "72f6412c9c311ff4"),
    ("train", 1, 4, "38696", (63, 164), "c9241adc6f2d3f65", "64eb273d4a1e896c"),
    ("train", 1, 5, "39000", (58, 156), "0e4a81b149a6a971", "3dd7e96bccf95fc6"),
    ("val", 999, 0, "411717111", (164, 538), "96404d09f477027b", "95b7c1ea9758906e"),
    ("val", 999, 1, "312689992", (79, 329), "9c47a8212ba5212b", "12934a0001f5c4b9"),
    ("val", 999, 2, "64800000", (69, 281), "b598e1448c448a8f", "a259afdaa89e598c"),
]


@pytest.fixture(scope="module")
def banks(mnist) -> dict[str, Bank]:
    return {split: Bank.from_mnist(mnist.x_train, mnist.y_train, split) for split in ("train", "val")}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def test_the_version_is_the_research_generators():
    assert VERSION == 6


@pytest.mark.parametrize(("split", "seed", "index", "label", "shape", "image", "prepared"), RESEARCH_SAMPLES)
def test_samples_are_the_research_generators(banks, split, seed, index, label, shape, image, prepared):
    drawn = sample(banks[split], seed, index)
    assert drawn.label == label and drawn.image.shape == shape and drawn.image.dtype == np.uint8
    assert _digest(drawn.image.tobytes() + str(drawn.image.shape).encode()) == image
    assert _digest(string_image(drawn.image).image.tobytes()) == prepared


def test_a_sample_depends_only_on_its_seed_and_index(banks):
    bank = banks["train"]
    forwards = [sample(bank, 7, i) for i in range(12)]
    backwards = [sample(bank, 7, i) for i in reversed(range(12))][::-1]
    for a, b in zip(forwards, backwards):
        assert a.label == b.label and np.array_equal(a.image, b.image) and a.extents == b.extents
    other = [sample(bank, 8, i) for i in range(12)]
    assert [s.label for s in other] != [s.label for s in forwards]
    again = render(np.random.default_rng([7, 3]), bank)
    assert again.label == forwards[3].label and np.array_equal(again.image, forwards[3].image)


def test_labels_and_extents_are_sane(banks):
    lengths = []
    for i in range(150):
        drawn = sample(banks["val"], 3, i)
        h, w = drawn.image.shape
        assert drawn.label.isdigit() and 1 <= len(drawn.label) <= MAX_STRING_DIGITS
        assert len(drawn.extents) == len(drawn.label)
        for left, right in drawn.extents:
            assert 0 <= left < right <= w
        centres = [(a + b) / 2 for a, b in drawn.extents]
        # Left to right (neighbours may touch or overlap, never swap places).
        assert all(c1 > c0 for c0, c1 in zip(centres, centres[1:]))
        assert h >= 8 and w >= 8
        lengths.append(len(drawn.label))
        prepared = string_image(drawn.image)
        assert prepared.image.shape == (STRING_HEIGHT, STRING_WIDTH)
    assert len(set(lengths)) >= 8  # every kind of length, short and long


def test_a_given_label_is_drawn(banks):
    drawn = render(np.random.default_rng(5), banks["train"], label="0042")
    assert drawn.label == "0042" and len(drawn.extents) == 4


def test_the_holdout_splits_the_training_digits(mnist, banks):
    train = sum(len(group) for group in banks["train"].crops)
    val = sum(len(group) for group in banks["val"].crops)
    assert val <= HOLDOUT and train <= len(mnist.x_train) - HOLDOUT
    assert train + val >= len(mnist.x_train) - 50  # only digits with almost no ink are skipped
    # Disjoint: no held-out crop appears among the training ones.
    train_set = {c.tobytes() + bytes(c.shape) for group in banks["train"].crops[:2] for c in group}
    assert not any(c.tobytes() + bytes(c.shape) in train_set for group in banks["val"].crops[:2] for c in group)


def test_the_bank_takes_only_the_whole_training_split(mnist):
    with pytest.raises(ValueError, match="training split"):
        Bank.from_mnist(mnist.x_train[:5000], mnist.y_train[:5000])
    with pytest.raises(ValueError, match="split"):
        Bank.from_mnist(mnist.x_train, mnist.y_train, "test")


def test_contact_sheet_shows_each_sample(banks):
    png = contact_sheet(banks["train"], n=6, seed=1, cols=2)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (2 * 404, 3 * 158)
