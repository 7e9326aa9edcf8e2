"""Models on disk and in serving: signatures, version folders and the AVAILABLE check.

The trainer writes ``<model_base>/<name>/<version>/``; TF Serving (or our server) loads it
and answers Predict with the signature below; the worker calls it; the gateway and
``digits up`` ask whether a version is AVAILABLE.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MODEL_NAME = "digits"
# The string reader: a whole digit string per row, read without cutting it into digits.
STRING_MODEL_NAME = "strings"
SIGNATURE_NAME = "serving_default"
# TF Serving replays these Predict requests when it loads a version (SavedModel warmup).
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
METRICS_FILE = "metrics.json"
SAVED_MODEL_FILE = "saved_model.pb"
# TF Serving's servable state names (ModelVersionStatus.State); only AVAILABLE answers.
AVAILABLE = "AVAILABLE"


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]  # -1 for the batch dimension


@dataclass(frozen=True)
class Signature:
    """A serving signature: its name and its named inputs and outputs."""

    name: str
    inputs: Mapping[str, TensorInfo]
    outputs: Mapping[str, TensorInfo]

    def describe(self) -> dict[str, Any]:
        """The signature as JSON-ready data, for metrics.json and the model card."""
        def tensors(specs: Mapping[str, TensorInfo]) -> dict[str, Any]:
            return {key: {"dtype": spec.dtype, "shape": list(spec.shape)} for key, spec in specs.items()}

        return {"name": self.name, "inputs": tensors(self.inputs), "outputs": tensors(self.outputs)}


# The digit model: one 28x28 digit per row, MNIST convention (white ink on black, 0..255).
DIGIT_SIZE = 28
DIGIT_INPUT = "images"
DIGIT_PROBABILITIES = "probabilities"
DIGIT_CLASSES = "classes"
DIGIT_SIGNATURE = Signature(
    SIGNATURE_NAME,
    inputs={DIGIT_INPUT: TensorInfo("uint8", (-1, DIGIT_SIZE, DIGIT_SIZE))},
    outputs={DIGIT_PROBABILITIES: TensorInfo("float32", (-1, 10)), DIGIT_CLASSES: TensorInfo("int64", (-1,))},
)

# The string model: a whole digit string per row, read without cutting it into digits. Its
# input is the string's image scaled to STRING_HEIGHT rows (ink bright on black, 0..255,
# left-aligned, padded to STRING_WIDTH); its output, per frame of STRING_STRIDE input columns,
# the probabilities of the CTC blank (class 0) and of digits 0-9 (classes 1-10).
STRING_HEIGHT = 32
STRING_WIDTH = 192
STRING_STRIDE = 4
STRING_FRAMES = STRING_WIDTH // STRING_STRIDE
STRING_CLASSES = 11
STRING_BLANK = 0
# The longest string it is trained on; longer ones go to the digit model, never cut short.
MAX_STRING_DIGITS = 12
# Per row, the chance that the greedy reading of the whole string is right, calibrated by the
# trainer on synthetic strings and computed in the graph: the calibration travels with the version.
STRING_CONFIDENCE = "confidence"
STRING_SIGNATURE = Signature(
    SIGNATURE_NAME,
    inputs={DIGIT_INPUT: TensorInfo("uint8", (-1, STRING_HEIGHT, STRING_WIDTH))},
    outputs={DIGIT_PROBABILITIES: TensorInfo("float32", (-1, STRING_FRAMES, STRING_CLASSES)),
             STRING_CONFIDENCE: TensorInfo("float32", (-1,))},
)

# TF Serving's FileSystemStoragePathSource takes a child of the model's base path as a
# version when its name parses as an int64, and skips the rest; the trainer writes plain
# decimal names, and its temporary folders start with a dot.
_VERSION_NAME = re.compile(r"[0-9]{1,18}")


def version_folders(model_dir: str | Path) -> dict[int, Path]:
    """{version: folder} of the numeric version folders in ``model_dir`` (complete or not)."""
    root = Path(model_dir)
    if not root.is_dir():
        return {}
    return {int(p.name): p for p in root.iterdir() if _VERSION_NAME.fullmatch(p.name) and p.is_dir()}


def existing_versions(model_base: str | Path, name: str) -> list[int]:
    """Versions of model ``name`` on disk, oldest first, whether or not they load."""
    return sorted(version_folders(Path(model_base) / name))


def servable_versions(model_base: str | Path, name: str) -> list[int]:
    """Versions of ``name`` that hold a SavedModel, oldest first: the ones a server may load."""
    folders = version_folders(Path(model_base) / name)
    return sorted(v for v, path in folders.items() if (path / SAVED_MODEL_FILE).is_file())


def is_available(states: Iterable[str]) -> bool:
    """True when any version's state is AVAILABLE: the model can answer Predict."""
    return AVAILABLE in set(states)


def states_from_rest(body: Mapping[str, Any]) -> dict[int, str]:
    """{version: state} from TF Serving's REST ``GET /v1/models/<name>`` JSON answer."""
    return {int(entry["version"]): str(entry.get("state", "UNKNOWN"))
            for entry in body.get("model_version_status", [])}
