"""What the trainer exports for each version, from the session's real training run."""

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from contracts.models import WARMUP_FILE as WARMUP_PATH
from serving.model_store import read_warmup_requests
from trainer.errors import DatasetError
from trainer.settings import parse_args
from trainer.train import run, training_policy, use_onednn_for_training


@pytest.fixture(scope="module")
def version_dir(model_base):
    return model_base / "digits" / "1"


def test_metrics_json_has_everything_the_model_card_promises(version_dir):
    metrics = json.loads((version_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert 0.75 <= test["accuracy"] <= 1.0 and test["count"] == 10000
    assert set(test["per_class"]) == {str(d) for d in range(10)}
    assert np.array(test["confusion_matrix"]).sum() == 10000
    assert 0.0 <= test["ece"] < 0.2
    assert [r["threshold"] for r in test["review"]] == [0.5, 0.8, 0.9, 0.95, 0.99]
    assert metrics["calibration"]["temperature"] > 0
    assert metrics["calibration"]["validation_ece_after"] <= metrics["calibration"]["validation_ece_before"] + 1e-3
    scans = metrics["scans"]
    assert scans["single"]["count"] == 300 and scans["single"]["accuracy"] > 0.5
    assert scans["boxed"]["accuracy"] > 0.5 and scans["number"]["accuracy"] > 0.2
    assert metrics["training"]["seconds"] > 0 and metrics["training"]["seed"] == 1234
    assert metrics["data"]["train_images"] + metrics["data"]["validation_images"] == 8000
    assert metrics["version"] == 1


def test_pictures_and_model_card(version_dir):
    for name in ("confusion_matrix.png", "misclassified.png"):
        image = Image.open(io.BytesIO((version_dir / name).read_bytes()))
        assert image.format == "PNG" and image.width > 200
    card = (version_dir / "MODEL_CARD.md").read_text()
    assert "# Model card: digits version 1" in card and "needs_review" in card and "Scan-like" in card


def test_warmup_requests_match_the_signature(version_dir):
    requests = read_warmup_requests(version_dir / WARMUP_PATH)
    assert [r.inputs["images"].tensor_shape.dim[0].size for r in requests] == [1, 32, 256]
    assert all(r.model_spec.name == "digits" for r in requests)


def test_probabilities_are_calibrated_inside_the_model(version_dir, mnist):
    import tensorflow as tf

    metrics = json.loads((version_dir / "metrics.json").read_text())
    fn = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    probs = fn(images=tf.constant(mnist.x_test))["probabilities"].numpy()
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == mnist.y_test
    # Calibrated: mean confidence tracks accuracy.
    assert abs(confidence.mean() - correct.mean()) < 0.05
    assert abs(correct.mean() - metrics["test"]["accuracy"]) < 1e-3


def test_bad_data_directory_exports_nothing(tmp_path):
    settings = parse_args(["--data-dir", str(tmp_path / "missing"), "--model-base", str(tmp_path / "m")], environ={})
    with pytest.raises(DatasetError, match="missing"):
        run(settings)
    assert not (tmp_path / "m").exists()


def test_same_seed_same_model(tmp_path, mnist_dir):
    args = ["--data-dir", str(mnist_dir), "--model-base", str(tmp_path), "--limit", "600", "--epochs", "1",
            "--width", "4", "--scan-eval-count", "20"]
    first = run(parse_args(args, environ={}))
    second = run(parse_args(args, environ={}))
    a, b = (json.loads((f / "metrics.json").read_text())["test"] for f in (first, second))
    assert a["confusion_matrix"] == b["confusion_matrix"]


def test_mixed_precision_training_exports_a_float32_model(tmp_path, mnist_dir):
    import tensorflow as tf

    args = ["--data-dir", str(mnist_dir), "--model-base", str(tmp_path), "--limit", "4000", "--epochs", "2",
            "--width", "8", "--scan-eval-count", "20", "--no-augment", "--precision", "mixed_bfloat16"]
    folder = run(parse_args(args, environ={}))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["training"]["precision"] == "mixed_bfloat16"
    assert metrics["test"]["accuracy"] > 0.8  # the trained weights reached the float32 copy
    # CPUs without bfloat16 would emulate it slowly: nothing in the served graph may use it.
    graph = tf.saved_model.load(str(folder)).signatures["serving_default"].graph.as_graph_def()
    text = str(graph)
    assert "DT_FLOAT" in text and "DT_BFLOAT16" not in text


@pytest.mark.parametrize(("flags", "expected"), [
    ("fpu avx2 avx512f avx512_bf16 fma", "mixed_bfloat16"),
    ("fpu avx2 amx_bf16 amx_tile", "mixed_bfloat16"),
    ("fpu avx2 avx512f fma", "float32"),
])
def test_auto_precision_uses_bfloat16_only_where_the_cpu_has_it(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert training_policy("auto", str(cpuinfo)) == expected
    assert training_policy("float32", str(cpuinfo)) == "float32"
    assert training_policy("auto", str(tmp_path / "missing")) == "float32"


def test_a_bad_precision_setting_names_the_variable():
    with pytest.raises(SystemExit):
        parse_args([], environ={"DIGITS_TRAIN_PRECISION": "float16"})


def test_training_asks_for_onednn_unless_the_user_chose(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    use_onednn_for_training()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    use_onednn_for_training()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
