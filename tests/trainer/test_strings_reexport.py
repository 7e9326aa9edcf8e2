"""Re-exporting a string model version: its weights in the serving graph, without training."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from contracts.models import SIGNATURE_NAME, STRING_SIGNATURE
from trainer.errors import ExportError
from trainer.export import check_signature
from trainer.strings.reexport import reexport


def _answers(folder, images):
    served = tf.saved_model.load(str(folder)).signatures[SIGNATURE_NAME](images=tf.constant(images))
    return {name: tensor.numpy() for name, tensor in served.items()}


def test_a_re_exported_version_answers_as_the_one_its_weights_came_from(both_model_base, mnist_dir,
                                                                        real_like_dir, tmp_path):
    source = both_model_base / "strings" / "1"
    folder = reexport(source, str(mnist_dir), tmp_path, str(real_like_dir), workers=1)
    assert folder == tmp_path / "strings" / "1"
    check_signature(folder, STRING_SIGNATURE)
    images = np.random.default_rng(2).integers(0, 256, (5, 32, 192), dtype=np.uint8)
    before, after = _answers(source, images), _answers(folder, images)
    np.testing.assert_allclose(after["probabilities"], before["probabilities"], atol=1e-6)
    # The same validation strings, made again from their seed, give the same calibration.
    np.testing.assert_allclose(after["confidence"], before["confidence"], atol=1e-5)
    old, new = (json.loads((f / "metrics.json").read_text()) for f in (source, folder))
    assert new["training"]["weights_from"] == {"model_name": "strings", "version": 1,
                                               "synthetic_exact": old["synthetic"]["exact"]}
    assert new["synthetic"]["exact"] == old["synthetic"]["exact"] and new["data"] == old["data"]
    assert new["real"]["all"] == old["real"]["all"]
    assert "without training (`trainer.strings.reexport`)" in (folder / "MODEL_CARD.md").read_text()
    assert "without training" not in (source / "MODEL_CARD.md").read_text()
    assert (folder / "contact_sheet.png").is_file()


def _edited_copy(source, tmp_path, edit):
    copy = tmp_path / "edited"
    shutil.copytree(source, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    edit(metrics)
    (copy / "metrics.json").write_text(json.dumps(metrics))
    return copy


def test_weights_that_do_not_fit_the_recorded_network_are_refused_by_name(both_model_base, mnist_dir, tmp_path):
    def wider(metrics):
        metrics["training"]["channels"] = [16, 8, 8, 8]

    copy = _edited_copy(both_model_base / "strings" / "1", tmp_path, wider)
    with pytest.raises(ExportError, match="no weight 'c1_conv/kernel' of shape"):
        reexport(copy, str(mnist_dir), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_version_from_another_string_generator_must_be_trained_again(both_model_base, mnist_dir, tmp_path):
    def older(metrics):
        metrics["data"]["generator_version"] -= 1

    copy = _edited_copy(both_model_base / "strings" / "1", tmp_path, older)
    with pytest.raises(ExportError, match="train it again"):
        reexport(copy, str(mnist_dir), tmp_path / "out")
