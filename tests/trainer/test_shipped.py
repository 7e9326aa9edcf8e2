"""Shipped models: recorded with checksums, installed atomically as version 1, refused when altered."""

from __future__ import annotations

import pytest

from contracts.models import existing_versions
from trainer.shipped import ShippedModelError, install_missing, record, shipped_models, verify


@pytest.fixture
def shipped(tmp_path, model_base):
    root = tmp_path / "shipped"
    root.mkdir()
    record(model_base, "digits", 1, {"command": "python -m trainer ...", "seed": 1234}, root=root)
    return root


def test_a_recorded_model_is_installed_once_as_version_1(shipped, tmp_path):
    [model] = shipped_models(shipped)
    assert model.provenance["seed"] == 1234 and "saved_model.pb" in model.files
    verify(model)
    base = tmp_path / "base"
    messages = []
    assert install_missing(base, root=shipped, say=messages.append) == ["digits"]
    assert existing_versions(base, "digits") == [1]
    assert (base / "digits" / "1" / "saved_model.pb").is_file()
    assert not [p for p in (base / "digits").iterdir() if p.name.startswith(".")]  # no temporary left
    assert install_missing(base, root=shipped) == []  # a model base with a version is left alone
    assert "version 1" in messages[0]


def test_an_altered_or_extra_file_refuses_the_install(shipped, tmp_path, model_base):
    [model] = shipped_models(shipped)
    (model.folder / "metrics.json").write_text("{}")
    with pytest.raises(ShippedModelError, match="metrics.json does not match its checksum"):
        install_missing(tmp_path / "base", root=shipped)
    assert existing_versions(tmp_path / "base", "digits") == []
    again = record(model_base, "digits", 1, {}, root=shipped)
    (again.folder / "stray.txt").write_text("x")
    with pytest.raises(ShippedModelError, match="stray.txt is not in MANIFEST.json"):
        verify(again)
