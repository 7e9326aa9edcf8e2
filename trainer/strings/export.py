"""The string model's SavedModel: a fixed STRING_HEIGHT x STRING_WIDTH graph, round-trip checked.

Serving signature ``serving_default`` (``contracts.models.STRING_SIGNATURE``):

* input ``images``: uint8 [-1, 32, 192], as :func:`scans.strings.string_image` makes it (ink
  bright on 0); normalisation is inside the model.
* output ``probabilities``: float32 [-1, 48, 11], per-frame probabilities; class 0 is the CTC
  blank, class d + 1 digit d; frame t covers input columns [4t, 4t + 4). They are the mean
  of the network's frames over the image and the image moved a row up and a row down
  (:func:`trainer.strings.model.read`). The worker decodes them with
  :func:`scans.ctc.greedy_decode`.
* output ``confidence``: float32 [-1], the chance that the greedy reading is right, through
  the calibration fitted on synthetic validation strings (:mod:`trainer.string_confidence`),
  computed in the graph so that it travels with the version.

The version folder around it (atomic rename, metrics.json, card, warmup) is
:func:`trainer.export.export_version`'s.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from contracts.models import DIGIT_INPUT, DIGIT_PROBABILITIES, SIGNATURE_NAME, STRING_CONFIDENCE, STRING_SIGNATURE
from trainer.errors import ExportError
from trainer.export import check_signature
from trainer.string_confidence import calibrate, calibrated_confidence, raw_score
from trainer.strings.model import read

_INPUT = STRING_SIGNATURE.inputs[DIGIT_INPUT]


def saved_model_writer(model: keras.Model, calibration: tuple[float, float], probe: np.ndarray):
    """A ``write(folder)`` for :func:`trainer.export.export_version`: the SavedModel of the
    fixed-width ``model`` with its ``calibration`` (a, b), checked against the contract and,
    on ``probe`` images, against ``model`` itself."""
    a, b = calibration

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        frames = read(model, images)
        return {DIGIT_PROBABILITIES: frames, STRING_CONFIDENCE: calibrated_confidence(frames, a, b)}

    def write(folder: Path) -> None:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(name=SIGNATURE_NAME, fn=serve, input_signature=[
            tf.TensorSpec([None, *_INPUT.shape[1:]], tf.uint8, name=DIGIT_INPUT)])
        archive.write_out(str(folder), verbose=False)
        round_trip(model, calibration, folder, probe)

    return write


def round_trip(model: keras.Model, calibration: tuple[float, float], folder: Path, probe: np.ndarray) -> None:
    """Raise ExportError unless the SavedModel in ``folder`` has STRING_SIGNATURE exactly and
    answers ``probe`` (and random images) as ``model`` and the calibration do."""
    check_signature(folder, STRING_SIGNATURE)
    fn = tf.saved_model.load(str(folder)).signatures[SIGNATURE_NAME]
    noise = np.random.default_rng(0).integers(0, 256, (4, *_INPUT.shape[1:]), dtype=np.uint8)
    for images in (probe, noise):
        served = fn(**{DIGIT_INPUT: tf.constant(images)})
        direct = read(model, tf.constant(images)).numpy()
        expected = calibrate(raw_score(direct), *calibration)
        for name, got, want, tolerance in ((DIGIT_PROBABILITIES, served[DIGIT_PROBABILITIES], direct, 1e-5),
                                           (STRING_CONFIDENCE, served[STRING_CONFIDENCE], expected, 1e-4)):
            if not np.allclose(got.numpy(), want, atol=tolerance):
                raise ExportError(f"{folder}: the SavedModel's {name} differ from the trained model's (largest "
                                  f"difference {float(np.abs(got.numpy() - want).max()):.2e})")
