"""The string model's trainer: what one version holds, its data, its settings."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from contracts.models import DIGIT_SIGNATURE, STRING_SIGNATURE, WARMUP_FILE
from serving.model_store import read_warmup_requests
from tests.conftest import TINY_STRINGS
from trainer.errors import DatasetError, ExportError
from trainer.export import check_signature
from trainer.settings import parse_args


@pytest.fixture(scope="module")
def version_dir(both_model_base):
    return both_model_base / "strings" / "1"


def test_the_saved_model_has_the_contracts_signature(version_dir, both_model_base):
    check_signature(version_dir, STRING_SIGNATURE)
    with pytest.raises(ExportError, match="signature"):
        check_signature(both_model_base / "digits" / "1", STRING_SIGNATURE)
    with pytest.raises(ExportError):
        check_signature(version_dir, DIGIT_SIGNATURE)


def test_metrics_hold_synthetic_and_real_figures_and_the_calibration(version_dir):
    metrics = json.loads((version_dir / "metrics.json").read_text())
    assert metrics["version"] == 1 and metrics["model_name"] == "strings"
    assert metrics["synthetic"]["n"] == 64 and 0 <= metrics["synthetic"]["exact"] <= 1
    # The labelled folder's sources, each with intervals, and all of them together.
    assert set(metrics["real"]) == {"folder", "labels_sha256", "note", "phone", "cheque", "all"}
    assert "/" not in metrics["real"]["folder"] and len(metrics["real"]["labels_sha256"]) == 64
    assert metrics["real"]["all"]["n"] == 12 and metrics["real"]["phone"]["n"] == 6
    low, high = metrics["real"]["all"]["exact_ci"]
    assert 0 <= low <= metrics["real"]["all"]["exact"] <= high <= 1
    assert set(metrics["calibration"]) >= {"a", "b", "fitted_on"}
    data = metrics["data"]
    assert data["train_strings"] == 512 and data["holdout_digits"] > 0 and len(data["mnist_sha256"]) == 2
    assert metrics["training"]["steps"] == 40 and metrics["training"]["history"][-1]["step"] == 40
    assert metrics["signature"] == STRING_SIGNATURE.describe()


def test_card_warmup_and_contact_sheet(version_dir):
    card = (version_dir / "MODEL_CARD.md").read_text()
    assert "# Model card: strings version 1" in card and "real: phone" in card and "needs_review" in card
    requests = read_warmup_requests(version_dir / WARMUP_FILE)
    assert [r.inputs["images"].tensor_shape.dim[0].size for r in requests] == [1, 32, 256]
    assert [d.size for d in requests[0].inputs["images"].tensor_shape.dim[1:]] == [32, 192]
    assert all(r.model_spec.name == "strings" for r in requests)
    sheet = Image.open(io.BytesIO((version_dir / "contact_sheet.png").read_bytes()))
    assert sheet.format == "PNG" and sheet.width > 192


def test_a_second_run_with_if_missing_trains_nothing(both_model_base, mnist_dir):
    from trainer.strings.train import run

    settings = parse_args(["--data-dir", str(mnist_dir), "--model-base", str(both_model_base), "--if-missing",
                           *TINY_STRINGS], environ={})
    assert run(settings) is None
    assert sorted(p.name for p in (both_model_base / "strings").iterdir() if p.name.isdigit()) == ["1"]


def test_a_missing_real_folder_fails_before_any_work(tmp_path, mnist_dir):
    from trainer.strings.train import run

    settings = parse_args(["--data-dir", str(mnist_dir), "--model-base", str(tmp_path / "m"),
                           "--real-dev", str(tmp_path / "nowhere"), *TINY_STRINGS], environ={})
    with pytest.raises(DatasetError, match="labels.csv"):
        run(settings)
    assert not (tmp_path / "m" / "strings" / "1").exists()


def test_the_strings_are_the_same_whatever_the_number_of_processes(mnist, monkeypatch):
    import trainer.strings.data as data

    monkeypatch.setattr(data, "CHUNK", 24)  # chunks are cut in this process: several per worker
    one = data.make_set(mnist.x_train, mnist.y_train, 60, seed=5, split="train", workers=1)
    two = data.make_set(mnist.x_train, mnist.y_train, 60, seed=5, split="train", workers=2)
    assert one.labels == two.labels and np.array_equal(one.x, two.x) and np.array_equal(one.widths, two.widths)
    assert one.x.shape == (60, 32, 192) and one.x.dtype == np.uint8


@pytest.mark.parametrize("argv, message", [
    (["--string-channels", "8,8"], "four positive numbers"),
    (["--string-steps", "0"], "--string-steps must be at least 1"),
    (["--string-n-train", "100"], "16 batches"),
    (["--only", "letters"], "invalid choice"),
])
def test_bad_string_settings_are_refused_by_name(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv, environ={})
    assert message in capsys.readouterr().err


def test_only_chooses_the_models_and_the_default_is_both():
    assert parse_args([], environ={}).models == ("digits", "strings")
    assert parse_args(["--only", "strings"], environ={}).models == ("strings",)
    assert parse_args([], environ={"DIGITS_STRING_STEPS": "123"}).string_steps == 123
