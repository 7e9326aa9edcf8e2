import pytest

from serving.config_file import (
    ConfigError,
    VersionPolicy,
    read_batching_config,
    read_model_config,
    read_server_config,
)
from serving.settings import CONFIG_DIR


def test_shipped_models_config_serves_the_labelled_versions_of_both_models():
    models = read_server_config(CONFIG_DIR / "models.config")
    assert [m.name for m in models] == ["digits", "strings"]
    for model in models:
        assert model.policy == VersionPolicy("specific", versions=(1,))
        assert model.labels == {"stable": 1}
        assert model.base_path == f"/models/{model.name}"
    assert read_model_config(CONFIG_DIR / "models.config", "strings").labels == {"stable": 1}


def test_shipped_batching_config_splits_large_requests():
    config = read_batching_config(CONFIG_DIR / "batching.config")
    assert (config.max_batch_size, config.batch_timeout_micros, config.num_batch_threads) == (1024, 0, 2)
    assert config.enable_large_batch_splitting and config.execution_batch_size == 256


def test_batching_flags_are_true_or_false(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text("enable_large_batch_splitting { value: yes }")
    with pytest.raises(ConfigError, match="must be true or false"):
        read_batching_config(path)
    path.write_text("max_batch_size { value: 64 }")
    assert read_batching_config(path).execution_batch_size == 64


@pytest.mark.parametrize(("policy", "on_disk", "chosen"), [
    (VersionPolicy(), [1, 2, 3], [3]),
    (VersionPolicy("latest", num_versions=2), [1, 2, 3], [2, 3]),
    (VersionPolicy("all"), [1, 2, 3], [1, 2, 3]),
    (VersionPolicy("specific", versions=(1, 5)), [1, 2, 3], [1]),
    (VersionPolicy(), [], []),
])
def test_version_policies(policy, on_disk, chosen):
    assert policy.choose(on_disk) == chosen


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "models.config"
    bad.write_text("model_config_list { config { name: ")
    with pytest.raises(ConfigError, match="models.config"):
        read_model_config(bad, "digits")
    with pytest.raises(ConfigError, match="no model named 'other'"):
        read_model_config(CONFIG_DIR / "models.config", "other")
    batching = tmp_path / "batching.config"
    batching.write_text("max_batch_size { value: 8 }\nsurprise { value: 1 }")
    with pytest.raises(ConfigError, match="batching.config: unsupported batching fields"):
        read_batching_config(batching)
