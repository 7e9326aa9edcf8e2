import json

import numpy as np
import pytest

from trainer.errors import ExportError
from trainer.export import export_model, next_version


@pytest.fixture(scope="module")
def small_model():
    from trainer.model import build_model

    return build_model(width=4, dense=8, seed=1)


def test_versions_count_up_and_leave_no_temporary_folders(tmp_path, small_model):
    first = export_model(small_model, tmp_path, "m", {"test": {"accuracy": 0.5}})
    second = export_model(small_model, tmp_path, "m", {"test": {"accuracy": 0.6}})
    assert (first.name, second.name) == ("1", "2")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["1", "2"]
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics["version"] == 2 and metrics["test"]["accuracy"] == 0.6


def test_next_version_ignores_non_numeric_folders(tmp_path):
    (tmp_path / "7").mkdir()
    (tmp_path / ".tmp-abc").mkdir()
    (tmp_path / "notes").mkdir()
    assert next_version(tmp_path) == 8


def test_signature_has_documented_names_dtypes_and_shapes(tmp_path, small_model):
    import tensorflow as tf

    folder = export_model(small_model, tmp_path, "m", {})
    fn = tf.saved_model.load(str(folder)).signatures["serving_default"]
    (spec,) = fn.structured_input_signature[1].values()
    assert list(fn.structured_input_signature[1]) == ["images"]
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 28, 28]
    out = fn(images=tf.zeros([3, 28, 28], tf.uint8))
    assert out["probabilities"].dtype == tf.float32 and out["probabilities"].shape == (3, 10)
    assert out["classes"].dtype == tf.int64 and out["classes"].shape == (3,)
    np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-5)


def test_failed_export_leaves_nothing_behind(tmp_path, small_model):
    # Content that cannot be written fails the export after the SavedModel is on disk.
    with pytest.raises(ExportError):
        export_model(small_model, tmp_path, "m", {}, extra_files={"a": None})
    assert [p.name for p in (tmp_path / "m").iterdir()] == []
