"""Version discovery and the latest-version policy, on real SavedModels."""

import shutil

from serving.model_store import ModelStore, State


def test_ignores_temporary_and_incomplete_folders(tmp_path):
    (tmp_path / "digits" / ".tmp-123").mkdir(parents=True)
    (tmp_path / "digits" / "5").mkdir()  # no saved_model.pb yet: a half-copied version
    store = ModelStore(tmp_path, "digits")
    assert store.candidate_versions() == []
    store.poll()
    assert store.latest() is None


def test_new_version_replaces_old_after_it_is_available(tmp_path, model_base):
    shutil.copytree(model_base / "digits" / "1", tmp_path / "digits" / "1")
    store = ModelStore(tmp_path, "digits")
    store.poll()
    assert store.latest().version == 1
    shutil.copytree(model_base / "digits" / "1", tmp_path / "digits" / "2")
    store.poll()
    assert store.latest().version == 2
    assert {v: s.state for v, s in store.states().items()} == {1: State.END, 2: State.AVAILABLE}


def test_a_broken_version_does_not_unload_the_good_one(tmp_path, model_base):
    shutil.copytree(model_base / "digits" / "1", tmp_path / "digits" / "1")
    store = ModelStore(tmp_path, "digits")
    store.poll()
    (tmp_path / "digits" / "2").mkdir()
    (tmp_path / "digits" / "2" / "saved_model.pb").write_bytes(b"garbage")
    store.poll()
    assert store.latest().version == 1
    assert store.states()[2].state == State.END and "load failed" in store.states()[2].error


def test_warmup_requests_are_replayed_on_load(model_base):
    from serving.model_store import load_servable

    servable = load_servable(model_base / "digits" / "1", 1)
    assert servable.warmup_replayed == 3
